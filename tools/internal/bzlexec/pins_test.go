package bzlexec

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/bazelbuild/buildtools/build"
)

// repoRoot is the repository root, relative to this package.
const repoRoot = "../../.."

// world is a fake Bazel for the pins .bzl files: it records the
// repositories declared, fetches them with mock repository contexts, and
// records the commands they run and the files they write.
type world struct {
	t        *testing.T
	in       *Interp
	rules    map[*Builtin]*ruleDef
	declared []*declared
	executed [][]string
	files    map[string]map[string]string // repository -> path -> content
	read     map[string]string            // label -> content
	// lockCheck is what `repro lock check` answers: exit code and stderr.
	lockCheckCode   int64
	lockCheckStderr string
	// issue 10: and stdout (the --json report).
	lockCheckStdout string
}

type ruleDef struct {
	name  string
	impl  Value
	attrs *Dict
}

type declared struct {
	rule   *ruleDef
	name   string
	kwargs map[string]Value
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
		fmt.Fprintf(&b, "%s = %s, ", k, repr(d.kwargs[k]))
	}
	return strings.TrimSuffix(b.String(), ", ") + ")"
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, rules: map[*Builtin]*ruleDef{}, files: map[string]map[string]string{}, read: map[string]string{}}
	attrFn := func(kind string) *Builtin {
		return builtin("attr."+kind, func(args []Value, kwargs []kwarg) (Value, error) {
			s := NewStruct("kind", kind, "default", None)
			for _, kw := range kwargs {
				s.set(kw.name, kw.v)
			}
			return s, nil
		})
	}
	attrs := NewStruct()
	for _, k := range []string{"label", "string", "string_dict", "bool", "label_list", "string_list", "int"} {
		attrs.set(k, attrFn(k))
	}
	predeclared := map[string]Value{
		"attr": attrs,
		"repository_rule": builtin("repository_rule", func(args []Value, kwargs []kwarg) (Value, error) {
			a, err := bindArgs("repository_rule", args, kwargs, "implementation", "attrs?", "doc?", "environ?", "local?", "configure?")
			if err != nil {
				return nil, err
			}
			def := &ruleDef{impl: a[0], attrs: newDict()}
			if d, ok := a[1].(*Dict); ok {
				def.attrs = d
			}
			var rule *Builtin
			rule = builtin("repository rule", func(args []Value, kwargs []kwarg) (Value, error) {
				if len(args) > 0 {
					return nil, errors.New("repository rules take keyword arguments only")
				}
				d := &declared{rule: def, kwargs: map[string]Value{}}
				for _, kw := range kwargs {
					if kw.name == "name" {
						d.name = str(kw.v)
						continue
					}
					if _, ok := def.attrs.get(kw.name); !ok {
						return nil, fmt.Errorf("%s has no attribute %s", def.name, kw.name)
					}
					d.kwargs[kw.name] = kw.v
				}
				w.declared = append(w.declared, d)
				return None, nil
			})
			w.rules[rule] = def
			return rule, nil
		}),
		"module_extension": builtin("module_extension", func(args []Value, kwargs []kwarg) (Value, error) {
			a, err := bindArgs("module_extension", args, kwargs, "implementation", "tag_classes?", "doc?")
			if err != nil {
				return nil, err
			}
			return NewStruct("implementation", a[0]), nil
		}),
		"tag_class": builtin("tag_class", func(args []Value, kwargs []kwarg) (Value, error) {
			return NewStruct(), nil
		}),
	}
	w.in = NewInterp(repoRoot, "rules_repro+", predeclared)
	// The toolchain repositories are not what these tests are about.
	w.in.Override("rules/private/toolchain_repo.bzl", map[string]Value{
		"repro_repositories": builtin("repro_repositories", func([]Value, []kwarg) (Value, error) { return None, nil }),
	})
	// issue 10: the hub's files load pins_error.bzl, which defines a build
	// rule; that rule (run by Bazel in e2e/test_pins.sh) is not what these
	// tests are about.
	w.in.Override("rules/private/pins_error.bzl", map[string]Value{
		"pinned_source": builtin("pinned_source", func([]Value, []kwarg) (Value, error) { return None, nil }),
		"pins_error":    builtin("pins_error", func([]Value, []kwarg) (Value, error) { return None, nil }),
	})
	m, err := w.in.Load("rules/private/pins_repo.bzl")
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range m.globals {
		if b, ok := v.(*Builtin); ok && w.rules[b] != nil {
			w.rules[b].name = name
		}
	}
	return w
}

