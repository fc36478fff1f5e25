package embedded

import (
	"testing"

	"sluice/internal/store/storetest"
)

// go test -run '^$' -bench InsertRoutes -benchtime 1x ./internal/store/embedded/
func BenchmarkInsertRoutes10000OneTx(b *testing.B) {
	s := open(b, b.TempDir())
	defer s.Close()
	storetest.BenchInsertRoutes(b, s, 10000)
}

func BenchmarkInsertRoutesOnePerTx(b *testing.B) {
	s := open(b, b.TempDir())
	defer s.Close()
	storetest.BenchInsertRoutes(b, s, 1)
}

func BenchmarkLoad10000Routes(b *testing.B) {
	s := open(b, b.TempDir())
	defer s.Close()
	storetest.BenchLoad(b, s, 10000)
}

// go test -run '^$' -bench Page10000 ./internal/store/embedded/
func BenchmarkPage10000Routes(b *testing.B) {
	s := open(b, b.TempDir())
	defer s.Close()
	storetest.BenchPage(b, s, 10000)
}

func BenchmarkAdminWrites(b *testing.B) {
	s := open(b, b.TempDir())
	defer s.Close()
	storetest.BenchAdminWrites(b, s)
}
