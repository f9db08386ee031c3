package lock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rules-repro/rules_repro/tools/oci"
)

// fakeRegistry answers like a registry holding tags (by reference without
// scheme) and files (by URL), and records what was asked.
type fakeRegistry struct {
	tags  map[string]*Resolved
	files map[string]string
	calls []string
}

func d(c string) string { return "sha256:" + strings.Repeat(c, 64) }

func (f *fakeRegistry) ResolveImage(_ context.Context, ref string, platforms []string) (*Resolved, error) {
	f.calls = append(f.calls, ref+" "+strings.Join(platforms, ","))
	name, dig, byDigest := strings.Cut(ref, "@")
	res := f.tags[name]
	if res == nil || byDigest && res.Digest != dig {
		// Resolving by digest: a fake "older" index with the same
		// platforms, different manifests.
		if byDigest && res != nil {
			old := &Resolved{Digest: dig, MediaType: res.MediaType, Platforms: map[string]Platform{}}
			for k := range res.Platforms {
				old.Platforms[k] = Platform{Digest: d("e"), Config: d("f")}
			}
			res = old
		} else {
			return nil, fmt.Errorf("%s: not found", ref)
		}
	}
	out := &Resolved{Digest: res.Digest, MediaType: res.MediaType, Platforms: map[string]Platform{}}
	if len(platforms) == 0 {
		out.Platforms = res.Platforms
		return out, nil
	}
	for _, p := range platforms {
		pin, ok := res.Platforms[p]
		if !ok {
			return nil, fmt.Errorf("%s: no platform %s", ref, p)
		}
		out.Platforms[p] = pin
	}
	return out, nil
}

func (f *fakeRegistry) FileSHA256(_ context.Context, url string) (string, error) {
	f.calls = append(f.calls, url)
	sha, ok := f.files[url]
	if !ok {
		return "", fmt.Errorf("%s: HTTP 404", url)
	}
	return sha, nil
}

func newFake() *fakeRegistry {
	return &fakeRegistry{
		tags: map[string]*Resolved{
			"registry.example.com/base:1": {Digest: d("1"), MediaType: oci.MediaTypeImageIndex, Platforms: map[string]Platform{
				"linux/amd64": {Digest: d("2"), Config: d("3")},
				"linux/arm64": {Digest: d("4"), Config: d("5")},
			}},
			"registry.example.com/single:1": {Digest: d("6"), MediaType: oci.DockerManifest, Platforms: map[string]Platform{
				"linux/amd64": {Digest: d("6"), Config: d("7")},
			}},
		},
		files: map[string]string{"https://example.com/tool.tgz": strings.Repeat("8", 64)},
	}
}

const requested = `{
  "version": 1,
  "images": {
    "base": {"image": "registry.example.com/base:1", "platforms": {"linux/arm64": {}}},
    "single": {"image": "registry.example.com/single:1", "platforms": {}}
  },
  "files": {"tool": {"url": "https://example.com/tool.tgz"}},
  "policy": [
    {"action": "DENY", "selector": {"identifier": "docker-image://*"}},
    {"action": "ALLOW", "selector": {"identifier": "docker-image://registry.example.com/*"}},
    {"action": "DENY", "selector": {"identifier": "^docker-image://[^@]*$", "match_type": "REGEX"}}
  ]
}`

func update(t *testing.T, l *Lockfile, r Resolver, o UpdateOptions) (*Lockfile, string, error) {
	t.Helper()
	var log bytes.Buffer
	o.Log = &log
	before := mustMarshal(t, l)
	out, err := l.Update(context.Background(), r, o)
	if after := mustMarshal(t, l); !bytes.Equal(before, after) {
		t.Error("Update modified its receiver")
	}
	if err != nil && log.Len() > 0 {
		t.Errorf("a failed update logged:\n%s", log.String())
	}
	return out, log.String(), err
}

