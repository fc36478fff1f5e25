package declarative

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzSplit: on valid JSON, SplitObject and SplitArray find what
// encoding/json decodes: the same keys in order and values that decode
// to the same thing.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `{"a":1,"b":[1,{"c":"x}"}],"d":"\"q\\"}`, ` [ 1 , "a,b" , {"k":[]} , null , true ] `,
		`{"k\u00e9y":{"x":[{"y":"]"}]},"n":-1.5e3}`, `"str"`, `12`, `{"a":"\\"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		trimmed := bytes.TrimSpace(data)
		members, ok := SplitObject(data)
		if ok != (len(trimmed) > 0 && trimmed[0] == '{') {
			t.Fatalf("SplitObject(%q) ok = %v", data, ok)
		}
		if ok {
			dec := json.NewDecoder(bytes.NewReader(data))
			if _, err := dec.Token(); err != nil {
				t.Fatal(err)
			}
			for i := 0; dec.More(); i++ {
				k, _ := dec.Token()
				var want json.RawMessage
				if err := dec.Decode(&want); err != nil {
					t.Fatal(err)
				}
				if i >= len(members) || members[i].Key != k || !sameJSON(members[i].Value, want) {
					t.Fatalf("member %d of %q: got %+v; want %q: %s", i, data, members, k, want)
				}
				if i == len(members)-1 && dec.More() {
					t.Fatalf("%q: more members than split", data)
				}
			}
		}
		elems, ok := SplitArray(data)
		if ok != (len(trimmed) > 0 && trimmed[0] == '[') {
			t.Fatalf("SplitArray(%q) ok = %v", data, ok)
		}
		if ok {
			var want []json.RawMessage
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			if len(elems) != len(want) {
				t.Fatalf("%q: %d elements; want %d", data, len(elems), len(want))
			}
			for i := range want {
				if !sameJSON(elems[i], want[i]) {
					t.Fatalf("%q: element %d %q; want %q", data, i, elems[i], want[i])
				}
			}
		}
	})
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
