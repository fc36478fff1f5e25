package plugin

import (
	"errors"
	"testing"
)

// FuzzBodyArgs: any body with any content type parses or gives one of
// Kong's errors, without a panic.
func FuzzBodyArgs(f *testing.F) {
	for _, c := range [][2]string{
		{"application/json", `{"a":[1,{"b":null}]}`}, {"application/json", `{`}, {"application/x-www-form-urlencoded", "a=1&a=2&b"},
		{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n"},
		{"", "x"}, {"text/plain; charset=\"", "x"},
	} {
		f.Add(c[0], []byte(c[1]))
	}
	f.Fuzz(func(t *testing.T, ct string, raw []byte) {
		v, err := BodyArgs(ct, raw)
		if err != nil && !errors.Is(err, ErrBodyContentType) && !errors.Is(err, ErrBodyMissingType) && !errors.Is(err, ErrBodyInvalidJSON) {
			t.Fatalf("%q %q: error %v", ct, raw, err)
		}
		if err != nil && v != nil {
			t.Fatalf("%q %q: a value with an error", ct, raw)
		}
	})
}
