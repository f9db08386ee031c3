// Package bzldoc generates a reference of a rule set's public API from the
// docstrings of its .bzl files, without Bazel or Stardoc.
//
// It executes the public files and what they load with go.starlark.net
// against recording stubs of what Bazel predeclares
// (tools/internal/fakebazel), as Stardoc does with its fake build API, and
// documents the rules, providers, module extensions and functions they
// export from the recorded rule(), provider(), attr.*() ... calls and the
// functions' docstrings. What it cannot document is an error naming the
// file and line, never a silently wrong reference.
package bzldoc

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/rules-repro/rules_repro/tools/internal/fakebazel"
	"go.starlark.net/starlark"
)

// Reference is the documented public API of a set of .bzl files.
type Reference struct {
	Rules            []*Rule
	RepositoryRules  []*Rule
	Providers        []*Provider
	Functions        []*Function
	ModuleExtensions []*ModuleExtension

	repo string
}

// Rule is a rule or a repository rule.
type Rule struct {
	Name string
	// Files are the labels of the public files that export it, the one
	// with the fewest exports first.
	Files []string
	Doc   string
	// Attrs are the public attributes (not starting with "_") in
	// definition order.
	Attrs []*Attr
	// Executable and Test are rule(executable = True) and rule(test = True).
	Executable, Test bool
	// BuildSetting is the build_setting argument as Starlark text, or "".
	BuildSetting string
}

// Attr is a public attribute of a rule or a tag class.
type Attr struct {
	Name string
	// Type is a readable type, for example "List of labels".
	Type string
	// Default is the default value as Starlark text; "" when mandatory.
	Default   string
	Mandatory bool
	// Values are the allowed values (attr.*(values = ...)) as Starlark text.
	Values []string
	Doc    string
}

// Provider is a provider and its documented fields.
type Provider struct {
	Name   string
	Files  []string
	Doc    string
	Fields []Field
}

// Field is a provider field.
type Field struct {
	Name string
	Doc  string
}

// Function is a public function or macro.
type Function struct {
	Name  string
	Files []string
	// Params are the parameters in order; Default is Starlark text, ""
	// for a parameter without default.
	Params []Param
	Doc    *Docstring
}

// Param is a function parameter. Name keeps the * or ** of *args and
// **kwargs.
type Param struct {
	Name    string
	Default string
	Doc     string
}

// ModuleExtension is a bzlmod module extension.
type ModuleExtension struct {
	Name       string
	Files      []string
	Doc        string
	TagClasses []*TagClass
}

// TagClass is a tag class of a module extension.
type TagClass struct {
	Name  string
	Doc   string
	Attrs []*Attr
}

// Option configures Extract.
type Option func(*documenter)

// WithRepoName sets the repository name of the rule set: load labels in
// the reference read "@NAME//pkg:file.bzl", labels "@NAME//..." in load()s
// are followed, and "//..." label defaults read "@NAME//...". The default
// value is "", which writes labels relative to the main repository.
func WithRepoName(name string) Option {
	return func(d *documenter) { d.repo = name }
}

// documenter turns what the fake Bazel recorded into the reference.
type documenter struct {
	fsys fs.FS
	repo string
}

