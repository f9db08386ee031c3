package bzlexec

import (
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/bazelbuild/buildtools/build"
	"github.com/rules-repro/rules_repro/tools/internal/fakebazel"
	starjson "go.starlark.net/lib/json"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// lockfileLabel is the lockfile of the tests, at lockfilePath.
var lockfileLabel = &label{Repo: "", Pkg: "", Name: "repro.lock.json"}

const lockfilePath = "/workspace/repro.lock.json"

// bzlmod runs the pins module extension on the lockfile, as `pins.lockfile(
// name = "pins", lockfile = "//:repro.lock.json")` in MODULE.bazel does.
func (w *world) bzlmod() error {
	ext := w.extensionNamed("rules/extensions.bzl", "pins")
	if ext.tagClasses["lockfile"] == nil {
		w.t.Fatalf("rules/extensions.bzl: pins is not a module extension with a lockfile tag class")
	}
	tag, err := w.tag(ext.tagClasses["lockfile"], map[string]starlark.Value{"name": starlark.String("pins"), "lockfile": lockfileLabel})
	if err != nil {
		w.t.Fatalf("pins.lockfile(name = \"pins\", lockfile = %s): %v", lockfileLabel, err)
	}
	mod := starlarkstruct.FromStringDict(starlark.String("bazel_module"), starlark.StringDict{
		"name": starlark.String("root"), "version": starlark.String(""), "is_root": starlark.True,
		"tags": starlarkstruct.FromStringDict(starlark.String("bazel_module_tags"), starlark.StringDict{"lockfile": starlark.NewList([]starlark.Value{tag})}),
	})
	mctx := w.ctx("", nil, starlark.StringDict{"modules": starlark.NewList([]starlark.Value{mod})})
	_, err = w.call(ext.impl, starlark.Tuple{mctx})
	return err
}

// workspace runs what a WORKSPACE file does: repro_pins(name = "pins",
// lockfile = ...), fetching the hub, then loading its repositories.bzl and
// calling pins_repositories().
func (w *world) workspace() error {
	reproPins := w.global("rules/pins.bzl", "repro_pins")
	if _, err := w.call(reproPins, nil, kw("name", starlark.String("pins")), kw("lockfile", lockfileLabel)); err != nil {
		return err
	}
	if len(w.declared) != 1 || w.declared[0].rule.Exported != "repro_pins_hub" {
		w.t.Fatalf("repro_pins declared %v", w.declared)
	}
	hub := w.declared[0]
	w.declared = nil
	if err := w.fetch(hub); err != nil {
		return err
	}
	g, err := w.load(w.thread, "@pins//:repositories.bzl")
	if err != nil {
		w.t.Fatalf("the hub's repositories.bzl: %s\n%s", describe(err), w.files["pins"]["repositories.bzl"])
	}
	_, err = w.call(g["pins_repositories"], nil)
	return err
}

// declarePins declares the pins from the lockfile the bzlmod way or the
// WORKSPACE way.
func (w *world) declarePins(path string) error {
	if path == "bzlmod" {
		return w.bzlmod()
	}
	return w.workspace()
}

func (w *world) ranLockCheck() bool {
	for _, argv := range w.executed {
		// --json: the report per entry (issue 10).
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
				w.read[lockfilePath] = hostileLockfile(t, tc.lockfile)
				err := w.declarePins(path)
				var fe *fakebazel.FailError
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
// check` refuses declares nothing, on either path, without failing the
// fetch (which would fail every Bazel command, including the one that fixes
// the lockfile, issue 10): the hub carries the message instead, and an
// entry refused alone gets a failing target instead of repositories.
func TestLockCheckFailureStopsBothPaths(t *testing.T) {
	for _, tc := range []struct{ name, stdout, want string }{
		{"whole file", "", "images.app.digest: missing; run repro lock update"},
		{"one entry", `{"problems":[{"kind":"images","name":"app","path":"images.app.digest","message":"missing; run repro lock update"}],"warnings":[],"canonical":true}`, "images.app.digest: missing; run repro lock update"},
	} {
		for _, path := range []string{"bzlmod", "WORKSPACE"} {
			w := newWorld(t)
			w.read[lockfilePath] = lockfileJSON(t, "app", nil)
			w.lockCheckCode, w.lockCheckStderr, w.lockCheckStdout = 1, "images.app.digest: missing; run repro lock update", tc.stdout
			err := w.declarePins(path)
			if err != nil {
				t.Errorf("%s/%s: got %v, want no fail()", tc.name, path, describe(err))
			}
			for _, d := range w.declared {
				if d.rule.Exported != "repro_pins_hub" {
					t.Errorf("%s/%s: repositories declared although lock check failed: %v", tc.name, path, w.declared)
				} else if err := w.fetch(d); err != nil {
					t.Fatal(describe(err))
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
		w.read[lockfilePath] = lockfileJSON(t, "app", func(e map[string]any) {
			e["platforms"].(map[string]any)["linux/arm64/v8"] = map[string]any{"config": "sha256:" + hexC, "digest": "sha256:" + hexB}
		})
		err := w.declarePins(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !w.ranLockCheck() {
			t.Errorf("%s: repro lock check was not run (commands: %q)", path, w.executed)
		}
		for _, d := range w.declared {
			if d.rule.Exported == "repro_pins_hub" { // declared by the extension; the WORKSPACE file declares it itself
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
			if d.rule.Exported != "repro_pinned_image" {
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
	platforms := starlark.NewDict(1)
	platforms.SetKey(starlark.String("linux/amd64"), starlark.String("sha256:"+hexC))
	configs := starlark.NewDict(1)
	configs.SetKey(starlark.String("linux/amd64"), starlark.String("sha256:"+hexB))
	d := &declared{rule: w.ruleNamed("repro_pinned_image"), name: "pins_app", kwargs: map[string]starlark.Value{
		"image": starlark.String(hostile), "digest": starlark.String("sha256:" + hexA), "platforms": platforms, "configs": configs, "blobs_prefix": starlark.String("pins_app"),
	}}
	if err := w.fetch(d); err != nil {
		t.Fatal(describe(err))
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
	images, err := w.call(starjson.Module.Members["decode"], starlark.Tuple{starlark.String(mustJSON(t, map[string]any{
		"ok": map[string]any{"image": hostile, "identifier": "docker-image://" + hostile},
	}))})
	if err != nil {
		t.Fatal(describe(err))
	}
	lockfile := &label{Repo: "", Pkg: "third_party", Name: "repro\"lock).json"}
	v, err := w.call(w.global("rules/private/pins_repo.bzl", "_hub_files"), starlark.Tuple{starlark.String("my-pins"), lockfile, images})
	if err != nil {
		t.Fatal(describe(err))
	}
	files := map[string]string{}
	for k, v := range goValue(v).(map[string]any) {
		files[k] = v.(string)
	}
	if rules := parseBuild(t, files["BUILD.bazel"]); len(rules) != 1 || rules["ok"]["actual"] != "@my-pins_ok//:image" {
		t.Errorf("BUILD.bazel: %v\n%s", rules, files["BUILD.bazel"])
	}
	for _, name := range []string{"defs.bzl", "repositories.bzl"} {
		if _, err := build.ParseBzl(name, []byte(files[name])); err != nil {
			t.Fatalf("%s does not parse: %v\n%s", name, err, files[name])
		}
	}
	// The hub's files, as Bazel loads them from @my-pins.
	w.files["my-pins"] = files
	defs, err := w.load(w.thread, "@my-pins//:defs.bzl")
	if err != nil {
		t.Fatalf("defs.bzl: %s\n%s", describe(err), files["defs.bzl"])
	}
	want := map[string]any{hostile: "@my-pins_ok//:image", "docker-image://" + hostile: "@my-pins_ok//:image"}
	if got := goValue(defs["PINNED"]); !reflect.DeepEqual(got, want) {
		t.Errorf("PINNED = %v, want %v", got, want)
	}
	if got := goValue(defs["_LOCKFILE"]); got != lockfile.String() {
		t.Errorf("_LOCKFILE = %q, want %q", got, lockfile.String())
	}
	if got := goValue(defs["_LOCKFILE_PATH"]); got != lockfile.Name {
		t.Errorf("_LOCKFILE_PATH = %q, want %q", got, lockfile.Name)
	}
	// pinned_source, loaded from pins_error.bzl, is file-local (issue 10
	// added FILES, _PROBLEM, _hub_label and pinned_file).
	if got, want := defs.Keys(), []string{"FILES", "PINNED", "_LOCKFILE", "_LOCKFILE_PATH", "_PROBLEM", "_hub_label", "pinned", "pinned_file"}; !reflect.DeepEqual(got, want) {
		t.Errorf("defs.bzl defines %v, want %v", got, want)
	}
	repos, err := w.load(w.thread, "@my-pins//:repositories.bzl")
	if err != nil {
		t.Fatalf("repositories.bzl: %s\n%s", describe(err), files["repositories.bzl"])
	}
	if got, want := goValue(repos["_LOCK"]), map[string]any{"images": map[string]any{"ok": map[string]any{"image": hostile, "identifier": "docker-image://" + hostile, "platforms": map[string]any{}}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("_LOCK = %v", got)
	}
	// The load of repro_pins_repositories binds a file-local name, which is
	// not among the globals.
	if got, want := repos.Keys(), []string{"_LOCK", "my_pins_repositories"}; !reflect.DeepEqual(got, want) {
		t.Errorf("repositories.bzl defines %v, want %v", got, want)
	}
	// my_pins_repositories calls repro_pins_repositories (loaded from
	// rules_repro), which checks the values again and declares nothing
	// from these.
	_, err = w.call(repos["my_pins_repositories"], nil)
	var fe *fakebazel.FailError
	if !errors.As(err, &fe) || !strings.Contains(fe.Msg, "images.ok.image is "+starlark.String(hostile).String()) {
		t.Errorf("my_pins_repositories(): got %v, want fail() naming images.ok.image", describe(err))
	}
	if len(w.declared) > 0 {
		t.Errorf("repositories declared from hostile values: %v", w.declared)
	}
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
		w.read[lockfilePath] = lockfileJSON(t, "app", nil)
		w.lockCheckCode, w.lockCheckStdout = 1, `{"problems":[],"warnings":[],"canonical":false}`
		err := w.declarePins(path)
		if err != nil {
			t.Fatalf("%s: %s", path, describe(err))
		}
		n := 0
		for _, d := range w.declared {
			if d.rule.Exported == "repro_pinned_image" {
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
		w.read[lockfilePath] = lockfile
		w.lockCheckCode, w.lockCheckStdout = 1, report
		err := w.declarePins(path)
		if err != nil {
			t.Fatalf("%s: %s", path, describe(err))
		}
		var got []string
		for _, d := range w.declared {
			if d.rule.Exported == "repro_pins_hub" {
				if err := w.fetch(d); err != nil {
					t.Fatal(describe(err))
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