// global returns a global of a loaded module, private ones included.
func (w *world) global(path, name string) Value {
	w.t.Helper()
	m, err := w.in.Load(path)
	if err != nil {
		w.t.Fatal(err)
	}
	v, ok := m.globals[name]
	if !ok {
		w.t.Fatalf("%s has no %s", path, name)
	}
	return v
}

var lockfileLabel = &Label{repo: "", pkg: "", name: "repro.lock.json"}

// ctx returns a mock repository_ctx (repo != "") or module_ctx.
func (w *world) ctx(repo string, attrs *Struct) *Struct {
	pathOf := func(v Value) (*Path, error) {
		switch v := v.(type) {
		case *Label:
			if v.repo == "" {
				return &Path{"/workspace/" + filepath.Join(v.pkg, v.name)}, nil
			}
			return &Path{"/external/" + v.repo + "/" + filepath.Join(v.pkg, v.name)}, nil
		case string:
			if strings.HasPrefix(v, "/") {
				return &Path{v}, nil
			}
			return &Path{"/external/" + repo + "/" + v}, nil
		case *Path:
			return v, nil
		}
		return nil, fmt.Errorf("path of %s", typeName(v))
	}
	c := NewStruct(
		"os", NewStruct("environ", newDict(), "name", "linux"),
		"path", builtin("path", func(args []Value, kwargs []kwarg) (Value, error) {
			a, err := bindArgs("path", args, kwargs, "path")
			if err != nil {
				return nil, err
			}
			return pathOf(a[0])
		}),
		"read", builtin("read", func(args []Value, kwargs []kwarg) (Value, error) {
			a, err := bindArgs("read", args, kwargs, "path", "watch?")
			if err != nil {
				return nil, err
			}
			content, ok := w.read[str(a[0])]
			if !ok {
				return nil, fmt.Errorf("read: no file %s", str(a[0]))
			}
			return content, nil
		}),
		"execute", builtin("execute", func(args []Value, kwargs []kwarg) (Value, error) {
			a, err := bindArgs("execute", args, kwargs, "arguments", "timeout?", "environment?", "quiet?", "working_directory?")
			if err != nil {
				return nil, err
			}
			elems, err := iterate(a[0])
			if err != nil {
				return nil, err
			}
			var argv []string
			for _, e := range elems {
				argv = append(argv, str(e))
			}
			w.executed = append(w.executed, argv)
			code, stdout, stderr := int64(0), "", ""
			if len(argv) > 2 && argv[1] == "lock" && argv[2] == "check" {
				code, stdout, stderr = w.lockCheckCode, w.lockCheckStdout, w.lockCheckStderr
			}
			return NewStruct("return_code", code, "stdout", stdout, "stderr", stderr), nil
		}),
	)
	if repo == "" {
		return c
	}
	c.set("attr", attrs)
	c.set("name", repo)
	c.set("file", builtin("file", func(args []Value, kwargs []kwarg) (Value, error) {
		a, err := bindArgs("file", args, kwargs, "path", "content?", "executable?", "legacy_utf8?")
		if err != nil {
			return nil, err
		}
		content := ""
		if a[1] != nil {
			if content, err = wantString("file", a[1]); err != nil {
				return nil, err
			}
		}
		if w.files[repo] == nil {
			w.files[repo] = map[string]string{}
		}
		w.files[repo][str(a[0])] = content
		return None, nil
	}))
	return c
}

// fetch runs the implementation of a declared repository.
func (w *world) fetch(d *declared) error {
	attrs := NewStruct("name", d.name)
	for i, k := range d.rule.attrs.keys {
		name := str(k)
		v, ok := d.kwargs[name]
		if !ok {
			def, _ := attr(d.rule.attrs.vals[i], "default")
			v = def
		}
		attrs.set(name, v)
	}
	_, err := w.in.Call(d.rule.impl, []Value{w.ctx(d.name, attrs)})
	return err
}

