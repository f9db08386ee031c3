package main

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rules-repro/rules_repro/tools/oci"
)

// File modes under compatibility version 2 through the CLI: the same
// content with other permission bits on disk (what remote execution does,
// bazel#12818) gives the same layer from a spec and from --dir; version 1
// takes the bits from disk and gives another.

// modesInputs writes a script, an ELF program and a data file with the
// bits a checkout has (remote false) or swapped (remote true).
func modesInputs(t *testing.T, remote bool) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []struct {
		name, content string
		local, remote os.FileMode
	}{
		{"run.sh", "#!/bin/sh\necho hi\n", 0o755, 0o644},
		{"prog", "\x7fELF\x02\x01\x01", 0o755, 0o600},
		{"data.txt", "data\n", 0o644, 0o755},
	} {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, []byte(f.content), 0o600); err != nil {
			t.Fatal(err)
		}
		m := f.local
		if remote {
			m = f.remote
		}
		if err := os.Chmod(p, m); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func modesCLILayer(t *testing.T, version, how, in string) (digest string, modes map[string]int64) {
	t.Helper()
	out := t.TempDir()
	args := []string{"layer", "--output", filepath.Join(out, "l.tar"), "--descriptor", filepath.Join(out, "l.json"),
		"--compression", "none", "--compatibility-version", version, "--source-date-epoch", "1700000000"}
	if how == "dir" {
		args = append(args, "--dir", in)
	} else {
		spec := filepath.Join(out, "spec.json")
		writeJSON(t, spec, map[string]any{"entries": []map[string]any{
			{"type": "file", "path": "/bin/run", "source": filepath.Join(in, "run.sh")},
			{"type": "file", "path": "/bin/prog", "source": filepath.Join(in, "prog")},
			{"type": "file", "path": "/etc/data.txt", "source": filepath.Join(in, "data.txt")},
			{"type": "file", "path": "/etc/kept.sh", "source": filepath.Join(in, "run.sh"), "mode": "0640"},
			{"type": "tree", "path": "/tree", "source": in},
		}})
		args = append(args, "--spec", spec)
	}
	mustCLI(t, args...)
	d, err := oci.ReadLayerDescriptor(filepath.Join(out, "l.json"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, "l.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	modes = map[string]int64{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		modes[h.Name] = h.Mode
	}
	return d.Digest.String(), modes
}

func TestModesFromContentCLI(t *testing.T) {
	local, remote := modesInputs(t, false), modesInputs(t, true)
	want := map[string]map[string]int64{
		"spec": {"bin/run": 0o755, "bin/prog": 0o755, "etc/data.txt": 0o644, "etc/kept.sh": 0o640,
			"tree/run.sh": 0o755, "tree/prog": 0o755, "tree/data.txt": 0o644},
		"dir": {"run.sh": 0o755, "prog": 0o755, "data.txt": 0o644},
	}
	for _, how := range []string{"spec", "dir"} {
		t.Run(how, func(t *testing.T) {
			a, _ := modesCLILayer(t, "2", how, local)
			b, modes := modesCLILayer(t, "2", how, remote)
			if a != b {
				t.Errorf("version 2: permission bits on disk changed the layer: %s (checkout) vs %s (swapped bits)", a, b)
			}
			for name, m := range want[how] {
				if modes[name] != m {
					t.Errorf("version 2, swapped bits: %s has mode %s, want %04o", name, fmt.Sprintf("%04o", modes[name]), m)
				}
			}
			c, _ := modesCLILayer(t, "1", how, local)
			d, v1modes := modesCLILayer(t, "1", how, remote)
			if c == d {
				t.Errorf("version 1 (frozen) takes modes from disk: expected different layers, got %s twice", c)
			}
			if c != a {
				t.Errorf("bits that agree with the content: version 1 %s, version 2 %s, want the same layer", c, a)
			}
			t.Logf("version 2: %s (checkout), %s (swapped bits); version 1: %s, %s", a, b, c, d)
			data := "etc/data.txt"
			if how == "dir" {
				data = "data.txt"
			}
			if v1modes[data] != 0o755 {
				t.Errorf("version 1, swapped bits: %s has mode %04o, want 0755 (the disk's; the bug version 2 fixes)", data, v1modes[data])
			}
		})
	}
}
