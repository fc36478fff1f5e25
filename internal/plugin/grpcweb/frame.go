package grpcweb

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
)

// frameTrailer is the flag byte of a gRPC-Web trailer frame (the most
// significant bit set); message frames have 0 (or 1 when compressed).
const frameTrailer = 0x80

// b64Value maps a byte of the standard base64 alphabet to its 6-bit value;
// other bytes map to 0xff.
var b64Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// decodeText decodes a grpc-web-text body in place and returns the length
// of the decoded bytes (b[:n]). The body is standard base64, possibly the
// concatenation of separately padded segments (a client may encode each
// frame on its own); the last group may omit its padding. ok is false for
// any other byte (whitespace included), a lone character in a group or
// misplaced padding. Decoding in place is safe: each group of 4 input
// bytes is read before its 3 output bytes are written, behind it.
func decodeText(b []byte) (n int, ok bool) {
	var acc uint32 // the group's 6-bit values so far
	k := 0         // characters in the current group
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '=' {
			// Padding closes a group of 2 ("xx==") or 3 ("xxx=")
			// characters; the next group starts a new segment.
			switch {
			case k == 3:
				acc <<= 6
				b[n], b[n+1] = byte(acc>>16), byte(acc>>8)
				n += 2
			case k == 2 && i+1 < len(b) && b[i+1] == '=':
				i++
				acc <<= 12
				b[n] = byte(acc >> 16)
				n++
			default:
				return 0, false
			}
			acc, k = 0, 0
			continue
		}
		v := b64Value[c]
		if v == 0xff {
			return 0, false
		}
		acc = acc<<6 | uint32(v)
		k++
		if k == 4 {
			b[n], b[n+1], b[n+2] = byte(acc>>16), byte(acc>>8), byte(acc)
			n += 3
			acc, k = 0, 0
		}
	}
	switch k {
	case 0:
	case 2: // unpadded last group
		b[n] = byte(acc >> 4)
		n++
	case 3:
		b[n], b[n+1] = byte(acc>>10), byte(acc>>2)
		n += 2
	default:
		return 0, false
	}
	return n, true
}

// appendBase64 appends the padded standard base64 form of src to dst.
func appendBase64(dst, src []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(src))
	dst = slices.Grow(dst, n)
	base64.StdEncoding.Encode(dst[len(dst):len(dst)+n], src)
	return dst[:len(dst)+n]
}

// appendTrailerFrame appends a gRPC-Web trailer frame to dst: the flag
// byte 0x80, the payload's length (4 bytes, big endian), then
// "grpc-status:<status>\r\ngrpc-message:<message>\r\n" as Kong writes it,
// followed by the other trailer fields of extra (lower-case names, sorted,
// one line per value).
func appendTrailerFrame(dst []byte, status, message string, extra http.Header) []byte {
	start := len(dst)
	dst = append(dst, frameTrailer, 0, 0, 0, 0)
	dst = append(dst, "grpc-status:"...)
	dst = append(dst, status...)
	dst = append(dst, "\r\ngrpc-message:"...)
	dst = append(dst, message...)
	dst = append(dst, "\r\n"...)
	if len(extra) > 0 {
		var names []string
		for k := range extra {
			if k != "Grpc-Status" && k != "Grpc-Message" {
				names = append(names, k)
			}
		}
		slices.Sort(names)
		for _, k := range names {
			lk := strings.ToLower(k)
			for _, v := range extra[k] {
				dst = append(dst, lk...)
				dst = append(dst, ':')
				dst = append(dst, v...)
				dst = append(dst, "\r\n"...)
			}
		}
	}
	size := len(dst) - start - 5
	dst[start+1], dst[start+2], dst[start+3], dst[start+4] = byte(size>>24), byte(size>>16), byte(size>>8), byte(size)
	return dst
}
