package fakebazel

import (
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/lib/json"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
)

// Call is a recorded call of a stub: its arguments, positional ones
// turned into keywords where the stub names them, and where it was made.
type Call struct {
	Fn     string
	Args   starlark.Tuple
	Kwargs []starlark.Tuple
	Pos    syntax.Position
	// File is the label of the file whose code made the call: labels in
	// the arguments are relative to it.
	File *Label
}

// Kwarg is the value of a keyword argument.
func (c *Call) Kwarg(name string) (starlark.Value, bool) {
	for _, kv := range c.Kwargs {
		if string(kv[0].(starlark.String)) == name {
			return kv[1], true
		}
	}
	return nil, false
}

// KwNames are the keyword arguments' names in order.
func (c *Call) KwNames() []string {
	names := make([]string, len(c.Kwargs))
	for i, kv := range c.Kwargs {
		names[i] = string(kv[0].(starlark.String))
	}
	return names
}

// record records a call of fn; the positional arguments take the names
// in positional (more of them is an error), or stay positional where fn
// names none, and dict arguments are copied, as Bazel copies them.
func (ld *Loader) record(thread *starlark.Thread, fn string, args starlark.Tuple, kwargs []starlark.Tuple, positional ...string) (*Call, error) {
	c := &Call{Fn: fn, File: ld.CallerLabel(thread)}
	if thread.CallStackDepth() >= 2 {
		c.Pos = thread.CallFrame(1).Pos
	}
	if positional == nil {
		c.Args = args
		args = nil
	}
	if len(args) > len(positional) {
		return nil, fmt.Errorf("%s: got %d positional arguments, want at most %d", fn, len(args), len(positional))
	}
	seen := map[string]bool{}
	add := func(name string, v starlark.Value) error {
		if seen[name] {
			return fmt.Errorf("%s: argument %s given twice", fn, name)
		}
		seen[name] = true
		if d, ok := v.(*starlark.Dict); ok {
			cp := starlark.NewDict(d.Len())
			for _, kv := range d.Items() {
				_ = cp.SetKey(kv[0], kv[1])
			}
			v = cp
		}
		c.Kwargs = append(c.Kwargs, starlark.Tuple{starlark.String(name), v})
		return nil
	}
	for i, a := range args {
		if err := add(positional[i], a); err != nil {
			return nil, err
		}
	}
	for _, kv := range kwargs {
		if err := add(string(kv[0].(starlark.String)), kv[1]); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// opaque is what a value that the files only pass around needs.
type opaque struct{}

func (opaque) Freeze()               {}
func (opaque) Truth() starlark.Bool  { return true }
func (opaque) Hash() (uint32, error) { return 0, errors.New("unhashable") }

// Value is what a stub without a more specific result returns (select(),
// depset(), config.int(), transition(), ...): the recorded call.
type Value struct {
	opaque
	Call
}

func (v *Value) String() string { return "<" + v.Fn + "()>" }
func (v *Value) Type() string   { return v.Fn }

// Attr is what attr.KIND(...) returns.
type Attr struct {
	opaque
	Call
	Kind string
}

func (a *Attr) String() string { return "<attr." + a.Kind + ">" }
func (a *Attr) Type() string   { return "Attribute" }

// Mandatory is attr.KIND(mandatory = True).
func (a *Attr) Mandatory() bool {
	v, ok := a.Kwarg("mandatory")
	return ok && bool(v.Truth())
}

// AttrKinds are the functions of Bazel's attr module.
var AttrKinds = []string{
	"bool", "int", "int_list", "label", "label_keyed_string_dict", "label_list", "output",
	"output_list", "string", "string_dict", "string_keyed_label_dict", "string_list", "string_list_dict",
}

// Rule is what rule() and repository_rule() return.
type Rule struct {
	opaque
	Call
	Repository bool
	// Exported is the global the rule is first exported as, set when the
	// file that defines it has been executed (as Bazel names rules).
	Exported string
	ld       *Loader
}

func (r *Rule) String() string { return "<" + r.Type() + " " + r.Exported + ">" }
func (r *Rule) Name() string   { return r.Exported }
func (r *Rule) Type() string {
	if r.Repository {
		return "repository_rule"
	}
	return "rule"
}

// CallInternal instantiates the rule: Loader.CallRule, else nothing.
func (r *Rule) CallInternal(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if r.ld.CallRule != nil {
		return r.ld.CallRule(thread, r, args, kwargs)
	}
	if len(args) > 0 {
		return nil, fmt.Errorf("%s: keyword arguments only", r.Exported)
	}
	return starlark.None, nil
}

// Provider is what provider() returns, and Bazel's built-in providers.
type Provider struct {
	opaque
	Call
	// Exported is the global the provider is first exported as, or a
	// built-in provider's name.
	Exported string
}

func (p *Provider) String() string { return "<provider " + p.Exported + ">" }
func (p *Provider) Name() string   { return p.Exported }
func (p *Provider) Type() string   { return "provider" }

// CallInternal makes an instance: a struct of the keyword arguments.
func (p *Provider) CallInternal(_ *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) > 0 {
		return nil, fmt.Errorf("%s: keyword arguments only", p.Exported)
	}
	return starlarkstruct.FromKeywords(p, kwargs), nil
}

// ModuleExtension is what module_extension() returns.
type ModuleExtension struct {
	opaque
	Call
}

func (*ModuleExtension) String() string { return "<module_extension>" }
func (*ModuleExtension) Type() string   { return "module_extension" }

// TagClass is what tag_class() returns.
type TagClass struct {
	opaque
	Call
}

func (*TagClass) String() string { return "<tag_class>" }
func (*TagClass) Type() string   { return "tag_class" }

// FailError is a call of fail().
type FailError struct{ Msg string }

func (e *FailError) Error() string { return "fail: " + e.Msg }

// Str is Starlark's str().
func Str(v starlark.Value) string {
	if s, ok := starlark.AsString(v); ok {
		return s
	}
	return v.String()
}

// fail is Bazel's fail(*args, msg, attr, sep): str() of each argument,
// joined by sep.
func fail(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var msg, attr starlark.Value = starlark.None, starlark.None
	sep := " "
	if err := starlark.UnpackArgs("fail", nil, kwargs, "msg?", &msg, "attr?", &attr, "sep?", &sep); err != nil {
		return nil, err
	}
	if msg != starlark.None {
		args = append(starlark.Tuple{msg}, args...)
	}
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = Str(a)
	}
	m := strings.Join(parts, sep)
	if attr != starlark.None {
		m = "attribute " + Str(attr) + ": " + m
	}
	return nil, &FailError{Msg: m}
}

