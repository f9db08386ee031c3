package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/rules-repro/rules_repro/tools/oci"
)

// Tests of issue 9, items 1, 2, 4 (descriptors and layouts) and 8: a
// hostile OCI layout or descriptor file on disk, an output directory that
// is not ours, signals during a write.

// layoutImage writes an OCI layout at dir holding one image whose manifest
// lists layers (raw descriptor objects, so that any digest can be written)
// and whose config has diffIDs. It returns the manifest's descriptor.
func layoutImage(t *testing.T, dir string, layers []map[string]any, diffIDs []string) map[string]any {
	t.Helper()
	blob := func(v any) (digest.Digest, int) {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		d := digest.FromBytes(data)
		writeFile(t, filepath.Join(dir, "blobs/sha256", d.Encoded()), string(data), 0o644)
		return d, len(data)
	}
	if diffIDs == nil {
		diffIDs = []string{}
	}
	cd, cs := blob(map[string]any{"architecture": "amd64", "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	if layers == nil {
		layers = []map[string]any{}
	}
	md, ms := blob(map[string]any{
		"schemaVersion": 2, "mediaType": oci.MediaTypeImageManifest,
		"config": map[string]any{"mediaType": oci.MediaTypeImageConfig, "digest": cd, "size": cs},
		"layers": layers,
	})
	desc := map[string]any{"mediaType": oci.MediaTypeImageManifest, "digest": md.String(), "size": ms}
	writeJSON(t, filepath.Join(dir, "index.json"), map[string]any{"schemaVersion": 2, "manifests": []any{desc}})
	writeFile(t, filepath.Join(dir, "oci-layout"), `{"imageLayoutVersion":"1.0.0"}`, 0o644)
	return desc
}

// treeFiles lists every path under root (relative), to prove nothing was
// written where it should not be.
func treeFiles(t *testing.T, root string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			rel, _ := filepath.Rel(root, p)
			out[rel] = true
		}
		return nil
	})
	return out
}

func newPaths(before, after map[string]bool) []string {
	var n []string
	for p := range after {
		if !before[p] {
			n = append(n, p)
		}
	}
	return n
}

const escapeDigest = "sha256:../../../../X/payload"

// TestHostileLayoutDigests (item 1): a base layout whose manifest lists a
// layer digest that is a path, or any digest that is not sha256:<64 hex>,
// is refused by `repro image --base`, `repro base` and `repro layout
// --blobs-from`, naming the layout and the digest; nothing is written
// outside the output and no output is left.
func TestHostileLayoutDigests(t *testing.T) {
	goodDiff := digest.FromString("diff").String()
	hex64 := strings.Repeat("a", 64)
	cases := []struct {
		name  string
		layer map[string]any
		want  string // the digest (or size) the message must quote
	}{
		{"path traversal", map[string]any{"mediaType": oci.MediaTypeLayerGzip, "digest": escapeDigest, "size": 5}, escapeDigest},
		{"absolute path", map[string]any{"mediaType": oci.MediaTypeLayerGzip, "digest": "sha256:/etc/passwd", "size": 5}, "sha256:/etc/passwd"},
		{"sha512", map[string]any{"mediaType": oci.MediaTypeLayerGzip, "digest": "sha512:" + strings.Repeat("ab", 64), "size": 5}, "sha512:"},
		{"upper-case hex", map[string]any{"mediaType": oci.MediaTypeLayerGzip, "digest": "sha256:" + strings.ToUpper(hex64), "size": 5}, "sha256:AAAA"},
		{"short hex", map[string]any{"mediaType": oci.MediaTypeLayerGzip, "digest": "sha256:abc", "size": 5}, "sha256:abc"},
		{"no algorithm", map[string]any{"mediaType": oci.MediaTypeLayerGzip, "digest": hex64, "size": 5}, hex64},
		{"negative size", map[string]any{"mediaType": oci.MediaTypeLayerGzip, "digest": "sha256:" + hex64, "size": -1}, "size -1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			work := filepath.Join(root, "a", "b")
			base := filepath.Join(work, "base")
			man := layoutImage(t, base, []map[string]any{c.layer}, []string{goodDiff})
			before := treeFiles(t, root)
			o := func(n string) string { return filepath.Join(work, n) }
			check := func(what string, args ...string) {
				t.Helper()
				code, _, stderr := runCLI(t, args...)
				if code != 1 {
					t.Errorf("%s: exit %d, want 1; stderr:\n%s", what, code, stderr)
				}
				for _, w := range []string{base, c.want} {
					if !strings.Contains(stderr, w) {
						t.Errorf("%s: stderr does not name %q:\n%s", what, w, stderr)
					}
				}
				if n := newPaths(before, treeFiles(t, root)); len(n) > 0 {
					t.Errorf("%s: wrote %v", what, n)
				}
			}
			check("image --base", "image", "--base", base, "--descriptor-out", o("img.json"), "--manifest-out", o("man.json"), "--config-out", o("cfg.json"))
			check("base", "base", "--layout", base, "--manifest-out", o("man.json"), "--config-out", o("cfg.json"))
			writeJSON(t, o("root.json"), man)
			before = treeFiles(t, root)
			for _, kind := range []string{"layout", "oci-archive"} {
				check(kind+" --blobs-from", kind, "--descriptor", o("root.json"), "--blobs-from", base, "--output", o("out"))
			}
		})
	}
}

