package publish

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/oci"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"STABLE_GIT_COMMIT": "0123abc", "BUILD_USER": "ci", "EMPTY": ""}
	for _, c := range []struct {
		in, want, err string
		vars          map[string]string
	}{
		{in: "latest", want: "latest", vars: vars},
		{in: "latest", want: "latest"},
		{in: "git-{STABLE_GIT_COMMIT}", want: "git-0123abc", vars: vars},
		{in: "{BUILD_USER}-{STABLE_GIT_COMMIT}", want: "ci-0123abc", vars: vars},
		{in: "{STABLE_NOPE}", vars: vars, err: `tag "{STABLE_NOPE}": the workspace status has no key STABLE_NOPE (it has: BUILD_USER, EMPTY, STABLE_GIT_COMMIT)`},
		{in: "{STABLE_GIT_COMMIT}", err: "uses the stamp variable {STABLE_GIT_COMMIT}, but no workspace status was given: build with --stamp"},
		{in: "{EMPTY}", vars: vars, err: "the workspace status key EMPTY is empty"},
		{in: "a{b", vars: vars, err: "'{' without a closing '}'"},
		{in: "a}b", vars: vars, err: "unmatched '}'"},
		{in: "{}", vars: vars, err: "is not a stamp variable"},
		{in: "{A B}", vars: vars, err: "is not a stamp variable"},
	} {
		got, err := Expand(c.in, "tag", c.vars)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("Expand(%q) = %q, %v; want %q", c.in, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("Expand(%q) error %v; want %q", c.in, err, c.err)
		}
	}
}