// builtin is a stub that records its call and returns make's result.
func (ld *Loader) builtin(name string, make func(c *Call) (starlark.Value, error), positional ...string) *starlark.Builtin {
	return starlark.NewBuiltin(name, func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		c, err := ld.record(thread, name, args, kwargs, positional...)
		if err != nil {
			return nil, err
		}
		return make(c)
	})
}

// recorder is a stub that returns its recorded call as a *Value.
func (ld *Loader) recorder(name string, positional ...string) *starlark.Builtin {
	return ld.builtin(name, func(c *Call) (starlark.Value, error) { return &Value{Call: *c}, nil }, positional...)
}

// namespace is a module of Bazel's such as attr: a name it does not have
// is an error that says so.
type namespace struct {
	opaque
	name    string
	members starlark.StringDict
}

func module(name string, members starlark.StringDict) *namespace {
	return &namespace{name: name, members: members}
}

func (n *namespace) String() string      { return "<" + n.name + ">" }
func (n *namespace) Type() string        { return n.name }
func (n *namespace) AttrNames() []string { return n.members.Keys() }

func (n *namespace) Attr(name string) (starlark.Value, error) {
	if v, ok := n.members[name]; ok {
		return v, nil
	}
	return nil, starlark.NoSuchAttrError(fmt.Sprintf("unknown %s.%s: not a built-in of Bazel's that the fake knows", n.name, name))
}

// constant is a built-in function that returns s.
func constant(name, s string) *starlark.Builtin {
	return starlark.NewBuiltin(name, func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		return starlark.String(s), nil
	})
}