// TestHostileIndexAndDescriptorDigests (item 1): bad digests in index.json,
// in a config descriptor, and in descriptor files from `repro layer` and
// `repro image` are refused where they are read.
func TestHostileIndexAndDescriptorDigests(t *testing.T) {
	dir := t.TempDir()
	o := func(n string) string { return filepath.Join(dir, n) }
	hex64 := strings.Repeat("b", 64)

	// index.json pointing outside the layout.
	layoutImage(t, o("idx-escape"), nil, nil)
	writeJSON(t, o("idx-escape/index.json"), map[string]any{"schemaVersion": 2, "manifests": []any{
		map[string]any{"mediaType": oci.MediaTypeImageManifest, "digest": "sha256:../../../etc/passwd", "size": 10},
	}})
	// A nested index entry with a sha512 digest.
	layoutImage(t, o("idx-sha512"), nil, nil)
	writeJSON(t, o("idx-sha512/index.json"), map[string]any{"schemaVersion": 2, "manifests": []any{
		map[string]any{"mediaType": oci.MediaTypeImageManifest, "digest": "sha512:" + strings.Repeat("cd", 64), "size": 10},
	}})

	// Descriptor files.
	writeJSON(t, o("layer-path.json"), map[string]any{"mediaType": oci.MediaTypeLayerGzip, "digest": escapeDigest, "size": 5, "diff_id": "sha256:" + hex64})
	writeJSON(t, o("layer-sha512.json"), map[string]any{"mediaType": oci.MediaTypeLayerGzip, "digest": "sha512:" + strings.Repeat("ab", 64), "size": 5, "diff_id": "sha256:" + hex64})
	writeJSON(t, o("layer-diffid.json"), map[string]any{"mediaType": oci.MediaTypeLayerGzip, "digest": "sha256:" + hex64, "size": 5, "diff_id": "sha384:" + strings.Repeat("ab", 48)})
	writeJSON(t, o("layer-huge.json"), map[string]any{"mediaType": oci.MediaTypeLayerGzip, "digest": "sha256:" + hex64, "size": int64(1) << 62, "diff_id": "sha256:" + hex64})
	writeJSON(t, o("img-layers.json"), map[string]any{"mediaType": oci.MediaTypeImageManifest, "digest": "sha256:" + hex64, "size": 100,
		"layers": []any{map[string]any{"mediaType": oci.MediaTypeLayerGzip, "digest": escapeDigest, "size": 5}}})
	writeJSON(t, o("img-config.json"), map[string]any{"mediaType": oci.MediaTypeImageManifest, "digest": "sha256:" + hex64, "size": 100,
		"config": map[string]any{"mediaType": oci.MediaTypeImageConfig, "digest": "sha256:" + hex64[:10], "size": 5}})
	writeJSON(t, o("img-size.json"), map[string]any{"mediaType": oci.MediaTypeImageManifest, "digest": "sha256:" + hex64, "size": -7})
	writeJSON(t, o("idx-manifests.json"), map[string]any{"mediaType": oci.MediaTypeImageIndex, "digest": "sha256:" + hex64, "size": 100,
		"manifests": []any{map[string]any{"mediaType": oci.MediaTypeImageManifest, "digest": "sha256:/../../x", "size": 5}}})

	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"index.json escapes", []string{"image", "--base", o("idx-escape"), "--descriptor-out", o("out.json")}, []string{o("idx-escape"), "sha256:../../../etc/passwd"}},
		{"index.json sha512", []string{"base", "--layout", o("idx-sha512"), "--manifest-out", o("out.json"), "--config-out", o("out2.json")}, []string{o("idx-sha512"), "sha512:cdcd"}},
		{"layer descriptor path", []string{"image", "--layer", o("layer-path.json"), "--platform", "linux/amd64", "--descriptor-out", o("out.json")}, []string{"layer-path.json", escapeDigest}},
		{"layer descriptor sha512", []string{"image", "--layer", o("layer-sha512.json"), "--platform", "linux/amd64", "--descriptor-out", o("out.json")}, []string{"layer-sha512.json", "sha512:abab"}},
		{"layer descriptor diff_id", []string{"image", "--layer", o("layer-diffid.json"), "--platform", "linux/amd64", "--descriptor-out", o("out.json")}, []string{"layer-diffid.json", "diff_id", "sha384:"}},
		{"layer descriptor size", []string{"image", "--layer", o("layer-huge.json"), "--platform", "linux/amd64", "--descriptor-out", o("out.json")}, []string{"layer-huge.json", "size 4611686018427387904"}},
		{"layout --layer descriptor", []string{"layout", "--descriptor", o("img-layers.json"), "--layer", o("layer-path.json") + "=" + o("x"), "--output", o("out")}, []string{escapeDigest}},
		{"image descriptor layers", []string{"layout", "--descriptor", o("img-layers.json"), "--output", o("out")}, []string{"img-layers.json", "layers[0]", escapeDigest}},
		{"image descriptor config", []string{"layout", "--descriptor", o("img-config.json"), "--output", o("out")}, []string{"img-config.json", "config", "sha256:bbbbbbbbbb"}},
		{"image descriptor size", []string{"oci-archive", "--descriptor", o("img-size.json"), "--output", o("out")}, []string{"img-size.json", "size -7"}},
		{"index descriptor manifests", []string{"index", "--image", o("idx-manifests.json"), "--descriptor-out", o("out.json")}, []string{"idx-manifests.json", "manifests[0]", "sha256:/../../x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, c.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, stderr)
				}
			}
			if left := outputsLeft(t, dir, o("out.json"), o("out2.json"), o("out")); len(left) > 0 {
				t.Errorf("outputs left behind: %v", left)
			}
		})
	}
}

