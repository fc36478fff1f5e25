package declarative

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// uuidV5 agrees with the uuid package's NewSHA1 on short and long names.
func TestUUIDV5(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range 500 {
		name := strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(600)) + string(rune(i))
		ns := namespaces["routes"]
		if got, want := uuidV5(ns, name), uuid.NewSHA1(ns, []byte(name)); got != want {
			t.Fatalf("uuidV5(%q) = %v; want %v", name, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = uuidV5(entitiesNamespace, "services") }); n != 0 {
		t.Errorf("uuidV5 allocates %v times; want 0", n)
	}
}
