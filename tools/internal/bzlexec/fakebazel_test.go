package bzlexec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.starlark.net/lib/json"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
)

// A fake Bazel for the pins .bzl files: go.starlark.net runs them, with
// recording stubs of what Bazel predeclares (repository_rule, attr,
// module_extension, Label, ...) and mock repository and module contexts.

const (
	// repoRoot is the repository root, relative to this package.
	repoRoot = "../../.."
	// ownRepo is rules_repro's canonical repository name as a module
	// dependency: what str(Label("//...")) names in its files.
	ownRepo = "rules_repro+"
	// fileKey is the thread-local that holds the file a thread executes.
	fileKey = "bzlexec.file"
)

// bzlDialect is the dialect of Bazel's .bzl files, go.starlark.net's
// defaults: no while, no recursion, no if or for at the top level, no
// reassigned globals, load() binds file-local names. set is left off: the
// files do not use it.
var bzlDialect = &syntax.FileOptions{}

// world is a fake Bazel: it loads .bzl files of rules_repro (from the
// repository root) and of fetched repositories (from the files they
// wrote), records the repositories declared, fetches them with mock
// repository contexts, and records the commands they run and the files
// they write.
type world struct {
	t           *testing.T
	predeclared starlark.StringDict
	thread      *starlark.Thread   // the test's calls: the main repository's WORKSPACE
	modules     map[string]*module // by path: relative to the root, or external/REPO/...
	rules       []*repoRule
	declared    []*declared
	executed    [][]string
	files       map[string]map[string]string // repository -> path -> content
	read        map[string]string            // path -> content
	// lockCheck is what `repro lock check` answers: exit code, stderr and
	// stdout (the --json report per entry).
	lockCheckCode   int
	lockCheckStderr string
	lockCheckStdout string
}

type module struct {
	globals starlark.StringDict
	err     error
	done    bool
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, modules: map[string]*module{}, files: map[string]map[string]string{}, read: map[string]string{}}
	attrs := starlark.StringDict{}
	for _, kind := range []string{"label", "string", "string_dict", "bool", "label_list", "string_list", "int"} {
		attrs[kind] = starlark.NewBuiltin("attr."+kind, attrFunc(kind))
	}
	w.predeclared = starlark.StringDict{
		"attr":             &starlarkstruct.Module{Name: "attr", Members: attrs},
		"fail":             starlark.NewBuiltin("fail", bzlFail),
		"json":             json.Module,
		"Label":            starlark.NewBuiltin("Label", labelFunc),
		"module_extension": starlark.NewBuiltin("module_extension", moduleExtensionFunc),
		"native": &starlarkstruct.Module{Name: "native", Members: starlark.StringDict{
			"bazel_version": starlark.String("8.0.0"),
			"package_name": starlark.NewBuiltin("native.package_name", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
				return starlark.String(""), nil
			}),
		}},
		"repository_rule": starlark.NewBuiltin("repository_rule", w.repositoryRule),
		// Build rules (pins_error.bzl defines one, which the hub's files
		// load) are analysed by Bazel in the e2e tests, not here: rule()
		// gives a callable that accepts keyword arguments and records
		// nothing.
		"rule": starlark.NewBuiltin("rule", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			if len(args) > 0 {
				return nil, fmt.Errorf("%s: keyword arguments only", b.Name())
			}
			return starlark.NewBuiltin("a build rule", func(_ *starlark.Thread, r *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
				if len(args) > 0 {
					return nil, fmt.Errorf("%s: keyword arguments only", r.Name())
				}
				return starlark.None, nil
			}), nil
		}),
		"struct":    starlark.NewBuiltin("struct", starlarkstruct.Make),
		"tag_class": starlark.NewBuiltin("tag_class", tagClassFunc),
	}
	w.thread = w.newThread("")
	if _, err := w.module("rules/private/pins_repo.bzl"); err != nil {
		t.Fatal(describe(err))
	}
	return w
}

func (w *world) newThread(file string) *starlark.Thread {
	th := &starlark.Thread{
		Name:  file,
		Load:  w.load,
		Print: func(_ *starlark.Thread, msg string) { w.t.Logf("DEBUG %s", msg) },
	}
	th.SetLocal(fileKey, file)
	return th
}

