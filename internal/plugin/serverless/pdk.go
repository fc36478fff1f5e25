package serverless

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"sluice/internal/plugin"
)

// installPDK sets the globals kong and ngx: the part of Kong's PDK and of
// ngx_lua that the sandbox offers (README.md lists it).
func (v *vm) installPDK() {
	L := v.L
	kong := L.NewTable()
	kong.RawSetString("version", lua.LString("3.9.1"))
	node := L.NewTable()
	v.set(node, "get_id", func(L *lua.LState) int { L.Push(lua.LString(plugin.NodeID())); return 1 })
	v.set(node, "get_hostname", func(L *lua.LState) int {
		h, _ := os.Hostname()
		L.Push(lua.LString(h))
		return 1
	})
	kong.RawSetString("node", node)
	kong.RawSetString("request", v.requestTable())
	kong.RawSetString("client", v.clientTable())
	service := L.NewTable()
	service.RawSetString("request", v.serviceRequestTable())
	kong.RawSetString("service", service)
	kong.RawSetString("response", v.responseTable())
	kong.RawSetString("router", v.routerTable())
	kong.RawSetString("log", v.logTable())
	ctx := L.NewTable()
	ctx.RawSetString("shared", v.sharedTable(""))
	ctx.RawSetString("plugin", v.sharedTable("lua:plugin:"+v.f.id))
	kong.RawSetString("ctx", ctx)
	L.SetGlobal("kong", kong)
	L.SetGlobal("ngx", v.ngxTable())
}

func (v *vm) set(t *lua.LTable, name string, f lua.LGFunction) {
	t.RawSetString(name, v.L.NewFunction(f))
}

func optString(L *lua.LState, n int) (string, bool) {
	s, ok := L.Get(n).(lua.LString)
	return string(s), ok
}

// headersTable is a header map as Kong returns it: lower-case names, a
// string for one value, an array for several.
func headersTable(L *lua.LState, h http.Header, host string) *lua.LTable {
	t := L.CreateTable(0, len(h)+1)
	for k, vs := range h {
		name := strings.ToLower(k)
		if len(vs) == 1 {
			t.RawSetString(name, lua.LString(vs[0]))
			continue
		}
		a := L.CreateTable(len(vs), 0)
		for _, s := range vs {
			a.Append(lua.LString(s))
		}
		t.RawSetString(name, a)
	}
	if host != "" {
		t.RawSetString("host", lua.LString(host))
	}
	return t
}

// queryTable parses a raw query as Kong's get_query: a key without "="
// is true, a repeated key an array.
func queryTable(L *lua.LState, raw string) *lua.LTable {
	t := L.NewTable()
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, val, hasEq := strings.Cut(part, "=")
		k, _ = url.QueryUnescape(k)
		var lv lua.LValue = lua.LTrue
		if hasEq {
			s, _ := url.QueryUnescape(val)
			lv = lua.LString(s)
		}
		switch old := t.RawGetString(k).(type) {
		case *lua.LNilType:
			t.RawSetString(k, lv)
		case *lua.LTable:
			old.Append(lv)
		default:
			a := L.NewTable()
			a.Append(old)
			a.Append(lv)
			t.RawSetString(k, a)
		}
	}
	return t
}

