package grpcjson

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A decoded JSON value is one of: map[string]any (an object), []any (an
// array), string, Number, bool, or Null.
type (
	// Number is a JSON number as written, converted when its field's type
	// is known.
	Number string
	// Null is JSON's null (cjson.null): no field accepts it.
	Null struct{}
)

// maxDepth is cjson's default nesting limit.
const maxDepth = 1000

// DecodeJSON parses b as lua-cjson does and, on failure, words the error
// as cjson does ("Expected value but found invalid token at character 1").
func DecodeJSON(b []byte) (any, error) {
	d := &decoder{b: b}
	tok := d.next()
	v, err := d.value(tok, 0)
	if err != nil {
		return nil, err
	}
	if tok := d.next(); tok.kind != tEnd {
		return nil, d.fail("the end", tok)
	}
	return v, nil
}

// Token kinds, named as cjson names them in its errors.
const (
	tObjBegin = iota
	tObjEnd
	tArrBegin
	tArrEnd
	tString
	tNumber
	tBoolean
	tNull
	tColon
	tComma
	tEnd
	tError
)

var tokenNames = [...]string{"T_OBJ_BEGIN", "T_OBJ_END", "T_ARR_BEGIN", "T_ARR_END", "T_STRING", "T_NUMBER", "T_BOOLEAN", "T_NULL", "T_COLON", "T_COMMA", "T_END", "T_ERROR"}

type token struct {
	kind  int
	index int // offset of the token (of the failure for tError)
	str   string
	b     bool
	err   string
}

type decoder struct {
	b   []byte
	pos int
}

func (d *decoder) fail(what string, tok token) error {
	found := tokenNames[tok.kind]
	if tok.kind == tError {
		found = tok.err
	}
	return kongError(fmt.Sprintf("Expected %s but found %s at character %d", what, found, tok.index+1))
}

func (d *decoder) value(tok token, depth int) (any, error) {
	switch tok.kind {
	case tString:
		return tok.str, nil
	case tNumber:
		return Number(tok.str), nil
	case tBoolean:
		return tok.b, nil
	case tNull:
		return Null{}, nil
	case tObjBegin:
		if depth+1 > maxDepth {
			return nil, kongError(fmt.Sprintf("Found too many nested data structures (%d) at character %d", depth+1, tok.index+1))
		}
		obj := map[string]any{}
		tok = d.next()
		if tok.kind == tObjEnd {
			return obj, nil
		}
		for {
			if tok.kind != tString {
				return nil, d.fail("object key string", tok)
			}
			key := tok.str
			if tok = d.next(); tok.kind != tColon {
				return nil, d.fail("colon", tok)
			}
			v, err := d.value(d.next(), depth+1)
			if err != nil {
				return nil, err
			}
			obj[key] = v
			tok = d.next()
			if tok.kind == tObjEnd {
				return obj, nil
			}
			if tok.kind != tComma {
				return nil, d.fail("comma or object end", tok)
			}
			tok = d.next()
		}
	case tArrBegin:
		if depth+1 > maxDepth {
			return nil, kongError(fmt.Sprintf("Found too many nested data structures (%d) at character %d", depth+1, tok.index+1))
		}
		arr := []any{}
		tok = d.next()
		if tok.kind == tArrEnd {
			return arr, nil
		}
		for {
			v, err := d.value(tok, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
			tok = d.next()
			if tok.kind == tArrEnd {
				return arr, nil
			}
			if tok.kind != tComma {
				return nil, d.fail("comma or array end", tok)
			}
			tok = d.next()
		}
	}
	return nil, d.fail("value", tok)
}

func (d *decoder) next() token {
	for d.pos < len(d.b) {
		switch d.b[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
			continue
		}
		break
	}
	start := d.pos
	if d.pos >= len(d.b) {
		return token{kind: tEnd, index: start}
	}
	single := func(k int) token { d.pos++; return token{kind: k, index: start} }
	switch c := d.b[d.pos]; {
	case c == '{':
		return single(tObjBegin)
	case c == '}':
		return single(tObjEnd)
	case c == '[':
		return single(tArrBegin)
	case c == ']':
		return single(tArrEnd)
	case c == ':':
		return single(tColon)
	case c == ',':
		return single(tComma)
	case c == '"':
		return d.string()
	case c == '-' || c == '+' || (c >= '0' && c <= '9') || d.infOrNaN():
		return d.number()
	case d.literal("true"):
		return token{kind: tBoolean, index: start, b: true}
	case d.literal("false"):
		return token{kind: tBoolean, index: start}
	case d.literal("null"):
		return token{kind: tNull, index: start}
	}
	return token{kind: tError, index: start, err: "invalid token"}
}

// infOrNaN tells a bare inf or nan (which cjson reads as numbers).
func (d *decoder) infOrNaN() bool {
	rest := d.b[d.pos:]
	return len(rest) >= 3 && (strings.EqualFold(string(rest[:3]), "inf") || strings.EqualFold(string(rest[:3]), "nan"))
}

func (d *decoder) literal(s string) bool {
	if len(d.b)-d.pos >= len(s) && string(d.b[d.pos:d.pos+len(s)]) == s {
		d.pos += len(s)
		return true
	}
	return false
}

// number scans what strtod reads: a sign, then a decimal number, a hex
// one ("0x1f"), "inf", "infinity" or "nan" (cjson's default
// decode_invalid_numbers takes the last three and a leading "+").
func (d *decoder) number() token {
	start := d.pos
	i := d.pos
	if d.b[i] == '-' || d.b[i] == '+' {
		i++
	}
	word := func(w string) bool {
		if len(d.b)-i >= len(w) && strings.EqualFold(string(d.b[i:i+len(w)]), w) {
			i += len(w)
			return true
		}
		return false
	}
	digits := func(hex bool) int {
		n := 0
		for i < len(d.b) && (d.b[i] >= '0' && d.b[i] <= '9' || hex && (d.b[i]|0x20) >= 'a' && (d.b[i]|0x20) <= 'f') {
			i++
			n++
		}
		return n
	}
	switch {
	case word("infinity"), word("inf"), word("nan"):
	case len(d.b)-i > 2 && d.b[i] == '0' && (d.b[i+1]|0x20) == 'x' && isHexDigit(d.b[i+2]):
		i += 2
		digits(true)
		if i < len(d.b) && d.b[i] == '.' {
			i++
			digits(true)
		}
		if i < len(d.b) && (d.b[i]|0x20) == 'p' {
			j := i
			i++
			if i < len(d.b) && (d.b[i] == '+' || d.b[i] == '-') {
				i++
			}
			if digits(false) == 0 {
				i = j
			}
		}
	default:
		n := digits(false)
		if i < len(d.b) && d.b[i] == '.' {
			i++
			n += digits(false)
		}
		if n == 0 {
			return token{kind: tError, index: start, err: "invalid number"}
		}
		if i < len(d.b) && (d.b[i] == 'e' || d.b[i] == 'E') {
			j := i
			i++
			if i < len(d.b) && (d.b[i] == '+' || d.b[i] == '-') {
				i++
			}
			if digits(false) == 0 {
				i = j
			}
		}
	}
	d.pos = i
	return token{kind: tNumber, index: start, str: string(d.b[start:i])}
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || (c|0x20) >= 'a' && (c|0x20) <= 'f'
}

func (d *decoder) string() token {
	start := d.pos
	d.pos++ // the opening quote
	var out []byte
	for {
		if d.pos >= len(d.b) {
			return token{kind: tError, index: d.pos, err: "unexpected end of string"}
		}
		c := d.b[d.pos]
		if c == '"' {
			d.pos++
			return token{kind: tString, index: start, str: string(out)}
		}
		if c != '\\' {
			out = append(out, c)
			d.pos++
			continue
		}
		if d.pos+1 >= len(d.b) {
			d.pos = len(d.b)
			return token{kind: tError, index: d.pos, err: "unexpected end of string"}
		}
		esc := d.b[d.pos+1]
		switch esc {
		case '"', '\\', '/':
			out = append(out, esc)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n, ok := d.unicode(d.pos)
			if !ok {
				return token{kind: tError, index: d.pos, err: "invalid unicode escape code"}
			}
			out = utf8.AppendRune(out, r)
			d.pos += n
			continue
		default:
			return token{kind: tError, index: d.pos, err: "invalid escape code"}
		}
		d.pos += 2
	}
}

// unicode reads \uXXXX (and a low surrogate's \uXXXX after a high one) at
// i: the rune and the bytes read.
func (d *decoder) unicode(i int) (rune, int, bool) {
	hex4 := func(j int) (rune, bool) {
		if j+6 > len(d.b) || d.b[j] != '\\' || d.b[j+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(d.b[j+2:j+6]), 16, 16)
		return rune(v), err == nil
	}
	hi, ok := hex4(i)
	if !ok {
		return 0, 0, false
	}
	if hi >= 0xdc00 && hi <= 0xdfff {
		return 0, 0, false
	}
	if hi < 0xd800 || hi > 0xdbff {
		return hi, 6, true
	}
	lo, ok := hex4(i + 6)
	if !ok || lo < 0xdc00 || lo > 0xdfff {
		return 0, 0, false
	}
	return 0x10000 + (hi-0xd800)<<10 + (lo - 0xdc00), 12, true
}
