package atomicfile

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func list(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// newLayout builds a new output directory for path holding one file.
func newLayout(t *testing.T, path string) (*Dir, error) {
	d, err := CreateDir(path)
	if err != nil {
		return nil, err
	}
	write(t, filepath.Join(d.Path, "oci-layout"), "new")
	return d, nil
}

// TestDirReplacesOnlyEmptyOrLayout (issue 9 item 2): an existing
// directory is replaced only when empty or a previous OCI layout.
func TestDirReplacesOnlyEmptyOrLayout(t *testing.T) {
	parent := t.TempDir()
	p := func(n string) string { return filepath.Join(parent, n) }

	// Nothing there, an empty directory, a previous layout: replaced.
	os.Mkdir(p("empty"), 0o755)
	write(t, p("prev/oci-layout"), "old")
	write(t, p("prev/blobs/sha256/x"), "old blob")
	for _, name := range []string{"absent", "empty", "prev"} {
		d, err := newLayout(t, p(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := d.Commit(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := list(t, p(name)); strings.Join(got, " ") != ". oci-layout" {
			t.Errorf("%s: holds %v after commit", name, got)
		}
	}

	// A directory with other files, one whose oci-layout is not a regular
	// file, a file: refused at CreateDir, untouched.
	write(t, p("work/main.go"), "package main")
	write(t, p("fake/oci-layout/x"), "x")
	write(t, p("file"), "a file")
	os.Symlink(p("prev"), p("link"))
	for _, name := range []string{"work", "fake", "file", "link"} {
		before := list(t, p(name))
		if _, err := newLayout(t, p(name)); err == nil || !strings.Contains(err.Error(), p(name)) {
			t.Errorf("%s: CreateDir %v, want a refusal naming it", name, err)
		}
		if after := list(t, p(name)); strings.Join(after, " ") != strings.Join(before, " ") {
			t.Errorf("%s: changed from %v to %v", name, before, after)
		}
	}

	// A directory that gains files after CreateDir is refused at Commit,
	// and left as it is.
	os.Mkdir(p("late"), 0o755)
	d, err := newLayout(t, p("late"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, p("late/notes.txt"), "keep")
	if err := d.Commit(); err == nil || !strings.Contains(err.Error(), p("late")) || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("late: Commit %v", err)
	}
	if got := list(t, p("late")); strings.Join(got, " ") != ". notes.txt" {
		t.Errorf("late: holds %v", got)
	}
	if tmps, _ := filepath.Glob(p(".*tmp-*")); len(tmps) != 0 {
		t.Errorf("temporaries left: %v", tmps)
	}
	if live := temporaries(); len(live) != 0 {
		t.Errorf("still recorded: %v", live)
	}
}

// TestRemoveTemporaries (issue 9 item 8): every temporary file and
// directory not yet committed is recorded and removed; committed outputs
// stay; nothing new can start afterwards.
func TestRemoveTemporaries(t *testing.T) {
	parent := t.TempDir()
	p := func(n string) string { return filepath.Join(parent, n) }
	done, err := Create(p("done"))
	if err != nil {
		t.Fatal(err)
	}
	done.Write([]byte("x"))
	if err := done.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := Create(p("file"))
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("partial"))
	d, err := CreateDir(p("dir"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(d.Path, "blobs/sha256/x"), "partial")
	if n := len(temporaries()); n != 2 {
		t.Errorf("%d temporaries recorded, want 2", n)
	}

	removed := RemoveTemporaries()
	defer func() {
		live.Lock()
		live.stopped = false
		live.Unlock()
	}()
	if len(removed) != 2 {
		t.Errorf("removed %v", removed)
	}
	if got := list(t, parent); strings.Join(got, " ") != ". done" {
		t.Errorf("left: %v", got)
	}
	if err := f.Commit(); err == nil {
		t.Error("a removed file was committed")
	}
	if err := d.Commit(); err == nil {
		t.Error("a removed directory was committed")
	}
	if _, err := Create(p("new")); err == nil {
		t.Error("Create after RemoveTemporaries")
	}
	if _, err := CreateDir(p("newdir")); err == nil {
		t.Error("CreateDir after RemoveTemporaries")
	}
	if got := list(t, parent); strings.Join(got, " ") != ". done" {
		t.Errorf("left: %v", got)
	}
}

// top lists the names directly in dir, sorted.
func top(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestGroupAllOrNone(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	var g Group
	if err := g.WriteFile(a, []byte("A")); err != nil {
		t.Fatal(err)
	}
	if err := g.WriteFile(b, []byte("B")); err != nil {
		t.Fatal(err)
	}
	if got := top(t, dir); len(got) != 2 || !strings.HasPrefix(got[0], ".a.tmp-") || !strings.HasPrefix(got[1], ".b.tmp-") {
		t.Fatalf("before Commit the directory holds %v, want two temporaries", got)
	}
	g.Abort()
	if got := top(t, dir); len(got) != 0 {
		t.Fatalf("after Abort: %v", got)
	}

	var ok Group
	defer ok.Abort()
	for _, p := range []string{a, b} {
		if err := ok.WriteFile(p, []byte(filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
	}
	if err := ok.Commit(); err != nil {
		t.Fatal(err)
	}
	ok.Abort() // a no-op after Commit
	if got := top(t, dir); strings.Join(got, ",") != "a,b" {
		t.Fatalf("after Commit: %v", got)
	}

	// A staged file whose final place cannot take it (a non-empty
	// directory): Commit fails and leaves no temporary behind.
	if err := os.MkdirAll(filepath.Join(dir, "c", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	var bad Group
	if err := bad.WriteFile(filepath.Join(dir, "c"), []byte("C")); err != nil {
		t.Fatal(err)
	}
	if err := bad.WriteFile(filepath.Join(dir, "d"), []byte("D")); err != nil {
		t.Fatal(err)
	}
	if err := bad.Commit(); err == nil {
		t.Fatal("Commit over a non-empty directory succeeded")
	}
	if got := top(t, dir); strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("after a failed Commit: %v (want no temporaries and no d)", got)
	}

	// The second file fails: the first, already moved, is deleted again.
	var half Group
	if err := half.WriteFile(filepath.Join(dir, "e"), []byte("E")); err != nil {
		t.Fatal(err)
	}
	if err := half.WriteFile(filepath.Join(dir, "c"), []byte("C")); err != nil {
		t.Fatal(err)
	}
	if err := half.Commit(); err == nil {
		t.Fatal("Commit over a non-empty directory succeeded")
	}
	if got := top(t, dir); strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("after a half-failed Commit: %v (want no e and no temporaries)", got)
	}
}
