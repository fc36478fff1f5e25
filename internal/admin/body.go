package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// maxJSONDepth is the nesting Kong's JSON decoder accepts (cjson's default
// decode_max_depth); deeper bodies answer "Cannot parse JSON body".
const maxJSONDepth = 1000

// bodyKind tells how a request body was encoded.
type bodyKind uint8

const (
	bodyNone bodyKind = iota
	bodyJSON
	bodyForm // form-encoded or multipart: values are strings to infer
)

var errParseJSON = message(http.StatusBadRequest, "Cannot parse JSON body")

func errTooLarge() *Error {
	return message(http.StatusRequestEntityTooLarge, "Request Entity Too Large")
}

// readBody reads the whole body up to limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	var data []byte
	var err error
	if n := r.ContentLength; n > 0 && n <= limit {
		// one buffer of the announced size, not ReadAll's doublings (a
		// POST /config of megabytes left twice its size in garbage)
		data = make([]byte, n)
		_, err = io.ReadFull(r.Body, data)
	} else {
		data, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
	}
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Cause: err,
			Body: map[string]string{"message": "Cannot read request body"}}
	}
	if int64(len(data)) > limit {
		return nil, errTooLarge()
	}
	return data, nil
}

// decodeBody decodes a request body into Kong's argument table: JSON as
// is, form-encoded and multipart bodies through Kong's key syntax (dotted
// keys for records and maps, repeated, "[]" and "[n]" keys for arrays).
func decodeBody(r *http.Request, data []byte) (map[string]any, bodyKind, error) {
	ct := r.Header.Get("Content-Type")
	if len(bytes.TrimSpace(data)) == 0 {
		lct := strings.ToLower(ct)
		if ct != "" && !strings.HasPrefix(lct, "application/json") && !strings.HasPrefix(lct, "multipart/form-data") &&
			!strings.HasPrefix(lct, "application/x-www-form-urlencoded") {
			// Kong's before_filter refuses any other content type, body or
			// not (kong/api/api_helpers.lua).
			return nil, bodyNone, message(http.StatusUnsupportedMediaType, "Unsupported Media Type")
		}
		if strings.HasPrefix(lct, "multipart/") {
			// Kong reads an empty multipart body, boundary or not, as no
			// arguments (03-consumers_routes_spec.lua "returns 400 on
			// missing body with multipart/form-data": a schema violation).
			return map[string]any{}, bodyForm, nil
		}
		return map[string]any{}, bodyNone, nil
	}
	mt, params, _ := mime.ParseMediaType(ct)
	mt = strings.ToLower(mt)
	switch {
	case strings.HasPrefix(mt, "application/json"):
		m, err := decodeJSONObject(data)
		if err != nil {
			return nil, bodyJSON, err
		}
		return m, bodyJSON, nil
	case strings.HasPrefix(mt, "application/x-www-form-urlencoded"):
		if countArgs(string(data)) > maxArgs {
			return nil, bodyForm, errTooManyArgs
		}
		vals, err := url.ParseQuery(string(data))
		if err != nil {
			return nil, bodyForm, message(http.StatusBadRequest, "Cannot parse form body")
		}
		return decodeForm(vals), bodyForm, nil
	case strings.HasPrefix(mt, "multipart/form-data"):
		vals, err := parseMultipart(data, params["boundary"])
		if err != nil {
			return nil, bodyForm, message(http.StatusBadRequest, "Cannot parse multipart body")
		}
		return decodeForm(vals), bodyForm, nil
	}
	return nil, bodyNone, message(http.StatusUnsupportedMediaType, "Unsupported Media Type")
}

func decodeJSONObject(data []byte) (map[string]any, error) {
	if jsonDepth(data) > maxJSONDepth {
		return nil, errParseJSON
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&v); err != nil {
		return nil, errParseJSON
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errParseJSON
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errParseJSON
	}
	return m, nil
}

// jsonDepth returns the deepest nesting of arrays and objects in data,
// ignoring brackets inside strings.
func jsonDepth(data []byte) int {
	depth, maxDepth := 0, 0
	inStr, esc := false, false
	for _, c := range data {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
			if depth > maxDepth {
				maxDepth = depth
			}
		case '}', ']':
			depth--
		}
	}
	return maxDepth
}

func parseMultipart(data []byte, boundary string) (url.Values, error) {
	if boundary == "" {
		return nil, errors.New("no boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(data), boundary)
	vals := url.Values{}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return vals, nil
		}
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, err
		}
		if name := p.FormName(); name != "" {
			vals.Add(name, string(b))
		}
	}
}

// decodeForm turns form values into nested maps and lists: "a.b=1" sets
// {"a": {"b": "1"}}, "a[]=x&a[]=y" and repeated "a=x&a=y" make lists,
// "a[1]=x&a[2]=y" makes {"1": "x", "2": "y"} (Schema.Infer turns maps with
// keys 1..n into lists). Keys are applied in sorted order so the result
// does not depend on the order of the body.
func decodeForm(vals url.Values) map[string]any {
	out := map[string]any{}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path, appendList := splitFormKey(k)
		if len(path) == 0 {
			continue
		}
		vs := vals[k]
		var v any
		if appendList || len(vs) > 1 {
			list := make([]any, len(vs))
			for i, s := range vs {
				list[i] = s
			}
			v = list
		} else {
			v = vs[0]
		}
		setPath(out, path, v)
	}
	return out
}

// splitFormKey splits "config.a[2].b" into ["config", "a", "2", "b"] and
// reports a trailing "[]".
func splitFormKey(k string) ([]string, bool) {
	var path []string
	appendList := false
	for _, part := range strings.Split(k, ".") {
		for part != "" {
			i := strings.IndexByte(part, '[')
			if i < 0 {
				path = append(path, part)
				break
			}
			if i > 0 {
				path = append(path, part[:i])
			}
			j := strings.IndexByte(part[i:], ']')
			if j < 0 {
				path = append(path, part[i:])
				break
			}
			inner := part[i+1 : i+j]
			if inner == "" {
				appendList = true
			} else {
				path = append(path, inner)
			}
			part = part[i+j+1:]
		}
	}
	return path, appendList
}

func setPath(m map[string]any, path []string, v any) {
	for i, p := range path {
		if i == len(path)-1 {
			if old, ok := m[p]; ok {
				m[p] = mergeFormValue(old, v)
			} else {
				m[p] = v
			}
			return
		}
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
}

func mergeFormValue(old, v any) any {
	list, _ := old.([]any)
	if list == nil {
		list = []any{old}
	}
	if vl, ok := v.([]any); ok {
		return append(list, vl...)
	}
	return append(list, v)
}
