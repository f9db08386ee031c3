// Package bzldoc generates a reference of a rule set's public API from the
// docstrings of its .bzl files, without Bazel or Stardoc.
//
// It parses the public files with github.com/bazelbuild/buildtools/build,
// follows their load()s to where each exported symbol is defined, and
// evaluates rule(), provider(), module_extension() and attr.*() calls
// symbolically: module-level names, dict literals, dict(A, **B) merges and
// comprehensions. What it cannot evaluate is an error naming the file and
// line, never a silently wrong reference.
package bzldoc

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/bazelbuild/buildtools/build"
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
type Option func(*evaluator)

// WithRepoName sets the repository name of the rule set: load labels in
// the reference read "@NAME//pkg:file.bzl", labels "@NAME//..." in load()s
// are followed, and "//..." label defaults read "@NAME//...". The default
// value is "", which writes labels relative to the main repository.
func WithRepoName(name string) Option {
	return func(ev *evaluator) { ev.repo = name }
}

// Extract documents the symbols exported by the public .bzl files (paths
// relative to the root of fsys, which is the repository root). All
// problems found are returned together.
func Extract(fsys fs.FS, files []string, opts ...Option) (*Reference, error) {
	ev := &evaluator{fsys: fsys, modules: map[string]*module{}}
	for _, o := range opts {
		o(ev)
	}
	ref := &Reference{repo: ev.repo}

	type export struct {
		name  string
		file  string
		stmt  build.Expr
		mod   *module
		value value
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
		m, err := ev.module(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		label, err := ev.fileLabel(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, name := range m.order {
			g := m.globals[name]
			if strings.HasPrefix(name, "_") || g.loadLabel != "" {
				continue // private, or a load(), which Starlark does not re-export
			}
			v, err := ev.global(m, g, g.stmt)
			if err == nil {
				v, err = ev.force(v)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("documenting %s of %s: %w", name, f, err))
				continue
			}
			count[label]++
			// The same definition exported by several files is documented
			// once.
			key := name + "/" + f
			switch v.(type) {
			case *ruleValue, *providerValue, *functionValue, *extensionValue:
				key = fmt.Sprintf("%s/%p", name, v)
			}
			e, ok := byKey[key]
			if !ok {
				e = &export{name: name, file: f, stmt: g.stmt, mod: m, value: v}
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
		if err := ev.document(ref, e.name, labels, e.mod, e.stmt, e.value); err != nil {
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
func (ev *evaluator) fileLabel(p string) (string, error) {
	prefix := "//"
	if ev.repo != "" {
		prefix = "@" + ev.repo + "//"
	}
	for dir := path.Dir(p); ; dir = path.Dir(dir) {
		for _, b := range []string{"BUILD.bazel", "BUILD"} {
			if _, err := fs.Stat(ev.fsys, path.Join(dir, b)); err == nil {
				pkg := dir
				if pkg == "." {
					pkg = ""
				}
				rel := strings.TrimPrefix(p, dir+"/")
				return prefix + pkg + ":" + rel, nil
			}
		}
		if dir == "." {
			return "", fmt.Errorf("%s: no BUILD or BUILD.bazel file in its directory or above, so it has no label", p)
		}
	}
}

// document adds the exported value to the reference.
func (ev *evaluator) document(ref *Reference, name string, files []string, m *module, stmt build.Expr, v value) error {
	switch v := v.(type) {
	case *ruleValue:
		r, err := ev.rule(name, v)
		if err != nil {
			return err
		}
		r.Files = files
		if v.repository {
			ref.RepositoryRules = append(ref.RepositoryRules, r)
		} else {
			ref.Rules = append(ref.Rules, r)
		}
	case *providerValue:
		p, err := ev.provider(name, v)
		if err != nil {
			return err
		}
		p.Files = files
		ref.Providers = append(ref.Providers, p)
	case *functionValue:
		f, err := ev.function(name, v)
		if err != nil {
			return err
		}
		f.Files = files
		ref.Functions = append(ref.Functions, f)
	case *extensionValue:
		x, err := ev.extension(name, v)
		if err != nil {
			return err
		}
		x.Files = files
		ref.ModuleExtensions = append(ref.ModuleExtensions, x)
	default:
		return m.errorf(stmt, "%s is a %s; bzldoc documents rules, repository rules, providers, functions and module extensions (rename it to _%s if it is not public API)", name, typeName(v), name)
	}
	return nil
}

// docArg evaluates a doc argument; a missing or empty doc is an error.
func (ev *evaluator) docArg(c *call, what string) (string, error) {
	v, ok := c.kwarg("doc")
	if !ok {
		return "", c.mod.errorf(c.expr, "%s has no doc", what)
	}
	s, err := ev.forceString(c, v, "doc of "+what)
	if err != nil {
		return "", err
	}
	s = cleandoc(s)
	if s == "" {
		return "", c.mod.errorf(c.expr, "%s has an empty doc", what)
	}
	return s, nil
}

// boolArg evaluates an optional bool argument.
func (ev *evaluator) boolArg(c *call, name string) (bool, error) {
	v, ok := c.kwarg(name)
	if !ok {
		return false, nil
	}
	f, err := ev.force(v)
	if err != nil {
		return false, err
	}
	b, ok := f.(bool)
	if !ok {
		return false, c.mod.errorf(c.expr, "%s is a %s, not a bool", name, typeName(f))
	}
	return b, nil
}

func (ev *evaluator) rule(name string, v *ruleValue) (*Rule, error) {
	what := "rule " + name
	if v.repository {
		what = "repository rule " + name
	}
	known := map[string]bool{"implementation": true, "doc": true, "attrs": true, "toolchains": true,
		"executable": true, "test": true, "build_setting": true, "cfg": true, "fragments": true,
		"host_fragments": true, "provides": true, "exec_compatible_with": true, "exec_groups": true,
		"incompatible_use_toolchain_transition": true, "extendable": true, "subrules": true,
		"dependency_resolution_rule": true,
		// repository_rule
		"local": true, "environ": true, "configure": true, "remotable": true}
	for _, k := range v.kwOrder {
		if !known[k] {
			// outputs = {...} adds predeclared outputs, parent and
			// initializer change the attributes: not silently ignored.
			return nil, v.mod.errorf(v.expr, "%s: unsupported argument %s (bzldoc cannot document its effect)", what, k)
		}
	}
	doc, err := ev.docArg(&v.call, what)
	if err != nil {
		return nil, err
	}
	r := &Rule{Name: name, Doc: doc}
	if r.Executable, err = ev.boolArg(&v.call, "executable"); err != nil {
		return nil, err
	}
	if r.Test, err = ev.boolArg(&v.call, "test"); err != nil {
		return nil, err
	}
	if bs, ok := v.kwarg("build_setting"); ok {
		l, _ := bs.(*lazy)
		if l == nil {
			return nil, v.mod.errorf(v.expr, "%s: build_setting is not an expression", what)
		}
		r.BuildSetting = source(l.expr)
	}
	if attrs, ok := v.kwarg("attrs"); ok {
		if r.Attrs, err = ev.attrs(&v.call, attrs, what); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// attrs evaluates an attrs dict and documents its public attributes.
func (ev *evaluator) attrs(c *call, v value, what string) ([]*Attr, error) {
	f, err := ev.force(v)
	if err != nil {
		return nil, err
	}
	d, ok := f.(*dictValue)
	if !ok {
		return nil, c.mod.errorf(c.expr, "%s: attrs is a %s, not a dict", what, typeName(f))
	}
	var out []*Attr
	var errs []error
	for _, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return nil, c.mod.errorf(c.expr, "%s: attribute name %s is not a string", what, repr(k))
		}
		if strings.HasPrefix(name, "_") {
			continue // private: never evaluated
		}
		val, _ := d.get(k)
		a, err := ev.attr(name, val, what)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, a)
	}
	return out, errors.Join(errs...)
}

func (ev *evaluator) attr(name string, v value, what string) (*Attr, error) {
	f, err := ev.force(v)
	if err != nil {
		return nil, err
	}
	av, ok := f.(*attrValue)
	if !ok {
		if l, isLazy := v.(*lazy); isLazy {
			return nil, l.env.mod.errorf(l.expr, "%s: attribute %s is a %s, not an attr.*() definition", what, name, typeName(f))
		}
		return nil, fmt.Errorf("%s: attribute %s is a %s, not an attr.*() definition", what, name, typeName(f))
	}
	what = fmt.Sprintf("%s: attribute %s", what, name)
	doc, err := ev.docArg(&av.call, what)
	if err != nil {
		return nil, err
	}
	if err := cellDoc(doc); err != nil {
		return nil, av.mod.errorf(av.expr, "%s: %v", what, err)
	}
	t := attrTypes[av.typ]
	a := &Attr{Name: name, Type: t.name, Doc: doc}
	if a.Mandatory, err = ev.boolArg(&av.call, "mandatory"); err != nil {
		return nil, err
	}
	if !a.Mandatory {
		a.Default = t.def
		if d, ok := av.kwarg("default"); ok {
			if a.Default, err = ev.repr(d); err != nil {
				return nil, ev.wrap(d, av.mod, av.expr, fmt.Sprintf("%s: default", what), err)
			}
		}
	}
	if vals, ok := av.kwarg("values"); ok {
		l, err := ev.force(vals)
		if err != nil {
			return nil, err
		}
		list, ok := l.(*listValue)
		if !ok {
			return nil, av.mod.errorf(av.expr, "%s: values is a %s, not a list", what, typeName(l))
		}
		for _, el := range list.elems {
			s, err := ev.repr(el)
			if err != nil {
				return nil, ev.wrap(el, av.mod, av.expr, what+": values", err)
			}
			a.Values = append(a.Values, s)
		}
	}
	return a, nil
}

// wrap gives a repr error the position of the value's expression.
func (ev *evaluator) wrap(v value, m *module, at build.Expr, what string, err error) error {
	var pe *posError
	if errors.As(err, &pe) {
		return err
	}
	if l, ok := v.(*lazy); ok {
		return l.env.mod.errorf(l.expr, "%s %s: %v", what, source(l.expr), err)
	}
	return m.errorf(at, "%s: %v", what, err)
}

func (ev *evaluator) provider(name string, v *providerValue) (*Provider, error) {
	what := "provider " + name
	for _, k := range v.kwOrder {
		if k != "doc" && k != "fields" {
			return nil, v.mod.errorf(v.expr, "%s: unsupported argument %s (bzldoc cannot document its effect)", what, k)
		}
	}
	doc, err := ev.docArg(&v.call, what)
	if err != nil {
		return nil, err
	}
	p := &Provider{Name: name, Doc: doc}
	fv, ok := v.kwarg("fields")
	if !ok {
		return nil, v.mod.errorf(v.expr, "%s has no fields; give fields = {name: doc}", what)
	}
	f, err := ev.force(fv)
	if err != nil {
		return nil, err
	}
	d, ok := f.(*dictValue)
	if !ok {
		return nil, v.mod.errorf(v.expr, "%s: fields is a %s; give a dict {name: doc} so that each field is documented", what, typeName(f))
	}
	for _, k := range d.keys {
		fname, ok := k.(string)
		if !ok {
			return nil, v.mod.errorf(v.expr, "%s: field name %s is not a string", what, repr(k))
		}
		val, _ := d.get(k)
		s, err := ev.forceString(&v.call, val, fmt.Sprintf("doc of field %s of %s", fname, what))
		if err != nil {
			return nil, err
		}
		if s = cleandoc(s); s == "" {
			return nil, v.mod.errorf(v.expr, "%s: field %s has an empty doc", what, fname)
		}
		if err := cellDoc(s); err != nil {
			return nil, v.mod.errorf(v.expr, "%s: field %s: %v", what, fname, err)
		}
		p.Fields = append(p.Fields, Field{Name: fname, Doc: s})
	}
	return p, nil
}

func (ev *evaluator) function(name string, v *functionValue) (*Function, error) {
	m, def := v.mod, v.def
	what := "function " + name
	fn := &Function{Name: name}
	var raw string
	if len(def.Body) > 0 {
		if s, ok := def.Body[0].(*build.StringExpr); ok {
			raw = s.Value
		}
	}
	if strings.TrimSpace(raw) == "" {
		return nil, m.errorf(def, "%s (def %s) has no docstring", what, def.Name)
	}
	doc, err := parseDocstring(cleandoc(raw))
	if err != nil {
		return nil, m.errorf(def, "%s: docstring: %v", what, err)
	}
	fn.Doc = doc
	docs := map[string]string{}
	for _, a := range doc.Args {
		if err := cellDoc(a.Doc); err != nil {
			return nil, m.errorf(def, "%s: argument %s: %v", what, a.Name, err)
		}
		docs[strings.TrimLeft(a.Name, "*")] = a.Doc
	}
	params := map[string]bool{}
	var undocumented []string
	for _, p := range def.Params {
		var prm Param
		switch p := p.(type) {
		case *build.Ident:
			prm.Name = p.Name
		case *build.TypedIdent:
			prm.Name = p.GetIdent().Name
		case *build.AssignExpr:
			id, ok := p.LHSIdent()
			if !ok {
				return nil, m.errorf(p, "%s: unsupported parameter %s", what, source(p))
			}
			prm.Name = id.Name
			prm.Default = build.FormatString(p.RHS)
		case *build.UnaryExpr:
			if p.X == nil {
				continue // a bare * before keyword-only parameters
			}
			id, ok := p.X.(*build.Ident)
			if !ok {
				return nil, m.errorf(p, "%s: unsupported parameter %s", what, source(p))
			}
			prm.Name = p.Op + id.Name
		default:
			return nil, m.errorf(p, "%s: unsupported parameter %s", what, source(p))
		}
		bare := strings.TrimLeft(prm.Name, "*")
		params[bare] = true
		d, ok := docs[bare]
		if !ok {
			undocumented = append(undocumented, prm.Name)
		}
		prm.Doc = d
		fn.Params = append(fn.Params, prm)
	}
	if len(undocumented) > 0 {
		return nil, m.errorf(def, "%s: the Args: section of the docstring does not document %s", what, strings.Join(undocumented, ", "))
	}
	for _, a := range doc.Args {
		if !params[strings.TrimLeft(a.Name, "*")] {
			return nil, m.errorf(def, "%s: the docstring documents %s, which is not a parameter", what, a.Name)
		}
	}
	return fn, nil
}

func (ev *evaluator) extension(name string, v *extensionValue) (*ModuleExtension, error) {
	what := "module extension " + name
	for _, k := range v.kwOrder {
		switch k {
		case "implementation", "doc", "tag_classes", "os_dependent", "arch_dependent", "environ":
		default:
			return nil, v.mod.errorf(v.expr, "%s: unsupported argument %s (bzldoc cannot document its effect)", what, k)
		}
	}
	doc, err := ev.docArg(&v.call, what)
	if err != nil {
		return nil, err
	}
	x := &ModuleExtension{Name: name, Doc: doc}
	tv, ok := v.kwarg("tag_classes")
	if !ok {
		return x, nil
	}
	f, err := ev.force(tv)
	if err != nil {
		return nil, err
	}
	d, ok := f.(*dictValue)
	if !ok {
		return nil, v.mod.errorf(v.expr, "%s: tag_classes is a %s, not a dict", what, typeName(f))
	}
	for _, k := range d.keys {
		tname, _ := k.(string)
		val, _ := d.get(k)
		tf, err := ev.force(val)
		if err != nil {
			return nil, err
		}
		tc, ok := tf.(*tagClassValue)
		if !ok {
			return nil, v.mod.errorf(v.expr, "%s: tag class %s is a %s, not tag_class()", what, repr(k), typeName(tf))
		}
		twhat := fmt.Sprintf("%s: tag class %s", what, tname)
		tdoc, err := ev.docArg(&tc.call, twhat)
		if err != nil {
			return nil, err
		}
		t := &TagClass{Name: tname, Doc: tdoc}
		if attrs, ok := tc.kwarg("attrs"); ok {
			if t.Attrs, err = ev.attrs(&tc.call, attrs, twhat); err != nil {
				return nil, err
			}
		}
		x.TagClasses = append(x.TagClasses, t)
	}
	return x, nil
}

// cellDoc checks that a doc can go into a table cell.
func cellDoc(doc string) error {
	if strings.Contains(doc, "```") {
		return errors.New("the doc has a code block, which cannot go into a table cell; use `inline code`")
	}
	return nil
}