// Extract documents the symbols exported by the public .bzl files (paths
// relative to the root of fsys, which is the repository root). All
// problems found are returned together.
func Extract(fsys fs.FS, files []string, opts ...Option) (*Reference, error) {
	d := &documenter{fsys: fsys}
	for _, o := range opts {
		o(d)
	}
	// The rule set is the main repository of the fake Bazel; files of
	// other repositories are not read, and what is loaded from them fails
	// when used.
	ld := fakebazel.New("", func(l *fakebazel.Label) ([]byte, error) {
		if l.Repo != "" {
			return nil, fmt.Errorf("another repository, %w by bzldoc", fakebazel.ErrNotRead)
		}
		return fs.ReadFile(fsys, path.Join(l.Pkg, l.Name))
	})
	if d.repo != "" {
		ld.Apparent = map[string]string{d.repo: ""}
	}
	ref := &Reference{repo: d.repo}

	type export struct {
		name  string
		file  string
		line  int
		value starlark.Value
	}
	var (
		errs       []error
		exports    []*export
		byKey      = map[string]*export{}
		exportedBy = map[*export][]string{}
		count      = map[string]int{} // exports per public file
	)
	sorted := append([]string(nil), files...)
	sort.Strings(sorted)
	for _, f := range sorted {
		l, err := d.fileLabel(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m := ld.Module(l)
		if m.Err != nil {
			errs = append(errs, fmt.Errorf("loading %s: %w", f, m.Err))
			continue
		}
		label := d.labelString(l)
		for _, name := range m.Globals.Keys() {
			if strings.HasPrefix(name, "_") {
				continue // private
			}
			v := m.Globals[name]
			count[label]++
			// The same definition exported by several files is documented
			// once.
			key := name + "/" + f
			switch v.(type) {
			case *fakebazel.Rule, *fakebazel.Provider, *starlark.Function, *fakebazel.ModuleExtension:
				key = fmt.Sprintf("%s/%p", name, v)
			}
			e, ok := byKey[key]
			if !ok {
				e = &export{name: name, file: f, line: m.Lines[name], value: v}
				byKey[key] = e
				exports = append(exports, e)
			}
			exportedBy[e] = append(exportedBy[e], label)
		}
	}
	for _, e := range exports {
		labels := exportedBy[e]
		sort.SliceStable(labels, func(i, j int) bool {
			if count[labels[i]] != count[labels[j]] {
				return count[labels[i]] < count[labels[j]]
			}
			return labels[i] < labels[j]
		})
		if err := d.document(ref, e.name, labels, e.value); err != nil {
			if _, ok := err.(*notDocumentable); ok {
				err = &fakebazel.PosError{File: e.file, Line: e.line, Msg: err.Error()}
			}
			errs = append(errs, fmt.Errorf("documenting %s of %s: %w", e.name, e.file, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, list := range [][]*Rule{ref.Rules, ref.RepositoryRules} {
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	}
	sort.Slice(ref.Providers, func(i, j int) bool { return ref.Providers[i].Name < ref.Providers[j].Name })
	sort.Slice(ref.Functions, func(i, j int) bool { return ref.Functions[i].Name < ref.Functions[j].Name })
	sort.Slice(ref.ModuleExtensions, func(i, j int) bool { return ref.ModuleExtensions[i].Name < ref.ModuleExtensions[j].Name })
	return ref, nil
}

// fileLabel is the label of a .bzl file: its package is the nearest
// directory with a BUILD or BUILD.bazel file.
func (d *documenter) fileLabel(p string) (*fakebazel.Label, error) {
	for dir := path.Dir(p); ; dir = path.Dir(dir) {
		for _, b := range []string{"BUILD.bazel", "BUILD"} {
			if _, err := fs.Stat(d.fsys, path.Join(dir, b)); err == nil {
				pkg := dir
				if pkg == "." {
					pkg = ""
				}
				return &fakebazel.Label{Pkg: pkg, Name: strings.TrimPrefix(p, dir+"/")}, nil
			}
		}
		if dir == "." {
			return nil, fmt.Errorf("%s: no BUILD or BUILD.bazel file in its directory or above, so it has no label", p)
		}
	}
}

// labelString is a label as users of the rule set write it.
func (d *documenter) labelString(l *fakebazel.Label) string {
	repo := l.Repo
	if repo == "" {
		repo = d.repo
	}
	prefix := "//"
	if repo != "" {
		prefix = "@" + repo + "//"
	}
	return prefix + l.Pkg + ":" + l.Name
}

// notDocumentable is an exported value of a kind bzldoc does not document.
type notDocumentable struct{ msg string }

func (e *notDocumentable) Error() string { return e.msg }

// document adds the exported value to the reference.
func (d *documenter) document(ref *Reference, name string, files []string, v starlark.Value) error {
	switch v := v.(type) {
	case *fakebazel.Rule:
		r, err := d.rule(name, v)
		if err != nil {
			return err
		}
		r.Files = files
		if v.Repository {
			ref.RepositoryRules = append(ref.RepositoryRules, r)
		} else {
			ref.Rules = append(ref.Rules, r)
		}
	case *fakebazel.Provider:
		p, err := d.provider(name, v)
		if err != nil {
			return err
		}
		p.Files = files
		ref.Providers = append(ref.Providers, p)
	case *starlark.Function:
		f, err := d.function(name, v)
		if err != nil {
			return err
		}
		f.Files = files
		ref.Functions = append(ref.Functions, f)
	case *fakebazel.ModuleExtension:
		x, err := d.extension(name, v)
		if err != nil {
			return err
		}
		x.Files = files
		ref.ModuleExtensions = append(ref.ModuleExtensions, x)
	default:
		return &notDocumentable{fmt.Sprintf("%s is a %s; bzldoc documents rules, repository rules, providers, functions and module extensions (rename it to _%s if it is not public API)", name, v.Type(), name)}
	}
	return nil
}

// errorf is an error at the call.
func errorf(c *fakebazel.Call, format string, args ...any) error {
	return fakebazel.Errorf(c.Pos, format, args...)
}

// checkArgs rejects arguments whose effect bzldoc cannot document.
func checkArgs(c *fakebazel.Call, what string, known ...string) error {
	for _, k := range c.KwNames() {
		if !contains(known, k) {
			return errorf(c, "%s: unsupported argument %s (bzldoc cannot document its effect)", what, k)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// docArg is the doc argument; a missing or empty doc is an error.
func docArg(c *fakebazel.Call, what string) (string, error) {
	v, ok := c.Kwarg("doc")
	if !ok {
		return "", errorf(c, "%s has no doc", what)
	}
	s, ok := v.(starlark.String)
	if !ok {
		return "", errorf(c, "doc of %s is a %s, not a string", what, v.Type())
	}
	doc := cleandoc(string(s))
	if doc == "" {
		return "", errorf(c, "%s has an empty doc", what)
	}
	return doc, nil
}

// boolArg is an optional bool argument.
func boolArg(c *fakebazel.Call, name string) (bool, error) {
	v, ok := c.Kwarg(name)
	if !ok {
		return false, nil
	}
	b, ok := v.(starlark.Bool)
	if !ok {
		return false, errorf(c, "%s is a %s, not a bool", name, v.Type())
	}
	return bool(b), nil
}

// dictArg is an optional dict argument with string keys, in order.
func dictArg(c *fakebazel.Call, name, what string) ([]starlark.Tuple, error) {
	v, ok := c.Kwarg(name)
	if !ok {
		return nil, nil
	}
	dict, ok := v.(*starlark.Dict)
	if !ok {
		return nil, errorf(c, "%s: %s is a %s, not a dict", what, name, v.Type())
	}
	items := dict.Items()
	for _, kv := range items {
		if _, ok := kv[0].(starlark.String); !ok {
			return nil, errorf(c, "%s: %s key %s is not a string", what, name, kv[0])
		}
	}
	return items, nil
}

func (d *documenter) rule(name string, v *fakebazel.Rule) (*Rule, error) {
	what := "rule " + name
	if v.Repository {
		what = "repository rule " + name
	}
	// outputs = {...} adds predeclared outputs, parent and initializer
	// change the attributes: not silently ignored.
	if err := checkArgs(&v.Call, what, "implementation", "doc", "attrs", "toolchains",
		"executable", "test", "build_setting", "cfg", "fragments", "host_fragments", "provides",
		"exec_compatible_with", "exec_groups", "incompatible_use_toolchain_transition", "extendable",
		"subrules", "dependency_resolution_rule",
		// repository_rule
		"local", "environ", "configure", "remotable"); err != nil {
		return nil, err
	}
	doc, err := docArg(&v.Call, what)
	if err != nil {
		return nil, err
	}
	r := &Rule{Name: name, Doc: doc}
	if r.Executable, err = boolArg(&v.Call, "executable"); err != nil {
		return nil, err
	}
	if r.Test, err = boolArg(&v.Call, "test"); err != nil {
		return nil, err
	}
	if bs, ok := v.Kwarg("build_setting"); ok {
		if r.BuildSetting, err = d.repr(bs); err != nil {
			return nil, errorf(&v.Call, "%s: build_setting: %v", what, err)
		}
	}
	r.Attrs, err = d.attrs(&v.Call, what)
	return r, err
}

// attrs documents the public attributes of a rule or tag class.
func (d *documenter) attrs(c *fakebazel.Call, what string) ([]*Attr, error) {
	items, err := dictArg(c, "attrs", what)
	if err != nil {
		return nil, err
	}
	var out []*Attr
	var errs []error
	for _, kv := range items {
		name := string(kv[0].(starlark.String))
		if strings.HasPrefix(name, "_") {
			continue // private
		}
		av, ok := kv[1].(*fakebazel.Attr)
		if !ok {
			errs = append(errs, errorf(c, "%s: attribute %s is a %s, not an attr.*() definition", what, name, kv[1].Type()))
			continue
		}
		a, err := d.attr(name, av, what)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, a)
	}
	return out, errors.Join(errs...)
}

// attrTypes are the attr module's functions: a readable type name and the
// default Bazel uses when none is given.
var attrTypes = map[string]struct{ name, def string }{
	"bool":                    {"Boolean", "False"},
	"int":                     {"Integer", "0"},
	"int_list":                {"List of integers", "[]"},
	"label":                   {"Label", "None"},
	"label_keyed_string_dict": {"Dictionary: Label → String", "{}"},
	"label_list":              {"List of labels", "[]"},
	"output":                  {"Output label", "None"},
	"output_list":             {"List of output labels", "[]"},
	"string":                  {"String", `""`},
	"string_dict":             {"Dictionary: String → String", "{}"},
	"string_keyed_label_dict": {"Dictionary: String → Label", "{}"},
	"string_list":             {"List of strings", "[]"},
	"string_list_dict":        {"Dictionary: String → List of strings", "{}"},
}

func (d *documenter) attr(name string, av *fakebazel.Attr, what string) (*Attr, error) {
	c := &av.Call
	what = fmt.Sprintf("%s: attribute %s", what, name)
	doc, err := docArg(c, what)
	if err != nil {
		return nil, err
	}
	if err := cellDoc(doc); err != nil {
		return nil, errorf(c, "%s: %v", what, err)
	}
	t, ok := attrTypes[av.Kind]
	if !ok {
		return nil, errorf(c, "%s: bzldoc has no type name for attr.%s", what, av.Kind)
	}
	a := &Attr{Name: name, Type: t.name, Doc: doc}
	if a.Mandatory, err = boolArg(c, "mandatory"); err != nil {
		return nil, err
	}
	if !a.Mandatory {
		a.Default = t.def
		if v, ok := c.Kwarg("default"); ok {
			if a.Default, err = d.repr(v); err != nil {
				return nil, errorf(c, "%s: default: %v", what, err)
			}
		}
	}
	if v, ok := c.Kwarg("values"); ok {
		list, ok := v.(*starlark.List)
		if !ok {
			return nil, errorf(c, "%s: values is a %s, not a list", what, v.Type())
		}
		for i := range list.Len() {
			s, err := d.repr(list.Index(i))
			if err != nil {
				return nil, errorf(c, "%s: values: %v", what, err)
			}
			a.Values = append(a.Values, s)
		}
	}
	return a, nil
}

func (d *documenter) provider(name string, v *fakebazel.Provider) (*Provider, error) {
	what := "provider " + name
	c := &v.Call
	if err := checkArgs(c, what, "doc", "fields"); err != nil {
		return nil, err
	}
	doc, err := docArg(c, what)
	if err != nil {
		return nil, err
	}
	p := &Provider{Name: name, Doc: doc}
	fv, ok := c.Kwarg("fields")
	if !ok {
		return nil, errorf(c, "%s has no fields; give fields = {name: doc}", what)
	}
	if _, ok := fv.(*starlark.Dict); !ok {
		return nil, errorf(c, "%s: fields is a %s; give a dict {name: doc} so that each field is documented", what, fv.Type())
	}
	items, err := dictArg(c, "fields", what)
	if err != nil {
		return nil, err
	}
	for _, kv := range items {
		fname := string(kv[0].(starlark.String))
		s, ok := kv[1].(starlark.String)
		if !ok {
			return nil, errorf(c, "%s: doc of field %s is a %s, not a string", what, fname, kv[1].Type())
		}
		fdoc := cleandoc(string(s))
		if fdoc == "" {
			return nil, errorf(c, "%s: field %s has an empty doc", what, fname)
		}
		if err := cellDoc(fdoc); err != nil {
			return nil, errorf(c, "%s: field %s: %v", what, fname, err)
		}
		p.Fields = append(p.Fields, Field{Name: fname, Doc: fdoc})
	}
	return p, nil
}

func (d *documenter) function(name string, fn *starlark.Function) (*Function, error) {
	what := "function " + name
	pos := fn.Position()
	if strings.TrimSpace(fn.Doc()) == "" {
		return nil, fakebazel.Errorf(pos, "%s (def %s) has no docstring", what, fn.Name())
	}
	doc, err := parseDocstring(cleandoc(fn.Doc()))
	if err != nil {
		return nil, fakebazel.Errorf(pos, "%s: docstring: %v", what, err)
	}
	f := &Function{Name: name, Doc: doc}
	docs := map[string]string{}
	for _, a := range doc.Args {
		if err := cellDoc(a.Doc); err != nil {
			return nil, fakebazel.Errorf(pos, "%s: argument %s: %v", what, a.Name, err)
		}
		docs[strings.TrimLeft(a.Name, "*")] = a.Doc
	}
	// Parameters in the order of the def: positional ones, *args,
	// keyword-only ones, **kwargs (starlark.Function lists *args and
	// **kwargs last).
	n := fn.NumParams()
	var varargs, kwargs []int
	if fn.HasKwargs() {
		n--
		kwargs = []int{n}
	}
	if fn.HasVarargs() {
		n--
		varargs = []int{n}
	}
	npos := n - fn.NumKwonlyParams()
	var order []int
	for i := range npos {
		order = append(order, i)
	}
	order = append(order, varargs...)
	for i := npos; i < n; i++ {
		order = append(order, i)
	}
	order = append(order, kwargs...)
	params := map[string]bool{}
	var undocumented []string
	for _, i := range order {
		pname, _ := fn.Param(i)
		p := Param{Name: pname}
		switch {
		case len(varargs) > 0 && i == varargs[0]:
			p.Name = "*" + pname
		case len(kwargs) > 0 && i == kwargs[0]:
			p.Name = "**" + pname
		default:
			if def := fn.ParamDefault(i); def != nil {
				if p.Default, err = d.repr(def); err != nil {
					return nil, fakebazel.Errorf(pos, "%s: default of %s: %v", what, pname, err)
				}
			}
		}
		params[pname] = true
		doc, ok := docs[pname]
		if !ok {
			undocumented = append(undocumented, p.Name)
		}
		p.Doc = doc
		f.Params = append(f.Params, p)
	}
	if len(undocumented) > 0 {
		return nil, fakebazel.Errorf(pos, "%s: the Args: section of the docstring does not document %s", what, strings.Join(undocumented, ", "))
	}
	for _, a := range doc.Args {
		if !params[strings.TrimLeft(a.Name, "*")] {
			return nil, fakebazel.Errorf(pos, "%s: the docstring documents %s, which is not a parameter", what, a.Name)
		}
	}
	return f, nil
}

func (d *documenter) extension(name string, v *fakebazel.ModuleExtension) (*ModuleExtension, error) {
	what := "module extension " + name
	c := &v.Call
	if err := checkArgs(c, what, "implementation", "doc", "tag_classes", "os_dependent", "arch_dependent", "environ"); err != nil {
		return nil, err
	}
	doc, err := docArg(c, what)
	if err != nil {
		return nil, err
	}
	x := &ModuleExtension{Name: name, Doc: doc}
	items, err := dictArg(c, "tag_classes", what)
	if err != nil {
		return nil, err
	}
	for _, kv := range items {
		tname := string(kv[0].(starlark.String))
		tc, ok := kv[1].(*fakebazel.TagClass)
		if !ok {
			return nil, errorf(c, "%s: tag class %s is a %s, not tag_class()", what, kv[0], kv[1].Type())
		}
		twhat := fmt.Sprintf("%s: tag class %s", what, tname)
		tdoc, err := docArg(&tc.Call, twhat)
		if err != nil {
			return nil, err
		}
		t := &TagClass{Name: tname, Doc: tdoc}
		if t.Attrs, err = d.attrs(&tc.Call, twhat); err != nil {
			return nil, err
		}
		x.TagClasses = append(x.TagClasses, t)
	}
	return x, nil
}

// repr is the Starlark text of a value that has a literal form.
func (d *documenter) repr(v starlark.Value) (string, error) {
	join := func(n int, elem func(i int) (string, error)) (string, error) {
		parts := make([]string, n)
		for i := range parts {
			var err error
			if parts[i], err = elem(i); err != nil {
				return "", err
			}
		}
		return strings.Join(parts, ", "), nil
	}
	switch v := v.(type) {
	case starlark.String:
		return strconv.Quote(string(v)), nil
	case starlark.Int:
		return v.String(), nil
	case starlark.Bool:
		if v {
			return "True", nil
		}
		return "False", nil
	case starlark.NoneType:
		return "None", nil
	case *starlark.List:
		s, err := join(v.Len(), func(i int) (string, error) { return d.repr(v.Index(i)) })
		return "[" + s + "]", err
	case starlark.Tuple:
		s, err := join(len(v), func(i int) (string, error) { return d.repr(v[i]) })
		if len(v) == 1 {
			s += ","
		}
		return "(" + s + ")", err
	case *starlark.Dict:
		items := v.Items()
		s, err := join(len(items), func(i int) (string, error) {
			k, err := d.repr(items[i][0])
			if err != nil {
				return "", err
			}
			val, err := d.repr(items[i][1])
			return k + ": " + val, err
		})
		return "{" + s + "}", err
	case *fakebazel.Label:
		return "Label(" + strconv.Quote(d.labelString(v)) + ")", nil
	case *fakebazel.Value:
		// select({...}), config.int(flag = True): the call.
		s, err := join(len(v.Args)+len(v.Kwargs), func(i int) (string, error) {
			if i < len(v.Args) {
				return d.repr(v.Args[i])
			}
			kv := v.Kwargs[i-len(v.Args)]
			val, err := d.repr(kv[1])
			return fakebazel.Str(kv[0]) + " = " + val, err
		})
		return v.Fn + "(" + s + ")", err
	}
	return "", fmt.Errorf("a %s has no literal form", v.Type())
}

// cellDoc checks that a doc can go into a table cell.
func cellDoc(doc string) error {
	if strings.Contains(doc, "```") {
		return errors.New("the doc has a code block, which cannot go into a table cell; use `inline code`")
	}
	return nil
}
