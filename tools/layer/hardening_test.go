package layer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/rules-repro/rules_repro/tools/safejson"
)

// tarData returns a tar written by Go's tar.Writer (two zero blocks at the
// end); contents sets the sizes and data of regular members.
func tarData(t testing.TB, hdrs []*tar.Header, contents map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if c, ok := contents[h.Name]; ok {
			h.Size = int64(len(c))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(contents[h.Name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compress(t testing.TB, data []byte, comp string) []byte {
	t.Helper()
	var z bytes.Buffer
	switch comp {
	case "none":
		return data
	case "gzip":
		w := gzip.NewWriter(&z)
		w.Write(data)
		w.Close()
	case "zstd":
		w, err := zstd.NewWriter(&z)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	default:
		t.Fatalf("unknown compression %q", comp)
	}
	return z.Bytes()
}

// manyFiles is a tar of n one-block files: each member is a header block and
// a data block, so every multiple of 1024 is a member boundary.
func manyFiles(t testing.TB, n int) []byte {
	var hdrs []*tar.Header
	contents := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("f%05d", i)
		hdrs = append(hdrs, &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644})
		contents[name] = strings.Repeat("x", 100+i%400)
	}
	return tarData(t, hdrs, contents)
}

func tarMembers(t *testing.T, data []byte) int {
	t.Helper()
	return len(readTar(t, data))
}

// TestTarWithoutEndMarkerIsTruncated: Go's tar.Reader reports a clean end
// when the stream stops at a block boundary, even without the end-of-archive
// zero blocks. An input tar cut there must be reported, for plain, gzip and
// zstd inputs (a compressed stream that ends cleanly around a cut tar).
func TestTarWithoutEndMarkerIsTruncated(t *testing.T) {
	full := manyFiles(t, 200) // 200 members, 1024 bytes each, then 1024 zero bytes
	endOfMembers := 200 * 1024
	cuts := []struct {
		name string
		data []byte
	}{
		{"cut between members", full[:60*1024]},
		{"cut after a header", full[:60*1024+512]},
		{"no end marker", full[:endOfMembers]},
		{"cut in padding", full[:199*1024+512+299+10]}, // member 199 has 299 bytes
		{"empty file", nil},
	}
	for _, comp := range []string{"none", "gzip", "zstd"} {
		for _, c := range cuts {
			t.Run(comp+"/"+c.name, func(t *testing.T) {
				p := filepath.Join(t.TempDir(), "cut.tar")
				if err := os.WriteFile(p, compress(t, c.data, comp), 0o644); err != nil {
					t.Fatal(err)
				}
				data, err := buildTar(t, Options{Epoch: 1}, Entry{Type: "tar", Source: p})
				if err == nil {
					t.Fatalf("accepted: the layer has %d of the 200 members", tarMembers(t, data))
				}
				if !strings.Contains(err.Error(), "truncated") || !strings.Contains(err.Error(), p) {
					t.Errorf("error %q: want it to say truncated and name %s", err, p)
				}
			})
		}
	}
}

// TestTarEndMarkerVariantsAccepted: two zero blocks (POSIX), one zero block
// (lossless: every member is before it; GNU tar accepts it with a warning),
// and record padding or other data after the marker.
func TestTarEndMarkerVariantsAccepted(t *testing.T) {
	full := manyFiles(t, 10)
	end := 10 * 1024
	variants := map[string][]byte{
		"two zero blocks":   full,
		"one zero block":    full[:end+512],
		"record padding":    append(append([]byte(nil), full...), make([]byte, 10240-len(full)%10240)...),
		"trailing garbage":  append(append([]byte(nil), full...), []byte("garbage after the end")...),
		"only the marker":   make([]byte, 1024),
		"only a zero block": make([]byte, 512),
	}
	for name, data := range variants {
		for _, comp := range []string{"none", "gzip", "zstd"} {
			t.Run(comp+"/"+name, func(t *testing.T) {
				p := filepath.Join(t.TempDir(), "in.tar")
				os.WriteFile(p, compress(t, data, comp), 0o644)
				entries := []Entry{{Type: "tar", Source: p}}
				if len(data) <= 1024 {
					entries = append(entries, Entry{Type: "file", Path: "keep", Content: str("k")})
				}
				out, err := buildTar(t, Options{Epoch: 1}, entries...)
				if err != nil {
					t.Fatal(err)
				}
				want := 10
				if len(data) <= 1024 {
					want = 1
				}
				if got := tarMembers(t, out); got != want {
					t.Errorf("%d members, want %d", got, want)
				}
			})
		}
	}
}

// TestTarsOfCommonToolsAccepted runs the archivers users feed us: GNU tar,
// bsdtar (rules_oci's tar.bzl), Python's tarfile (rules_pkg's pkg_tar) and
// Go's tar.Writer, plain and compressed, with long names and hard links.
func TestTarsOfCommonToolsAccepted(t *testing.T) {
	src := t.TempDir()
	long := strings.Repeat("l", 150)
	os.MkdirAll(filepath.Join(src, "d", long), 0o755)
	os.WriteFile(filepath.Join(src, "d", "f"), []byte("content"), 0o644)
	os.WriteFile(filepath.Join(src, "d", long, "g"), bytes.Repeat([]byte("y"), 5000), 0o644)
	os.Link(filepath.Join(src, "d", "f"), filepath.Join(src, "d", "hard"))
	os.Symlink("f", filepath.Join(src, "d", "sym"))
	out := t.TempDir()
	type archiver struct {
		name, file string
		argv       []string
	}
	var tools []archiver
	if _, err := exec.LookPath("tar"); err == nil {
		tools = append(tools,
			archiver{"gnu tar", "gnu.tar", []string{"tar", "-cf", filepath.Join(out, "gnu.tar"), "-C", src, "d"}},
			archiver{"gnu tar posix", "gnu-posix.tar", []string{"tar", "--format=posix", "-cf", filepath.Join(out, "gnu-posix.tar"), "-C", src, "d"}},
			archiver{"gnu tar gzip", "gnu.tar.gz", []string{"tar", "-czf", filepath.Join(out, "gnu.tar.gz"), "-C", src, "d"}},
		)
		if _, err := exec.LookPath("zstd"); err == nil {
			tools = append(tools, archiver{"gnu tar zstd", "gnu.tar.zst", []string{"tar", "--zstd", "-cf", filepath.Join(out, "gnu.tar.zst"), "-C", src, "d"}})
		}
	}
	if _, err := exec.LookPath("bsdtar"); err == nil {
		tools = append(tools,
			archiver{"bsdtar", "bsd.tar", []string{"bsdtar", "-cf", filepath.Join(out, "bsd.tar"), "-C", src, "d"}},
			archiver{"bsdtar pax gzip", "bsd.tar.gz", []string{"bsdtar", "--format", "pax", "-czf", filepath.Join(out, "bsd.tar.gz"), "-C", src, "d"}},
			archiver{"bsdtar zstd", "bsd.tar.zst", []string{"bsdtar", "--zstd", "-cf", filepath.Join(out, "bsd.tar.zst"), "-C", src, "d"}},
		)
	}
	if _, err := exec.LookPath("python3"); err == nil {
		script := "import sys, tarfile\nwith tarfile.open(sys.argv[1], 'w' + sys.argv[2]) as t:\n    t.add(sys.argv[3], arcname='d')\n"
		tools = append(tools,
			archiver{"python tarfile", "py.tar", []string{"python3", "-c", script, filepath.Join(out, "py.tar"), "", filepath.Join(src, "d")}},
			archiver{"python tarfile gzip", "py.tar.gz", []string{"python3", "-c", script, filepath.Join(out, "py.tar.gz"), ":gz", filepath.Join(src, "d")}},
		)
	}
	if _, err := exec.LookPath("git"); err == nil {
		// git archive starts with a PAX global header.
		repo := filepath.Join(t.TempDir(), "repo")
		os.MkdirAll(filepath.Join(repo, "d"), 0o755)
		os.WriteFile(filepath.Join(repo, "d", "f"), []byte("content"), 0o644)
		git := []string{"git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com"}
		for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"commit", "-qm", "m"}} {
			if msg, err := exec.Command(git[0], append(git[1:], args...)...).CombinedOutput(); err != nil {
				t.Fatalf("git %v: %v\n%s", args, err, msg)
			}
		}
		tools = append(tools, archiver{"git archive", "git.tar", append(git, "archive", "-o", filepath.Join(out, "git.tar"), "HEAD")})
	}
	if len(tools) == 0 {
		t.Log("no archiver installed; only Go's writer is tested")
	}
	for _, a := range tools {
		cmd := exec.Command(a.argv[0], a.argv[1:]...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", a.name, err, msg)
			continue
		}
		t.Run(a.name, func(t *testing.T) {
			data, err := buildTar(t, Options{Epoch: 1}, Entry{Type: "tar", Source: filepath.Join(out, a.file)})
			if err != nil {
				t.Fatal(err)
			}
			want := "d/ d/f d/hard d/" + long + "/ d/" + long + "/g d/sym"
			if a.name == "git archive" {
				want = "d/ d/f"
			}
			if got := names(readTar(t, data)); got != want {
				t.Errorf("members: %s", got)
			}
		})
	}
	t.Run("go tar.Writer", func(t *testing.T) {
		p := filepath.Join(out, "go.tar")
		os.WriteFile(p, tarData(t, []*tar.Header{{Name: "d/" + long + "/g", Typeflag: tar.TypeReg, Mode: 0o644}}, map[string]string{"d/" + long + "/g": "g"}), 0o644)
		if _, err := buildTar(t, Options{Epoch: 1}, Entry{Type: "tar", Source: p}); err != nil {
			t.Fatal(err)
		}
	})
}

