package layer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rules-repro/rules_repro/tools/blob"
	"github.com/rules-repro/rules_repro/tools/compat"
)

type buildkitCompat struct {
	Epoch    int64              `json:"epoch"`
	Trees    map[string][]Entry `json:"trees"`
	Expected []struct {
		Case        string `json:"case"`
		Tree        string `json:"tree"`
		Compression string `json:"compression"`
		Level       *int   `json:"level"`
		Digest      string `json:"digest"`
		Size        int64  `json:"size"`
	} `json:"expected"`
}

func loadBuildkitCompat(t *testing.T) *buildkitCompat {
	t.Helper()
	data, err := os.ReadFile("testdata/buildkit_compat.json")
	if err != nil {
		t.Fatal(err)
	}
	var c buildkitCompat
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Expected) == 0 {
		t.Fatal("no expectations")
	}
	return &c
}

// materialize writes a declared tree to disk with times later than the
// epoch, as BuildKit's snapshot would have them before rewrite-timestamp.
func materialize(t *testing.T, entries []Entry) string {
	t.Helper()
	dir := t.TempDir()
	for _, e := range entries {
		p := filepath.Join(dir, filepath.FromSlash(e.Path))
		mode, _ := parseMode(e.Mode)
		switch e.Type {
		case "dir":
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case "file":
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(*e.Content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, os.FileMode(mode)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// MkdirAll applies the umask; BuildKit's directories are 0755.
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			os.Chmod(p, 0o755)
		}
		return err
	})
	return dir
}

// TestBuildKitPublishedDigests reproduces every layer digest in BuildKit's
// compatibility goldens that comes from file operations, both from declared
// entries and from a directory on disk, under each of our compatibility
// versions (docs/compatibility.md maps them to BuildKit's).
func TestBuildKitPublishedDigests(t *testing.T) {
	for _, n := range compat.Supported() {
		v, err := compat.Lookup(n)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprintf("v%d", n), func(t *testing.T) { testBuildKitPublishedDigests(t, v) })
	}
}

func testBuildKitPublishedDigests(t *testing.T, v *compat.Version) {
	c := loadBuildkitCompat(t)
	for _, exp := range c.Expected {
		level := -1
		if exp.Level != nil {
			level = *exp.Level
		}
		enc, err := v.Encoding(exp.Compression, level)
		if err != nil {
			t.Fatal(err)
		}
		for _, mode := range []string{"spec", "dir", "stream"} {
			name := fmt.Sprintf("%s/%s/%s", exp.Case, exp.Tree, mode)
			t.Run(name, func(t *testing.T) {
				tree := NewTree(Options{Epoch: c.Epoch, Version: v})
				defer tree.Close()
				entries, ok := c.Trees[exp.Tree]
				if !ok {
					t.Fatalf("unknown tree %q", exp.Tree)
				}
				if mode == "spec" {
					if err := tree.AddSpec(&Spec{Entries: entries}, "fixture"); err != nil {
						t.Fatal(err)
					}
				} else if mode == "dir" {
					if err := tree.AddDir(materialize(t, entries)); err != nil {
						t.Fatal(err)
					}
				} else if err := tree.SetStreamDir(materialize(t, entries)); err != nil {
					t.Fatal(err)
				}
				out := filepath.Join(t.TempDir(), "layer")
				d, err := Build(tree, out, "", BuildOptions{Encoding: enc})
				if err != nil {
					t.Fatal(err)
				}
				if mode != "spec" && !modesFromContent(v, entries) {
					// BuildKit takes a file's mode from the build context;
					// a version with ModeFromContent takes it from the
					// content. A tree on disk whose file modes are not the
					// ones their content gives (0600, 0666 data files) cannot
					// give BuildKit's layer: make sure it does not.
					if d.Digest.String() == exp.Digest {
						t.Errorf("got BuildKit's %s although the tree's file modes on disk differ from the modes of their content", d.Digest)
					}
					return
				}
				if d.Digest.String() != exp.Digest || d.Size != exp.Size {
					t.Errorf("got %s (%d bytes), BuildKit published %s (%d bytes)", d.Digest, d.Size, exp.Digest, exp.Size)
				}
				if enc.Compression == blob.None && d.DiffID != d.Digest {
					t.Errorf("uncompressed layer: diff_id %s != digest %s", d.DiffID, d.Digest)
				}
			})
		}
	}
}

// modesFromContent reports whether the files of a tree on disk get the
// same modes under v as BuildKit gives them (their modes on disk): always
// under a version without TarRules.ModeFromContent, else when every file's
// mode is the one its content gives.
func modesFromContent(v *compat.Version, entries []Entry) bool {
	if !v.Tar.ModeFromContent {
		return true
	}
	for _, e := range entries {
		if e.Type != "file" {
			continue
		}
		mode, _ := parseMode(e.Mode)
		if mode != v.Tar.ContentMode([]byte(*e.Content)) {
			return false
		}
	}
	return true
}
