package serverless

import (
	"errors"
	"maps"
	"slices"

	lua "github.com/yuin/gopher-lua"

	"sluice/internal/plugin"
)

// vm is one Lua state with the sandbox's globals and the functions of one
// instance; it serves one phase of one request at a time.
type vm struct {
	f     *Function
	L     *lua.LState
	fns   [6][]lua.LValue // a function's current handler: its chunk, or what the chunk returned
	c     *plugin.Ctx
	phase int
	body  []byte      // ngx.say/ngx.print output, the body of ngx.exit
	arg   *lua.LTable // ngx.arg in body_filter
	exit  lua.LValue  // raised by kong.response.exit and ngx.exit
}

// errExit reports a function that ended the request (or its phase) on
// purpose.
var errExit = errors.New("exit")

// sandboxed are the base library's functions the sandbox keeps (Kong's
// sandbox: no loading of code or files, no environments).
var sandboxed = []string{"assert", "error", "ipairs", "next", "pairs", "pcall", "print", "select", "tonumber",
	"tostring", "type", "unpack", "xpcall", "getmetatable", "setmetatable", "rawequal", "rawget", "rawset"}

func newVM(f *Function) *vm {
	L := lua.NewState(lua.Options{SkipOpenLibs: true, MinimizeStackMemory: true})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath}, {lua.OsLibName, lua.OpenOs}, {lua.CoroutineLibName, lua.OpenCoroutine}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	// Keep only the safe parts of base and os.
	g := L.G.Global
	keep := map[string]bool{"_G": true, "_VERSION": true, "table": true, "string": true, "math": true, "os": true, "coroutine": true}
	for _, n := range sandboxed {
		keep[n] = true
	}
	var drop []lua.LValue
	g.ForEach(func(k, _ lua.LValue) {
		if s, ok := k.(lua.LString); !ok || !keep[string(s)] {
			drop = append(drop, k)
		}
	})
	for _, k := range drop {
		g.RawSet(k, lua.LNil)
	}
	if os, ok := g.RawGetString("os").(*lua.LTable); ok {
		safe := L.NewTable()
		for _, n := range []string{"clock", "date", "difftime", "time"} {
			safe.RawSetString(n, os.RawGetString(n))
		}
		g.RawSetString("os", safe)
	}
	if s, ok := g.RawGetString("string").(*lua.LTable); ok {
		s.RawSetString("dump", lua.LNil)
	}
	v := &vm{f: f, L: L, exit: L.NewUserData()}
	for i := range v.fns {
		v.fns[i] = make([]lua.LValue, len(f.protos[i]))
	}
	v.installPDK()
	return v
}

// call runs function i of the phase. The first time, the chunk itself runs;
// when it returns a function, that function runs now and, as in Kong,
// replaces the chunk from then on (its upvalues live in this state).
func (v *vm) call(phase, i int) error {
	fn := v.fns[phase][i]
	if fn != nil {
		return v.pcall(fn, 0)
	}
	fn = v.L.NewFunctionFromProto(v.f.protos[phase][i])
	v.fns[phase][i] = fn
	if err := v.pcall(fn, 1); err != nil {
		return err
	}
	ret := v.L.Get(-1)
	v.L.Pop(1)
	if h, ok := ret.(*lua.LFunction); ok {
		v.fns[phase][i] = h
		return v.pcall(h, 0)
	}
	return nil
}

func (v *vm) pcall(fn lua.LValue, nret int) error {
	v.L.Push(fn)
	err := v.L.PCall(0, nret, nil)
	if err == nil {
		return nil
	}
	var ae *lua.ApiError
	if errors.As(err, &ae) && ae.Object == v.exit {
		return errExit
	}
	return err
}

// raiseExit ends the running function (kong.response.exit, ngx.exit).
func (v *vm) raiseExit() {
	v.L.Error(v.exit, 0)
}

// toGo converts a Lua value to JSON-like Go (string, float64, bool, nil,
// []any for a sequence, map[string]any otherwise). A table met again on
// the way down (a cycle) becomes nil, and at most maxConvert values are
// converted: a table that refers to itself many times cannot make it
// run away.
func toGo(lv lua.LValue, _ int) any {
	budget := maxConvert
	return toGoBounded(lv, map[*lua.LTable]bool{}, &budget)
}

// maxConvert bounds the values one conversion visits.
const maxConvert = 10000

func toGoBounded(lv lua.LValue, onPath map[*lua.LTable]bool, budget *int) any {
	if *budget--; *budget < 0 {
		return nil
	}
	switch x := lv.(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		return float64(x)
	case lua.LBool:
		return bool(x)
	case *lua.LTable:
		if onPath[x] {
			return nil
		}
		onPath[x] = true
		defer delete(onPath, x)
		if n := x.Len(); n > 0 {
			out := make([]any, 0, min(n, maxConvert))
			for i := 1; i <= n && *budget >= 0; i++ {
				out = append(out, toGoBounded(x.RawGetInt(i), onPath, budget))
			}
			return out
		}
		m := map[string]any{}
		x.ForEach(func(k, val lua.LValue) {
			if *budget >= 0 {
				m[k.String()] = toGoBounded(val, onPath, budget)
			}
		})
		return m
	}
	return nil
}

// toLua converts a JSON-like Go value to Lua.
func toLua(L *lua.LState, x any) lua.LValue {
	switch t := x.(type) {
	case nil:
		return lua.LNil
	case string:
		return lua.LString(t)
	case bool:
		return lua.LBool(t)
	case float64:
		return lua.LNumber(t)
	case int:
		return lua.LNumber(t)
	case int64:
		return lua.LNumber(t)
	case []string:
		tb := L.CreateTable(len(t), 0)
		for _, s := range t {
			tb.Append(lua.LString(s))
		}
		return tb
	case []any:
		tb := L.CreateTable(len(t), 0)
		for _, e := range t {
			tb.Append(toLua(L, e))
		}
		return tb
	case map[string]any:
		tb := L.CreateTable(0, len(t))
		for _, k := range slices.Sorted(maps.Keys(t)) {
			tb.RawSetString(k, toLua(L, t[k]))
		}
		return tb
	case map[string]string:
		tb := L.CreateTable(0, len(t))
		for k, s := range t {
			tb.RawSetString(k, lua.LString(s))
		}
		return tb
	}
	return lua.LNil // a Go value Lua cannot hold
}
