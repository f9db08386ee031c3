package bzlexec

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rules-repro/rules_repro/tools/internal/fakebazel"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// A fake Bazel for the pins .bzl files: tools/internal/fakebazel runs them
// with recording stubs of what Bazel predeclares; repository rules declare
// repositories here, and mock repository and module contexts fetch them.

const (
	// repoRoot is the repository root, relative to this package.
	repoRoot = "../../.."
	// ownRepo is rules_repro's canonical repository name as a module
	// dependency: what str(Label("//...")) names in its files.
	ownRepo = "rules_repro+"
)

// label is a Label of the fake Bazel.
type label = fakebazel.Label

// world is a fake Bazel: it loads .bzl files of rules_repro (from the
// repository root) and of fetched repositories (from the files they
// wrote), records the repositories declared, fetches them with mock
// repository contexts, and records the commands they run and the files
// they write.
type world struct {
	t        *testing.T
	ld       *fakebazel.Loader
	thread   *starlark.Thread // the test's calls: the main repository's WORKSPACE
	declared []*declared
	executed [][]string
	files    map[string]map[string]string // repository -> path -> content
	read     map[string]string            // path -> content
	// lockCheck is what `repro lock check` answers: exit code, stderr and
	// stdout (the --json report per entry).
	lockCheckCode   int
	lockCheckStderr string
	lockCheckStdout string
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, files: map[string]map[string]string{}, read: map[string]string{}}
	w.ld = fakebazel.New(ownRepo, w.source)
	w.ld.Apparent = map[string]string{"rules_repro": ownRepo}
	w.ld.Print = func(_ *starlark.Thread, msg string) { t.Logf("DEBUG %s", msg) }
	w.ld.CallRule = w.callRule
	w.thread = w.ld.NewThread(nil)
	if m := w.ld.Module(&label{Repo: ownRepo, Pkg: "rules/private", Name: "pins_repo.bzl"}); m.Err != nil {
		t.Fatal(describe(m.Err))
	}
	return w
}

// source reads rules_repro's files under the repository root and a
// fetched repository's from what it wrote.
func (w *world) source(l *label) ([]byte, error) {
	p := filepath.ToSlash(filepath.Join(l.Pkg, l.Name))
	if l.Repo == ownRepo {
		return os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(p)))
	}
	content, ok := w.files[l.Repo][p]
	if !ok {
		return nil, fmt.Errorf("%s: no such file (was @%s fetched?)", w.ld.Path(l), l.Repo)
	}
	return []byte(content), nil
}

// load loads a module as a load() statement of the thread's file does.
func (w *world) load(thread *starlark.Thread, module string) (starlark.StringDict, error) {
	return thread.Load(thread, module)
}