// whiteoutLower is a base image with files to delete.
func whiteoutLower(t *testing.T) *Lower {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lower.tar")
	writeTarFile(t, p, "none", []*tar.Header{
		{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "etc/old", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "etc/keep", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "var/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "var/cache/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "var/cache/a", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "var/cache/sub/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "var/cache/sub/b", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "opt/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "opt/tool", Typeflag: tar.TypeReg, Mode: 0o755},
	}, nil)
	l, err := ReadLower([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestTarWhiteoutsAsDeclared: whiteouts and opaque markers inside an input
// tar are whiteouts, and give exactly the bytes of the same tree declared in
// a spec, with and without lower layers, plain and compressed.
func TestTarWhiteoutsAsDeclared(t *testing.T) {
	epoch := int64(1000)
	later := time.Unix(5000, 0) // clamped to the epoch, as declared entries get it
	hdrs := func() []*tar.Header {
		return []*tar.Header{
			{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: later},
			{Name: "etc/.wh.old", Typeflag: tar.TypeReg, Mode: 0o600, Uid: 7, ModTime: later}, // metadata normalized
			{Name: "var/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: later},
			{Name: "var/cache/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: later},
			{Name: "var/cache/.wh..wh..opq", Typeflag: tar.TypeReg, ModTime: later},
			{Name: "var/cache/new", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: later},
			{Name: ".wh.opt", Typeflag: tar.TypeReg},
		}
	}
	declared := []Entry{
		{Type: "whiteout", Path: "/etc/old"},
		{Type: "opaque", Path: "/var/cache"},
		{Type: "file", Path: "/var/cache/new", Content: str("n")},
		{Type: "whiteout", Path: "/opt"},
	}
	for _, comp := range []string{"none", "gzip", "zstd"} {
		t.Run(comp, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "in.tar")
			os.WriteFile(p, compress(t, tarData(t, hdrs(), map[string]string{"var/cache/new": "n"}), comp), 0o644)
			lower := whiteoutLower(t)
			want, err := buildTar(t, Options{Epoch: epoch, Lower: lower}, declared...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := buildTar(t, Options{Epoch: epoch, Lower: lower}, Entry{Type: "tar", Source: p})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("from tar:\n%v\ndeclared:\n%v", readTar(t, got), readTar(t, want))
			}
			if n := names(readTar(t, got)); n != "etc/ etc/.wh.old .wh.opt var/ var/cache/ var/cache/.wh.a var/cache/new var/cache/.wh.sub" {
				t.Errorf("members: %s", n)
			}
			// Without lower layers, whiteouts are kept as declared ones are.
			var noOpq []*tar.Header
			for _, h := range hdrs() {
				if !strings.HasSuffix(h.Name, ".opq") {
					noOpq = append(noOpq, h)
				}
			}
			os.WriteFile(p, compress(t, tarData(t, noOpq, map[string]string{"var/cache/new": "n"}), comp), 0o644)
			want, err = buildTar(t, Options{Epoch: epoch}, declared[0], Entry{Type: "dir", Path: "/var/cache"}, declared[2], declared[3])
			if err != nil {
				t.Fatal(err)
			}
			got, err = buildTar(t, Options{Epoch: epoch}, Entry{Type: "tar", Source: p})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("without lower, from tar:\n%v\ndeclared:\n%v", readTar(t, got), readTar(t, want))
			}
		})
	}
}

// TestTarWhiteoutUnderPrefix: a tar placed under a path deletes below it.
func TestTarWhiteoutUnderPrefix(t *testing.T) {
	p := filepath.Join(t.TempDir(), "in.tar")
	os.WriteFile(p, tarData(t, []*tar.Header{{Name: ".wh.tool", Typeflag: tar.TypeReg}, {Name: ".wh..wh..opq", Typeflag: tar.TypeReg}}, nil), 0o644)
	lower := whiteoutLower(t)
	got, err := buildTar(t, Options{Epoch: 1, Lower: lower}, Entry{Type: "tar", Source: p, Path: "/opt"})
	if err != nil {
		t.Fatal(err)
	}
	want, err := buildTar(t, Options{Epoch: 1, Lower: lower}, Entry{Type: "opaque", Path: "/opt"}, Entry{Type: "whiteout", Path: "/opt/tool"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("from tar:\n%v\ndeclared:\n%v", readTar(t, got), readTar(t, want))
	}
}

// TestTarWhiteoutConflicts: the checks of declared whiteouts apply, and
// names that cannot be a whiteout are refused.
func TestTarWhiteoutConflicts(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, hdrs []*tar.Header, contents map[string]string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, tarData(t, hdrs, contents), 0o644)
		return p
	}
	reg := func(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644} }
	cases := []struct {
		name    string
		lower   bool
		entries func() []Entry
		want    []string
	}{
		{"whiteout and file in one tar", false, func() []Entry {
			return []Entry{{Type: "tar", Source: mk("same.tar", []*tar.Header{reg("a/x"), reg("a/.wh.x")}, nil)}}
		}, []string{`path "/a/x" is declared twice`, "types (file, whiteout)", `member "a/x"`, `member "a/.wh.x"`, "same.tar"}},
		{"tar whiteout of a declared file", false, func() []Entry {
			return []Entry{{Type: "file", Path: "/a/x", Content: str("1")}, {Type: "tar", Source: mk("wh.tar", []*tar.Header{reg("a/.wh.x")}, nil)}}
		}, []string{`path "/a/x" is declared twice`, "entries[0]", `member "a/.wh.x"`}},
		{"tar whiteout of a declared dir's child", false, func() []Entry {
			return []Entry{{Type: "file", Path: "/a/x/y", Content: str("1")}, {Type: "tar", Source: mk("wh2.tar", []*tar.Header{reg("a/.wh.x")}, nil)}}
		}, []string{`deletes "/a/x" but`, "adds \"/a/x/y\" below it", `member "a/.wh.x"`}},
		{"whiteout of a dir the tar fills", false, func() []Entry {
			return []Entry{{Type: "tar", Source: mk("fill.tar", []*tar.Header{reg(".wh.d"), reg("d/f")}, nil)}}
		}, []string{`deletes "/d"`, `below it`}},
		{"opaque marker on a file", true, func() []Entry {
			return []Entry{{Type: "tar", Source: mk("opqfile.tar", []*tar.Header{reg("etc/keep"), reg("etc/keep/.wh..wh..opq")}, nil)}}
		}, []string{"opqfile.tar", `"/etc/keep" is declared opaque but is a file`}},
		{"opaque marker on a whiteout", true, func() []Entry {
			return []Entry{{Type: "tar", Source: mk("opqwh.tar", []*tar.Header{reg(".wh.var"), reg("var/.wh..wh..opq")}, nil)}}
		}, []string{"opqwh.tar", `"/var" is declared opaque but is a whiteout`}},
		{"opaque marker without lower layers", false, func() []Entry {
			return []Entry{{Type: "tar", Source: mk("opq.tar", []*tar.Header{reg("var/cache/.wh..wh..opq")}, nil)}}
		}, []string{"opq.tar", `member "var/cache/.wh..wh..opq"`, "lower layers are needed"}},
		{"opaque marker at the root", true, func() []Entry {
			return []Entry{{Type: "tar", Source: mk("opqroot.tar", []*tar.Header{reg(".wh..wh..opq")}, nil)}}
		}, []string{"opqroot.tar", "image root"}},
		{"aufs metadata", false, func() []Entry {
			return []Entry{{Type: "tar", Source: mk("aufs.tar", []*tar.Header{{Name: ".wh..wh.plnk/", Typeflag: tar.TypeDir, Mode: 0o700}}, nil)}}
		}, []string{"aufs.tar", `".wh..wh.plnk"`, "AUFS"}},
		{"whiteout name as a directory", false, func() []Entry {
			return []Entry{{Type: "tar", Source: mk("whdir.tar", []*tar.Header{reg("a/.wh.b/c")}, nil)}}
		}, []string{"whdir.tar", `".wh.b"`}},
		{"whiteout that is a directory", false, func() []Entry {
			return []Entry{{Type: "tar", Source: mk("whisdir.tar", []*tar.Header{{Name: "a/.wh.b/", Typeflag: tar.TypeDir, Mode: 0o755}}, nil)}}
		}, []string{"whisdir.tar", "directory", "empty regular file"}},
		{"whiteout with content", false, func() []Entry {
			return []Entry{{Type: "tar", Source: mk("whdata.tar", []*tar.Header{reg("a/.wh.b")}, map[string]string{"a/.wh.b": "data"})}}
		}, []string{"whdata.tar", "4 bytes", "empty regular file"}},
		{"whiteout of nothing", false, func() []Entry {
			return []Entry{{Type: "tar", Source: mk("whempty.tar", []*tar.Header{reg("a/.wh.")}, nil)}}
		}, []string{"whempty.tar", `"a/.wh."`, "names no file"}},
		{"whiteout of dot-dot", false, func() []Entry {
			return []Entry{{Type: "tar", Source: mk("whdotdot.tar", []*tar.Header{reg("a/.wh..."), reg("a/.wh..")}, nil)}}
		}, []string{"whdotdot.tar", `"a/.wh..."`, "names no file"}},
		{"hard link to a whiteout", false, func() []Entry {
			return []Entry{{Type: "tar", Source: mk("whlink.tar", []*tar.Header{reg("a/.wh.x"), {Name: "a/y", Typeflag: tar.TypeLink, Linkname: "a/.wh.x"}}, nil)}}
		}, []string{"whlink.tar", `member "a/y"`, `".wh.x"`}},
		{"declared path below a whiteout name", false, func() []Entry {
			return []Entry{{Type: "file", Path: "/a/.wh.b/c", Content: str("1")}}
		}, []string{"entries[0]", `".wh.b"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := Options{Epoch: 1}
			if c.lower {
				opts.Lower = whiteoutLower(t)
			}
			data, err := buildTar(t, opts, c.entries()...)
			if err == nil {
				t.Fatalf("accepted; layer: %v", readTar(t, data))
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestTarWhiteoutsValid: what declared whiteouts allow, tar ones allow too.
func TestTarWhiteoutsValid(t *testing.T) {
	dir := t.TempDir()
	reg := func(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644} }
	both := filepath.Join(dir, "both.tar")
	os.WriteFile(both, tarData(t, []*tar.Header{reg("etc/.wh.old")}, nil), 0o644)
	refill := filepath.Join(dir, "refill.tar")
	os.WriteFile(refill, tarData(t, []*tar.Header{reg("var/cache/.wh..wh..opq"), reg("var/cache/sub/b"), reg("var/cache/z")}, nil), 0o644)
	aufsLink := filepath.Join(dir, "aufslink.tar")
	os.WriteFile(aufsLink, tarData(t, []*tar.Header{reg("etc/.wh.old"), {Name: "etc/.wh.keep", Typeflag: tar.TypeLink, Linkname: "etc/.wh.old"}}, nil), 0o644)
	lower := whiteoutLower(t)
	// The same whiteout from a tar and a declaration collapses.
	hs := mustTar(t, Options{Epoch: 1, Lower: lower}, Entry{Type: "whiteout", Path: "/etc/old"}, Entry{Type: "tar", Source: both})
	if got := names(hs); got != "etc/ etc/.wh.old" {
		t.Errorf("duplicate whiteout: %s", got)
	}
	// An opaque directory the same tar fills again, as docker writes
	// "rm -rf dir && mkdir dir && ...".
	hs = mustTar(t, Options{Epoch: 1, Lower: lower}, Entry{Type: "tar", Source: refill})
	if got := names(hs); got != "var/ var/cache/ var/cache/.wh.a var/cache/sub/ var/cache/sub/b var/cache/z" {
		t.Errorf("opaque refilled: %s", got)
	}
	// Whiteouts written as hard links to one another (docker's export of
	// AUFS layers) are whiteouts.
	hs = mustTar(t, Options{Epoch: 1, Lower: lower}, Entry{Type: "tar", Source: aufsLink})
	if got := names(hs); got != "etc/ etc/.wh.keep etc/.wh.old" {
		t.Errorf("hard-linked whiteouts: %s", got)
	}
	for _, h := range hs[1:] {
		if h.typ != "reg" || h.size != 0 || h.mode != 0 || h.mtime != 0 {
			t.Errorf("whiteout not normalized: %v", h)
		}
	}
}

// TestTreeWhiteoutNamesRefused: a file named .wh.x in a declared tree would
// be read as a deletion by every runtime.
func TestTreeWhiteoutNamesRefused(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", ".wh.x"), nil, 0o644)
	_, err := buildTar(t, Options{}, Entry{Type: "tree", Source: dir, Path: "/app"})
	if err == nil || !strings.Contains(err.Error(), "sub/.wh.x") || !strings.Contains(err.Error(), "deletion") {
		t.Errorf("got %v", err)
	}
}

func TestDeepSpecRefused(t *testing.T) {
	depth := 200000
	deep := `{"entries":[{"type":"file","path":"/a","xattrs":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}]}`
	start := time.Now()
	_, err := ParseSpec([]byte(deep), "deep.json")
	var de *safejson.DepthError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "deep.json") || !strings.Contains(err.Error(), "nested deeper than") {
		t.Errorf("got %v; want a depth error naming deep.json", err)
	}
	t.Logf("refused in %v", time.Since(start))
	// Ordinary nesting is fine.
	if _, err := ParseSpec([]byte(`{"entries":[{"type":"file","path":"/a","content":"[[[[{{{{","xattrs":{"user.a":"b"}}]}`), "ok.json"); err != nil {
		t.Error(err)
	}
}

func TestSpecSizeBounded(t *testing.T) {
	p := filepath.Join(t.TempDir(), "huge.json")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: costs no disk. Only a reader that checks the size first is
	// fast here.
	if err := f.Truncate(MaxSpecSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = ReadSpec(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("got %v", err)
	}
	// Too big without a size to stat first (a pipe).
	_, err = readSpecFrom(bytes.NewReader(make([]byte, 100)), "pipe", 99)
	if err == nil || !strings.Contains(err.Error(), "pipe") || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("got %v", err)
	}
}

// TestTarDeviceNumbersOnlyForDevices: tar.Reader returns the device fields
// of every header; only devices keep them (found by FuzzReadTar's checks).
func TestTarDeviceNumbersOnlyForDevices(t *testing.T) {
	p := filepath.Join(t.TempDir(), "dev.tar")
	os.WriteFile(p, tarData(t, []*tar.Header{
		{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755, Devmajor: 7, Devminor: 1},
		{Name: "d/f", Typeflag: tar.TypeReg, Mode: 0o644, Devmajor: 5, Devminor: 2},
		{Name: "d/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3},
	}, map[string]string{"d/f": "x"}), 0o644)
	data, err := buildTar(t, Options{Epoch: 1}, Entry{Type: "tar", Source: p})
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		want := [2]int64{}
		if h.Typeflag == tar.TypeChar {
			want = [2]int64{1, 3}
		}
		if got := [2]int64{h.Devmajor, h.Devminor}; got != want {
			t.Errorf("%s: device numbers %v, want %v", h.Name, got, want)
		}
	}
	if err := checkLayer(data, ""); err != nil {
		t.Error(err)
	}
}
