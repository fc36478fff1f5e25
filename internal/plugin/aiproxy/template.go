package aiproxy

import (
	"fmt"
	"strings"

	"sluice/internal/plugin"
)

// resolve returns the model options and name of one request: string
// values may hold Kong's templates, $(headers.<name>),
// $(query_params.<name>) or $(uri_captures.<name>), filled from the
// request (Kong's merge_model_options).
func (p *AIProxy) resolve(c *plugin.Ctx) (*plugin.LLMOptions, string, error) {
	name := ""
	if p.conf.Model.Name != nil {
		v, err := fill(c, *p.conf.Model.Name, true, "model.name")
		if err != nil {
			return nil, "", err
		}
		name = v
	}
	o, err := p.conf.Model.Resolved(func(s string) (string, error) { return fill(c, s, false, s) })
	if err != nil {
		return nil, "", err
	}
	return o, name, nil
}

// fill replaces the templates in s; isName selects Kong's messages for
// model.name, field is what the messages name.
func fill(c *plugin.Ctx, s string, isName bool, field string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "$(")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.IndexByte(s[i:], ')')
		src, key, ok := "", "", false
		if j > 0 {
			src, key, ok = strings.Cut(s[i+2:i+j], ".")
		}
		if !ok || src == "" || key == "" {
			if isName {
				return "", fmt.Errorf("cannot parse expression for field 'model.name'")
			}
			return "", fmt.Errorf("cannot parse expression for field '%s'", field)
		}
		var v string
		switch src {
		case "headers":
			v = c.RequestHeader(key)
		case "query_params":
			v = c.QueryArg(key)
		case "uri_captures":
			v = c.Captures[key]
		default:
			return "", fmt.Errorf("source '%s' is not supported", src)
		}
		if v == "" {
			if isName {
				return "", fmt.Errorf("'%s', key '%s' was not provided", src, key)
			}
			return "", fmt.Errorf("%s key %s was not provided", src, key)
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+j+1:]
	}
}