// global returns a global of one of rules_repro's files, private ones
// included.
func (w *world) global(path, name string) starlark.Value {
	w.t.Helper()
	m := w.ld.Module(&label{Repo: ownRepo, Pkg: filepath.ToSlash(filepath.Dir(path)), Name: filepath.Base(path)})
	if m.Err != nil {
		w.t.Fatal(describe(m.Err))
	}
	v, ok := m.Globals[name]
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
func describe(err error) string { return fakebazel.Describe(err) }

// str is Starlark's str().
func str(v starlark.Value) string { return fakebazel.Str(v) }

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

// --- attributes, repository rules, module extensions -----------------------

// toLabel is a Label, or a string as a label written in the file of base.
func (w *world) toLabel(base *label, v starlark.Value) (*label, error) {
	switch v := v.(type) {
	case *label:
		return v, nil
	case starlark.String:
		return w.ld.Parse(base, string(v))
	}
	return nil, fmt.Errorf("got %s, want a Label or a string", v.Type())
}

// attrValue is the attribute's value when it is not given: its default,
// converted as Bazel converts it (labels relative to the file that
// defines the attribute), else the kind's default.
func (w *world) attrValue(a *fakebazel.Attr) (starlark.Value, error) {
	if def, ok := a.Kwarg("default"); ok {
		v, err := w.convert(a, a.File, def)
		if err != nil {
			return nil, fmt.Errorf("attr.%s: default: %v", a.Kind, err)
		}
		return v, nil
	}
	switch a.Kind {
	case "string":
		return starlark.String(""), nil
	case "bool":
		return starlark.False, nil
	case "int":
		return starlark.MakeInt(0), nil
	case "string_dict":
		return starlark.NewDict(0), nil
	case "string_list", "label_list":
		return starlark.NewList(nil), nil
	}
	return starlark.None, nil
}

// convert checks a value given for the attribute, as Bazel does, and
// turns strings into labels (written in the file of base) for label
// attributes.
func (w *world) convert(a *fakebazel.Attr, base *label, v starlark.Value) (starlark.Value, error) {
	strs := func(what string, vs ...starlark.Value) error {
		for _, v := range vs {
			if _, ok := v.(starlark.String); !ok {
				return fmt.Errorf("got %s %s, want a string", what, v.Type())
			}
		}
		return nil
	}
	switch a.Kind {
	case "string", "bool", "int":
		if v.Type() != a.Kind {
			return nil, fmt.Errorf("got %s, want %s", v.Type(), a.Kind)
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
			if a.Kind == "string_list" {
				if err := strs("an element", e); err != nil {
					return nil, err
				}
			} else {
				var err error
				if e, err = w.toLabel(base, e); err != nil {
					return nil, err
				}
			}
			out = append(out, e)
		}
		return starlark.NewList(out), nil
	case "label":
		return w.toLabel(base, v)
	}
	return nil, fmt.Errorf("attr.%s is not supported", a.Kind)
}

// attrDict reads the attrs argument of repository_rule and tag_class.
func attrDict(c *fakebazel.Call) (map[string]*fakebazel.Attr, []string, error) {
	attrs := map[string]*fakebazel.Attr{}
	v, ok := c.Kwarg("attrs")
	if !ok || v == starlark.None {
		return attrs, nil, nil
	}
	d, ok := v.(*starlark.Dict)
	if !ok {
		return nil, nil, fmt.Errorf("%s: attrs is a %s, want a dict", c.Fn, v.Type())
	}
	var order []string
	for _, kv := range d.Items() {
		name, ok := starlark.AsString(kv[0])
		spec, ok2 := kv[1].(*fakebazel.Attr)
		if !ok || !ok2 {
			return nil, nil, fmt.Errorf("%s: attrs[%s] = %s, want a string key and an attr.* value", c.Fn, kv[0], kv[1].Type())
		}
		attrs[name] = spec
		order = append(order, name)
	}
	return attrs, order, nil
}

// declared is a repository declared with a repository rule.
type declared struct {
	rule   *fakebazel.Rule
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
	fmt.Fprintf(&b, "%s(", d.rule.Exported)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s, ", k, d.kwargs[k])
	}
	return strings.TrimSuffix(b.String(), ", ") + ")"
}

// callRule declares a repository, checking its attributes as Bazel does:
// keyword arguments only, a name, no unknown or private attribute, every
// mandatory one, values of the attributes' types. Build rules (pins_error.bzl
// defines one, which the hub's files load) are analysed by Bazel in the
// e2e tests, not here: calling one records nothing.
func (w *world) callRule(thread *starlark.Thread, r *fakebazel.Rule, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) > 0 {
		return nil, fmt.Errorf("%s: keyword arguments only", r.Exported)
	}
	if !r.Repository {
		return starlark.None, nil
	}
	attrs, order, err := attrDict(&r.Call)
	if err != nil {
		return nil, err
	}
	d := &declared{rule: r, kwargs: map[string]starlark.Value{}}
	for _, kv := range kwargs {
		k := string(kv[0].(starlark.String))
		if k == "name" {
			s, ok := kv[1].(starlark.String)
			if !ok || s == "" {
				return nil, fmt.Errorf("%s: name is %s, want a non-empty string", r.Exported, kv[1])
			}
			d.name = string(s)
			continue
		}
		a, ok := attrs[k]
		if !ok || strings.HasPrefix(k, "_") {
			return nil, fmt.Errorf("%s has no public attribute %s", r.Exported, k)
		}
		v, err := w.convert(a, w.ld.CallerLabel(thread), kv[1])
		if err != nil {
			return nil, fmt.Errorf("%s: attribute %s: %v", r.Exported, k, err)
		}
		d.kwargs[k] = v
	}
	if d.name == "" {
		return nil, fmt.Errorf("%s: no name", r.Exported)
	}
	for _, k := range order {
		if _, ok := d.kwargs[k]; attrs[k].Mandatory() && !ok {
			return nil, fmt.Errorf("%s %s: missing mandatory attribute %s", r.Exported, d.name, k)
		}
	}
	w.declared = append(w.declared, d)
	return starlark.None, nil
}

