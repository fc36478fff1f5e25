// Package serverless is Kong's pre-function and post-function plugins
// (3.9): Lua code from the configuration, run in a phase of each request
// with a sandboxed subset of Kong's PDK (kong.request, kong.response,
// kong.service.request, kong.client, kong.ctx, kong.log and some of ngx).
// The two plugins are one implementation at two priorities, as in Kong,
// so they share this package. The Lua is Lua 5.1 run by gopher-lua, not
// LuaJIT: code that needs LuaJIT's extensions, FFI, ngx.re or modules
// (require) is refused when it runs, with a 500 as Kong answers a failing
// function.
package serverless

import "sluice/internal/plugin"

// Kong's priorities: pre-function runs before every bundled plugin,
// post-function after them.
const (
	PrePriority  = 1000000
	PostPriority = -1000
)

func init() {
	for _, d := range []struct {
		name     string
		priority int
	}{{"pre-function", PrePriority}, {"post-function", PostPriority}} {
		name := d.name
		s := schema(name)
		plugin.Register(plugin.Definition{
			Name:       name,
			Priority:   d.priority,
			Version:    "3.9.1",
			Schema:     s,
			Protocols:  s.Protocols,
			NoConsumer: true,
			New: func(cfg map[string]any, deps plugin.Deps) (any, error) {
				f, err := New(name, cfg, deps)
				if err != nil {
					return nil, err
				}
				if len(f.protos[phBodyFilter]) > 0 {
					return bodyFunction{f}, nil
				}
				return f, nil
			},
		})
	}
}