func TestUpdatePinsThenReportsMoves(t *testing.T) {
	fake := newFake()
	l := mustParse(t, []byte(requested))
	pinned, log, err := update(t, l, fake, UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantLog := `images.base: docker-image://registry.example.com/base:1 pinned to ` + d("1") + ` (index, 1 platform)
images.single: docker-image://registry.example.com/single:1 pinned to ` + d("6") + ` (single manifest, 1 platform)
files.tool: https://example.com/tool.tgz pinned to sha256 ` + strings.Repeat("8", 64) + `
`
	if log != wantLog {
		t.Errorf("log:\n%s\nwant\n%s", log, wantLog)
	}
	data := mustMarshal(t, pinned)
	if rep := Check(data); len(rep.Problems) > 0 {
		t.Errorf("pinned lockfile has problems: %v", rep.Problems)
	}
	b := pinned.Images["base"]
	if b.Identifier != "docker-image://registry.example.com/base:1" || b.Digest != d("1") || len(b.Platforms) != 1 || *b.Platforms["linux/arm64"] != (Platform{d("4"), d("5")}) {
		t.Errorf("base %+v", b)
	}
	if s := pinned.Images["single"]; len(s.Platforms) != 1 || s.Platforms["linux/amd64"].Digest != d("6") {
		t.Errorf("single: empty platforms should pin the one platform: %+v", s)
	}

	// Nothing moved.
	_, log, err = update(t, pinned, fake, UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log, "images.base: docker-image://registry.example.com/base:1 unchanged at "+d("1")) || !strings.Contains(log, "(not downloaded)") {
		t.Errorf("log:\n%s", log)
	}
	if calls := strings.Join(fake.calls, "\n"); strings.Count(calls, "https://example.com/tool.tgz") != 1 {
		t.Errorf("a pinned file was downloaded again:\n%s", calls)
	}

	// The tag moves: re-pinned, old → new for the index and the platform.
	fake.tags["registry.example.com/base:1"] = &Resolved{Digest: d("a"), MediaType: oci.MediaTypeImageIndex, Platforms: map[string]Platform{
		"linux/amd64": {Digest: d("2"), Config: d("3")},
		"linux/arm64": {Digest: d("b"), Config: d("c")},
	}}
	moved, log, err := update(t, pinned, fake, UpdateOptions{Names: []string{"base"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "images.base: docker-image://registry.example.com/base:1 moved: " + d("1") + " → " + d("a") + "\n    linux/arm64: " + d("4") + " → " + d("b") + "\n"
	if log != want {
		t.Errorf("log:\n%s\nwant\n%s", log, want)
	}
	if moved.Images["base"].Digest != d("a") || moved.Images["single"].Digest != d("6") {
		t.Errorf("moved %+v", moved.Images["base"])
	}

	// --keep-digests resolves by digest: the pin does not move.
	kept, log, err := update(t, pinned, fake, UpdateOptions{KeepDigests: true, Names: []string{"base"}})
	if err != nil {
		t.Fatal(err)
	}
	if kept.Images["base"].Digest != d("1") || !strings.Contains(fake.calls[len(fake.calls)-1], "registry.example.com/base:1@"+d("1")) {
		t.Errorf("keep-digests: %+v, calls %v, log %s", kept.Images["base"], fake.calls, log)
	}
}

func TestUpdateFailuresChangeNothing(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(l *Lockfile, f *fakeRegistry)
		opts  UpdateOptions
		want  []string
		calls int // resolver calls made; -1: do not check
	}{
		{"denied before any network access", func(l *Lockfile, f *fakeRegistry) {
			l.AddImage("hub", "alpine:3", []string{"linux/amd64"}, false)
		}, UpdateOptions{}, []string{`the lockfile's policy rejects images.hub: source docker-image://docker.io/library/alpine:3 is denied by the policy: policy[0] (DENY WILDCARD "docker-image://*")`}, 0},
		{"file denied", func(l *Lockfile, f *fakeRegistry) {
			l.Policy = append(l.Policy, l.Policy[0])
			l.Policy[len(l.Policy)-1].Selector.Identifier = "https://example.com/*"
		}, UpdateOptions{}, []string{`files.tool: source https://example.com/tool.tgz is denied by the policy: policy[3] (DENY WILDCARD "https://example.com/*")`}, 0},
		{"unknown name", nil, UpdateOptions{Names: []string{"nope"}}, []string{`no entry named "nope" in the lockfile (have: base, single, tool; to pin a new source`}, 0},
		{"tag gone", func(l *Lockfile, f *fakeRegistry) {
			delete(f.tags, "registry.example.com/single:1")
		}, UpdateOptions{}, []string{"images.single: registry.example.com/single:1: not found"}, -1},
		{"platform missing", func(l *Lockfile, f *fakeRegistry) {
			l.Images["base"].Platforms["linux/s390x"] = &Platform{}
		}, UpdateOptions{}, []string{"images.base: registry.example.com/base:1: no platform linux/s390x"}, 1},
		{"file download fails", func(l *Lockfile, f *fakeRegistry) {
			delete(f.files, "https://example.com/tool.tgz")
		}, UpdateOptions{}, []string{"files.tool: https://example.com/tool.tgz: HTTP 404"}, -1},
		{"resolver lies about the digest", func(l *Lockfile, f *fakeRegistry) {
			f.tags["registry.example.com/base:1"].Digest = "sha256:short"
		}, UpdateOptions{}, []string{"images.base (registry.example.com/base:1): resolver returned no valid digest"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFake()
			l := mustParse(t, []byte(requested))
			if tc.edit != nil {
				tc.edit(l, fake)
			}
			out, _, err := update(t, l, fake, tc.opts)
			if err == nil {
				t.Fatalf("update succeeded: %s", mustMarshal(t, out))
			}
			if out != nil {
				t.Error("a failed update returned a lockfile")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if tc.calls >= 0 && len(fake.calls) != tc.calls {
				t.Errorf("%d resolver calls (%v), want %d", len(fake.calls), fake.calls, tc.calls)
			}
		})
	}
}

// A policy that denies unpinned tags lets update through: the check uses
// the pin BuildKit will see (a placeholder before the first resolution).
func TestUpdateUnderDenyUnpinned(t *testing.T) {
	fake := newFake()
	l := mustParse(t, []byte(requested))
	if _, _, err := update(t, l, fake, UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// After resolution the real pin must still be allowed: a rule that
	// denies exactly the new digest fails the update.
	l.Policy = append(l.Policy, l.Policy[0])
	l.Policy[len(l.Policy)-1].Selector.Identifier = "docker-image://*@" + d("6")
	_, _, err := update(t, l, fake, UpdateOptions{})
	var pe *ProblemsError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "images.single: source docker-image://registry.example.com/single:1 is denied by the policy: policy[3]") {
		t.Errorf("error %v", err)
	}
	if len(fake.calls) != 6 {
		t.Errorf("calls %v", fake.calls)
	}
}

// TestUpdateVerifyFiles checks that a file that changed upstream is an
// error naming its URL, and that its pin is never changed.
func TestUpdateVerifyFiles(t *testing.T) {
	fake := newFake()
	l := mustParse(t, []byte(requested))
	pinned, _, err := update(t, l, fake, UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, log, err := update(t, pinned, fake, UpdateOptions{VerifyFiles: true})
	if err != nil || !strings.Contains(log, "files.tool: https://example.com/tool.tgz unchanged at sha256 "+strings.Repeat("8", 64)+" (downloaded and verified)") {
		t.Fatalf("%v\n%s", err, log)
	}
	fake.files["https://example.com/tool.tgz"] = strings.Repeat("9", 64)
	_, _, err = update(t, pinned, fake, UpdateOptions{VerifyFiles: true})
	if err == nil || !strings.Contains(err.Error(), "files.tool: https://example.com/tool.tgz changed upstream: pinned sha256 "+strings.Repeat("8", 64)+", now "+strings.Repeat("9", 64)) {
		t.Errorf("got %v", err)
	}
	if pinned.Files["tool"].SHA256 != strings.Repeat("8", 64) {
		t.Error("the pin changed")
	}
}
