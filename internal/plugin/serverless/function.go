package serverless

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	lua "github.com/yuin/gopher-lua"

	"sluice/internal/plugin"
)

// Function is one pre-function or post-function instance: its phases'
// compiled functions and a bounded pool of Lua states that run them.
type Function struct {
	name   string
	id     string
	log    *slog.Logger
	protos [6][]*lua.FunctionProto // by index in Phases

	idle chan *vm      // states ready for a request
	sem  chan struct{} // one token per state in existence
}

// MaxStates bounds the Lua states an instance keeps (each about 100 KiB
// with its libraries): a request finding them all busy waits for one.
func MaxStates() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// New compiles the configuration's functions.
func New(name string, cfg map[string]any, deps plugin.Deps) (*Function, error) {
	f := &Function{name: name, id: deps.PluginID, log: deps.Logger}
	if f.log == nil {
		f.log = slog.Default()
	}
	for i, p := range Phases {
		list, _ := cfg[p].([]any)
		for _, code := range list {
			s, _ := code.(string)
			proto, err := compile(name, s)
			if err != nil {
				return nil, fmt.Errorf("error parsing %s: %w", name, err)
			}
			f.protos[i] = append(f.protos[i], proto)
		}
	}
	if len(f.protos[0]) > 0 {
		f.log.Warn(name + ": functions of the certificate phase are not run by sluice")
	}
	n := MaxStates()
	f.idle, f.sem = make(chan *vm, n), make(chan struct{}, n)
	return f, nil
}

// Phase indices.
const (
	phRewrite = 1 + iota
	phAccess
	phHeaderFilter
	phBodyFilter
	phLog
)

func (f *Function) Rewrite(c *plugin.Ctx)      { f.run(c, phRewrite, nil, false) }
func (f *Function) Access(c *plugin.Ctx)       { f.run(c, phAccess, nil, false) }
func (f *Function) HeaderFilter(c *plugin.Ctx) { f.run(c, phHeaderFilter, nil, false) }
func (f *Function) Log(c *plugin.Ctx)          { f.run(c, phLog, nil, false) }

// bodyFunction is a Function with body_filter functions: only such an
// instance filters bodies (a body filter makes the proxy stream the
// response without its Content-Length).
type bodyFunction struct{ *Function }

func (f bodyFunction) BodyFilter(c *plugin.Ctx, chunk []byte, last bool) []byte {
	return f.run(c, phBodyFilter, chunk, last)
}

// acquire takes an idle state or makes one while fewer than MaxStates
// exist; otherwise it waits for one, or until ctx is done (nil).
func (f *Function) acquire(ctx context.Context) *vm {
	select {
	case v := <-f.idle:
		return v
	default:
	}
	select {
	case v := <-f.idle:
		return v
	case f.sem <- struct{}{}:
		return newVM(f)
	case <-ctx.Done():
		return nil
	}
}

// LogTimeout bounds the log phase's functions, which run after the
// response, whether or not the client is still there.
const LogTimeout = 10 * time.Second

func (f *Function) release(v *vm) {
	v.c, v.body, v.arg = nil, nil, nil
	f.idle <- v
}

// errUnexpected is Kong's answer to a function that failed.
const errUnexpected = "An unexpected error occurred"

// run runs the phase's functions in order on one state; it returns the
// body_filter chunk, as the functions left ngx.arg[1].
func (f *Function) run(c *plugin.Ctx, phase int, chunk []byte, last bool) []byte {
	if len(f.protos[phase]) == 0 {
		return chunk
	}
	// A function still running when the client is gone stops; the log
	// phase runs anyway, for at most LogTimeout.
	ctx := c.Request.Context()
	if phase == phLog {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), LogTimeout)
		defer cancel()
	}
	v := f.acquire(ctx)
	if v == nil {
		if phase <= phAccess && c.Exited() == nil {
			c.Error(500, errUnexpected, nil)
		}
		return chunk
	}
	defer f.release(v)
	v.c, v.phase = c, phase
	if phase == phBodyFilter {
		v.arg = v.L.NewTable()
		v.arg.RawSetInt(1, lua.LString(chunk))
		v.arg.RawSetInt(2, lua.LBool(last))
	}
	v.L.SetContext(ctx)
	defer v.L.RemoveContext()
	for i := range f.protos[phase] {
		err := v.call(phase, i)
		if err != nil && !errors.Is(err, errExit) {
			f.log.Error(f.name+": function failed", "phase", Phases[phase], "index", i+1, "plugin_id", f.id, "error", err)
			if phase <= phAccess && c.Exited() == nil {
				c.Error(500, errUnexpected, nil)
			}
			break
		}
		if err != nil || c.Exited() != nil {
			break
		}
	}
	if phase == phBodyFilter {
		if s, ok := v.arg.RawGetInt(1).(lua.LString); ok {
			return []byte(s)
		}
		return nil
	}
	return chunk
}
