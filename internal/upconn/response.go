package upconn

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// ProtocolError is a response that breaks HTTP/1.1's syntax or framing.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "upconn: malformed upstream response: " + e.Msg }

func protoErr(msg string) error { return &ProtocolError{Msg: msg} }

var errHeadTooLarge = protoErr("response head too large")

// readLine appends one line (through its '\n') of br to dst, failing when
// dst would grow past max.
func readLine(br *bufio.Reader, dst []byte, max int) ([]byte, error) {
	for {
		l, err := br.ReadSlice('\n')
		if len(dst)+len(l) > max {
			return dst, errHeadTooLarge
		}
		dst = append(dst, l...)
		switch {
		case err == nil:
			return dst, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(dst) == 0 {
				return dst, io.EOF
			}
			return dst, io.ErrUnexpectedEOF
		default:
			return dst, err
		}
	}
}

// ReadResponse reads and parses a response head. isHEAD tells that the
// request was a HEAD (no body whatever the framing says). A 1xx response
// has no body: the caller forwards it and calls ReadResponse again.
func (c *Conn) ReadResponse(isHEAD bool) (*Response, error) {
	r := &c.Res
	*r = Response{Fields: r.Fields[:0], Trailers: r.Trailers[:0], ContentLength: -1}
	c.mode, c.left, c.chunkSt, c.done, c.bodiless = bodyNone, 0, chunkSize, false, false
	max := c.p.o.MaxHeaderBytes
	head := c.head[:0]
	spans := c.spans[:0]
	var err error
	for {
		start := len(head)
		head, err = readLine(c.br, head, max)
		if err != nil {
			c.broken = true
			if errors.Is(err, io.EOF) && start > 0 {
				err = io.ErrUnexpectedEOF
			}
			c.head = head[:0]
			return nil, err
		}
		line := head[start:]
		if len(line) <= 2 && (len(line) == 1 || line[0] == '\r') {
			if start == 0 {
				c.broken = true
				return nil, protoErr("empty status line")
			}
			break
		}
		if start == 0 {
			continue // status line, parsed below
		}
		sp, err := parseField(head, start)
		if err != nil {
			c.broken = true
			return nil, err
		}
		spans = append(spans, sp)
	}
	if cap(head) <= 16<<10 {
		c.head = head
	} else {
		c.head = nil
	}
	c.spans = spans
	s := string(head) // the one allocation holding every name and value
	if err := parseStatusLine(r, s); err != nil {
		c.broken = true
		return nil, err
	}
	for _, sp := range spans {
		r.Fields = append(r.Fields, Field{Name: s[sp.k0:sp.k1], Value: s[sp.v0:sp.v1]})
	}
	if err := c.framing(r, isHEAD); err != nil {
		c.broken = true
		return nil, err
	}
	return r, nil
}