// load is the thread's Load: label is resolved relative to the file that
// loads it.
func (w *world) load(thread *starlark.Thread, label string) (starlark.StringDict, error) {
	from, _ := thread.Local(fileKey).(string)
	l, err := parseLabel(repoOfFile(from), pkgOfFile(from), label)
	if err != nil {
		return nil, err
	}
	return w.module(l.file())
}

// module executes the file at path once and returns its globals.
func (w *world) module(path string) (starlark.StringDict, error) {
	if m, ok := w.modules[path]; ok {
		if !m.done {
			return nil, fmt.Errorf("load cycle through %s", path)
		}
		return m.globals, m.err
	}
	var src []byte
	if rest, ok := strings.CutPrefix(path, "external/"); ok {
		repo, file, _ := strings.Cut(rest, "/")
		content, ok := w.files[repo][file]
		if !ok {
			return nil, fmt.Errorf("%s: no such file (was @%s fetched?)", path, repo)
		}
		src = []byte(content)
	} else {
		var err error
		if src, err = os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(path))); err != nil {
			return nil, err
		}
	}
	return w.exec(path, src)
}

// exec executes src as the file at path.
func (w *world) exec(path string, src []byte) (starlark.StringDict, error) {
	m := &module{}
	w.modules[path] = m
	m.globals, m.err = starlark.ExecFileOptions(bzlDialect, w.newThread(path), path, src, w.predeclared)
	m.done = true
	if m.err == nil {
		// As Bazel does, a repository rule is named by the global it is
		// exported as.
		for _, name := range m.globals.Keys() {
			if r, ok := m.globals[name].(*repoRule); ok && r.name == "" {
				r.name = name
			}
		}
	}
	return m.globals, m.err
}

// global returns a global of a loaded module, private ones included.
func (w *world) global(path, name string) starlark.Value {
	w.t.Helper()
	g, err := w.module(path)
	if err != nil {
		w.t.Fatal(describe(err))
	}
	v, ok := g[name]
	if !ok {
		w.t.Fatalf("%s has no %s", path, name)
	}
	return v
}

// call calls a Starlark function from the main repository's WORKSPACE.
func (w *world) call(fn starlark.Value, args starlark.Tuple, kwargs ...starlark.Tuple) (starlark.Value, error) {
	return starlark.Call(w.thread, fn, args, kwargs)
}

func kw(name string, v starlark.Value) starlark.Tuple {
	return starlark.Tuple{starlark.String(name), v}
}

// describe is an error with its Starlark stack, where it has one.
func describe(err error) string {
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		return ee.Backtrace()
	}
	return fmt.Sprint(err)
}

// callerFile is the file of the Starlark code that called the built-in.
func callerFile(thread *starlark.Thread) string {
	if thread.CallStackDepth() < 2 {
		f, _ := thread.Local(fileKey).(string)
		return f
	}
	return thread.CallFrame(1).Pos.Filename()
}

// --- fail ---------------------------------------------------------------------

// FailError is a call of fail().
type FailError struct{ Msg string }

func (e *FailError) Error() string { return "fail: " + e.Msg }

// bzlFail is Bazel's fail(*args, msg, attr, sep): str() of each argument,
// joined by sep.
func bzlFail(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
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
		parts[i] = str(a)
	}
	m := strings.Join(parts, sep)
	if attr != starlark.None {
		m = "attribute " + str(attr) + ": " + m
	}
	return nil, &FailError{Msg: m}
}

// str is Starlark's str().
func str(v starlark.Value) string {
	if s, ok := starlark.AsString(v); ok {
		return s
	}
	return v.String()
}

// --- Label ----------------------------------------------------------------------

// label is a Label: @@repo//pkg:name, repo "" being the main repository.
type label struct{ repo, pkg, name string }

var (
	_ starlark.HasAttrs   = (*label)(nil)
	_ starlark.Comparable = (*label)(nil)
)