func TestReadStatus(t *testing.T) {
	p := filepath.Join(t.TempDir(), "stable-status.txt")
	os.WriteFile(p, []byte("BUILD_EMBED_LABEL \nSTABLE_GIT_COMMIT 0123abc\r\nSTABLE_DESC a value with spaces\n\n"), 0o644)
	vars, err := ReadStatus(p)
	if err != nil {
		t.Fatal(err)
	}
	if vars["STABLE_GIT_COMMIT"] != "0123abc" || vars["STABLE_DESC"] != "a value with spaces" || vars["BUILD_EMBED_LABEL"] != "" || len(vars) != 3 {
		t.Errorf("%q", vars)
	}
	if _, err := ReadStatus(p + ".missing"); err == nil || !strings.Contains(err.Error(), "--stamp-file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestCheckAndNormalizeTags(t *testing.T) {
	for _, good := range []string{"latest", "v1.2.3", "git-0123abc", "A_b", strings.Repeat("x", 128)} {
		if err := CheckTag(good); err != nil {
			t.Errorf("CheckTag(%q): %v", good, err)
		}
	}
	for _, bad := range []string{"", ".hidden", "-x", "a b", "a/b", "a:b", strings.Repeat("x", 129)} {
		if CheckTag(bad) == nil {
			t.Errorf("CheckTag(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{"example.com/app": "example.com/app:latest", "app:dev": "app:dev", "localhost:5000/a/b": "localhost:5000/a/b:latest", "localhost:5000/a/b:x": "localhost:5000/a/b:x"} {
		if got, err := NormalizeTag(in); err != nil || got != want {
			t.Errorf("NormalizeTag(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"app@sha256:" + strings.Repeat("0", 64), "Bad Name"} {
		if _, err := NormalizeTag(bad); err == nil {
			t.Errorf("NormalizeTag(%q) accepted", bad)
		}
	}
}

// TestPlanOrder: blobs in first-seen order without duplicates; manifests
// children first and the index last.
func TestPlanOrder(t *testing.T) {
	set := oci.NewBlobSet()
	layer := set.AddBytes([]byte("shared layer"))
	var children []specs.Descriptor
	for _, arch := range []string{"amd64", "arm64"} {
		cfg := []byte(`{"architecture":"` + arch + `"}`)
		cd := set.AddBytes(cfg)
		m, _ := json.Marshal(specs.Manifest{
			MediaType: oci.MediaTypeImageManifest,
			Config:    specs.Descriptor{MediaType: oci.MediaTypeImageConfig, Digest: cd, Size: int64(len(cfg))},
			Layers:    []specs.Descriptor{{MediaType: oci.MediaTypeLayerGzip, Digest: layer, Size: 12}, {MediaType: oci.MediaTypeLayerGzip, Digest: digest.FromString("not built " + arch), Size: 5}},
		})
		children = append(children, specs.Descriptor{MediaType: oci.MediaTypeImageManifest, Digest: set.AddBytes(m), Size: int64(len(m)), Platform: &specs.Platform{OS: "linux", Architecture: arch}})
	}
	idx, _ := json.Marshal(specs.Index{MediaType: oci.MediaTypeImageIndex, Manifests: children})
	root := specs.Descriptor{MediaType: oci.MediaTypeImageIndex, Digest: set.AddBytes(idx), Size: int64(len(idx))}
	p, err := makePlan(root, set)
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, b := range p.blobs {
		roles = append(roles, b.role+map[bool]string{true: "", false: " (missing)"}[b.local])
	}
	want := "config of linux/amd64, layer 1 of linux/amd64, layer 2 of linux/amd64 (missing), config of linux/arm64, layer 2 of linux/arm64 (missing)"
	if got := strings.Join(roles, ", "); got != want {
		t.Errorf("blobs: %s\nwant:  %s", got, want)
	}
	if len(p.manifests) != 3 || p.manifests[0].label != "linux/amd64" || p.manifests[1].label != "linux/arm64" || p.manifests[2].desc.Digest != root.Digest {
		t.Errorf("manifests: %+v", p.manifests)
	}
	// A manifest that is not in the build is an error naming it.
	if _, err := makePlan(specs.Descriptor{MediaType: oci.MediaTypeImageManifest, Digest: digest.FromString("x"), Size: 1}, set); err == nil || !strings.Contains(err.Error(), "manifest "+digest.FromString("x").String()) {
		t.Errorf("missing manifest: %v", err)
	}
}

func TestFormatting(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 12_345_678: "12.3 MB", 5_000_000_000: "5.0 GB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := FormatRate(10_000_000, 2*time.Second); got != "5.0 MB/s" {
		t.Errorf("FormatRate: %q", got)
	}
	for d, want := range map[time.Duration]string{1234567 * time.Microsecond: "1.2s", 512 * time.Millisecond: "512ms", 63 * time.Second: "1m3s"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
	d := digest.FromString("x")
	if got := ShortDigest(d); got != d.String()[:19]+"…" {
		t.Errorf("ShortDigest: %q", got)
	}
	if Plural(1, "retry") != "1 retry" || Plural(3, "retry") != "3 retries" || Plural(0, "tag") != "0 tags" {
		t.Error("Plural")
	}
}

// TestProgress: plain mode prints one line per blob; tty mode redraws the
// live view in place and leaves the finished lines.
func TestProgress(t *testing.T) {
	d := digest.FromString("blob")
	var plain bytes.Buffer
	p := NewProgress(&plain, false)
	p.Start(2, 3_000_000)
	p.BlobDone(digest.FromString("other"), 1000, "exists", "")
	p.BlobStart(d, 2_999_000, "push")
	p.BlobSent(d, 1_000_000)
	p.Retry(ShortDigest(d), 2, 500*time.Millisecond, os.ErrDeadlineExceeded)
	p.BlobDone(d, 2_999_000, "pushed", "")
	p.Close()
	lines := strings.Split(strings.TrimSpace(plain.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "exists sha256:") || !strings.HasPrefix(lines[1], "retry "+ShortDigest(d)+" (attempt 2 in 500ms): ") ||
		!strings.HasPrefix(lines[2], "pushed "+ShortDigest(d)+" 3.0 MB in ") || strings.Contains(plain.String(), "\x1b") {
		t.Errorf("plain progress:\n%s", plain.String())
	}

	var tty bytes.Buffer
	p = NewProgress(&tty, true)
	p.Start(1, 2_999_000)
	p.BlobStart(d, 2_999_000, "push")
	p.BlobSent(d, 1_500_000)
	time.Sleep(400 * time.Millisecond) // a redraw or two
	p.BlobDone(d, 2_999_000, "pushed", "")
	p.Close()
	p.Printf("after")
	out := tty.String()
	for _, want := range []string{"push   " + ShortDigest(d) + " [==========          ]   1.5 MB / 3.0 MB", "total  0/1 blobs", "\x1b[2A\x1b[J", "pushed " + ShortDigest(d), "total  1/1 blobs", "\x1b[1A\x1b[Jafter\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("tty progress lacks %q:\n%q", want, out)
		}
	}
}

func TestFilterStatus(t *testing.T) {
	vars := map[string]string{"STABLE_A": "1", "B": "two words", "BUILD_HOST": "ci-7", "BUILD_USER": "alice"}
	got := string(FilterStatus(vars, []string{"STABLE_A", "B", "MISSING", "STABLE_A"}))
	if want := "B two words\nSTABLE_A 1\n"; got != want {
		t.Errorf("FilterStatus = %q, want %q", got, want)
	}
	// The filtered file reads back to the same values.
	p := filepath.Join(t.TempDir(), "status")
	os.WriteFile(p, []byte(got), 0o644)
	back, err := ReadStatus(p)
	if err != nil || back["B"] != "two words" || back["STABLE_A"] != "1" || len(back) != 2 {
		t.Errorf("ReadStatus of filtered = %v, %v", back, err)
	}
}