func builtinProvider(name string) *Provider {
	return &Provider{Exported: name, Call: Call{Fn: "provider"}}
}

// stubs are the predeclared names: the stubs of what Bazel predeclares in
// .bzl files.
func (ld *Loader) stubs() starlark.StringDict {
	attrs := starlark.StringDict{}
	for _, kind := range AttrKinds {
		attrs[kind] = ld.builtin("attr."+kind, func(c *Call) (starlark.Value, error) {
			return &Attr{Call: *c, Kind: kind}, nil
		})
	}
	config := starlark.StringDict{}
	for _, kind := range []string{"bool", "int", "string", "string_list", "exec", "target", "none"} {
		config[kind] = ld.recorder("config." + kind)
	}
	return starlark.StringDict{
		"analysis_test_transition": ld.recorder("analysis_test_transition"),
		"aspect":                   ld.recorder("aspect"),
		"attr":                     module("attr", attrs),
		"config":                   module("config", config),
		"config_common": module("config_common", starlark.StringDict{
			"toolchain_type":  ld.recorder("config_common.toolchain_type"),
			"FeatureFlagInfo": builtinProvider("FeatureFlagInfo"),
		}),
		"DefaultInfo":           builtinProvider("DefaultInfo"),
		"depset":                ld.recorder("depset"),
		"exec_group":            ld.recorder("exec_group"),
		"fail":                  starlark.NewBuiltin("fail", fail),
		"InstrumentedFilesInfo": builtinProvider("InstrumentedFilesInfo"),
		"json":                  json.Module,
		"Label":                 starlark.NewBuiltin("Label", ld.labelBuiltin),
		"module_extension": ld.builtin("module_extension", func(c *Call) (starlark.Value, error) {
			return &ModuleExtension{Call: *c}, nil
		}, "implementation"),
		"native": module("native", starlark.StringDict{
			"bazel_version":   starlark.String("8.0.0"),
			"package_name":    constant("native.package_name", ""),
			"repository_name": constant("native.repository_name", "@"),
		}),
		"OutputGroupInfo": builtinProvider("OutputGroupInfo"),
		"platform_common": module("platform_common", starlark.StringDict{
			"ConstraintValueInfo":  builtinProvider("ConstraintValueInfo"),
			"PlatformInfo":         builtinProvider("PlatformInfo"),
			"TemplateVariableInfo": builtinProvider("TemplateVariableInfo"),
			"ToolchainInfo":        builtinProvider("ToolchainInfo"),
		}),
		"provider": ld.builtin("provider", func(c *Call) (starlark.Value, error) {
			p := &Provider{Call: *c}
			if _, ok := c.Kwarg("init"); ok {
				// provider(init = ...) returns the provider and its raw
				// constructor.
				return starlark.Tuple{p, ld.recorder("raw constructor")}, nil
			}
			return p, nil
		}, "doc"),
		"repository_rule": ld.builtin("repository_rule", func(c *Call) (starlark.Value, error) {
			return &Rule{Call: *c, Repository: true, ld: ld}, nil
		}, "implementation"),
		"rule": ld.builtin("rule", func(c *Call) (starlark.Value, error) {
			return &Rule{Call: *c, ld: ld}, nil
		}, "implementation"),
		"RunEnvironmentInfo": builtinProvider("RunEnvironmentInfo"),
		"select":             ld.recorder("select"),
		"struct":             starlark.NewBuiltin("struct", starlarkstruct.Make),
		"subrule":            ld.recorder("subrule"),
		"tag_class":          ld.builtin("tag_class", func(c *Call) (starlark.Value, error) { return &TagClass{Call: *c}, nil }, "attrs"),
		"testing": module("testing", starlark.StringDict{
			"ExecutionInfo":   builtinProvider("ExecutionInfo"),
			"TestEnvironment": ld.recorder("testing.TestEnvironment"),
		}),
		"transition": ld.recorder("transition"),
		"visibility": ld.recorder("visibility"),
	}
}

var (
	_ starlark.Callable = (*Rule)(nil)
	_ starlark.Callable = (*Provider)(nil)
)