// bzlmod runs the pins module extension on the lockfile, as `pins.lockfile(
// name = "pins", lockfile = "//:repro.lock.json")` in MODULE.bazel does.
func (w *world) bzlmod() error {
	ext := w.global("rules/extensions.bzl", "pins").(*Struct)
	mctx := w.ctx("", nil)
	tag := NewStruct("name", "pins", "lockfile", lockfileLabel)
	mctx.set("modules", &List{elems: []Value{NewStruct("name", "root", "is_root", true, "tags", NewStruct("lockfile", &List{elems: []Value{tag}}))}})
	_, err := w.in.Call(ext.fields["implementation"], []Value{mctx})
	return err
}

// workspace runs what a WORKSPACE file does: repro_pins(name = "pins",
// lockfile = ...), fetching the hub, then loading its repositories.bzl and
// calling pins_repositories().
func (w *world) workspace() error {
	reproPins := w.global("rules/pins.bzl", "repro_pins")
	if _, err := w.in.Call(reproPins, nil, KW("name", "pins"), KW("lockfile", lockfileLabel)); err != nil {
		return err
	}
	if len(w.declared) != 1 || w.declared[0].rule.name != "repro_pins_hub" {
		w.t.Fatalf("repro_pins declared %v", w.declared)
	}
	hub := w.declared[0]
	w.declared = nil
	if err := w.fetch(hub); err != nil {
		return err
	}
	m, err := w.in.Exec("external/pins/repositories.bzl", []byte(w.files["pins"]["repositories.bzl"]))
	if err != nil {
		w.t.Fatalf("the hub's repositories.bzl: %v\n%s", err, w.files["pins"]["repositories.bzl"])
	}
	_, err = w.in.Call(m.globals["pins_repositories"], nil)
	return err
}

func (w *world) ranLockCheck() bool {
	for _, argv := range w.executed {
		// issue 10: --json, the report per entry.
		if len(argv) == 6 && strings.HasSuffix(argv[0], "/repro") && argv[1] == "lock" && argv[2] == "check" && argv[3] == "--lockfile" && argv[4] == "/workspace/repro.lock.json" && argv[5] == "--json" {
			return true
		}
	}
	return false
}