func (w *world) ruleNamed(name string) *fakebazel.Rule {
	r, ok := w.global("rules/private/pins_repo.bzl", name).(*fakebazel.Rule)
	if !ok || !r.Repository {
		w.t.Fatalf("no repository rule %s", name)
	}
	return r
}

// extension is a module extension: its implementation and tag classes.
type extension struct {
	impl       starlark.Value
	tagClasses map[string]*fakebazel.TagClass
}

// extensionNamed returns the module extension of one of rules_repro's
// files.
func (w *world) extensionNamed(path, name string) *extension {
	w.t.Helper()
	ext, ok := w.global(path, name).(*fakebazel.ModuleExtension)
	if !ok {
		w.t.Fatalf("%s: %s is not a module extension", path, name)
	}
	x := &extension{tagClasses: map[string]*fakebazel.TagClass{}}
	x.impl, _ = ext.Kwarg("implementation")
	if v, ok := ext.Kwarg("tag_classes"); ok {
		d, ok := v.(*starlark.Dict)
		if !ok {
			w.t.Fatalf("%s: %s: tag_classes is a %s, want a dict", path, name, v.Type())
		}
		for _, kv := range d.Items() {
			n, ok := starlark.AsString(kv[0])
			tc, ok2 := kv[1].(*fakebazel.TagClass)
			if !ok || !ok2 {
				w.t.Fatalf("%s: %s: tag_classes[%s] is not a tag_class", path, name, kv[0])
			}
			x.tagClasses[n] = tc
		}
	}
	return x
}

// tag is a tag of the class, as a module's tags list holds it: the given
// values, checked, and the other attributes' defaults.
func (w *world) tag(tc *fakebazel.TagClass, given map[string]starlark.Value) (starlark.Value, error) {
	attrs, order, err := attrDict(&tc.Call)
	if err != nil {
		return nil, err
	}
	fields := starlark.StringDict{}
	for k, v := range given {
		a, ok := attrs[k]
		if !ok {
			return nil, fmt.Errorf("the tag class has no attribute %s", k)
		}
		v, err := w.convert(a, w.ld.CallerLabel(w.thread), v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %v", k, err)
		}
		fields[k] = v
	}
	for _, k := range order {
		if _, ok := fields[k]; !ok {
			if attrs[k].Mandatory() {
				return nil, fmt.Errorf("missing mandatory attribute %s", k)
			}
			if fields[k], err = w.attrValue(attrs[k]); err != nil {
				return nil, err
			}
		}
	}
	return starlarkstruct.FromStringDict(starlark.String("tag"), fields), nil
}

// --- repository_ctx and module_ctx ----------------------------------------

// pathOf is repository_ctx.path: the main repository is at /workspace,
// repository REPO at /external/REPO, and a relative path is in the
// repository being fetched (repo; "" for a module extension's directory).
func pathOf(repo string, v starlark.Value) (path, error) {
	switch v := v.(type) {
	case *label:
		if v.Repo == "" {
			return path("/workspace/" + filepath.Join(v.Pkg, v.Name)), nil
		}
		return path("/external/" + v.Repo + "/" + filepath.Join(v.Pkg, v.Name)), nil
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
	specs, order, err := attrDict(&d.rule.Call)
	if err != nil {
		return err
	}
	attrs := starlark.StringDict{"name": starlark.String(d.name)}
	for _, k := range order {
		v, ok := d.kwargs[k]
		if !ok {
			if v, err = w.attrValue(specs[k]); err != nil {
				return err
			}
		}
		attrs[k] = v
	}
	impl, _ := d.rule.Kwarg("implementation")
	_, err = w.call(impl, starlark.Tuple{w.ctx(d.name, starlarkstruct.FromStringDict(starlark.String("attr"), attrs), nil)})
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
