package repocheck

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/bazelbuild/buildtools/build"
	"github.com/rules-repro/rules_repro/tools/internal/bzldoc"
)

const (
	referenceBegin = "<!-- BEGIN GENERATED REFERENCE (REPRO_UPDATE=1 go test ./tools/internal/repocheck) -->"
	referenceEnd   = "<!-- END GENERATED REFERENCE -->"
)

// moduleName is the name in MODULE.bazel's module(), which users write in
// load labels ("@rules_repro//rules:defs.bzl").
func moduleName(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "MODULE.bazel"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := build.ParseModule("MODULE.bazel", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Rules("module") {
		if name := r.AttrString("name"); name != "" {
			return name
		}
	}
	t.Fatal("MODULE.bazel has no module(name = ...)")
	return ""
}

// renderReference documents the public files rules/*.bzl.
func renderReference(t *testing.T) []byte {
	t.Helper()
	fsys := os.DirFS(repoRoot)
	files, err := fs.Glob(fsys, "rules/*.bzl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no public .bzl files in rules/ (%v)", err)
	}
	ref, err := bzldoc.Extract(fsys, files, bzldoc.WithRepoName(moduleName(t)))
	if err != nil {
		t.Fatalf("cannot document rules/*.bzl; fix the .bzl files:\n%v", err)
	}
	return ref.Markdown()
}

// spliceReference replaces what lies between the reference markers.
func spliceReference(readme, ref []byte) ([]byte, error) {
	begin := bytes.Index(readme, []byte(referenceBegin))
	end := bytes.Index(readme, []byte(referenceEnd))
	if begin < 0 || end < 0 || end < begin {
		return nil, fmt.Errorf("README.md needs the lines %q and %q, in this order", referenceBegin, referenceEnd)
	}
	if bytes.Count(readme, []byte(referenceBegin)) != 1 || bytes.Count(readme, []byte(referenceEnd)) != 1 {
		return nil, fmt.Errorf("README.md has the reference markers more than once")
	}
	var b bytes.Buffer
	b.Write(readme[:begin+len(referenceBegin)])
	b.WriteString("\n")
	b.Write(bytes.TrimSpace(ref))
	b.WriteString("\n")
	b.Write(readme[end:])
	return b.Bytes(), nil
}

func TestReadmeReferenceUpToDate(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := spliceReference(readme, renderReference(t))
	if err != nil {
		t.Fatal(err)
	}
	checkGenerated(t, "README.md", want)
}

func TestSpliceReference(t *testing.T) {
	for _, tc := range []struct {
		name, readme, want string
		wantErr            bool
	}{
		{
			name:   "empty section",
			readme: "# X\n\n" + referenceBegin + "\n" + referenceEnd + "\n\nafter\n",
			want:   "# X\n\n" + referenceBegin + "\nREF\n" + referenceEnd + "\n\nafter\n",
		},
		{
			name:   "stale section",
			readme: referenceBegin + "\nold\nlines\n" + referenceEnd + "\n",
			want:   referenceBegin + "\nREF\n" + referenceEnd + "\n",
		},
		{name: "no markers", readme: "# X\n", wantErr: true},
		{name: "reversed markers", readme: referenceEnd + "\n" + referenceBegin + "\n", wantErr: true},
		{name: "twice", readme: referenceBegin + referenceEnd + referenceBegin + referenceEnd, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := spliceReference([]byte(tc.readme), []byte("\nREF\n\n"))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
