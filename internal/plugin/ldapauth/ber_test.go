package ldapauth

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestBindRequestEncoding pins the bytes of a BindRequest (RFC 4511 4.2).
func TestBindRequestEncoding(t *testing.T) {
	got := hex.EncodeToString(bindRequest(1, "uid=a,dc=x", "pw"))
	want := "3018" + "020101" + // messageID 1
		"6013" + "020103" + // BindRequest, version 3
		"040a" + hex.EncodeToString([]byte("uid=a,dc=x")) +
		"8002" + hex.EncodeToString([]byte("pw"))
	if got != want {
		t.Errorf("bindRequest = %s\nwant          %s", got, want)
	}
	got = hex.EncodeToString(startTLSRequest(2))
	want = "301d" + "020102" + "7718" + "8016" + hex.EncodeToString([]byte(startTLSOID))
	if got != want {
		t.Errorf("startTLSRequest = %s\nwant              %s", got, want)
	}
}

func TestAppendInt(t *testing.T) {
	for v, want := range map[int32]string{0: "020100", 127: "02017f", 128: "02020080", 256: "02020100",
		2147483647: "02047fffffff"} {
		if got := hex.EncodeToString(appendInt(nil, tagInteger, v)); got != want {
			t.Errorf("appendInt(%d) = %s; want %s", v, got, want)
		}
		el, _, err := readElement(appendInt(nil, tagInteger, v))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := integer(el.content); err != nil || n != int64(v) {
			t.Errorf("integer(appendInt(%d)) = %d, %v", v, n, err)
		}
	}
}

func TestLongLengths(t *testing.T) {
	for _, n := range []int{0, 127, 128, 255, 256, 65535, 65536} {
		b := appendString(nil, tagOctetString, strings.Repeat("x", n))
		el, rest, err := readElement(b)
		if err != nil || len(el.content) != n || len(rest) != 0 {
			t.Errorf("length %d: got %d, rest %d, %v", n, len(el.content), len(rest), err)
		}
	}
}

func TestParseResponse(t *testing.T) {
	r, err := parseResponse(answer(7, tagBindResponse, 49, "bad password"))
	if err != nil {
		t.Fatal(err)
	}
	if r.id != 7 || r.op != tagBindResponse || r.resultCode != 49 || r.diagnostic != "bad password" {
		t.Errorf("parsed %+v", r)
	}
	bad := map[string]string{
		"empty":          "",
		"not a sequence": "0400",
		"truncated":      "300502010161",
		"trailing bytes": hex.EncodeToString(answer(1, tagBindResponse, 0, "")) + "00",
		"no result code": "3008020101610304010a",
		"long integer":   "300f02050100000000610600000400040000",
		"indefinite":     "3080020101",
		"multibyte tag":  "3005020101" + "1f00",
	}
	for name, h := range bad {
		b, _ := hex.DecodeString(h)
		_, err := parseResponse(b)
		var pe protocolError
		if !errors.As(err, &pe) {
			t.Errorf("%s: err = %v; want a protocolError", name, err)
		}
	}
}

func TestReadMessage(t *testing.T) {
	msg := answer(3, tagBindResponse, 0, strings.Repeat("d", 300))
	r := bytes.NewReader(append(append([]byte{}, msg...), 0xff)) // a byte of the next message
	got, err := readMessage(r)
	if err != nil || !bytes.Equal(got, msg) || r.Len() != 1 {
		t.Fatalf("readMessage = %d bytes, %v, %d left; want %d, nil, 1", len(got), err, r.Len(), len(msg))
	}
	for name, tc := range map[string]struct {
		in   []byte
		want error
	}{
		"too large":  {[]byte{0x30, 0x83, 0x01, 0x00, 0x00}, errTooLarge},
		"indefinite": {[]byte{0x30, 0x80}, errLength},
		"not ldap":   {[]byte("HTTP/1.1 400"), protocolError("answer is not an LDAPMessage")},
		"eof":        {[]byte{0x30}, io.ErrUnexpectedEOF},
		"cut":        {[]byte{0x30, 0x05, 0x02}, io.ErrUnexpectedEOF},
	} {
		if _, err := readMessage(bytes.NewReader(tc.in)); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v; want %v", name, err, tc.want)
		}
	}
}

// FuzzParseResponse: any bytes are read and decoded without panicking,
// never beyond 64 KiB, and what parses re-encodes to an equal answer.
func FuzzParseResponse(f *testing.F) {
	f.Add(answer(1, tagBindResponse, 0, ""))
	f.Add(answer(2, tagExtendedResponse, 49, "x"))
	f.Add([]byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := readMessage(bytes.NewReader(b))
		if err == nil && (len(msg) > maxMessage || !bytes.HasPrefix(b, msg)) {
			t.Fatalf("readMessage returned %d bytes not a prefix of the input", len(msg))
		}
		r, err := parseResponse(b)
		if err != nil {
			return
		}
		if r.id < -1<<31 || r.id >= 1<<31 || r.resultCode < -1<<31 || r.resultCode >= 1<<31 {
			t.Fatalf("integers out of range: %+v", r)
		}
	})
}