func (v *vm) requestTable() *lua.LTable {
	L, t := v.L, v.L.NewTable()
	r := func() *http.Request { return v.c.Request }
	v.set(t, "get_scheme", func(L *lua.LState) int {
		s := "http"
		if r().TLS != nil {
			s = "https"
		}
		L.Push(lua.LString(s))
		return 1
	})
	v.set(t, "get_host", func(L *lua.LState) int {
		h := r().Host
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		L.Push(lua.LString(strings.ToLower(h)))
		return 1
	})
	v.set(t, "get_port", func(L *lua.LState) int {
		if a, ok := r().Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			if _, p, err := net.SplitHostPort(a.String()); err == nil {
				n, _ := strconv.Atoi(p)
				L.Push(lua.LNumber(n))
				return 1
			}
		}
		L.Push(lua.LNil)
		return 1
	})
	v.set(t, "get_http_version", func(L *lua.LState) int {
		L.Push(lua.LNumber(float64(r().ProtoMajor) + float64(r().ProtoMinor)/10))
		return 1
	})
	v.set(t, "get_method", func(L *lua.LState) int { L.Push(lua.LString(r().Method)); return 1 })
	v.set(t, "get_start_time", func(L *lua.LState) int {
		start := v.c.Timing.Start
		if start.IsZero() {
			start = time.Now()
		}
		L.Push(lua.LNumber(start.UnixMilli()))
		return 1
	})
	path := func(L *lua.LState) int { L.Push(lua.LString(r().URL.EscapedPath())); return 1 }
	v.set(t, "get_path", path)
	v.set(t, "get_raw_path", path)
	v.set(t, "get_path_with_query", func(L *lua.LState) int {
		s := r().URL.EscapedPath()
		if q := r().URL.RawQuery; q != "" {
			s += "?" + q
		}
		L.Push(lua.LString(s))
		return 1
	})
	v.set(t, "get_raw_query", func(L *lua.LState) int { L.Push(lua.LString(r().URL.RawQuery)); return 1 })
	v.set(t, "get_query", func(L *lua.LState) int { L.Push(queryTable(L, r().URL.RawQuery)); return 1 })
	v.set(t, "get_query_arg", func(L *lua.LState) int {
		L.Push(queryTable(L, r().URL.RawQuery).RawGetString(L.CheckString(1)))
		return 1
	})
	v.set(t, "get_header", func(L *lua.LState) int {
		if s, ok := plugin.GetHeader(r(), L.CheckString(1)); ok {
			L.Push(lua.LString(s))
		} else {
			L.Push(lua.LNil)
		}
		return 1
	})
	v.set(t, "get_headers", func(L *lua.LState) int { L.Push(headersTable(L, r().Header, r().Host)); return 1 })
	v.set(t, "get_raw_body", func(L *lua.LState) int {
		body, complete := plugin.ReadBody(r(), plugin.ClientBodyBufferSize())
		if !complete {
			L.Push(lua.LNil)
			L.Push(lua.LString("request body did not fit into client body buffer, consider raising 'client_body_buffer_size'"))
			return 2
		}
		L.Push(lua.LString(body))
		return 1
	})
	v.set(t, "get_body", func(L *lua.LState) int {
		body, complete := plugin.ReadBody(r(), plugin.ClientBodyBufferSize())
		if !complete {
			L.Push(lua.LNil)
			L.Push(lua.LString("request body did not fit into client body buffer"))
			return 2
		}
		args, err := plugin.BodyArgs(r().Header.Get("Content-Type"), body)
		if err != nil {
			L.Push(lua.LNil)
			L.Push(lua.LString(err.Error()))
			return 2
		}
		L.Push(toLua(L, args))
		return 1
	})
	// sluice applies trusted_ips before plugins run: the forwarded values
	// are the request's own.
	for _, name := range []string{"scheme", "host", "port", "path"} {
		t.RawSetString("get_forwarded_"+name, t.RawGetString("get_"+name))
	}
	_ = L
	return t
}