// String is str(label); Bazel's repr() would be Label("...").
func (l *label) String() string        { return "@@" + l.repo + "//" + l.pkg + ":" + l.name }
func (l *label) Type() string          { return "Label" }
func (l *label) Freeze()               {}
func (l *label) Truth() starlark.Bool  { return true }
func (l *label) Hash() (uint32, error) { return starlark.String(l.String()).Hash() }
func (l *label) AttrNames() []string {
	return []string{"name", "package", "repo_name", "workspace_name"}
}
func (l *label) Attr(name string) (starlark.Value, error) {
	switch name {
	case "name":
		return starlark.String(l.name), nil
	case "package":
		return starlark.String(l.pkg), nil
	case "repo_name", "workspace_name":
		return starlark.String(l.repo), nil
	}
	return nil, nil
}

func (l *label) CompareSameType(op syntax.Token, y starlark.Value, _ int) (bool, error) {
	switch op {
	case syntax.EQL:
		return l.String() == y.String(), nil
	case syntax.NEQ:
		return l.String() != y.String(), nil
	}
	return false, fmt.Errorf("Label %s Label is not supported", op)
}

// file is where the fake Bazel finds the file of the label.
func (l *label) file() string {
	p := filepath.ToSlash(filepath.Join(l.pkg, l.name))
	if l.repo == ownRepo {
		return p
	}
	return "external/" + l.repo + "/" + p
}

// repoOfFile is the repository of a file the fake Bazel executes: a fetched
// repository's (external/REPO/...), the main repository's (""), or else
// rules_repro's.
func repoOfFile(file string) string {
	if file == "" {
		return ""
	}
	if rest, ok := strings.CutPrefix(file, "external/"); ok {
		repo, _, _ := strings.Cut(rest, "/")
		return repo
	}
	return ownRepo
}

func pkgOfFile(file string) string {
	if rest, ok := strings.CutPrefix(file, "external/"); ok {
		_, file, _ = strings.Cut(rest, "/")
	}
	if d := filepath.ToSlash(filepath.Dir(file)); d != "." {
		return d
	}
	return ""
}

// parseLabel parses a label as written in repository repo, package pkg.
// Apparent repository names are taken as canonical, but rules_repro's.
func parseLabel(repo, pkg, s string) (*label, error) {
	rest := s
	if strings.HasPrefix(s, "@") {
		canonical := strings.HasPrefix(s, "@@")
		r, after, ok := strings.Cut(strings.TrimLeft(s, "@"), "//")
		if !ok {
			return nil, fmt.Errorf("invalid label %q", s)
		}
		if !canonical && r == "rules_repro" {
			r = ownRepo
		}
		repo, rest = r, "//"+after
	}
	name := ""
	switch {
	case strings.HasPrefix(rest, "//"):
		p, n, ok := strings.Cut(rest[2:], ":")
		if !ok {
			n = p[strings.LastIndex(p, "/")+1:]
		}
		pkg, name = p, n
	case strings.HasPrefix(rest, ":"):
		name = rest[1:]
	default:
		return nil, fmt.Errorf("invalid label %q: not absolute and not :name", s)
	}
	if name == "" {
		return nil, fmt.Errorf("invalid label %q: no target name", s)
	}
	return &label{repo: repo, pkg: pkg, name: name}, nil
}

// labelFunc is Label(input), relative to the repository of the calling file.
func labelFunc(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var input starlark.Value
	if err := starlark.UnpackPositionalArgs("Label", args, kwargs, 1, &input); err != nil {
		return nil, err
	}
	return toLabel(thread, input)
}

func toLabel(thread *starlark.Thread, v starlark.Value) (*label, error) {
	switch v := v.(type) {
	case *label:
		return v, nil
	case starlark.String:
		from := callerFile(thread)
		return parseLabel(repoOfFile(from), pkgOfFile(from), string(v))
	}
	return nil, fmt.Errorf("got %s, want a Label or a string", v.Type())
}

// path is what repository_ctx.path returns.
type path string

func (p path) String() string        { return string(p) }
func (p path) Type() string          { return "path" }
func (p path) Freeze()               {}
func (p path) Truth() starlark.Bool  { return true }
func (p path) Hash() (uint32, error) { return starlark.String(p).Hash() }
func (p path) AttrNames() []string   { return []string{"basename", "dirname"} }
func (p path) Attr(name string) (starlark.Value, error) {
	switch name {
	case "basename":
		return starlark.String(filepath.Base(string(p))), nil
	case "dirname":
		return path(filepath.Dir(string(p))), nil
	}
	return nil, nil
}