// TestDeepAndHugeJSON (item 4): a deeply nested descriptor file or
// index.json is refused by the depth check with a clear message, and a
// descriptor or index.json larger than the cap is refused without being
// read whole.
func TestDeepAndHugeJSON(t *testing.T) {
	dir := t.TempDir()
	o := func(n string) string { return filepath.Join(dir, n) }
	deep := `{"mediaType":"` + oci.MediaTypeImageManifest + `","x":` + strings.Repeat("[", 200000) + strings.Repeat("]", 200000) + `}`
	writeFile(t, o("deep.json"), deep, 0o644)
	writeFile(t, o("deep-layout/oci-layout"), `{"imageLayoutVersion":"1.0.0"}`, 0o644)
	writeFile(t, o("deep-layout/index.json"), `{"schemaVersion":2,"manifests":`+strings.Repeat("[", 200000)+strings.Repeat("]", 200000)+`}`, 0o644)
	writeFile(t, o("huge-layout/oci-layout"), `{"imageLayoutVersion":"1.0.0"}`, 0o644)
	paddedJSON(t, o("huge-layout/index.json"), `{"schemaVersion":2,"manifests":[]`, 9<<20, `}`)
	paddedJSON(t, o("huge.json"), `{"mediaType":"`+oci.MediaTypeImageManifest+`"`, 9<<20, `}`)
	paddedJSON(t, o("huge-config.json"), `{"os":"linux"`, 33<<20, `}`)
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"deep image descriptor", []string{"layout", "--descriptor", o("deep.json"), "--output", o("out")}, []string{"deep.json", "nested deeper than 64"}},
		{"deep layer descriptor", []string{"image", "--layer", o("deep.json"), "--platform", "linux/amd64", "--descriptor-out", o("out.json")}, []string{"deep.json", "nested deeper than 64"}},
		{"deep lower manifest", []string{"layer", "--dir", dir, "--lower-manifest", o("deep.json"), "--output", o("out.tgz")}, []string{"deep.json", "nested deeper than 64"}},
		{"deep index.json", []string{"image", "--base", o("deep-layout"), "--descriptor-out", o("out.json")}, []string{"deep-layout", "index.json", "nested deeper than 64"}},
		{"huge index.json", []string{"base", "--layout", o("huge-layout"), "--manifest-out", o("out.json"), "--config-out", o("out2.json")}, []string{"huge-layout", "index.json", "larger than"}},
		{"huge descriptor", []string{"layout", "--descriptor", o("huge.json"), "--output", o("out")}, []string{"huge.json", "larger than"}},
		{"deep image spec", []string{"image", "--spec", o("deep.json"), "--descriptor-out", o("out.json")}, []string{"deep.json", "nested deeper than 64"}},
		{"deep base manifest", []string{"image", "--base-manifest", o("deep.json"), "--base-config", o("deep.json"), "--descriptor-out", o("out.json")}, []string{"deep.json", "nested deeper than 64"}},
		{"huge base config", []string{"image", "--base-manifest", o("deep.json"), "--base-config", o("huge-config.json"), "--descriptor-out", o("out.json")}, []string{"huge-config.json", "larger than"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, c.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, stderr)
				}
			}
			if left := outputsLeft(t, dir, o("out.json"), o("out2.json"), o("out"), o("out.tgz")); len(left) > 0 {
				t.Errorf("outputs left behind: %v", left)
			}
		})
	}
}

