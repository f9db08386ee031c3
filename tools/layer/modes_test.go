package layer

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rules-repro/rules_repro/tools/compat"
)

// big is larger than the walk reads whole (prefetchMax), so that the
// streamed walk chooses its mode from the open descriptor.
var bigScript = "#!/bin/sh\n" + strings.Repeat("# padding of a big script\n", 2000)
var bigData = strings.Repeat("data, not a program\n", 2500)

// modesTree writes the same content twice over with different permission
// bits: as a normal checkout has them (executables 0755, data 0644) and,
// with remote, as a machine that changes them does (bazel#12818 marks
// every input executable; a checkout can lose x bits): data executable,
// scripts and programs not, a setuid data file.
func modesTree(t *testing.T, remote bool) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := []struct {
		name, content      string
		normal, remoteMode os.FileMode
	}{
		{"run.sh", "#!/bin/sh\necho hello\n", 0o755, 0o644},
		{"data.txt", "data\n", 0o644, 0o755},
		{"tool", "\x7fELF\x02\x01\x01 a program", 0o755, 0o600},
		{"big.sh", bigScript, 0o755, 0o644},
		{"big.dat", bigData, 0o644, 0o755},
		{"empty", "", 0o644, 0o755},
		{"hash", "#", 0o644, 0o755},        // one byte: not "#!"
		{"elfish", "\x7fEL", 0o644, 0o755}, // 3 bytes: not ELF
		{"suid", "data\n", 0o644, 0o4755},
	}
	for _, f := range files {
		p := filepath.Join(dir, "app", f.name)
		if err := os.WriteFile(p, []byte(f.content), 0o600); err != nil {
			t.Fatal(err)
		}
		mode := f.normal
		if remote {
			mode = f.remoteMode
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	// A hard link to the script ("link" sorts first: it carries the content).
	if err := os.Link(filepath.Join(dir, "app", "run.sh"), filepath.Join(dir, "app", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// modesLayer builds a layer of dir under v in one of three ways: declared
// file entries plus a tree entry with an override and an explicit mode
// ("spec", as the rules declare files, runfiles and tree artifacts), or
// the directory itself (--dir) collected ("dir") or streamed ("stream").
// It returns the uncompressed layer.
func modesLayer(t *testing.T, v *compat.Version, how, dir string) []byte {
	t.Helper()
	tree := NewTree(Options{Epoch: 1700000000, Version: v})
	defer tree.Close()
	app := filepath.Join(dir, "app")
	switch how {
	case "spec":
		s := &Spec{Entries: []Entry{
			{Type: "file", Path: "/bin/run.sh", Source: filepath.Join(app, "run.sh")},
			{Type: "file", Path: "/bin/tool", Source: filepath.Join(app, "tool")},
			{Type: "file", Path: "/share/data.txt", Source: filepath.Join(app, "data.txt")},
			{Type: "file", Path: "/share/big.dat", Source: filepath.Join(app, "big.dat")},
			{Type: "file", Path: "/share/empty", Source: filepath.Join(app, "empty")},
			{Type: "file", Path: "/share/private.sh", Source: filepath.Join(app, "run.sh"), Mode: "0700"},
			{Type: "file", Path: "/share/public.txt", Source: filepath.Join(app, "data.txt"), Mode: "0755"},
			{Type: "tree", Path: "/tree", Source: app},
			// The same file declared again, as a file: same content, same mode.
			{Type: "file", Path: "/tree/run.sh", Source: filepath.Join(app, "run.sh")},
		}, Overrides: []Override{
			{Path: "/tree/data.txt", Mode: "0750"},
			{Path: "/tree/big.sh", Mode: "0500"},
		}}
		if err := tree.AddSpec(s, "modes"); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := tree.WriteTar(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	case "dir":
		if err := tree.AddDir(dir); err != nil {
			t.Fatal(err)
		}
	case "stream":
		if err := tree.SetStreamDir(dir); err != nil {
			t.Fatal(err)
		}
	}
	enc, err := v.Encoding("uncompressed", -1)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "layer.tar")
	if _, err := Build(tree, out, "", BuildOptions{Encoding: enc}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// tarModes returns "name type mode" of every entry, and checks that each
// regular file's content is complete.
func tarModes(t *testing.T, data []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil || int64(len(body)) != h.Size {
			t.Fatalf("%s: read %d of %d bytes: %v", h.Name, len(body), h.Size, err)
		}
		out[h.Name] = fmt.Sprintf("%c %04o", h.Typeflag, h.Mode)
	}
}

func digestOf(data []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(data)) }

// TestModesFromContent: under version 2 a layer does not depend on the
// permission bits of the files it is built from, only on their content
// (scripts and ELF programs 0755, the rest 0644), whether they are declared
// files, files of a tree, or a --dir (collected or streamed); explicit modes
// and overrides still win. Under version 1 the same two trees give
// different layers: the bug remote execution shows (bazel#12818).
func TestModesFromContent(t *testing.T) {
	v1, v2 := compat.V1(), mustVersion(t, 2)
	normal, remote := modesTree(t, false), modesTree(t, true)
	want := map[string]map[string]string{
		"spec": {
			"bin/run.sh": "0 0755", "bin/tool": "0 0755", "share/data.txt": "0 0644", "share/big.dat": "0 0644",
			"share/empty": "0 0644", "share/private.sh": "0 0700", "share/public.txt": "0 0755",
			"tree/": "5 0755", "tree/run.sh": "0 0755", "tree/link": "0 0755", "tree/tool": "0 0755",
			"tree/data.txt": "0 0750", "tree/big.sh": "0 0500", "tree/big.dat": "0 0644", "tree/empty": "0 0644",
			"tree/hash": "0 0644", "tree/elfish": "0 0644", "tree/suid": "0 0644",
			"bin/": "5 0755", "share/": "5 0755",
		},
		"dir": {
			"app/": "5 0755", "app/link": "0 0755", "app/run.sh": "1 0755", "app/tool": "0 0755",
			"app/data.txt": "0 0644", "app/big.sh": "0 0755", "app/big.dat": "0 0644", "app/empty": "0 0644",
			"app/hash": "0 0644", "app/elfish": "0 0644", "app/suid": "0 0644",
		},
	}
	want["stream"] = want["dir"]
	for _, how := range []string{"spec", "dir", "stream"} {
		t.Run(how, func(t *testing.T) {
			a, b := modesLayer(t, v2, how, normal), modesLayer(t, v2, how, remote)
			if digestOf(a) != digestOf(b) {
				t.Errorf("version 2: the layer depends on the disk's permission bits: %s (checkout) != %s (remote)\n%v\n%v", digestOf(a), digestOf(b), tarModes(t, a), tarModes(t, b))
			}
			got := tarModes(t, b)
			for name, m := range want[how] {
				if got[name] != m {
					t.Errorf("version 2: %s: got %q, want %q (typeflag, mode)", name, got[name], m)
				}
			}
			if len(got) != len(want[how]) {
				t.Errorf("version 2: %d entries, want %d: %v", len(got), len(want[how]), got)
			}
			// Version 1 (frozen) takes the x bits from disk: the two trees
			// give different layers, and the checkout's is version 2's
			// for a checkout whose bits agree with the content.
			c, d := modesLayer(t, v1, how, normal), modesLayer(t, v1, how, remote)
			if digestOf(c) == digestOf(d) {
				t.Errorf("version 1: the same layer %s from different permission bits; version 1 is expected to take them from disk", digestOf(c))
			}
			if got := tarModes(t, d); how != "spec" && got["app/data.txt"] != "0 0755" {
				t.Errorf("version 1: app/data.txt executable on disk: got %q, want mode 0755 from disk", got["app/data.txt"])
			}
			if digestOf(c) != digestOf(a) {
				t.Errorf("version 1 and 2 differ for a tree whose bits agree with the content: %s != %s", digestOf(c), digestOf(a))
			}
		})
	}
}

// TestModesFromContentConflicts: a path declared twice is compared with
// the mode its content gives.
func TestModesFromContentConflicts(t *testing.T) {
	dir := modesTree(t, true)
	app := filepath.Join(dir, "app")
	tree := NewTree(Options{Epoch: 1, Version: mustVersion(t, 2)})
	defer tree.Close()
	err := tree.AddSpec(&Spec{Entries: []Entry{
		{Type: "tree", Path: "/t", Source: app},
		{Type: "file", Path: "/t/run.sh", Source: filepath.Join(app, "run.sh"), Mode: "0644"},
	}}, "conflict")
	if err == nil || !strings.Contains(err.Error(), "different modes (0755, 0644)") {
		t.Fatalf("got %v, want a conflict of modes 0755 (from content) and 0644", err)
	}
}

func mustVersion(t *testing.T, n int) *compat.Version {
	t.Helper()
	v, err := compat.Lookup(n)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
