package serverless

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"sluice/internal/model"
)

// Phases are the config's arrays of functions, in Kong's order. sluice has
// no certificate phase for plugins: functions there are accepted (Kong's
// schema) and not run.
var Phases = []string{"certificate", "rewrite", "access", "header_filter", "body_filter", "log"}

func schema(name string) *model.Schema {
	fields := make([]*model.Field, 0, len(Phases))
	for _, p := range Phases {
		fields = append(fields, &model.Field{Name: p, Type: model.TypeArray, Required: true, Default: []any{},
			Elements: &model.Field{Type: model.TypeString, Custom: func(v any) string {
				if _, err := compile(name, v.(string)); err != nil {
					return "error parsing " + name + ": " + err.Error()
				}
				return ""
			}}})
	}
	quoted := make([]string, len(Phases))
	for i, p := range Phases {
		quoted[i] = "'config." + p + "'"
	}
	msg := "at least one of these fields must be non-empty: " + strings.Join(quoted, ", ")
	return &model.Schema{
		Name: name, NoConsumer: true, Fields: fields,
		// Kong's entity check at_least_one_of over config.<phase>; an empty
		// array counts as empty.
		ConfigValidator: func(cfg map[string]any) string {
			for _, p := range Phases {
				if l, _ := cfg[p].([]any); len(l) > 0 {
					return ""
				}
			}
			return msg
		},
	}
}

// compile parses one function's code into a prototype that any Lua state
// can instantiate.
func compile(name, code string) (*lua.FunctionProto, error) {
	chunk, err := parse.Parse(strings.NewReader(code), name)
	if err != nil {
		return nil, err
	}
	return lua.Compile(chunk, name)
}