func (v *vm) clientTable() *lua.LTable {
	t := v.L.NewTable()
	ip := func(L *lua.LState) int { L.Push(lua.LString(v.c.ClientIP)); return 1 }
	v.set(t, "get_ip", ip)
	v.set(t, "get_forwarded_ip", ip)
	v.set(t, "get_port", func(L *lua.LState) int {
		_, p, err := net.SplitHostPort(v.c.Request.RemoteAddr)
		n, _ := strconv.Atoi(p)
		if err != nil {
			L.Push(lua.LNil)
		} else {
			L.Push(lua.LNumber(n))
		}
		return 1
	})
	v.set(t, "get_protocol", func(L *lua.LState) int {
		s := "http"
		if v.c.Request.TLS != nil {
			s = "https"
		}
		L.Push(lua.LString(s))
		return 1
	})
	v.set(t, "get_consumer", func(L *lua.LState) int {
		c := v.c.Consumer
		if c == nil {
			L.Push(lua.LNil)
			return 1
		}
		m := map[string]any{"id": c.ID, "created_at": float64(c.CreatedAt)}
		if c.Username != nil {
			m["username"] = *c.Username
		}
		if c.CustomID != nil {
			m["custom_id"] = *c.CustomID
		}
		L.Push(toLua(L, m))
		return 1
	})
	v.set(t, "get_credential", func(L *lua.LState) int {
		if v.c.Credential == "" || v.c.Anonymous() {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(toLua(L, map[string]any{"id": v.c.Credential}))
		return 1
	})
	return t
}

func (v *vm) serviceRequestTable() *lua.LTable {
	t := v.L.NewTable()
	setHeader := func(name, value string) {
		if strings.EqualFold(name, "host") {
			v.c.SetUpstreamHost(value)
			return
		}
		v.c.SetRequestHeader(name, value)
	}
	v.set(t, "set_header", func(L *lua.LState) int {
		setHeader(L.CheckString(1), L.Get(2).String())
		return 0
	})
	v.set(t, "add_header", func(L *lua.LState) int {
		v.c.AddRequestHeader(L.CheckString(1), L.Get(2).String())
		return 0
	})
	v.set(t, "clear_header", func(L *lua.LState) int {
		v.c.ClearRequestHeader(L.CheckString(1))
		return 0
	})
	v.set(t, "set_headers", func(L *lua.LState) int {
		L.CheckTable(1).ForEach(func(k, val lua.LValue) {
			if tb, ok := val.(*lua.LTable); ok {
				v.c.ClearRequestHeader(k.String())
				tb.ForEach(func(_, e lua.LValue) { v.c.AddRequestHeader(k.String(), e.String()) })
				return
			}
			setHeader(k.String(), val.String())
		})
		return 0
	})
	v.set(t, "set_path", func(L *lua.LState) int {
		p := L.CheckString(1)
		if !strings.HasPrefix(p, "/") {
			L.ArgError(1, "path must start with /")
		}
		v.c.UpstreamPath = p
		return 0
	})
	v.set(t, "set_raw_query", func(L *lua.LState) int {
		q, err := url.ParseQuery(L.CheckString(1))
		if err != nil {
			L.ArgError(1, err.Error())
		}
		v.c.SetQuery(q)
		return 0
	})
	v.set(t, "set_query", func(L *lua.LState) int {
		q := url.Values{}
		L.CheckTable(1).ForEach(func(k, val lua.LValue) {
			if tb, ok := val.(*lua.LTable); ok {
				tb.ForEach(func(_, e lua.LValue) { q.Add(k.String(), e.String()) })
				return
			}
			q.Set(k.String(), val.String())
		})
		v.c.SetQuery(q)
		return 0
	})
	v.set(t, "set_method", func(L *lua.LState) int {
		m := L.CheckString(1)
		if !methods[m] {
			L.ArgError(1, "invalid method: "+m)
		}
		v.c.Request.Method = m
		return 0
	})
	v.set(t, "set_raw_body", func(L *lua.LState) int {
		plugin.SetRequestBody(v.c.Request, []byte(L.CheckString(1)))
		return 0
	})
	return t
}

func (v *vm) responseTable() *lua.LTable {
	t := v.L.NewTable()
	v.set(t, "exit", func(L *lua.LState) int {
		status := checkStatus(L, 1)
		e := &plugin.Exit{Status: status, Header: http.Header{}}
		if h, ok := L.Get(3).(*lua.LTable); ok {
			h.ForEach(func(k, val lua.LValue) { e.Header.Set(k.String(), val.String()) })
		}
		switch b := L.Get(2).(type) {
		case lua.LString:
			e.Body = []byte(b)
		case *lua.LTable:
			data, err := json.Marshal(toGo(b, 0))
			if err != nil {
				L.ArgError(2, err.Error())
			}
			e.Body = data
			if e.Header.Get("Content-Type") == "" {
				e.Header.Set("Content-Type", "application/json; charset=utf-8")
			}
		default:
			e.Body = []byte{}
		}
		if v.phase == phHeaderFilter {
			v.c.ExitEmpty(status)
		} else {
			v.c.Terminate(e)
		}
		v.raiseExit()
		return 0
	})
	v.set(t, "error", func(L *lua.LState) int {
		status := checkStatus(L, 1)
		msg, ok := optString(L, 2)
		if !ok {
			msg = http.StatusText(status)
		}
		var hdr http.Header
		if h, ok := L.Get(3).(*lua.LTable); ok {
			hdr = http.Header{}
			h.ForEach(func(k, val lua.LValue) { hdr.Set(k.String(), val.String()) })
		}
		v.c.Error(status, msg, hdr)
		v.raiseExit()
		return 0
	})
	v.set(t, "set_header", func(L *lua.LState) int {
		v.c.SetResponseHeader(L.CheckString(1), L.Get(2).String())
		return 0
	})
	v.set(t, "add_header", func(L *lua.LState) int {
		if v.c.Header != nil {
			v.c.Header.Add(L.CheckString(1), L.Get(2).String())
		} else {
			v.c.SetResponseHeader(L.CheckString(1), L.Get(2).String())
		}
		return 0
	})
	v.set(t, "clear_header", func(L *lua.LState) int {
		if v.c.Header != nil {
			v.c.Header.Del(L.CheckString(1))
		}
		return 0
	})
	v.set(t, "get_header", func(L *lua.LState) int {
		if v.c.Header == nil || v.c.Header.Values(L.CheckString(1)) == nil {
			L.Push(lua.LNil)
		} else {
			L.Push(lua.LString(v.c.Header.Get(L.CheckString(1))))
		}
		return 1
	})
	v.set(t, "get_headers", func(L *lua.LState) int { L.Push(headersTable(L, v.c.Header, "")); return 1 })
	v.set(t, "get_source", func(L *lua.LState) int {
		src := "service"
		if e := v.c.Exited(); e != nil {
			src = "exit"
			if e.Body == nil && e.Message != "" && e.Status >= 500 {
				src = "error"
			}
		}
		L.Push(lua.LString(src))
		return 1
	})
	v.set(t, "get_status", func(L *lua.LState) int {
		if v.c.Status == 0 {
			L.Push(lua.LNil)
		} else {
			L.Push(lua.LNumber(v.c.Status))
		}
		return 1
	})
	v.set(t, "set_status", func(L *lua.LState) int {
		status := checkStatus(L, 1)
		if v.c.Header != nil {
			v.c.Status = status
		}
		return 0
	})
	return t
}

func (v *vm) routerTable() *lua.LTable {
	t := v.L.NewTable()
	v.set(t, "get_route", func(L *lua.LState) int {
		rt := v.c.Route
		if rt == nil {
			L.Push(lua.LNil)
			return 1
		}
		m := map[string]any{"id": rt.ID, "paths": toAnyStrings(rt.Paths), "hosts": toAnyStrings(rt.Hosts)}
		if rt.Name != nil {
			m["name"] = *rt.Name
		}
		L.Push(toLua(L, m))
		return 1
	})
	v.set(t, "get_service", func(L *lua.LState) int {
		s := v.c.Service
		if s == nil {
			L.Push(lua.LNil)
			return 1
		}
		m := map[string]any{"id": s.ID, "host": s.Host, "port": float64(s.Port), "protocol": s.Protocol}
		if s.Name != nil {
			m["name"] = *s.Name
		}
		if s.Path != nil {
			m["path"] = *s.Path
		}
		L.Push(toLua(L, m))
		return 1
	})
	return t
}

func toAnyStrings(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// logLine joins log arguments as Kong's kong.log does (tostring, no
// separator).
func logLine(L *lua.LState) string {
	var b strings.Builder
	for i := 1; i <= L.GetTop(); i++ {
		b.WriteString(L.ToStringMeta(L.Get(i)).String())
	}
	return b.String()
}

func (v *vm) logTable() *lua.LTable {
	t := v.L.NewTable()
	for _, lv := range []struct {
		name string
		fn   func(msg string, args ...any)
	}{
		{"debug", v.f.log.Debug}, {"info", v.f.log.Info}, {"notice", v.f.log.Info}, {"warn", v.f.log.Warn},
		{"err", v.f.log.Error}, {"crit", v.f.log.Error}, {"alert", v.f.log.Error}, {"emerg", v.f.log.Error},
	} {
		fn := lv.fn
		v.set(t, lv.name, func(L *lua.LState) int {
			fn(v.f.name+": "+logLine(L), "plugin_id", v.f.id)
			return 0
		})
	}
	v.set(t, "set_serialize_value", func(L *lua.LState) int {
		key := L.CheckString(1)
		mode := plugin.SerializeSet
		if opts, ok := L.Get(3).(*lua.LTable); ok {
			if m, ok := opts.RawGetString("mode").(lua.LString); ok {
				mode = string(m)
			}
		}
		switch mode {
		case plugin.SerializeSet, plugin.SerializeAdd, plugin.SerializeReplace:
		default:
			L.ArgError(3, "mode must be 'set', 'add' or 'replace'")
		}
		v.c.SetSerializeValue(key, toGo(L.Get(2), 0), mode)
		return 0
	})
	v.set(t, "serialize", func(L *lua.LState) int {
		L.Push(toLua(L, plugin.NewLogEntry(v.c, time.Now()).Map()))
		return 1
	})
	return t
}

// sharedTable is kong.ctx.shared (key ""), kong.ctx.plugin or ngx.ctx: a
// per-request table kept in the request's context, so that it is shared
// with the other phases whatever Lua state runs them. kong.ctx.shared is
// the request's shared store itself (plugin.Ctx Set/Get), which the Go
// plugins read and write too (request-transformer's $(shared.x)). Values
// are stored converted (strings, numbers, booleans, tables of them).
func (v *vm) sharedTable(key string) *lua.LTable {
	L := v.L
	t, mt := L.NewTable(), L.NewTable()
	get := func(name string) any {
		if key == "" {
			x, _ := v.c.Get(name)
			return x
		}
		m, _ := v.c.Get(key)
		store, _ := m.(map[string]any)
		return store[name]
	}
	put := func(name string, x any) {
		if key == "" {
			v.c.Set(name, x)
			return
		}
		m, _ := v.c.Get(key)
		store, _ := m.(map[string]any)
		if store == nil {
			store = map[string]any{}
			v.c.Set(key, store)
		}
		if x == nil {
			delete(store, name)
		} else {
			store[name] = x
		}
	}
	v.set(mt, "__index", func(L *lua.LState) int {
		L.Push(toLua(L, get(L.Get(2).String())))
		return 1
	})
	v.set(mt, "__newindex", func(L *lua.LState) int {
		var x any
		if L.Get(3) != lua.LNil {
			x = toGo(L.Get(3), 0)
		}
		put(L.Get(2).String(), x)
		return 0
	})
	L.SetMetatable(t, mt)
	return t
}

// Kong's log levels as ngx_lua numbers them.
var ngxLevels = map[string]int{"STDERR": 0, "EMERG": 1, "ALERT": 2, "CRIT": 3, "ERR": 4, "WARN": 5, "NOTICE": 6, "INFO": 7, "DEBUG": 8}

var ngxStatuses = map[string]int{"HTTP_OK": 200, "HTTP_CREATED": 201, "HTTP_NO_CONTENT": 204,
	"HTTP_MOVED_PERMANENTLY": 301, "HTTP_MOVED_TEMPORARILY": 302, "HTTP_NOT_MODIFIED": 304,
	"HTTP_BAD_REQUEST": 400, "HTTP_UNAUTHORIZED": 401, "HTTP_FORBIDDEN": 403, "HTTP_NOT_FOUND": 404,
	"HTTP_NOT_ALLOWED": 405, "HTTP_TOO_MANY_REQUESTS": 429, "HTTP_INTERNAL_SERVER_ERROR": 500,
	"HTTP_BAD_GATEWAY": 502, "HTTP_SERVICE_UNAVAILABLE": 503, "HTTP_GATEWAY_TIMEOUT": 504}

func (v *vm) ngxTable() *lua.LTable {
	L, t := v.L, v.L.NewTable()
	for k, n := range ngxLevels {
		t.RawSetString(k, lua.LNumber(n))
	}
	for k, n := range ngxStatuses {
		t.RawSetString(k, lua.LNumber(n))
	}
	t.RawSetString("OK", lua.LNumber(0))
	t.RawSetString("ERROR", lua.LNumber(-1))
	t.RawSetString("null", L.NewUserData())
	v.set(t, "log", func(L *lua.LState) int {
		level := L.CheckInt(1)
		L.Remove(1)
		msg := v.f.name + ": " + logLine(L)
		switch {
		case level <= 4:
			v.f.log.Error(msg, "plugin_id", v.f.id)
		case level == 5:
			v.f.log.Warn(msg, "plugin_id", v.f.id)
		case level <= 7:
			v.f.log.Info(msg, "plugin_id", v.f.id)
		default:
			v.f.log.Debug(msg, "plugin_id", v.f.id)
		}
		return 0
	})
	say := func(nl bool) lua.LGFunction {
		return func(L *lua.LState) int {
			v.body = append(v.body, logLine(L)...)
			if nl {
				v.body = append(v.body, '\n')
			}
			L.Push(lua.LNumber(1))
			return 1
		}
	}
	v.set(t, "say", say(true))
	v.set(t, "print", say(false))
	v.set(t, "exit", func(L *lua.LState) int {
		status := L.CheckInt(1)
		if status >= 200 && (status > 599 || status < 100) {
			L.RaiseError("code must be a number between 100 and 599")
		}
		if status >= 200 && v.phase <= phAccess {
			e := &plugin.Exit{Status: status, Body: v.body}
			if e.Body == nil {
				e.Body = []byte{}
			}
			v.c.Terminate(e)
		}
		v.raiseExit()
		return 0
	})
	v.set(t, "time", func(L *lua.LState) int { L.Push(lua.LNumber(time.Now().Unix())); return 1 })
	v.set(t, "now", func(L *lua.LState) int {
		L.Push(lua.LNumber(float64(time.Now().UnixMilli()) / 1000))
		return 1
	})
	v.set(t, "encode_base64", func(L *lua.LState) int {
		L.Push(lua.LString(base64.StdEncoding.EncodeToString([]byte(L.CheckString(1)))))
		return 1
	})
	v.set(t, "decode_base64", func(L *lua.LState) int {
		b, err := base64.StdEncoding.DecodeString(L.CheckString(1))
		if err != nil {
			L.Push(lua.LNil)
		} else {
			L.Push(lua.LString(b))
		}
		return 1
	})
	v.set(t, "md5", func(L *lua.LState) int {
		sum := md5.Sum([]byte(L.CheckString(1)))
		L.Push(lua.LString(hex.EncodeToString(sum[:])))
		return 1
	})
	v.set(t, "sha1_bin", func(L *lua.LState) int {
		sum := sha1.Sum([]byte(L.CheckString(1)))
		L.Push(lua.LString(sum[:]))
		return 1
	})
	v.set(t, "escape_uri", func(L *lua.LState) int {
		L.Push(lua.LString(strings.ReplaceAll(url.QueryEscape(L.CheckString(1)), "+", "%20")))
		return 1
	})
	v.set(t, "unescape_uri", func(L *lua.LState) int {
		s, err := url.QueryUnescape(L.CheckString(1))
		if err != nil {
			s = L.CheckString(1)
		}
		L.Push(lua.LString(s))
		return 1
	})
	t.RawSetString("req", v.ngxReqTable())
	t.RawSetString("var", v.ngxVarTable())
	t.RawSetString("header", v.ngxHeaderTable())
	t.RawSetString("ctx", v.sharedTable("lua:ngx.ctx"))
	// ngx.arg (body_filter) and ngx.status are read through a metatable.
	mt := L.NewTable()
	v.set(mt, "__index", func(L *lua.LState) int {
		switch L.Get(2).String() {
		case "arg":
			if v.arg != nil {
				L.Push(v.arg)
				return 1
			}
		case "status":
			L.Push(lua.LNumber(v.c.Status))
			return 1
		}
		L.Push(lua.LNil)
		return 1
	})
	v.set(mt, "__newindex", func(L *lua.LState) int {
		if L.Get(2).String() == "status" {
			status := checkStatus(L, 3)
			if v.c.Header != nil {
				v.c.Status = status
			}
			return 0
		}
		L.RawSet(L.CheckTable(1), L.Get(2), L.Get(3))
		return 0
	})
	L.SetMetatable(t, mt)
	return t
}

func (v *vm) ngxReqTable() *lua.LTable {
	t := v.L.NewTable()
	v.set(t, "get_headers", func(L *lua.LState) int {
		L.Push(headersTable(L, v.c.Request.Header, v.c.Request.Host))
		return 1
	})
	v.set(t, "get_method", func(L *lua.LState) int { L.Push(lua.LString(v.c.Request.Method)); return 1 })
	v.set(t, "get_uri_args", func(L *lua.LState) int {
		L.Push(queryTable(L, v.c.Request.URL.RawQuery))
		return 1
	})
	v.set(t, "set_header", func(L *lua.LState) int {
		if L.Get(2) == lua.LNil {
			v.c.ClearRequestHeader(L.CheckString(1))
		} else {
			v.c.SetRequestHeader(L.CheckString(1), L.Get(2).String())
		}
		return 0
	})
	v.set(t, "clear_header", func(L *lua.LState) int { v.c.ClearRequestHeader(L.CheckString(1)); return 0 })
	v.set(t, "read_body", func(*lua.LState) int { return 0 })
	v.set(t, "get_body_data", func(L *lua.LState) int {
		body, complete := plugin.ReadBody(v.c.Request, plugin.ClientBodyBufferSize())
		if !complete || len(body) == 0 {
			L.Push(lua.LNil)
		} else {
			L.Push(lua.LString(body))
		}
		return 1
	})
	return t
}

// ngxVarTable is ngx.var: the nginx variables Kong's users read, and
// upstream_uri, which may be set.
func (v *vm) ngxVarTable() *lua.LTable {
	L := v.L
	t, mt := L.NewTable(), L.NewTable()
	v.set(mt, "__index", func(L *lua.LState) int {
		r := v.c.Request
		name := L.Get(2).String()
		var s string
		ok := true
		switch name {
		case "uri":
			s = r.URL.Path
		case "request_uri":
			s = r.RequestURI
		case "upstream_uri":
			s = v.c.UpstreamPath
		case "args", "query_string":
			s, ok = r.URL.RawQuery, r.URL.RawQuery != ""
		case "host":
			s = r.Host
			if h, _, err := net.SplitHostPort(s); err == nil {
				s = h
			}
		case "http_host":
			s = r.Host
		case "remote_addr", "realip_remote_addr":
			s = v.c.ClientIP
		case "scheme":
			s = "http"
			if r.TLS != nil {
				s = "https"
			}
		case "request_method":
			s = r.Method
		case "request_id", "kong_request_id":
			s = v.c.RequestID
		default:
			switch {
			case strings.HasPrefix(name, "http_"):
				s, ok = plugin.GetHeader(r, name[len("http_"):])
			case strings.HasPrefix(name, "arg_"):
				lv := queryTable(L, r.URL.RawQuery).RawGetString(name[len("arg_"):])
				if tb, isTable := lv.(*lua.LTable); isTable {
					lv = tb.RawGetInt(1)
				}
				if lv == lua.LTrue {
					lv = lua.LString("")
				}
				s, ok = lv.String(), lv != lua.LNil
			case strings.HasPrefix(name, "cookie_"):
				ck, err := r.Cookie(name[len("cookie_"):])
				if ok = err == nil; ok {
					s = ck.Value
				}
			default:
				ok = false
			}
		}
		if !ok {
			L.Push(lua.LNil)
		} else {
			L.Push(lua.LString(s))
		}
		return 1
	})
	v.set(mt, "__newindex", func(L *lua.LState) int {
		if L.Get(2).String() != "upstream_uri" {
			L.RaiseError("variable %q cannot be assigned a value", L.Get(2).String())
		}
		v.c.UpstreamPath = L.CheckString(3)
		return 0
	})
	L.SetMetatable(t, mt)
	return t
}

// ngxHeaderTable is ngx.header: the response's headers (header_filter;
// before it, a set header is kept for the response).
func (v *vm) ngxHeaderTable() *lua.LTable {
	L := v.L
	t, mt := L.NewTable(), L.NewTable()
	v.set(mt, "__index", func(L *lua.LState) int {
		name := strings.ReplaceAll(L.Get(2).String(), "_", "-")
		if v.c.Header == nil || v.c.Header.Values(name) == nil {
			L.Push(lua.LNil)
		} else {
			L.Push(lua.LString(v.c.Header.Get(name)))
		}
		return 1
	})
	v.set(mt, "__newindex", func(L *lua.LState) int {
		name := strings.ReplaceAll(L.Get(2).String(), "_", "-")
		switch val := L.Get(3).(type) {
		case *lua.LNilType:
			if v.c.Header != nil {
				v.c.Header.Del(name)
			}
		case *lua.LTable:
			if v.c.Header != nil {
				v.c.Header.Del(name)
				val.ForEach(func(_, e lua.LValue) { v.c.Header.Add(name, e.String()) })
			}
		default:
			v.c.SetResponseHeader(name, val.String())
		}
		return 0
	})
	L.SetMetatable(t, mt)
	return t
}

// checkStatus reads argument n as an HTTP status, as Kong checks it.
func checkStatus(L *lua.LState, n int) int {
	status := L.CheckInt(n)
	if status < 100 || status > 599 {
		L.RaiseError("code must be a number between 100 and 599")
	}
	return status
}

// methods are the request methods Kong's set_method accepts.
var methods = map[string]bool{"GET": true, "HEAD": true, "PUT": true, "POST": true, "DELETE": true, "OPTIONS": true,
	"MKCOL": true, "COPY": true, "MOVE": true, "PROPFIND": true, "PROPPATCH": true, "LOCK": true, "UNLOCK": true,
	"PATCH": true, "TRACE": true}