// parseStatusLine parses "HTTP/1.x NNN reason".
func parseStatusLine(r *Response, s string) error {
	end := 0
	for end < len(s) && s[end] != '\n' {
		end++
	}
	l := s[:end]
	if len(l) > 0 && l[len(l)-1] == '\r' {
		l = l[:len(l)-1]
	}
	if len(l) < 12 || l[:5] != "HTTP/" || l[6] != '.' || l[8] != ' ' ||
		l[5] < '0' || l[5] > '9' || l[7] < '0' || l[7] > '9' {
		return protoErr(fmt.Sprintf("status line %q", truncate(l)))
	}
	r.ProtoMajor, r.ProtoMinor = int(l[5]-'0'), int(l[7]-'0')
	if r.ProtoMajor != 1 {
		return protoErr(fmt.Sprintf("status line %q", truncate(l)))
	}
	code := 0
	for i := 9; i < 12; i++ {
		if l[i] < '0' || l[i] > '9' {
			return protoErr(fmt.Sprintf("status code in %q", truncate(l)))
		}
		code = code*10 + int(l[i]-'0')
	}
	if code < 100 || (len(l) > 12 && l[12] != ' ') {
		return protoErr(fmt.Sprintf("status code in %q", truncate(l)))
	}
	r.Status = code
	if len(l) > 13 {
		r.Reason = l[13:]
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// tokenChar is RFC 9110's tchar.
var tokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// parseField parses the field line at head[start:] (ending in "\n"),
// canonicalizes its name in place and returns the spans of name and value.
func parseField(head []byte, start int) (span, error) {
	end := len(head) - 1 // the '\n'
	if end > start && head[end-1] == '\r' {
		end--
	}
	line := head[start:end]
	if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
		return span{}, protoErr("obsolete line folding")
	}
	colon := -1
	for i, b := range line {
		if b == ':' {
			colon = i
			break
		}
		if !tokenChar[b] {
			return span{}, protoErr(fmt.Sprintf("invalid header name in %q", truncate(string(line))))
		}
	}
	if colon <= 0 {
		return span{}, protoErr(fmt.Sprintf("header line %q", truncate(string(line))))
	}
	upper := true
	for i := 0; i < colon; i++ {
		b := line[i]
		if upper && 'a' <= b && b <= 'z' {
			line[i] = b - ('a' - 'A')
		} else if !upper && 'A' <= b && b <= 'Z' {
			line[i] = b + ('a' - 'A')
		}
		upper = b == '-'
	}
	v0, v1 := colon+1, len(line)
	for v0 < v1 && (line[v0] == ' ' || line[v0] == '\t') {
		v0++
	}
	for v1 > v0 && (line[v1-1] == ' ' || line[v1-1] == '\t') {
		v1--
	}
	for _, b := range line[v0:v1] {
		if b == '\r' || b == 0 || (b < ' ' && b != '\t') || b == 0x7f {
			return span{}, protoErr(fmt.Sprintf("invalid value of header %q", string(line[:colon])))
		}
	}
	return span{k0: int32(start), k1: int32(start + colon), v0: int32(start + v0), v1: int32(start + v1)}, nil
}

// equalFold reports whether s equals the lower-case ASCII word t, ignoring
// case.
func equalFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if b != t[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v holds token
// (lower-case), ignoring case.
func hasToken(v, token string) bool {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		f := v[:i]
		for len(f) > 0 && (f[0] == ' ' || f[0] == '\t') {
			f = f[1:]
		}
		for len(f) > 0 && (f[len(f)-1] == ' ' || f[len(f)-1] == '\t') {
			f = f[:len(f)-1]
		}
		if equalFold(f, token) {
			return true
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return false
}

// framing decides how the body is delimited (RFC 9112 section 6.3) and
// whether the connection can be reused.
func (c *Conn) framing(r *Response, isHEAD bool) error {
	cl := int64(-1)
	var te, conn bool
	keepAlive := false
	for _, f := range r.Fields {
		switch f.Name {
		case "Content-Length":
			n, ok := parseLength(f.Value)
			if !ok {
				return protoErr(fmt.Sprintf("Content-Length %q", truncate(f.Value)))
			}
			if cl >= 0 && n != cl {
				return protoErr("conflicting Content-Length fields")
			}
			cl = n
		case "Transfer-Encoding":
			if te || !equalFold(f.Value, "chunked") {
				return protoErr(fmt.Sprintf("unsupported Transfer-Encoding %q", truncate(f.Value)))
			}
			te = true
		case "Connection":
			conn = true
			if hasToken(f.Value, "close") {
				r.Close = true
			}
			if hasToken(f.Value, "keep-alive") {
				keepAlive = true
			}
		}
	}
	_ = conn
	if r.ProtoMinor == 0 && !keepAlive {
		r.Close = true
	}
	if r.ProtoMinor == 0 && te {
		// Faulty framing in HTTP/1.0 (RFC 9112 section 6.1): ignored, like
		// net/http does, and the connection is not reused.
		te, r.Close = false, true
	}
	switch {
	case r.Status >= 100 && r.Status <= 199:
		if r.Status == 101 {
			return protoErr("101 Switching Protocols to a request without Upgrade")
		}
		c.mode = bodyNone
		return nil
	case isHEAD || r.Status == 204 || r.Status == 304:
		c.mode, c.bodiless = bodyNone, true
		r.ContentLength = cl
		if r.Status == 204 {
			r.ContentLength = 0
		}
	case te:
		r.Chunked = true
		c.mode, c.chunkSt = bodyChunked, chunkSize
		if cl >= 0 {
			// Both framings (RFC 9112 section 6.3): chunked wins, as in
			// net/http, but the connection is not trusted again (nginx
			// refuses such a response outright).
			r.Close = true
		}
	case cl >= 0:
		r.ContentLength = cl
		c.mode, c.left = bodyLength, cl
	default:
		r.Close = true
		c.mode = bodyClose
	}
	if c.mode == bodyNone || (c.mode == bodyLength && c.left == 0) {
		c.done = true
	}
	return nil
}

// parseLength parses a Content-Length value: decimal digits only.
func parseLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(v[i]-'0')
	}
	return n, true
}

var errChunk = protoErr("bad chunked encoding")

// readChunked reads a chunked body: chunk-size [; ext] CRLF data CRLF ...
// 0 CRLF trailers CRLF.
func (c *Conn) readChunked(p []byte) (int, error) {
	for {
		switch c.chunkSt {
		case chunkData:
			if c.left == 0 {
				c.chunkSt = chunkCRLF
				continue
			}
			if int64(len(p)) > c.left {
				p = p[:c.left]
			}
			n, err := c.br.Read(p)
			c.left -= int64(n)
			if err != nil {
				c.broken = true
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return n, err
			}
			if c.left == 0 {
				c.chunkSt = chunkCRLF
			}
			return n, nil
		case chunkCRLF:
			b, err := c.br.ReadByte()
			if err == nil && b == '\r' {
				b, err = c.br.ReadByte()
			}
			if err != nil {
				c.broken = true
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return 0, err
			}
			if b != '\n' {
				c.broken = true
				return 0, errChunk
			}
			c.chunkSt = chunkSize
		case chunkSize:
			if c.done {
				return 0, io.EOF
			}
			if c.broken {
				return 0, errChunk
			}
			line, err := readLine(c.br, c.head[:0], 4096)
			c.head = line[:0]
			if err != nil {
				c.broken = true
				if errors.Is(err, io.EOF) || errors.Is(err, errHeadTooLarge) {
					err = io.ErrUnexpectedEOF
				}
				return 0, err
			}
			n, ok := parseChunkSize(line)
			if !ok {
				c.broken = true
				return 0, errChunk
			}
			if n == 0 {
				if err := c.readTrailers(); err != nil {
					c.broken = true
					return 0, err
				}
				c.done = true
				return 0, io.EOF
			}
			c.left, c.chunkSt = n, chunkData
		}
	}
}

// parseChunkSize parses "hex[;ext]\r\n" (whitespace before ';' allowed).
func parseChunkSize(line []byte) (int64, bool) {
	end := len(line) - 1
	if end > 0 && line[end-1] == '\r' {
		end--
	}
	line = line[:end]
	var n int64
	i := 0
	for ; i < len(line); i++ {
		b := line[i]
		var d byte
		switch {
		case '0' <= b && b <= '9':
			d = b - '0'
		case 'a' <= b && b <= 'f':
			d = b - 'a' + 10
		case 'A' <= b && b <= 'F':
			d = b - 'A' + 10
		default:
			goto rest
		}
		if i >= 15 {
			return 0, false // would overflow int64 soon enough: refuse
		}
		n = n<<4 | int64(d)
	}
rest:
	if i == 0 {
		return 0, false
	}
	for ; i < len(line) && (line[i] == ' ' || line[i] == '\t'); i++ {
	}
	if i < len(line) && line[i] != ';' {
		return 0, false
	}
	for _, b := range line[i:] {
		if b == '\r' || b == '\n' || b == 0 {
			return 0, false
		}
	}
	return n, true
}

// readTrailers reads the trailer section after the last chunk.
func (c *Conn) readTrailers() error {
	head := c.head[:0]
	spans := c.spans[:0]
	for {
		start := len(head)
		var err error
		head, err = readLine(c.br, head, c.p.o.MaxHeaderBytes)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		line := head[start:]
		if len(line) <= 2 && (len(line) == 1 || line[0] == '\r') {
			head = head[:start]
			break
		}
		sp, err := parseField(head, start)
		if err != nil {
			return err
		}
		spans = append(spans, sp)
	}
	c.spans = spans
	if len(spans) == 0 {
		return nil
	}
	s := string(head)
	for _, sp := range spans {
		c.Res.Trailers = append(c.Res.Trailers, Field{Name: s[sp.k0:sp.k1], Value: s[sp.v0:sp.v1]})
	}
	return nil
}