// --- attr, repository_rule, module_extension, tag_class ----------------------

// opaque is what a Bazel value that the files only pass around needs.
type opaque struct{}

func (opaque) Freeze()               {}
func (opaque) Truth() starlark.Bool  { return true }
func (opaque) Hash() (uint32, error) { return 0, errors.New("unhashable") }

// attrSpec is what attr.KIND(...) returns.
type attrSpec struct {
	opaque
	kind      string
	mandatory bool
	def       starlark.Value // nil: the kind's default
}

func (a *attrSpec) String() string { return "<attr." + a.kind + ">" }
func (a *attrSpec) Type() string   { return "Attribute" }

func attrFunc(kind string) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if len(args) > 0 {
			return nil, fmt.Errorf("%s: keyword arguments only", b.Name())
		}
		a := &attrSpec{kind: kind}
		for _, kv := range kwargs {
			switch string(kv[0].(starlark.String)) {
			case "mandatory":
				a.mandatory = bool(kv[1].Truth())
			case "default":
				v, err := a.convert(thread, kv[1])
				if err != nil {
					return nil, fmt.Errorf("%s: default: %v", b.Name(), err)
				}
				a.def = v
			}
		}
		return a, nil
	}
}

// value is the attribute's value when it is not given.
func (a *attrSpec) value() starlark.Value {
	if a.def != nil {
		return a.def
	}
	switch a.kind {
	case "string":
		return starlark.String("")
	case "bool":
		return starlark.False
	case "int":
		return starlark.MakeInt(0)
	case "string_dict":
		return starlark.NewDict(0)
	case "string_list", "label_list":
		return starlark.NewList(nil)
	}
	return starlark.None
}

// convert checks a value given for the attribute, as Bazel does, and
// turns strings into labels for label attributes.
func (a *attrSpec) convert(thread *starlark.Thread, v starlark.Value) (starlark.Value, error) {
	strs := func(what string, vs ...starlark.Value) error {
		for _, v := range vs {
			if _, ok := v.(starlark.String); !ok {
				return fmt.Errorf("got %s %s, want a string", what, v.Type())
			}
		}
		return nil
	}
	switch a.kind {
	case "string", "bool", "int":
		if v.Type() != a.kind {
			return nil, fmt.Errorf("got %s, want %s", v.Type(), a.kind)
		}
		return v, nil
	case "string_dict":
		d, ok := v.(*starlark.Dict)
		if !ok {
			return nil, fmt.Errorf("got %s, want a dict", v.Type())
		}
		for _, kv := range d.Items() {
			if err := strs("an entry", kv[0], kv[1]); err != nil {
				return nil, err
			}
		}
		return v, nil
	case "string_list", "label_list":
		l, ok := v.(*starlark.List)
		if !ok {
			return nil, fmt.Errorf("got %s, want a list", v.Type())
		}
		var out []starlark.Value
		for i := range l.Len() {
			e := l.Index(i)
			if a.kind == "string_list" {
				if err := strs("an element", e); err != nil {
					return nil, err
				}
			} else {
				var err error
				if e, err = toLabel(thread, e); err != nil {
					return nil, err
				}
			}
			out = append(out, e)
		}
		return starlark.NewList(out), nil
	case "label":
		return toLabel(thread, v)
	}
	return nil, fmt.Errorf("attr.%s is not supported", a.kind)
}

// attrDict reads the attrs argument of repository_rule and tag_class.
func attrDict(fn string, v starlark.Value) (map[string]*attrSpec, []string, error) {
	attrs := map[string]*attrSpec{}
	if v == starlark.None {
		return attrs, nil, nil
	}
	d, ok := v.(*starlark.Dict)
	if !ok {
		return nil, nil, fmt.Errorf("%s: attrs is a %s, want a dict", fn, v.Type())
	}
	var order []string
	for _, kv := range d.Items() {
		name, ok := starlark.AsString(kv[0])
		spec, ok2 := kv[1].(*attrSpec)
		if !ok || !ok2 {
			return nil, nil, fmt.Errorf("%s: attrs[%s] = %s, want a string key and an attr.* value", fn, kv[0], kv[1].Type())
		}
		attrs[name] = spec
		order = append(order, name)
	}
	return attrs, order, nil
}