const (
	hexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hexB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	hexC = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

// lockfileJSON is a complete lockfile of one image; edit changes its entry.
func lockfileJSON(t *testing.T, name string, edit func(entry map[string]any)) string {
	entry := map[string]any{
		"digest":     "sha256:" + hexA,
		"identifier": "docker-image://registry.example.com/team/app:1.0",
		"image":      "registry.example.com/team/app:1.0",
		"media_type": "application/vnd.oci.image.index.v1+json",
		"platforms": map[string]any{
			"linux/amd64": map[string]any{"config": "sha256:" + hexB, "digest": "sha256:" + hexC},
		},
	}
	if edit != nil {
		edit(entry)
	}
	return mustJSON(t, map[string]any{"files": map[string]any{}, "images": map[string]any{name: entry}, "policy": []any{}, "version": 1})
}

// hostile is a value that ends a string literal, a call and a line.
const hostile = "r.example/a:1\")\nevil(name = \"x\\"

var hostileLockfiles = []struct {
	name, lockfile, want string
}{
	{"name", `"a\")\nx"`, `invalid name "a\")\nx"`},
	{"image", "image", `images.app.image is "r.example/a:1\")\nevil(name = \"x\\"`},
	{"identifier", "identifier", `images.app.identifier is "r.example/a:1\")\nevil(name = \"x\\"`},
	{"digest", "digest", `images.app.digest is "r.example/a:1\")\nevil(name = \"x\\"`},
	{"platform", "platform", `images.app.platforms has "r.example/a:1\")\nevil(name = \"x\\"`},
	{"platform digest", "platform digest", `images.app.platforms["linux/amd64"].digest is "r.example/a:1\")\nevil(name = \"x\\"`},
	{"config", "config", `images.app.platforms["linux/amd64"].config is "r.example/a:1\")\nevil(name = \"x\\"`},
}

func hostileLockfile(t *testing.T, field string) string {
	if strings.HasPrefix(field, `"`) {
		return lockfileJSON(t, "a\")\nx", nil)
	}
	return lockfileJSON(t, "app", func(e map[string]any) {
		plat := e["platforms"].(map[string]any)["linux/amd64"].(map[string]any)
		switch field {
		case "image", "identifier", "digest":
			e[field] = hostile
		case "platform":
			e["platforms"] = map[string]any{hostile: plat}
		case "platform digest":
			plat["digest"] = hostile
		case "config":
			plat["config"] = hostile
		}
	})
}

// TestHostileLockfileRefusedOnBothPaths checks that the bzlmod extension
// and the WORKSPACE hub both run `repro lock check` and the same Starlark
// check of every value they declare repositories from, before declaring
// any: a value that could break out of a generated file fails, naming the
// entry and the value (quoted), even when `repro lock check` lets it pass.
func TestHostileLockfileRefusedOnBothPaths(t *testing.T) {
	for _, tc := range hostileLockfiles {
		for _, path := range []string{"bzlmod", "WORKSPACE"} {
			t.Run(tc.name+"/"+path, func(t *testing.T) {
				w := newWorld(t)
				w.read[lockfileLabel.String()] = hostileLockfile(t, tc.lockfile)
				var err error
				if path == "bzlmod" {
					err = w.bzlmod()
				} else {
					err = w.workspace()
				}
				var fe *FailError
				if !errors.As(err, &fe) || !strings.Contains(fe.Msg, tc.want) {
					t.Errorf("got %v\nwant fail() with %s", err, tc.want)
				}
				if !w.ranLockCheck() {
					t.Errorf("repro lock check was not run (commands: %q)", w.executed)
				}
				if len(w.declared) > 0 {
					t.Errorf("repositories declared from a hostile lockfile: %v", w.declared)
				}
			})
		}
	}
}

// TestLockCheckFailureStopsBothPaths checks that a lockfile `repro lock
// check` refuses declares nothing, on either path. Issue 10: without
// failing the fetch (which would fail every Bazel command, including the
// one that fixes the lockfile): the hub carries the message instead, and
// an entry refused alone gets a failing target instead of repositories.
func TestLockCheckFailureStopsBothPaths(t *testing.T) {
	for _, tc := range []struct{ name, stdout, want string }{
		{"whole file", "", "images.app.digest: missing; run repro lock update"},
		{"one entry", `{"problems":[{"kind":"images","name":"app","path":"images.app.digest","message":"missing; run repro lock update"}],"warnings":[],"canonical":true}`, "images.app.digest: missing; run repro lock update"},
	} {
		for _, path := range []string{"bzlmod", "WORKSPACE"} {
			w := newWorld(t)
			w.read[lockfileLabel.String()] = lockfileJSON(t, "app", nil)
			w.lockCheckCode, w.lockCheckStderr, w.lockCheckStdout = 1, "images.app.digest: missing; run repro lock update", tc.stdout
			var err error
			if path == "bzlmod" {
				err = w.bzlmod()
			} else {
				err = w.workspace()
			}
			if err != nil {
				t.Errorf("%s/%s: got %v, want no fail()", tc.name, path, err)
			}
			for _, d := range w.declared {
				if d.rule.name != "repro_pins_hub" {
					t.Errorf("%s/%s: repositories declared although lock check failed: %v", tc.name, path, w.declared)
				} else if err := w.fetch(d); err != nil {
					t.Fatal(err)
				}
			}
			hub := w.files["pins"]["BUILD.bazel"] + w.files["pins"]["defs.bzl"]
			if !strings.Contains(hub, tc.want) {
				t.Errorf("%s/%s: the hub does not carry %q:\n%s", tc.name, path, tc.want, hub)
			}
			if tc.name == "one entry" {
				if rules := parseBuild(t, w.files["pins"]["BUILD.bazel"]); rules["app"] == nil || !strings.Contains(rules["app"]["message"], "bazel run @rules_repro//:lock -- update --name app") {
					t.Errorf("%s: no failing target for app: %v", path, rules)
				}
			}
		}
	}
}

// TestBothPathsDeclareTheSameRepositories checks a valid lockfile: the two
// paths declare the same repositories with the lockfile's values, and every
// generated file parses with the values intact.
func TestBothPathsDeclareTheSameRepositories(t *testing.T) {
	var got [2][]string
	for i, path := range []string{"bzlmod", "WORKSPACE"} {
		w := newWorld(t)
		w.read[lockfileLabel.String()] = lockfileJSON(t, "app", func(e map[string]any) {
			e["platforms"].(map[string]any)["linux/arm64/v8"] = map[string]any{"config": "sha256:" + hexC, "digest": "sha256:" + hexB}
		})
		var err error
		if path == "bzlmod" {
			err = w.bzlmod()
		} else {
			err = w.workspace()
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !w.ranLockCheck() {
			t.Errorf("%s: repro lock check was not run (commands: %q)", path, w.executed)
		}
		for _, d := range w.declared {
			if d.rule.name == "repro_pins_hub" { // declared by the extension; the WORKSPACE file declares it itself
				if path != "bzlmod" || d.name != "pins" || d.kwargs["lockfile"] != lockfileLabel {
					t.Errorf("%s: hub %s", path, d)
				}
				if err := w.fetch(d); err != nil {
					t.Fatalf("fetching the hub: %v", err)
				}
				continue
			}
			got[i] = append(got[i], d.name+": "+d.String())
		}
		sort.Strings(got[i])
		hub := parseBuild(t, w.files["pins"]["BUILD.bazel"])
		if len(hub) != 1 || hub["app"]["actual"] != "@pins_app//:image" {
			t.Errorf("%s: hub BUILD.bazel: %v", path, hub)
		}
		// Fetch the image repository and check its BUILD file.
		for _, d := range w.declared {
			if d.rule.name != "repro_pinned_image" {
				continue
			}
			if err := w.fetch(d); err != nil {
				t.Fatalf("%s: fetching %s: %v", path, d.name, err)
			}
			rules := parseBuild(t, w.files[d.name]["BUILD.bazel"])
			if ref := rules["image"]["reference"]; ref != "registry.example.com/team/app:1.0" {
				t.Errorf("%s: reference = %q", path, ref)
			}
			if bn := rules["linux_arm64_v8"]["base_name"]; bn != "registry.example.com/team/app:1.0@sha256:"+hexA {
				t.Errorf("%s: base_name = %q", path, bn)
			}
		}
	}
	want := []string{
		"pins_app: repro_pinned_image(blobs_prefix = \"pins_app\", configs = {\"linux/amd64\": \"sha256:" + hexB + "\", \"linux/arm64/v8\": \"sha256:" + hexC + "\"}, digest = \"sha256:" + hexA + "\", image = \"registry.example.com/team/app:1.0\", platforms = {\"linux/amd64\": \"sha256:" + hexC + "\", \"linux/arm64/v8\": \"sha256:" + hexB + "\"})",
		"pins_app_linux_amd64_blobs: repro_pinned_blobs(digest = \"sha256:" + hexA + "\", image = \"registry.example.com/team/app:1.0\", manifest = \"sha256:" + hexC + "\", platform = \"linux/amd64\")",
		"pins_app_linux_arm64_v8_blobs: repro_pinned_blobs(digest = \"sha256:" + hexA + "\", image = \"registry.example.com/team/app:1.0\", manifest = \"sha256:" + hexB + "\", platform = \"linux/arm64/v8\")",
	}
	if !reflect.DeepEqual(got[0], want) || !reflect.DeepEqual(got[1], want) {
		t.Errorf("declared repositories:\nbzlmod:    %q\nWORKSPACE: %q\nwant:      %q", got[0], got[1], want)
	}
}

// TestGeneratedFilesHoldHostileValues fetches a pinned image repository
// whose attributes hold quotes, newlines, parentheses and backslashes (the
// checks keep such values out, so this is the second wall): the BUILD file
// must parse and hold each value intact, and declare nothing else.
func TestGeneratedFilesHoldHostileValues(t *testing.T) {
	w := newWorld(t)
	platforms := newDict()
	platforms.set("linux/amd64", "sha256:"+hexC)
	configs := newDict()
	configs.set("linux/amd64", "sha256:"+hexB)
	d := &declared{rule: w.ruleNamed("repro_pinned_image"), name: "pins_app", kwargs: map[string]Value{
		"image": hostile, "digest": "sha256:" + hexA, "platforms": platforms, "configs": configs, "blobs_prefix": "pins_app",
	}}
	if err := w.fetch(d); err != nil {
		t.Fatal(err)
	}
	text := w.files["pins_app"]["BUILD.bazel"]
	rules := parseBuild(t, text)
	if len(rules) != 2 || rules["image"] == nil || rules["linux_amd64"] == nil {
		t.Fatalf("rules %v in\n%s", rules, text)
	}
	if got := rules["image"]["reference"]; got != hostile {
		t.Errorf("reference = %q, want %q\n%s", got, hostile, text)
	}
	if got, want := rules["linux_amd64"]["base_name"], hostile+"@sha256:"+hexA; got != want {
		t.Errorf("base_name = %q, want %q\n%s", got, want, text)
	}
}

// TestHubFilesHoldHostileValues generates the hub's files from values
// with quotes, newlines, parentheses and backslashes (the checks keep them
// out of a lockfile; a label may hold quotes): each file must parse, hold
// the values intact, and define nothing else.
func TestHubFilesHoldHostileValues(t *testing.T) {
	w := newWorld(t)
	images, err := jsonDecode(mustJSON(t, map[string]any{
		"ok": map[string]any{"image": hostile, "identifier": "docker-image://" + hostile},
	}))
	if err != nil {
		t.Fatal(err)
	}
	label := &Label{repo: "", pkg: "third_party", name: "repro\"lock).json"}
	v, err := w.in.Call(w.global("rules/private/pins_repo.bzl", "_hub_files"), []Value{"my-pins", label, images})
	if err != nil {
		t.Fatal(err)
	}
	files := v.(*Dict)
	file := func(name string) string { f, _ := files.get(name); return f.(string) }

	if rules := parseBuild(t, file("BUILD.bazel")); len(rules) != 1 || rules["ok"]["actual"] != "@my-pins_ok//:image" {
		t.Errorf("BUILD.bazel: %v\n%s", rules, file("BUILD.bazel"))
	}
	for _, name := range []string{"defs.bzl", "repositories.bzl"} {
		if _, err := build.ParseBzl(name, []byte(file(name))); err != nil {
			t.Fatalf("%s does not parse: %v\n%s", name, err, file(name))
		}
	}
	w.read[label.String()] = ""
	defs, err := w.in.Exec("external/my-pins/defs.bzl", []byte(file("defs.bzl")))
	if err != nil {
		t.Fatalf("defs.bzl: %v\n%s", err, file("defs.bzl"))
	}
	want := map[string]any{hostile: "@my-pins_ok//:image", "docker-image://" + hostile: "@my-pins_ok//:image"}
	if got := goValue(defs.globals["PINNED"]); !reflect.DeepEqual(got, want) {
		t.Errorf("PINNED = %v, want %v", got, want)
	}
	if got := defs.globals["_LOCKFILE"]; got != label.String() {
		t.Errorf("_LOCKFILE = %q, want %q", got, label.String())
	}
	if got := defs.globals["_LOCKFILE_PATH"]; got != label.name {
		t.Errorf("_LOCKFILE_PATH = %q, want %q", got, label.name)
	}
	// issue 10: pinned_source (loaded), _PROBLEM, FILES, _hub_label, pinned_file.
	if len(defs.globals) != 9 || defs.globals["pinned"] == nil {
		t.Errorf("defs.bzl defines %v", sortedGlobals(defs))
	}
	repos, err := w.in.Exec("external/my-pins/repositories.bzl", []byte(file("repositories.bzl")))
	if err != nil {
		t.Fatalf("repositories.bzl: %v\n%s", err, file("repositories.bzl"))
	}
	if got, want := goValue(repos.globals["_LOCK"]), map[string]any{"images": map[string]any{"ok": map[string]any{"image": hostile, "identifier": "docker-image://" + hostile, "platforms": map[string]any{}}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("_LOCK = %v", got)
	}
	if _, ok := repos.globals["my_pins_repositories"]; !ok || len(repos.globals) != 3 {
		t.Errorf("repositories.bzl defines %v", sortedGlobals(repos))
	}
}

func sortedGlobals(m *Module) []string {
	var names []string
	for k := range m.globals {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func (w *world) ruleNamed(name string) *ruleDef {
	for _, r := range w.rules {
		if r.name == name {
			return r
		}
	}
	w.t.Fatalf("no repository rule %s", name)
	return nil
}

// parseBuild parses a BUILD file and returns its rules' string attributes
// by rule name.
func parseBuild(t *testing.T, text string) map[string]map[string]string {
	t.Helper()
	f, err := build.ParseBuild("BUILD.bazel", []byte(text))
	if err != nil {
		t.Fatalf("the generated BUILD file does not parse: %v\n%s", err, text)
	}
	rules := map[string]map[string]string{}
	for _, r := range f.Rules("") {
		if r.Kind() == "package" {
			continue
		}
		attrs := map[string]string{}
		for _, k := range r.AttrKeys() {
			if s, ok := r.Attr(k).(*build.StringExpr); ok {
				attrs[k] = s.Value
			}
		}
		rules[r.Name()] = attrs
	}
	return rules
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestNonCanonicalLockfileIsUsable (issue 10): a lockfile whose only
// problem is its canonical form (which changes no pin) declares its
// repositories on both paths.
func TestNonCanonicalLockfileIsUsable(t *testing.T) {
	for _, path := range []string{"bzlmod", "WORKSPACE"} {
		w := newWorld(t)
		w.read[lockfileLabel.String()] = lockfileJSON(t, "app", nil)
		w.lockCheckCode, w.lockCheckStdout = 1, `{"problems":[],"warnings":[],"canonical":false}`
		var err error
		if path == "bzlmod" {
			err = w.bzlmod()
		} else {
			err = w.workspace()
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		n := 0
		for _, d := range w.declared {
			if d.rule.name == "repro_pinned_image" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: declared %v, want the image", path, w.declared)
		}
	}
}

// TestFilesDeclaredOnBothPaths (issue 10): every usable file of the
// lockfile is a repository with its URL and sha256 on both paths, behind a
// hub alias; a file lock check reports (say, denied) is not declared and
// gets a failing target naming it.
func TestFilesDeclaredOnBothPaths(t *testing.T) {
	lockfile := mustJSON(t, map[string]any{
		"files": map[string]any{
			"tool":   map[string]any{"sha256": hexA, "url": "https://files.example.com/tool-1.0.tar.gz"},
			"denied": map[string]any{"sha256": hexB, "url": "https://evil.example.com/x.tar"},
		},
		"images": map[string]any{}, "policy": []any{}, "version": 1,
	})
	report := `{"problems":[{"kind":"files","name":"denied","path":"files.denied","message":"source https://evil.example.com/x.tar is denied by the policy: policy[0] (DENY WILDCARD \"https://evil.example.com/*\")"}],"warnings":[],"canonical":true}`
	for _, path := range []string{"bzlmod", "WORKSPACE"} {
		w := newWorld(t)
		w.read[lockfileLabel.String()] = lockfile
		w.lockCheckCode, w.lockCheckStdout = 1, report
		var err error
		if path == "bzlmod" {
			err = w.bzlmod()
		} else {
			err = w.workspace()
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var got []string
		for _, d := range w.declared {
			if d.rule.name == "repro_pins_hub" {
				if err := w.fetch(d); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got = append(got, d.name+": "+d.String())
		}
		want := []string{`pins_tool: repro_pinned_file(sha256 = "` + hexA + `", url = "https://files.example.com/tool-1.0.tar.gz")`}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: declared %q, want %q", path, got, want)
		}
		rules := parseBuild(t, w.files["pins"]["BUILD.bazel"])
		if rules["tool"]["actual"] != "@pins_tool//file" {
			t.Errorf("%s: hub alias of tool: %v", path, rules["tool"])
		}
		if msg := rules["denied"]["message"]; !strings.Contains(msg, `the file "https://evil.example.com/x.tar" (files.denied in`) || !strings.Contains(msg, "is denied by the policy: policy[0]") || !strings.Contains(msg, "remove or narrow that rule") {
			t.Errorf("%s: failing target of the denied file: %q", path, msg)
		}
	}
}
