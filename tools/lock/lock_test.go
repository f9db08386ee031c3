package lock

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rules-repro/rules_repro/tools/policy"
)

const (
	goldenLock   = "testdata/complete.lock.json"
	goldenPolicy = "testdata/complete.policy.json"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustParse(t testing.TB, data []byte) *Lockfile {
	t.Helper()
	l, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, data)
	}
	return l
}

func mustMarshal(t testing.TB, l *Lockfile) []byte {
	t.Helper()
	data, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// variant returns the golden lockfile with edit applied to its JSON tree,
// in canonical form.
func variant(t *testing.T, edit func(top map[string]any)) []byte {
	t.Helper()
	var top map[string]any
	if err := json.Unmarshal(readFile(t, goldenLock), &top); err != nil {
		t.Fatal(err)
	}
	edit(top)
	data, err := encodeIndent(top)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func obj(v any, path ...string) map[string]any {
	m := v.(map[string]any)
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

func TestGoldenIsCanonicalAndComplete(t *testing.T) {
	data := readFile(t, goldenLock)
	l := mustParse(t, data)
	if got := mustMarshal(t, l); !bytes.Equal(got, data) {
		t.Errorf("Marshal differs from the golden file:\n%s", got)
	}
	rep := Check(data)
	if len(rep.Problems) != 0 || len(rep.Warnings) != 0 {
		t.Errorf("Check: problems %v, warnings %v", rep.Problems, rep.Warnings)
	}
	if !fullyPinned(l.Images["base"]) || !fullyPinned(l.Images["single"]) {
		t.Error("images not Pinned")
	}
	// Starlark's json.decode reads what encoding/json reads; spot-check the
	// shape the repository rules index into.
	var generic struct {
		Version int `json:"version"`
		Images  map[string]struct {
			Digest    string `json:"digest"`
			Platforms map[string]struct {
				Digest, Config string
			} `json:"platforms"`
		} `json:"images"`
		Files map[string]struct {
			URL    string `json:"url"`
			SHA256 string `json:"sha256"`
		} `json:"files"`
		Policy []any `json:"policy"`
	}
	if err := json.Unmarshal(data, &generic); err != nil {
		t.Fatal(err)
	}
	if generic.Version != 1 || generic.Images["base"].Platforms["linux/arm64"].Config == "" || generic.Files["tool"].SHA256 == "" || len(generic.Policy) != 3 {
		t.Errorf("shape: %+v", generic)
	}
}

func TestMarshalEmptyAndIncomplete(t *testing.T) {
	l := New()
	if err := l.AddImage("base", "alpine", nil, false); err != nil {
		t.Fatal(err)
	}
	if err := l.AddImage("multi", "ghcr.io/org/app:1.2", []string{"linux/arm64", "linux/amd64"}, false); err != nil {
		t.Fatal(err)
	}
	want := `{
  "files": {},
  "images": {
    "base": {
      "identifier": "docker-image://docker.io/library/alpine:latest",
      "image": "alpine",
      "platforms": {}
    },
    "multi": {
      "identifier": "docker-image://ghcr.io/org/app:1.2",
      "image": "ghcr.io/org/app:1.2",
      "platforms": {
        "linux/amd64": {},
        "linux/arm64": {}
      }
    }
  },
  "policy": [],
  "version": 1
}
`
	got := mustMarshal(t, l)
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if again := mustMarshal(t, mustParse(t, got)); !bytes.Equal(again, got) {
		t.Errorf("not stable:\n%s", again)
	}
	// The minimal hand-written form parses too.
	mustParse(t, []byte(`{"version": 1, "images": {"b": {"image": "alpine:3", "platforms": {"linux/amd64": {}}}}}`))
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want []string // substrings of the error, all required
	}{
		{"not JSON", []byte(`{"version": 1,`), []string{"unexpected end of input"}},
		{"trailing data", []byte(`{"version": 1} {}`), []string{"after the top-level object"}},
		{"no version", []byte(`{"images": {}}`), []string{`no "version"`}},
		{"version 2", []byte(`{"version": 2}`), []string{"version: want 1, found the number 2"}},
		{"unknown field", []byte(`{"version": 1, "image": {}}`), []string{`unknown field "image"`}},
		{"field case", []byte(`{"version": 1, "Images": {}}`), []string{`unknown field "Images"`}},
		{"duplicate image", []byte(`{"version": 1, "images": {"a": {"image": "x"}, "a": {"image": "y"}}}`), []string{"images.a: key given twice"}},
		{"images not object", []byte(`{"version": 1, "images": []}`), []string{"images: want an object, found an array"}},
		{"image not string", []byte(`{"version": 1, "images": {"a": {"image": 3}}}`), []string{"images.a.image: want a string"}},
		{"platform entry field", []byte(`{"version": 1, "images": {"a": {"image": "x", "platforms": {"linux/amd64": {"manifest": ""}}}}}`), []string{`images.a.platforms.linux/amd64: unknown field "manifest"`}},
		{"policy not array", []byte(`{"version": 1, "policy": {}}`), []string{"policy: want an array of rules"}},
		{"policy bad enum", []byte(`{"version": 1, "policy": [{"action": "deny", "selector": {"identifier": "x"}}]}`), []string{`policy[0].action: unknown action "deny"`}},
		{"image with digest", variant(t, func(m map[string]any) {
			obj(m, "images", "base")["image"] = "registry.example.com/distroless/static:nonroot@sha256:" + strings.Repeat("1", 64)
		}), []string{"images.base.image:", "has a digest; give the tag only"}},
		{"several problems listed", variant(t, func(m map[string]any) {
			obj(m, "images", "base")["digest"] = "sha256:abc"
			obj(m, "images", "base")["media_type"] = "application/json"
			obj(m, "images", "base", "platforms", "linux/arm64")["config"] = "sha512:" + strings.Repeat("a", 128)
			obj(m, "files", "tool")["sha256"] = strings.Repeat("A", 64)
		}), []string{"4 problems", "images.base.digest: \"sha256:abc\" is not a sha256 digest", `images.base.media_type: unknown media type "application/json"`,
			"images.base.platforms.linux/arm64.config", "files.tool.sha256"}},
		{"bad names", []byte(`{"version": 1, "images": {"1base": {"image": "a"}, "my-base": {"image": "b"}}}`), []string{"images.1base: invalid name", "images.my-base: invalid name"}},
		{"bad reference", []byte(`{"version": 1, "images": {"a": {"image": "Upper/Case"}}}`), []string{"images.a.image", "lowercase"}},
		{"not an image", []byte(`{"version": 1, "images": {"a": {"image": "https://example.com/x"}}}`), []string{"images.a.image", "not an image reference"}},
		{"identifier not normalized", variant(t, func(m map[string]any) {
			obj(m, "images", "base")["identifier"] = "docker-image://alpine"
		}), []string{"images.base.identifier", "not a normalized image identifier"}},
		{"same image twice", []byte(`{"version": 1, "images": {"a": {"image": "alpine"}, "b": {"image": "docker.io/library/alpine:latest"}}}`), []string{"images.b.image: docker-image://docker.io/library/alpine:latest is also images.a"}},
		{"bad platform", []byte(`{"version": 1, "images": {"a": {"image": "alpine", "platforms": {"linux": {}}}}}`), []string{"images.a.platforms.linux", "invalid platform"}},
		{"file URL scheme", []byte(`{"version": 1, "files": {"f": {"url": "ftp://example.com/x"}}}`), []string{"files.f.url", "http:// or https://"}},
		{"file URL credentials", []byte(`{"version": 1, "files": {"f": {"url": "https://user:hunter2@example.com/x"}}}`), []string{"files.f.url", "credentials"}},
		{"file without URL", []byte(`{"version": 1, "files": {"f": {}}}`), []string{"files.f.url: missing"}},
		{"name used twice", []byte(`{"version": 1, "images": {"x": {"image": "alpine"}}, "files": {"x": {"url": "https://example.com/x"}}}`), []string{"files.x: the name is also used by images.x"}},
		{"same URL twice", []byte(`{"version": 1, "files": {"a": {"url": "https://example.com/x"}, "b": {"url": "https://example.com/x"}}}`), []string{"files.b.url: also files.a"}},
		{"pin in policy", []byte(`{"version": 1, "policy": [{"action": "CONVERT", "selector": {"identifier": "docker-image://docker.io/library/alpine:3", "match_type": "EXACT"},
			"updates": {"identifier": "docker-image://docker.io/library/alpine:3@sha256:` + strings.Repeat("a", 64) + `"}}]}`), []string{"policy[0]: pins docker-image://docker.io/library/alpine:3, which has no entry in images"}},
		{"file pin in policy", []byte(`{"version": 1, "policy": [{"action": "CONVERT", "selector": {"identifier": "https://example.com/f", "match_type": "EXACT"},
			"updates": {"attrs": {"http.checksum": "sha256:` + strings.Repeat("a", 64) + `"}}}]}`), []string{"policy[0]: pins https://example.com/f, which has no entry in files"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			if err == nil {
				t.Fatalf("Parse succeeded on\n%s", tc.data)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			// Check reports the same, as problems.
			rep := Check(tc.data)
			if len(rep.Problems) == 0 {
				t.Errorf("Check found no problems")
			}
		})
	}
}

func TestCheck(t *testing.T) {
	digest := func(c string) string { return "sha256:" + strings.Repeat(c, 64) }
	tests := []struct {
		name     string
		data     []byte
		want     []string // problems, each a substring of one problem
		warnings []string
	}{
		{"golden", readFile(t, goldenLock), nil, nil},
		{"incomplete after add", []byte(`{
  "files": {
    "tool": {
      "url": "https://example.com/tool.tgz"
    }
  },
  "images": {
    "base": {
      "image": "alpine:3",
      "platforms": {
        "linux/amd64": {}
      }
    },
    "bare": {
      "identifier": "docker-image://docker.io/library/busybox:latest",
      "image": "busybox",
      "platforms": {}
    }
  },
  "policy": [],
  "version": 1
}
`), []string{
			"images.bare.digest: missing", "images.bare.media_type: missing", "images.bare.platforms: no platforms",
			"images.base.identifier: missing", "images.base.digest: missing", "images.base.media_type: missing",
			"images.base.platforms.linux/amd64.digest: missing", "images.base.platforms.linux/amd64.config: missing",
			"files.tool.sha256: missing",
		}, nil},
		{"identifier mismatch", variant(t, func(m map[string]any) {
			obj(m, "images", "base")["identifier"] = "docker-image://registry.example.com/distroless/static:latest"
		}), []string{`images.base.identifier: "docker-image://registry.example.com/distroless/static:latest" does not match image`}, nil},
		{"platform requested not pinned", variant(t, func(m map[string]any) {
			obj(m, "images", "base", "platforms")["linux/s390x"] = map[string]any{}
		}), []string{"images.base.platforms.linux/s390x.digest: missing: the platform is requested but not pinned"}, nil},
		{"single manifest inconsistent", variant(t, func(m map[string]any) {
			obj(m, "images", "single", "platforms", "linux/amd64")["digest"] = digest("5")
			obj(m, "images", "single", "platforms")["linux/arm64"] = map[string]any{"digest": digest("6"), "config": digest("7")}
		}), []string{"images.single.platforms: sha256:3333", "so it has one platform, not 2", "images.single.platforms.linux/amd64.digest: sha256:5555", "a single manifest is its own platform image"}, nil},
		{"index lists itself", variant(t, func(m map[string]any) {
			obj(m, "images", "base", "platforms", "linux/amd64")["digest"] = digest("1")
		}), []string{"images.base.platforms.linux/amd64.digest: equals the digest of the index"}, nil},
		{"denied", variant(t, func(m map[string]any) {
			m["policy"] = append(m["policy"].([]any), map[string]any{
				"action": "DENY", "selector": map[string]any{"identifier": "docker-image://registry.example.com/tools/*", "match_type": "WILDCARD"},
			})
		}), []string{`images.single: source docker-image://registry.example.com/tools/single:1.0 is denied by the policy: policy[3] (DENY WILDCARD "docker-image://registry.example.com/tools/*")`}, nil},
		{"unpinned tags denied", variant(t, func(m map[string]any) {
			// Only images are pinned by the lockfile; a policy that
			// denies sources of another registry denies the image.
			obj(m, "images", "base")["image"] = "docker.io/library/alpine:3"
			obj(m, "images", "base")["identifier"] = "docker-image://docker.io/library/alpine:3"
		}), []string{`images.base: source docker-image://docker.io/library/alpine:3 is denied by the policy: policy[0] (DENY WILDCARD "docker-image://*")`}, nil},
		{"converted away from the pin", variant(t, func(m map[string]any) {
			m["policy"] = append(m["policy"].([]any), map[string]any{
				"action": "CONVERT", "selector": map[string]any{"identifier": "https://files.example.com/*", "match_type": "WILDCARD"},
				"updates": map[string]any{"attrs": map[string]any{"http.checksum": digest("9")}},
			})
		}), []string{"files.tool: the policy turns source https://files.example.com/tool.tar.gz?x=1&y=2 into https://files.example.com/*"}, []string{"policy[3].updates.identifier: empty, so BuildKit replaces each matching source with the literal pattern"}},
		{"not canonical: compact", func() []byte {
			var b bytes.Buffer
			if err := json.Compact(&b, readFile(t, goldenLock)); err != nil {
				t.Fatal(err)
			}
			return b.Bytes()
		}(), []string{"not in canonical form (line 1 is"}, nil},
		{"not canonical: policy enums", bytes.Replace(readFile(t, goldenLock), []byte(`"action": "DENY"`), []byte(`"action": 1`), 1),
			[]string{`not in canonical form (line 40 is "      \"action\": 1,", canonically "      \"action\": \"DENY\",")`}, nil},
		{"not canonical: no newline", bytes.TrimSuffix(readFile(t, goldenLock), []byte("\n")), []string{"not in canonical form"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := Check(tc.data)
			var got []string
			for _, p := range rep.Problems {
				got = append(got, p.String())
			}
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					found = found || strings.Contains(g, w)
				}
				if !found {
					t.Errorf("no problem contains %q; problems:\n  %s", w, strings.Join(got, "\n  "))
				}
			}
			if len(tc.want) == 0 && len(got) > 0 {
				t.Errorf("unexpected problems:\n  %s", strings.Join(got, "\n  "))
			}
			if len(tc.want) > 0 && rep.Err() == nil {
				t.Error("Err() is nil")
			}
			for _, w := range tc.warnings {
				if !strings.Contains(strings.Join(rep.Warnings, "\n"), w) {
					t.Errorf("no warning contains %q; warnings: %q", w, rep.Warnings)
				}
			}
		})
	}
}

func TestExportGolden(t *testing.T) {
	l := mustParse(t, readFile(t, goldenLock))
	got, err := l.Export()
	if err != nil {
		t.Fatal(err)
	}
	if want := readFile(t, goldenPolicy); !bytes.Equal(got, want) {
		if os.Getenv("REPRO_UPDATE") == "1" {
			os.WriteFile(goldenPolicy, got, 0o644)
			return
		}
		t.Errorf("export differs from %s (REPRO_UPDATE=1 rewrites it):\n%s", goldenPolicy, got)
	}
	p, err := policy.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	// What BuildKit does with the exported policy: tags become pinned.
	res, err := policy.Evaluate(p, policy.Source{Identifier: "docker-image://registry.example.com/distroless/static:nonroot"})
	if err != nil || res.Identifier != "docker-image://registry.example.com/distroless/static:nonroot@"+l.Images["base"].Digest {
		t.Errorf("image: %v %+v", err, res)
	}
	res, err = policy.Evaluate(p, policy.Source{Identifier: l.Files["tool"].URL})
	if err != nil || res.Attrs[ChecksumAttr] != "sha256:"+l.Files["tool"].SHA256 || res.Identifier != l.Files["tool"].URL {
		t.Errorf("file: %v %+v", err, res)
	}
	// Unpinned images of the allowed registry are denied by the policy.
	if _, err := policy.Evaluate(p, policy.Source{Identifier: "docker-image://registry.example.com/other:1"}); err == nil {
		t.Error("an unpinned tag was allowed")
	}

	// Export needs every pin.
	l.Images["base"].Digest = ""
	l.Files["tool"].SHA256 = ""
	if _, err := l.Export(); err == nil || !strings.Contains(err.Error(), "images.base: no digest; run repro lock update") || !strings.Contains(err.Error(), "files.tool: no sha256") {
		t.Errorf("export of an incomplete lockfile: %v", err)
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	golden := readFile(t, goldenLock)
	l := mustParse(t, golden)
	exported, err := l.Export()
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse(exported)
	if err != nil {
		t.Fatal(err)
	}

	// Into the lockfile it came from: identical, names and platforms kept.
	same, rep, err := Import(p, l)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustMarshal(t, same); !bytes.Equal(got, golden) {
		t.Errorf("import into the original lockfile changed it:\n%s", got)
	}
	if len(rep.Repinned) != 0 || len(rep.Dropped) != 0 || rep.Rules != 3 {
		t.Errorf("report %+v", rep)
	}

	// Into nothing: names derived, platforms unknown, and the policy the
	// same bytes again.
	fresh, rep, err := Import(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rep.Images, ",") != "static,single" || strings.Join(rep.Files, ",") != "tool" {
		t.Errorf("names %v %v", rep.Images, rep.Files)
	}
	img := fresh.Images["static"]
	if img.Image != "registry.example.com/distroless/static:nonroot" || img.Digest != l.Images["base"].Digest || len(img.Platforms) != 0 || img.MediaType != "" {
		t.Errorf("imported image %+v", img)
	}
	again, err := fresh.Export()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, exported) {
		t.Errorf("export → import → export differs:\n%s\nwant\n%s", again, exported)
	}
	// The imported lockfile is valid, canonical, and incomplete only in
	// what a policy cannot express.
	data := mustMarshal(t, fresh)
	for _, p := range Check(data).Problems {
		if !strings.Contains(p.Path, "media_type") && !strings.Contains(p.Path, "platforms") {
			t.Errorf("unexpected problem %s", p)
		}
	}

	// A re-pinned policy: the name stays, the platforms stay requested.
	moved := bytes.Replace(exported, []byte("@sha256:1111"), []byte("@sha256:9999"), 1)
	pm, err := policy.Parse(moved)
	if err != nil {
		t.Fatal(err)
	}
	repinned, rep, err := Import(pm, l)
	if err != nil {
		t.Fatal(err)
	}
	b := repinned.Images["base"]
	if !strings.HasPrefix(b.Digest, "sha256:9999") || b.MediaType != "" || len(b.Platforms) != 2 || b.Platforms["linux/amd64"].Digest != "" {
		t.Errorf("re-pinned image %+v", b)
	}
	if strings.Join(rep.Repinned, ",") != "images.base" {
		t.Errorf("report %+v", rep)
	}
}

func TestImportShapes(t *testing.T) {
	sha := strings.Repeat("a", 64)
	pin := func(id string) string {
		return `{"action": "CONVERT", "selector": {"identifier": "` + id + `", "match_type": "EXACT"}, "updates": {"identifier": "` + id + `@sha256:` + sha + `"}}`
	}
	filePin := func(u string) string {
		return `{"action": "CONVERT", "selector": {"identifier": "` + u + `", "match_type": "EXACT"}, "updates": {"attrs": {"http.checksum": "sha256:` + sha + `"}}}`
	}
	tests := []struct {
		name   string
		rules  []string
		images []string // names of image entries, in rule order
		files  []string
		rules2 int // rules left in "policy"
	}{
		{"pins out of order", []string{pin("docker-image://docker.io/library/zz:1"), filePin("https://example.com/a.tgz"), pin("docker-image://docker.io/library/alpine:3")},
			[]string{"zz", "alpine"}, []string{"a"}, 0},
		{"name collision", []string{pin("docker-image://docker.io/library/alpine:3"), pin("docker-image://ghcr.io/x/alpine:3"), filePin("https://example.com/alpine.tar.gz")},
			[]string{"alpine", "alpine_2"}, []string{"alpine_3"}, 0},
		{"odd names", []string{pin("docker-image://docker.io/library/1up:3"), filePin("https://example.com/"), filePin("https://example.com/_.tgz")},
			[]string{"image_1up"}, []string{"example_com", "file"}, 0},
		{"pins after another rule stay", []string{pin("docker-image://docker.io/library/alpine:3"), `{"action": "DENY", "selector": {"identifier": "*"}}`, pin("docker-image://docker.io/library/busybox:1")},
			[]string{"alpine"}, nil, 2},
		{"second pin of a source stays", []string{pin("docker-image://docker.io/library/alpine:3"), pin("docker-image://docker.io/library/alpine:3")},
			[]string{"alpine"}, nil, 1},
		{"not normalized", []string{pin("docker-image://alpine:3")}, nil, nil, 1},
		{"wildcard", []string{strings.Replace(pin("docker-image://docker.io/library/alpine:3"), "EXACT", "WILDCARD", 1)}, nil, nil, 1},
		{"constraint", []string{strings.Replace(pin("docker-image://docker.io/library/alpine:3"), `"match_type": "EXACT"`, `"match_type": "EXACT", "constraints": [{"key": "k", "value": "v"}]`, 1)}, nil, nil, 1},
		{"empty attrs", []string{strings.Replace(pin("docker-image://docker.io/library/alpine:3"), `"updates": {`, `"updates": {"attrs": {}, `, 1)}, nil, nil, 1},
		{"digest in selector", []string{pin("docker-image://docker.io/library/alpine:3@sha256:" + sha)}, nil, nil, 1},
		{"other update", []string{`{"action": "CONVERT", "selector": {"identifier": "docker-image://docker.io/library/alpine:3", "match_type": "EXACT"}, "updates": {"identifier": "docker-image://docker.io/library/alpine:4@sha256:` + sha + `"}}`}, nil, nil, 1},
		{"file pin with identifier", []string{strings.Replace(filePin("https://example.com/a"), `"updates": {`, `"updates": {"identifier": "https://example.com/a", `, 1)}, nil, nil, 1},
		{"file pin with more attrs", []string{strings.Replace(filePin("https://example.com/a"), `"attrs": {`, `"attrs": {"http.filename": "a", `, 1)}, nil, nil, 1},
		{"file pin of a git source", []string{filePin("git://example.com/a")}, nil, nil, 1},
		{"sha512 checksum", []string{strings.Replace(filePin("https://example.com/a"), "sha256:"+sha, "sha512:"+sha+sha, 1)}, nil, nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := policy.Parse([]byte(`{"rules": [` + strings.Join(tc.rules, ",") + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			l, rep, err := Import(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(rep.Images, ",") != strings.Join(tc.images, ",") || strings.Join(rep.Files, ",") != strings.Join(tc.files, ",") || len(l.Policy) != tc.rules2 {
				t.Errorf("images %v files %v rules %d; want %v %v %d", rep.Images, rep.Files, len(l.Policy), tc.images, tc.files, tc.rules2)
			}
			// Whatever the shape, the lockfile is valid and export →
			// import → export is stable.
			data := mustMarshal(t, l)
			mustParse(t, data)
			e1, err := l.Export()
			if err != nil {
				t.Fatal(err)
			}
			p1, err := policy.Parse(e1)
			if err != nil {
				t.Fatal(err)
			}
			l2, _, err := Import(p1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if e2, _ := l2.Export(); !bytes.Equal(e1, e2) {
				t.Errorf("not stable:\n%s\n%s", e1, e2)
			}
		})
	}
}

func TestReadWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, DefaultPath)
	if _, err := Read(path); !os.IsNotExist(err) {
		t.Fatalf("Read of a missing file: %v", err)
	}
	l := mustParse(t, readFile(t, goldenLock))
	if err := l.Write(path); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); !bytes.Equal(got, readFile(t, goldenLock)) {
		t.Error("Write is not canonical")
	}
	os.WriteFile(path, []byte(`{"version": 1, "images": {"a": {"image": "A"}}}`), 0o644)
	if _, err := Read(path); err == nil || !strings.HasPrefix(err.Error(), path+": images.a.image") {
		t.Errorf("Read error does not name the file: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestAdd(t *testing.T) {
	l := New()
	if err := l.AddImage("base", "alpine:3", []string{"linux/amd64"}, false); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"exists", l.AddImage("base", "busybox", nil, false), "images.base already exists (use --replace"},
		{"same image", l.AddImage("other", "docker.io/library/alpine:3", nil, false), "already pinned as images.base"},
		{"digest", l.AddImage("d", "alpine@sha256:"+strings.Repeat("a", 64), nil, false), "has a digest; give the tag only"},
		{"name", l.AddImage("a-b", "alpine", nil, false), `invalid name "a-b"`},
		{"platform", l.AddImage("p", "busybox", []string{"amd64"}, false), "invalid platform"},
		{"file over image", l.AddFile("base", "https://example.com/x", "", true), "images.base already exists; names are shared"},
		{"file sha", l.AddFile("f", "https://example.com/x", "abc", false), "want 64 lower-case hex digits"},
		{"file url", l.AddFile("f", "example.com/x", "", false), "absolute http:// or https:// URL"},
	}
	for _, tc := range tests {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	if err := l.AddImage("base", "busybox:1", nil, true); err != nil || l.Images["base"].Image != "busybox:1" {
		t.Errorf("replace: %v", err)
	}
}

// fullyPinned reports whether the image has its digest, media type and every
// requested platform pinned (and at least one platform).
func fullyPinned(img *Image) bool {
	if img.Digest == "" || img.MediaType == "" || len(img.Platforms) == 0 {
		return false
	}
	for _, p := range img.Platforms {
		if p.Digest == "" || p.Config == "" {
			return false
		}
	}
	return true
}