// repoRule is a repository rule; calling it declares a repository.
type repoRule struct {
	opaque
	w     *world
	name  string // the global it is exported as
	impl  starlark.Callable
	attrs map[string]*attrSpec
	order []string
}

func (r *repoRule) String() string { return "<repository rule " + r.name + ">" }
func (r *repoRule) Type() string   { return "repository_rule" }
func (r *repoRule) Name() string   { return r.name }

// declared is a repository declared with a repository rule.
type declared struct {
	rule   *repoRule
	name   string
	kwargs map[string]starlark.Value
}

func (d *declared) String() string {
	keys := make([]string, 0, len(d.kwargs))
	for k := range d.kwargs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s(", d.rule.name)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s, ", k, d.kwargs[k])
	}
	return strings.TrimSuffix(b.String(), ", ") + ")"
}

// CallInternal declares a repository, checking its attributes as Bazel
// does: keyword arguments only, a name, no unknown or private attribute,
// every mandatory one, values of the attributes' types.
func (r *repoRule) CallInternal(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) > 0 {
		return nil, fmt.Errorf("%s: repository rules take keyword arguments only", r.name)
	}
	d := &declared{rule: r, kwargs: map[string]starlark.Value{}}
	for _, kv := range kwargs {
		k := string(kv[0].(starlark.String))
		if k == "name" {
			s, ok := kv[1].(starlark.String)
			if !ok || s == "" {
				return nil, fmt.Errorf("%s: name is %s, want a non-empty string", r.name, kv[1])
			}
			d.name = string(s)
			continue
		}
		a, ok := r.attrs[k]
		if !ok || strings.HasPrefix(k, "_") {
			return nil, fmt.Errorf("%s has no public attribute %s", r.name, k)
		}
		v, err := a.convert(thread, kv[1])
		if err != nil {
			return nil, fmt.Errorf("%s: attribute %s: %v", r.name, k, err)
		}
		d.kwargs[k] = v
	}
	if d.name == "" {
		return nil, fmt.Errorf("%s: no name", r.name)
	}
	for _, k := range r.order {
		if _, ok := d.kwargs[k]; r.attrs[k].mandatory && !ok {
			return nil, fmt.Errorf("%s %s: missing mandatory attribute %s", r.name, d.name, k)
		}
	}
	r.w.declared = append(r.w.declared, d)
	return starlark.None, nil
}

func (w *world) repositoryRule(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var impl starlark.Callable
	var attrs starlark.Value = starlark.None
	var doc, environ, local, configure starlark.Value
	if err := starlark.UnpackArgs("repository_rule", args, kwargs, "implementation", &impl, "attrs?", &attrs, "doc?", &doc, "environ?", &environ, "local?", &local, "configure?", &configure); err != nil {
		return nil, err
	}
	r := &repoRule{w: w, impl: impl}
	var err error
	if r.attrs, r.order, err = attrDict("repository_rule", attrs); err != nil {
		return nil, err
	}
	w.rules = append(w.rules, r)
	return r, nil
}

func (w *world) ruleNamed(name string) *repoRule {
	for _, r := range w.rules {
		if r.name == name {
			return r
		}
	}
	w.t.Fatalf("no repository rule %s", name)
	return nil
}

// tagClass is what tag_class(...) returns.
type tagClass struct {
	opaque
	attrs map[string]*attrSpec
	order []string
}

func (*tagClass) String() string { return "<tag_class>" }
func (*tagClass) Type() string   { return "tag_class" }

func tagClassFunc(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var attrs starlark.Value = starlark.None
	var doc starlark.Value
	if err := starlark.UnpackArgs("tag_class", args, kwargs, "attrs?", &attrs, "doc?", &doc); err != nil {
		return nil, err
	}
	tc := &tagClass{}
	var err error
	tc.attrs, tc.order, err = attrDict("tag_class", attrs)
	return tc, err
}

