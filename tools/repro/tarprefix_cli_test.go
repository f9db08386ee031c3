package main

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLayerTarStripPrefixOverrides: `repro layer` places a tar's members
// under a path with strip_prefix removed and applies overrides to them; the
// layer is the one the same files declared one by one give.
func TestLayerTarStripPrefixOverrides(t *testing.T) {
	dir := t.TempDir()
	o := func(n string) string { return filepath.Join(dir, n) }
	late := time.Unix(1800000000, 0) // after the epoch: clamped
	writeFile(t, o("dist.tar"), string(tarBytes(t,
		&tar.Header{Name: "dist/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 501, Gid: 20, ModTime: late},
		&tar.Header{Name: "dist/bin/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: late},
		&tar.Header{Name: "dist/bin/app", Typeflag: tar.TypeReg, Mode: 0o600, Uid: 501, Gid: 20, Uname: "dev", Gname: "staff", Size: 3, ModTime: late},
	)), 0o644)
	fromTar := o("from-tar.json")
	writeJSON(t, fromTar, map[string]any{
		"entries":   []any{map[string]any{"type": "tar", "source": o("dist.tar"), "path": "/srv", "strip_prefix": "dist"}},
		"overrides": []any{map[string]any{"path": "/srv/bin/app", "mode": "0755", "uid": 1000, "gid": 1000}},
	})
	declared := tarHardSpec(t, o("declared.json"),
		map[string]any{"type": "file", "path": "/srv/bin/app", "content": "xxx", "mode": "0755", "uid": 1000, "gid": 1000},
	)
	digests := map[string]string{}
	for _, spec := range []string{fromTar, declared} {
		name := strings.TrimSuffix(filepath.Base(spec), ".json")
		mustCLI(t, "layer", "--spec", spec, "--source-date-epoch", "1700000000", "--compression", "none",
			"--output", o(name+".tar"), "--descriptor", o(name+".desc"))
		digests[name], _ = tarHardDescriptor(t, o(name+".desc"))
	}
	if digests["from-tar"] != digests["declared"] {
		t.Errorf("the layer from the tar (%s) differs from the declared one (%s)", digests["from-tar"], digests["declared"])
	}
	got := readTarFile(t, o("from-tar.tar"))
	want := []string{"srv/ 0755 0:0", "srv/bin/ 0755 0:0", "srv/bin/app 0755 1000:1000"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("layer entries %q, want %q", got, want)
	}

	// A member outside strip_prefix fails the command, naming it.
	writeFile(t, o("stray.tar"), string(tarBytes(t,
		&tar.Header{Name: "dist/a", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
		&tar.Header{Name: "LICENSE", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
	)), 0o644)
	stray := tarHardSpec(t, o("stray.json"), map[string]any{"type": "tar", "source": o("stray.tar"), "strip_prefix": "dist"})
	code, stderr := tarHardRun(t, "layer", "--spec", stray, "--output", o("stray.tgz"), "--descriptor", o("stray.desc"))
	if code != 1 || !strings.Contains(stderr, `member "LICENSE": not under strip_prefix "dist"`) {
		t.Errorf("exit %d, stderr %q; want exit 1 naming the member outside strip_prefix", code, stderr)
	}
}

func readTarFile(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		out = append(out, fmt.Sprintf("%s %04o %d:%d", h.Name, h.Mode, h.Uid, h.Gid))
	}
	return out
}
