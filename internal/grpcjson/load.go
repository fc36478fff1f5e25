package grpcjson

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/bufbuild/protocompile"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// IncludePaths are searched, after the .proto file's own directory, for
// the files it imports (Kong's kong.tools.grpc list, less its development
// paths). google/protobuf/*.proto and google/api/{annotations,http}.proto
// are built in.
var IncludePaths = []string{"/usr/local/kong/include", "/usr/include"}

// Schema is a compiled .proto file: its methods and their REST mappings.
type Schema struct {
	// Methods by gRPC path ("/package.Service/Method").
	Methods map[string]*Method
	// rules by lower-case HTTP method, in the file's order: a method's
	// rule, then its additional bindings.
	rules map[string][]*Rule
	// Warnings are the rules that were skipped (a template that does not
	// compile), for the log.
	Warnings []string
}

// Method is one RPC.
type Method struct {
	Path          string // "/package.Service/Method"
	Input, Output protoreflect.MessageDescriptor
}

// Rule is one REST mapping of a method (google.api.HttpRule).
type Rule struct {
	Method   *Method
	Template string
	// Body is the rule's body field: "*", a field name, or "" (the
	// message's fields then come from the query string).
	Body string
	re   *regexp.Regexp
	vars []string // the template's variables, in capture order
}

// builtin serves the google/api files Kong ships in its include directory.
var builtin = map[string]protoreflect.FileDescriptor{
	"google/api/annotations.proto": annotations.File_google_api_annotations_proto,
	"google/api/http.proto":        annotations.File_google_api_http_proto,
}

// Load compiles the .proto file at path (relative paths are to the
// working directory, as for Kong) and collects the methods of its services
// and of the files it imports publicly.
func Load(path string) (*Schema, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	dir, name := filepath.Split(abs)
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(protocompile.CompositeResolver{
			protocompile.ResolverFunc(func(p string) (protocompile.SearchResult, error) {
				if fd, ok := builtin[p]; ok {
					return protocompile.SearchResult{Desc: fd}, nil
				}
				return protocompile.SearchResult{}, protoregistry.NotFound
			}),
			&protocompile.SourceResolver{ImportPaths: append([]string{dir}, IncludePaths...)},
		}),
	}
	files, err := c.Compile(context.Background(), name)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", path, err)
	}
	s := &Schema{Methods: map[string]*Method{}, rules: map[string][]*Rule{}}
	s.addFile(files[0], map[string]bool{})
	return s, nil
}

func (s *Schema) addFile(fd protoreflect.FileDescriptor, seen map[string]bool) {
	if seen[fd.Path()] {
		return
	}
	seen[fd.Path()] = true
	imports := fd.Imports()
	for i := range imports.Len() {
		if imp := imports.Get(i); imp.IsPublic {
			s.addFile(imp.FileDescriptor, seen)
		}
	}
	services := fd.Services()
	for i := range services.Len() {
		svc := services.Get(i)
		methods := svc.Methods()
		for j := range methods.Len() {
			md := methods.Get(j)
			m := &Method{Path: "/" + string(svc.FullName()) + "/" + string(md.Name()), Input: md.Input(), Output: md.Output()}
			s.Methods[m.Path] = m
			rule := httpRule(md)
			if rule == nil {
				continue
			}
			s.addRule(m, rule)
			for _, b := range rule.GetAdditionalBindings() {
				s.addRule(m, b) // one level, as Kong reads them
			}
		}
	}
}

// httpRule reads a method's google.api.http option, whichever descriptor
// of annotations.proto the file was compiled against.
func httpRule(md protoreflect.MethodDescriptor) *annotations.HttpRule {
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil {
		return nil
	}
	b, err := proto.Marshal(opts)
	if err != nil {
		return nil
	}
	var typed descriptorpb.MethodOptions
	if err := (proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(b, &typed); err != nil {
		return nil
	}
	if !proto.HasExtension(&typed, annotations.E_Http) {
		return nil
	}
	rule, _ := proto.GetExtension(&typed, annotations.E_Http).(*annotations.HttpRule)
	return rule
}

func (s *Schema) addRule(m *Method, r *annotations.HttpRule) {
	var method, template string
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		method, template = "get", p.Get
	case *annotations.HttpRule_Post:
		method, template = "post", p.Post
	case *annotations.HttpRule_Put:
		method, template = "put", p.Put
	case *annotations.HttpRule_Patch:
		method, template = "patch", p.Patch
	case *annotations.HttpRule_Delete:
		method, template = "delete", p.Delete
	default:
		return // custom verbs: Kong maps none
	}
	re, vars, err := compileTemplate(template)
	if err != nil {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s %s (%s): %v", strings.ToUpper(method), template, m.Path, err))
		return
	}
	s.rules[method] = append(s.rules[method], &Rule{Method: m, Template: template, Body: r.GetBody(), re: re, vars: vars})
}

// templateVar finds a template's variables as Kong's deco.lua does: a
// field path, then optionally "=" and segments of literals, "*" and "**".
var templateVar = regexp.MustCompile(`\{([-_.~0-9a-zA-Z]+)=?((?:(?:\*|\*\*|[-_.~0-9a-zA-Z])/?)+)?\}`)

// compileTemplate turns a path template into an anchored expression: a
// variable matches one segment, or its own segments with "*" one segment
// and "**" any rest. The literal text is used as written, as Kong does.
func compileTemplate(t string) (*regexp.Regexp, []string, error) {
	var vars []string
	expr := templateVar.ReplaceAllStringFunc(t, func(m string) string {
		sub := templateVar.FindStringSubmatch(m)
		vars = append(vars, sub[1])
		if sub[2] == "" || sub[2] == "*" {
			return "([^/]+)"
		}
		return "(" + strings.ReplaceAll(strings.ReplaceAll(sub[2], "**", ".+"), "*", "[^/]+") + ")"
	})
	re, err := regexp.Compile("^" + expr + "$")
	if err != nil {
		return nil, nil, err
	}
	if re.NumSubexp() != len(vars) {
		return nil, nil, errors.New("the template's literal text holds a group")
	}
	return re, vars, nil
}

// Match finds the rule for a request (method in any case) and the values
// of its path variables. The error is Kong's wording, to follow "failed
// to transcode .proto file ".
func (s *Schema) Match(method, path string) (*Rule, map[string]string, error) {
	method = strings.ToLower(method)
	rules, ok := s.rules[method]
	if !ok {
		return nil, nil, kongError("Unknown method " + LuaQuote(method))
	}
	for _, r := range rules {
		sub := r.re.FindStringSubmatch(path)
		if sub == nil {
			continue
		}
		vars := make(map[string]string, len(r.vars))
		for i, name := range r.vars {
			vars[name] = sub[i+1]
		}
		return r, vars, nil
	}
	return nil, nil, kongError("Unknown path " + LuaQuote(path))
}

// kongError is an error worded as Kong words it (capitalised, for the
// client).
type kongError string

func (e kongError) Error() string { return string(e) }

// LuaQuote quotes s as Lua's %q does: backslash, quote and newline
// escaped, carriage return and NUL as \r and \0.
func LuaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString("\\\n")
		case '\r':
			b.WriteString(`\r`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