// tag is a tag of the class, as a module's tags list holds it: the given
// values, checked, and the other attributes' defaults.
func (tc *tagClass) tag(thread *starlark.Thread, given map[string]starlark.Value) (starlark.Value, error) {
	fields := starlark.StringDict{}
	for k, v := range given {
		a, ok := tc.attrs[k]
		if !ok {
			return nil, fmt.Errorf("the tag class has no attribute %s", k)
		}
		v, err := a.convert(thread, v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %v", k, err)
		}
		fields[k] = v
	}
	for _, k := range tc.order {
		if _, ok := fields[k]; !ok {
			if tc.attrs[k].mandatory {
				return nil, fmt.Errorf("missing mandatory attribute %s", k)
			}
			fields[k] = tc.attrs[k].value()
		}
	}
	return starlarkstruct.FromStringDict(starlark.String("tag"), fields), nil
}

// moduleExtension is what module_extension(...) returns.
type moduleExtension struct {
	opaque
	impl       starlark.Callable
	tagClasses map[string]*tagClass
}

func (*moduleExtension) String() string { return "<module_extension>" }
func (*moduleExtension) Type() string   { return "module_extension" }

func moduleExtensionFunc(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var impl starlark.Callable
	var tagClasses starlark.Value = starlark.None
	var doc, environ, osDependent, archDependent starlark.Value
	if err := starlark.UnpackArgs("module_extension", args, kwargs, "implementation", &impl, "tag_classes?", &tagClasses, "doc?", &doc, "environ?", &environ, "os_dependent?", &osDependent, "arch_dependent?", &archDependent); err != nil {
		return nil, err
	}
	ext := &moduleExtension{impl: impl, tagClasses: map[string]*tagClass{}}
	if d, ok := tagClasses.(*starlark.Dict); ok {
		for _, kv := range d.Items() {
			name, ok := starlark.AsString(kv[0])
			tc, ok2 := kv[1].(*tagClass)
			if !ok || !ok2 {
				return nil, fmt.Errorf("module_extension: tag_classes[%s] is not a tag_class", kv[0])
			}
			ext.tagClasses[name] = tc
		}
	} else if tagClasses != starlark.None {
		return nil, fmt.Errorf("module_extension: tag_classes is a %s, want a dict", tagClasses.Type())
	}
	return ext, nil
}

// --- repository_ctx and module_ctx ----------------------------------------

// pathOf is repository_ctx.path: the main repository is at /workspace,
// repository REPO at /external/REPO, and a relative path is in the
// repository being fetched (repo; "" for a module extension's directory).
func pathOf(repo string, v starlark.Value) (path, error) {
	switch v := v.(type) {
	case *label:
		if v.repo == "" {
			return path("/workspace/" + filepath.Join(v.pkg, v.name)), nil
		}
		return path("/external/" + v.repo + "/" + filepath.Join(v.pkg, v.name)), nil
	case starlark.String:
		if strings.HasPrefix(string(v), "/") {
			return path(v), nil
		}
		if repo == "" {
			return path("/extension/" + string(v)), nil
		}
		return path("/external/" + repo + "/" + string(v)), nil
	case path:
		return v, nil
	}
	return "", fmt.Errorf("path: got %s, want a string, a Label or a path", v.Type())
}

