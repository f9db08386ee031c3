package main

// Hardening of layer inputs (issue 9, items 4, 6 and 7), run with the real
// binary: truncated input tars, whiteouts inside input tars, hostile specs.

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/rules-repro/rules_repro/tools/layer"
)

// tarHardRun runs the repro binary and returns its exit code and stderr.
func tarHardRun(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stderr.String()
	}
	t.Fatalf("running repro: %v", err)
	return 0, ""
}

func tarHardZstd(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return buf.Bytes()
}

func tarHardSpec(t *testing.T, path string, entries ...map[string]any) string {
	t.Helper()
	writeJSON(t, path, map[string]any{"entries": entries})
	return path
}

func tarHardDescriptor(t *testing.T, path string) (digest string, entries int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Digest  string `json:"digest"`
		Entries int    `json:"entries"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	return d.Digest, d.Entries
}

// TestInputTarCutAtBlockBoundary: a tar of 3000 files cut at a 512-byte
// boundary, plain or inside a gzip or zstd stream that itself ends cleanly,
// was accepted with the members before the cut. Now: exit 1, "truncated",
// the file named, no output.
func TestInputTarCutAtBlockBoundary(t *testing.T) {
	dir := t.TempDir()
	o := func(n string) string { return filepath.Join(dir, n) }
	const members = 3000
	var hdrs []*tar.Header
	for i := range members {
		hdrs = append(hdrs, &tar.Header{Name: fmt.Sprintf("data/f%05d", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: 10})
	}
	full := tarBytes(t, hdrs...) // each member: one header block, one data block
	cut := full[:1200*1024]
	inputs := map[string][]byte{
		"cut.tar":           cut,
		"cut.tar.gz":        gz(cut),
		"cut.tar.zst":       tarHardZstd(t, cut),
		"nomarker.tar":      full[:members*1024],
		"cut-header.tar.gz": gz(full[:700*1024+512]),
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			writeFile(t, o(name), string(data), 0o644)
			spec := tarHardSpec(t, o(name+".json"), map[string]any{"type": "tar", "source": o(name), "path": "/srv"})
			code, stderr := tarHardRun(t, "layer", "--spec", spec, "--output", o("out.tgz"), "--descriptor", o("out.json"))
			if code != 1 || !strings.Contains(stderr, "truncated") || !strings.Contains(stderr, o(name)) {
				t.Errorf("exit %d, stderr %q; want exit 1 saying truncated and naming %s", code, stderr, o(name))
			}
			if code == 0 {
				_, n := tarHardDescriptor(t, o("out.json"))
				t.Errorf("the layer was written with %d entries instead of %d", n, members+2)
			}
			if left := outputsLeft(t, dir, o("out.tgz"), o("out.json")); len(left) > 0 {
				t.Errorf("outputs left behind: %v", left)
				os.Remove(o("out.tgz"))
				os.Remove(o("out.json"))
			}
			t.Logf("stderr: %s", stderr)
		})
	}
	// The complete archive is accepted, and so is one with a single zero
	// block at the end (no member is missing).
	for name, data := range map[string][]byte{"full.tar": full, "one-zero-block.tar": full[:members*1024+512]} {
		writeFile(t, o(name), string(data), 0o644)
		spec := tarHardSpec(t, o(name+".json"), map[string]any{"type": "tar", "source": o(name), "path": "/srv"})
		if code, stderr := tarHardRun(t, "layer", "--spec", spec, "--output", o(name+".tgz"), "--descriptor", o(name+".desc")); code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		if _, n := tarHardDescriptor(t, o(name+".desc")); n != members+2 {
			t.Errorf("%s: %d entries, want %d", name, n, members+2)
		}
	}
}

// TestInputTarWhiteouts: whiteouts and opaque markers inside an input tar
// give the layer a declared spec gives, and conflict as declared ones do.
func TestInputTarWhiteouts(t *testing.T) {
	dir := t.TempDir()
	o := func(n string) string { return filepath.Join(dir, n) }
	// The base image: a layer built by repro itself.
	writeFile(t, o("old.txt"), "old", 0o644)
	base := tarHardSpec(t, o("base.json"),
		map[string]any{"type": "file", "path": "/etc/old", "source": o("old.txt")},
		map[string]any{"type": "file", "path": "/etc/keep", "content": "k"},
		map[string]any{"type": "file", "path": "/var/cache/a", "content": "a"},
		map[string]any{"type": "file", "path": "/var/cache/sub/b", "content": "b"},
	)
	mustCLI(t, "layer", "--spec", base, "--output", o("base.tgz"), "--descriptor", o("base.desc"))

	epoch := time.Unix(1700000000, 0)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "etc/.wh.old", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: epoch},
		{Name: "var/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch},
		{Name: "var/cache/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch},
		{Name: "var/cache/.wh..wh..opq", Typeflag: tar.TypeReg, ModTime: epoch},
		{Name: "var/cache/new", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3, ModTime: epoch},
	} {
		tw.WriteHeader(h)
		if h.Size > 0 {
			tw.Write([]byte("new"))
		}
	}
	tw.Close()
	writeFile(t, o("exported.tar.gz"), string(gz(buf.Bytes())), 0o644)

	layerArgs := func(spec, out string) []string {
		return []string{"layer", "--spec", spec, "--lower", o("base.tgz"), "--source-date-epoch", "1700000000",
			"--output", o(out + ".tgz"), "--descriptor", o(out + ".desc")}
	}
	fromTar := tarHardSpec(t, o("from-tar.json"), map[string]any{"type": "tar", "source": o("exported.tar.gz")})
	declared := tarHardSpec(t, o("declared.json"),
		map[string]any{"type": "whiteout", "path": "/etc/old"},
		map[string]any{"type": "opaque", "path": "/var/cache"},
		map[string]any{"type": "file", "path": "/var/cache/new", "content": "new"},
	)
	for _, c := range [][]string{layerArgs(fromTar, "from-tar"), layerArgs(declared, "declared")} {
		if code, stderr := tarHardRun(t, c...); code != 0 {
			t.Fatalf("repro %s: exit %d: %s", strings.Join(c, " "), code, stderr)
		}
	}
	got, _ := tarHardDescriptor(t, o("from-tar.desc"))
	want, _ := tarHardDescriptor(t, o("declared.desc"))
	if got != want {
		t.Errorf("layer from the tar %s differs from the declared layer %s", got, want)
	}

	// Conflicts name the tar and both declarations; nothing is written.
	writeFile(t, o("both.tar"), string(tarBytes(t,
		&tar.Header{Name: "etc/keep", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
		&tar.Header{Name: "etc/.wh.keep", Typeflag: tar.TypeReg},
	)), 0o644)
	writeFile(t, o("aufs.tar"), string(tarBytes(t, &tar.Header{Name: ".wh..wh.plnk/", Typeflag: tar.TypeDir, Mode: 0o700})), 0o644)
	cases := []struct {
		name string
		spec string
		want []string
	}{
		{"whiteout and file in one tar", tarHardSpec(t, o("c1.json"), map[string]any{"type": "tar", "source": o("both.tar")}),
			[]string{o("both.tar"), `"/etc/keep" is declared twice`, `member "etc/keep"`, `member "etc/.wh.keep"`}},
		{"tar whiteout of a declared file", tarHardSpec(t, o("c2.json"),
			map[string]any{"type": "file", "path": "/etc/old", "content": "x"},
			map[string]any{"type": "tar", "source": o("exported.tar.gz")}),
			[]string{o("exported.tar.gz"), `"/etc/old" is declared twice with different types (file, whiteout)`, "entries[0]", `entries[1] (tar "" from ` + o("exported.tar.gz") + `) member "etc/.wh.old"`}},
		{"whiteout of a directory the layer fills", tarHardSpec(t, o("c3.json"),
			map[string]any{"type": "file", "path": "/etc/old/x", "content": "x"},
			map[string]any{"type": "tar", "source": o("exported.tar.gz")}),
			[]string{o("exported.tar.gz"), `deletes "/etc/old"`, `adds "/etc/old/x" below it`}},
		{"aufs metadata", tarHardSpec(t, o("c4.json"), map[string]any{"type": "tar", "source": o("aufs.tar")}),
			[]string{o("aufs.tar"), "AUFS"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stderr := tarHardRun(t, layerArgs(c.spec, "bad")...)
			if code != 1 {
				t.Errorf("exit %d, want 1; stderr %q", code, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, stderr)
				}
			}
			if left := outputsLeft(t, dir, o("bad.tgz"), o("bad.desc")); len(left) > 0 {
				t.Errorf("outputs left behind: %v", left)
				os.Remove(o("bad.tgz"))
				os.Remove(o("bad.desc"))
			}
			t.Logf("stderr: %s", stderr)
		})
	}
}

// TestHostileLayerSpec: a deeply nested spec is refused at once by the depth
// check, and a spec file larger than the bound without reading it.
func TestHostileLayerSpec(t *testing.T) {
	dir := t.TempDir()
	o := func(n string) string { return filepath.Join(dir, n) }
	depth := 1000000
	writeFile(t, o("deep.json"), `{"entries":[{"type":"file","path":"/a","content":`+strings.Repeat("[", depth)+strings.Repeat("]", depth)+`}]}`, 0o644)
	f, err := os.Create(o("huge.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(layer.MaxSpecSize + 1); err != nil { // sparse
		t.Fatal(err)
	}
	f.Close()
	for _, c := range []struct{ spec, want string }{
		{o("deep.json"), "nested deeper than"},
		{o("huge.json"), "larger than"},
	} {
		code, stderr := tarHardRun(t, "layer", "--spec", c.spec, "--output", o("out.tgz"), "--descriptor", o("out.json"))
		if code != 1 || !strings.Contains(stderr, c.spec) || !strings.Contains(stderr, c.want) {
			t.Errorf("exit %d, stderr %q; want exit 1 naming %s and saying %q", code, stderr, c.spec, c.want)
		}
		if left := outputsLeft(t, dir, o("out.tgz"), o("out.json")); len(left) > 0 {
			t.Errorf("outputs left behind: %v", left)
		}
	}
}
