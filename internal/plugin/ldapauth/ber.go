package ldapauth

import "io"

// The little of BER (X.690) that a simple bind needs: definite lengths,
// tags of one byte, INTEGER/ENUMERATED of up to four bytes and OCTET
// STRINGs. Everything read is bounded by maxMessage.

// maxMessage caps an LDAP message read or written (requests and answers of
// a bind are a few hundred bytes).
const maxMessage = 64 << 10

// Tags used by the client (RFC 4511 section 4).
const (
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagEnumerated  = 0x0a
	tagSequence    = 0x30
	// Application tags of LDAP operations (constructed).
	tagBindRequest      = 0x60 // [APPLICATION 0]
	tagBindResponse     = 0x61 // [APPLICATION 1]
	tagExtendedRequest  = 0x77 // [APPLICATION 23]
	tagExtendedResponse = 0x78 // [APPLICATION 24]
	// Context tags (primitive).
	tagSimpleAuth  = 0x80 // AuthenticationChoice simple [0]
	tagRequestName = 0x80 // ExtendedRequest requestName [0]
)

// protocolError is an answer the client cannot understand (as opposed to
// an I/O error on the connection).
type protocolError string

func (e protocolError) Error() string { return "ldap: " + string(e) }

const (
	errTruncated = protocolError("truncated BER element")
	errLength    = protocolError("unsupported BER length")
	errTooLarge  = protocolError("message larger than 64 KiB")
	errInteger   = protocolError("bad BER integer")
)

// appendLength appends a definite length in short or long form.
func appendLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n <= 0xff:
		return append(b, 0x81, byte(n))
	case n <= 0xffff:
		return append(b, 0x82, byte(n>>8), byte(n))
	default:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
}

// appendTLV appends one element with the given content.
func appendTLV(b []byte, tag byte, content []byte) []byte {
	b = append(b, tag)
	b = appendLength(b, len(content))
	return append(b, content...)
}

// appendString appends an element whose content is s.
func appendString(b []byte, tag byte, s string) []byte {
	b = append(b, tag)
	b = appendLength(b, len(s))
	return append(b, s...)
}

// appendInt appends a non-negative INTEGER in its shortest two's
// complement form.
func appendInt(b []byte, tag byte, v int32) []byte {
	var buf [5]byte
	n := 0
	for x := uint32(v); ; x >>= 8 {
		buf[4-n] = byte(x)
		n++
		if x < 0x80 {
			break
		}
	}
	return appendTLV(b, tag, buf[5-n:])
}

// element is one decoded BER element.
type element struct {
	tag     byte
	content []byte
}

// readElement decodes the element at the start of b and returns it with
// the bytes after it.
func readElement(b []byte) (element, []byte, error) {
	if len(b) < 2 {
		return element{}, nil, errTruncated
	}
	tag := b[0]
	if tag&0x1f == 0x1f {
		return element{}, nil, protocolError("multi-byte BER tags are not supported")
	}
	n, hdr, err := decodeLength(b[1:])
	if err != nil {
		return element{}, nil, err
	}
	rest := b[1+hdr:]
	if n > len(rest) {
		return element{}, nil, errTruncated
	}
	return element{tag: tag, content: rest[:n]}, rest[n:], nil
}

// decodeLength reads a definite length at the start of b; hdr is the
// number of bytes it took.
func decodeLength(b []byte) (n, hdr int, err error) {
	if len(b) == 0 {
		return 0, 0, errTruncated
	}
	first := b[0]
	if first < 0x80 {
		return int(first), 1, nil
	}
	k := int(first & 0x7f)
	if k == 0 || k > 3 { // indefinite form, or more than 16 MiB
		return 0, 0, errLength
	}
	if len(b) < 1+k {
		return 0, 0, errTruncated
	}
	for _, c := range b[1 : 1+k] {
		n = n<<8 | int(c)
	}
	return n, 1 + k, nil
}

// integer decodes the content of an INTEGER or ENUMERATED of one to four
// bytes.
func integer(content []byte) (int64, error) {
	if len(content) == 0 || len(content) > 4 {
		return 0, errInteger
	}
	v := int64(int8(content[0])) // sign
	for _, c := range content[1:] {
		v = v<<8 | int64(c)
	}
	return v, nil
}

// readMessage reads one LDAPMessage (a SEQUENCE) from r: exactly its bytes,
// so that a TLS handshake may follow on the same connection.
func readMessage(r io.Reader) ([]byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:2]); err != nil {
		return nil, err
	}
	if hdr[0] != tagSequence {
		return nil, protocolError("answer is not an LDAPMessage")
	}
	k := 0
	if hdr[1] >= 0x80 {
		k = int(hdr[1] & 0x7f)
		if k == 0 || k > 3 {
			return nil, errLength
		}
		if _, err := io.ReadFull(r, hdr[2:2+k]); err != nil {
			return nil, err
		}
	}
	n, _, err := decodeLength(hdr[1 : 2+k])
	if err != nil {
		return nil, err
	}
	if 2+k+n > maxMessage {
		return nil, errTooLarge
	}
	msg := make([]byte, 2+k+n)
	copy(msg, hdr[:2+k])
	if _, err := io.ReadFull(r, msg[2+k:]); err != nil {
		return nil, err
	}
	return msg, nil
}