// ctx returns a mock repository_ctx (repo != "") or module_ctx (repo ==
// "", with extra fields such as modules).
func (w *world) ctx(repo string, attrs starlark.Value, extra starlark.StringDict) *starlarkstruct.Struct {
	builtin := func(name string, fn func(args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)) *starlark.Builtin {
		return starlark.NewBuiltin(name, func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return fn(args, kwargs)
		})
	}
	fields := starlark.StringDict{
		"os": starlarkstruct.FromStringDict(starlark.String("repository_os"), starlark.StringDict{
			"arch": starlark.String("amd64"), "environ": starlark.NewDict(0), "name": starlark.String("linux"),
		}),
		"path": builtin("path", func(args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var p starlark.Value
			if err := starlark.UnpackArgs("path", args, kwargs, "path", &p); err != nil {
				return nil, err
			}
			return pathOf(repo, p)
		}),
		"read": builtin("read", func(args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var p, encoding, watch starlark.Value
			if err := starlark.UnpackArgs("read", args, kwargs, "path", &p, "encoding?", &encoding, "watch?", &watch); err != nil {
				return nil, err
			}
			file, err := pathOf(repo, p)
			if err != nil {
				return nil, err
			}
			content, ok := w.read[string(file)]
			if !ok {
				return nil, fmt.Errorf("read: no file %s", file)
			}
			return starlark.String(content), nil
		}),
		"execute": builtin("execute", func(args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var arguments *starlark.List
			var timeout, environment, quiet, workingDirectory starlark.Value
			if err := starlark.UnpackArgs("execute", args, kwargs, "arguments", &arguments, "timeout?", &timeout, "environment?", &environment, "quiet?", &quiet, "working_directory?", &workingDirectory); err != nil {
				return nil, err
			}
			var argv []string
			for i := range arguments.Len() {
				switch a := arguments.Index(i).(type) {
				case starlark.String, *label, path:
					argv = append(argv, str(a))
				default:
					return nil, fmt.Errorf("execute: argument %d is a %s", i, a.Type())
				}
			}
			w.executed = append(w.executed, argv)
			code, stdout, stderr := 0, "", ""
			if len(argv) > 2 && argv[1] == "lock" && argv[2] == "check" {
				code, stdout, stderr = w.lockCheckCode, w.lockCheckStdout, w.lockCheckStderr
			}
			return starlarkstruct.FromStringDict(starlark.String("exec_result"), starlark.StringDict{
				"return_code": starlark.MakeInt(code), "stdout": starlark.String(stdout), "stderr": starlark.String(stderr),
			}), nil
		}),
	}
	kind := "module_ctx"
	if repo != "" {
		kind = "repository_ctx"
		fields["attr"] = attrs
		fields["name"] = starlark.String(repo)
		fields["file"] = builtin("file", func(args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var p, executable, legacyUTF8 starlark.Value
			content := ""
			if err := starlark.UnpackArgs("file", args, kwargs, "path", &p, "content?", &content, "executable?", &executable, "legacy_utf8?", &legacyUTF8); err != nil {
				return nil, err
			}
			file, err := pathOf(repo, p)
			if err != nil {
				return nil, err
			}
			rel, ok := strings.CutPrefix(string(file), "/external/"+repo+"/")
			if !ok {
				return nil, fmt.Errorf("file: %s is outside the repository", file)
			}
			if w.files[repo] == nil {
				w.files[repo] = map[string]string{}
			}
			w.files[repo][rel] = content
			return starlark.None, nil
		})
	}
	for k, v := range extra {
		fields[k] = v
	}
	return starlarkstruct.FromStringDict(starlark.String(kind), fields)
}

// fetch runs the implementation of a declared repository.
func (w *world) fetch(d *declared) error {
	attrs := starlark.StringDict{"name": starlark.String(d.name)}
	for _, k := range d.rule.order {
		v, ok := d.kwargs[k]
		if !ok {
			v = d.rule.attrs[k].value()
		}
		attrs[k] = v
	}
	_, err := w.call(d.rule.impl, starlark.Tuple{w.ctx(d.name, starlarkstruct.FromStringDict(starlark.String("attr"), attrs), nil)})
	return err
}

// goValue converts a Starlark value to Go for comparisons in tests:
// map[string]any, []any, string, int64, bool, nil; a Label as its string.
func goValue(v starlark.Value) any {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil
	case starlark.Bool:
		return bool(v)
	case starlark.String:
		return string(v)
	case starlark.Int:
		i, _ := v.Int64()
		return i
	case *starlark.List:
		out := []any{}
		for i := range v.Len() {
			out = append(out, goValue(v.Index(i)))
		}
		return out
	case starlark.Tuple:
		out := []any{}
		for _, e := range v {
			out = append(out, goValue(e))
		}
		return out
	case *starlark.Dict:
		out := map[string]any{}
		for _, kv := range v.Items() {
			out[str(kv[0])] = goValue(kv[1])
		}
		return out
	case *label:
		return v.String()
	}
	return v
}