// paddedJSON writes a valid JSON document of more than pad bytes (head,
// pad spaces, tail) without holding it in memory: the test process's size
// is inherited by the binaries it starts, which TestMemoryFlatForLargeLayers
// measures.
func paddedJSON(t *testing.T, path, head string, pad int, tail string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(head)
	chunk := bytes.Repeat([]byte(" "), 1<<16)
	for n := 0; n < pad; n += len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.WriteString(tail); err != nil {
		t.Fatal(err)
	}
}

// TestOutputDirectoryNotClobbered (item 2): `repro layout --output DIR`
// replaces DIR only when it is empty (Bazel creates tree artifacts empty)
// or a previous OCI layout; a directory holding anything else is refused,
// named, and left as it was.
func TestOutputDirectoryNotClobbered(t *testing.T) {
	dir := buildChain(t)
	o := func(n string) string { return filepath.Join(dir, n) }
	layoutArgs := func(out string) []string {
		return []string{"layout", "--descriptor", o("img-amd64.json"), "--blob", o("cfg-amd64.json"), "--blob", o("man-amd64.json"),
			"--layer", o("l1.json") + "=" + o("l1.tgz"), "--output", out}
	}
	// A working tree: files, a subdirectory, no oci-layout.
	work := o("work")
	writeFile(t, filepath.Join(work, "main.go"), "package main\n", 0o644)
	writeFile(t, filepath.Join(work, "sub/notes.txt"), "keep me\n", 0o644)
	// A directory with index.json and blobs but oci-layout as a directory:
	// not a layout.
	fake := o("fake")
	writeFile(t, filepath.Join(fake, "index.json"), "{}", 0o644)
	writeFile(t, filepath.Join(fake, "oci-layout/x"), "x", 0o644)
	for _, victim := range []string{work, fake} {
		before := treeFiles(t, victim)
		code, _, stderr := runCLI(t, layoutArgs(victim)...)
		if code != 1 || !strings.Contains(stderr, victim) || !strings.Contains(stderr, "not empty") {
			t.Errorf("--output %s: exit %d, stderr %q; want a refusal naming it", victim, code, stderr)
		}
		if after := treeFiles(t, victim); len(after) != len(before) || len(newPaths(after, before)) > 0 {
			t.Errorf("--output %s changed: before %v, after %v", victim, before, after)
		}
		if left := outputsLeft(t, dir); len(left) > 0 {
			t.Errorf("temporaries left behind: %v", left)
		}
	}
	if data, err := os.ReadFile(filepath.Join(work, "sub/notes.txt")); err != nil || string(data) != "keep me\n" {
		t.Errorf("notes.txt: %q %v", data, err)
	}
	// An empty directory and a previous layout are replaced.
	empty := o("empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, layoutArgs(empty)...)
	validateLayout(t, empty)
	prev := o("layout-arm64") // a previous output, replaced by the amd64 image
	writeFile(t, filepath.Join(prev, "stale"), "from an older build", 0o644)
	mustCLI(t, layoutArgs(prev)...)
	validateLayout(t, prev)
	if _, err := os.Stat(filepath.Join(prev, "stale")); !os.IsNotExist(err) {
		t.Errorf("the previous layout was not replaced: stale file %v", err)
	}
	if left := outputsLeft(t, dir); len(left) > 0 {
		t.Errorf("temporaries left behind: %v", left)
	}
}

// TestSignalRemovesTemporaries (item 8) runs the real binary on an output
// whose last blob comes from a FIFO nobody writes: once the binary has
// opened it, it is blocked with its temporary output on disk. SIGINT or
// SIGTERM must remove the temporary and exit with 128+signal.
func TestSignalRemovesTemporaries(t *testing.T) {
	bin := buildBinary(t)
	src := buildChain(t)
	s := func(n string) string { return filepath.Join(src, n) }
	for _, kind := range []string{"layout", "oci-archive"} {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run(fmt.Sprintf("%s/%v", kind, sig), func(t *testing.T) {
				dir := t.TempDir()
				fifo := filepath.Join(dir, "layer.fifo")
				if err := syscall.Mkfifo(fifo, 0o600); err != nil {
					t.Fatal(err)
				}
				out := filepath.Join(dir, "out")
				cmd := exec.Command(bin, kind, "--descriptor", s("img-amd64.json"), "--blob", s("cfg-amd64.json"), "--blob", s("man-amd64.json"),
					"--layer", s("l1.json")+"="+fifo, "--output", out)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				// Wait until the binary has opened the FIFO for reading (a
				// non-blocking open for writing succeeds only then).
				deadline := time.Now().Add(2 * time.Minute)
				var w *os.File
				for w == nil {
					f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
					switch {
					case err == nil:
						w = f
					case !errors.Is(err, syscall.ENXIO):
						t.Fatal(err)
					case time.Now().After(deadline):
						cmd.Process.Kill()
						t.Fatalf("the binary never opened the FIFO; stderr:\n%s", stderr.String())
					}
					select {
					case err := <-exited:
						t.Fatalf("the binary exited early (%v); stderr:\n%s", err, stderr.String())
					case <-time.After(10 * time.Millisecond):
					}
				}
				defer w.Close()
				if tmps := tmpEntries(dir); len(tmps) == 0 {
					t.Fatalf("no temporary output while the binary is writing: %v", treeFiles(t, dir))
				}
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				var err error
				select {
				case err = <-exited:
				case <-time.After(2 * time.Minute):
					cmd.Process.Kill()
					t.Fatalf("the binary did not exit after %v", sig)
				}
				want := 128 + int(sig)
				if code := cmd.ProcessState.ExitCode(); code != want {
					t.Errorf("after %v: exit %d (%v), want %d; stderr:\n%s", sig, code, err, want, stderr.String())
				}
				if left := tmpEntries(dir); len(left) > 0 {
					t.Errorf("after %v: temporaries left: %v", sig, left)
				}
				if _, err := os.Lstat(out); err == nil {
					t.Errorf("after %v: output %s exists", sig, out)
				}
			})
		}
	}
}

func tmpEntries(dir string) []string {
	var tmps []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			tmps = append(tmps, e.Name())
		}
	}
	return tmps
}
