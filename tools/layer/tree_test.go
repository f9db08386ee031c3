package layer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

type hdrSummary struct {
	name, typ, link string
	mode            int64
	uid, gid        int
	mtime           int64
	size            int64
	content         string
	format          tar.Format
	pax             map[string]string
}

func (h hdrSummary) String() string {
	return fmt.Sprintf("%s %s %04o %d:%d t=%d size=%d link=%q", h.typ, h.name, h.mode, h.uid, h.gid, h.mtime, h.size, h.link)
}

func typeName(b byte) string {
	switch b {
	case tar.TypeReg:
		return "reg"
	case tar.TypeDir:
		return "dir"
	case tar.TypeSymlink:
		return "sym"
	case tar.TypeLink:
		return "link"
	case tar.TypeChar:
		return "char"
	case tar.TypeBlock:
		return "block"
	case tar.TypeFifo:
		return "fifo"
	}
	return string(b)
}

func readTar(t *testing.T, data []byte) []hdrSummary {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var out []hdrSummary
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		c, _ := io.ReadAll(tr)
		out = append(out, hdrSummary{name: h.Name, typ: typeName(h.Typeflag), link: h.Linkname, mode: h.Mode, uid: h.Uid, gid: h.Gid,
			mtime: h.ModTime.Unix(), size: h.Size, content: string(c), format: h.Format, pax: h.PAXRecords})
	}
	return out
}

func names(hs []hdrSummary) string {
	var s []string
	for _, h := range hs {
		s = append(s, h.name)
	}
	return strings.Join(s, " ")
}

func buildTar(t *testing.T, opts Options, entries ...Entry) ([]byte, error) {
	t.Helper()
	tree := NewTree(opts)
	defer tree.Close()
	if err := tree.AddSpec(&Spec{Entries: entries}, "spec.json"); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTar(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func mustTar(t *testing.T, opts Options, entries ...Entry) []hdrSummary {
	t.Helper()
	data, err := buildTar(t, opts, entries...)
	if err != nil {
		t.Fatal(err)
	}
	// The archive ends with exactly two zero blocks.
	if len(data)%512 != 0 || !bytes.Equal(data[len(data)-1024:], make([]byte, 1024)) {
		t.Fatalf("archive does not end with two zero blocks")
	}
	return readTar(t, data)
}

func str(s string) *string { return &s }
func num(i int) *int       { return &i }

func TestWalkOrderAndParents(t *testing.T) {
	hs := mustTar(t, Options{Epoch: 100},
		Entry{Type: "file", Path: "/a.txt", Content: str("x")},
		Entry{Type: "file", Path: "a/b", Content: str("y")},
		Entry{Type: "file", Path: "./a-b/c", Content: str("z")},
		Entry{Type: "dir", Path: "/z/y/x/"},
	)
	want := "a/ a/b a-b/ a-b/c a.txt z/ z/y/ z/y/x/"
	if got := names(hs); got != want {
		t.Errorf("order:\n got %s\nwant %s", got, want)
	}
	for _, h := range hs {
		if h.mtime != 100 || h.uid != 0 || h.gid != 0 {
			t.Errorf("%v: want mtime 100 and owner 0:0", h)
		}
		if h.typ == "dir" && h.mode != 0o755 {
			t.Errorf("%v: implicit/declared dir mode want 0755", h)
		}
		if h.format != tar.FormatUSTAR {
			t.Errorf("%v: format %v, want USTAR", h, h.format)
		}
	}
}

func TestDefaultsAndExecutableBit(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "exe")
	plain := filepath.Join(dir, "plain")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o700)
	os.WriteFile(plain, []byte("data"), 0o600)
	hs := mustTar(t, Options{},
		Entry{Type: "file", Path: "exe", Source: exe},
		Entry{Type: "file", Path: "plain", Source: plain},
		Entry{Type: "file", Path: "inline", Content: str("i")},
		Entry{Type: "file", Path: "setuid", Content: str("s"), Mode: "4755", UID: num(1000), GID: num(1001), Uname: "app", Gname: "grp"},
		Entry{Type: "symlink", Path: "link", Target: "../somewhere"},
	)
	want := map[string]int64{"exe": 0o755, "plain": 0o644, "inline": 0o644, "setuid": 0o4755, "link": 0o777}
	byName := map[string]hdrSummary{}
	for _, h := range hs {
		byName[h.name] = h
		if h.mode != want[h.name] {
			t.Errorf("%s: mode %04o, want %04o", h.name, h.mode, want[h.name])
		}
	}
	if h := byName["setuid"]; h.uid != 1000 || h.gid != 1001 {
		t.Errorf("owner not kept: %v", h)
	}
	if h := byName["link"]; h.typ != "sym" || h.link != "../somewhere" {
		t.Errorf("symlink: %v", h)
	}
}

func TestHardlinksFirstInWalkOrderCarriesContent(t *testing.T) {
	hs := mustTar(t, Options{},
		Entry{Type: "file", Path: "z/data", Content: str("payload"), Mode: "0600"},
		Entry{Type: "hardlink", Path: "a/link1", Target: "z/data"},
		Entry{Type: "hardlink", Path: "m/link2", Target: "a/link1"}, // chain
	)
	got := map[string]hdrSummary{}
	for _, h := range hs {
		got[h.name] = h
	}
	if h := got["a/link1"]; h.typ != "reg" || h.content != "payload" || h.mode != 0o600 {
		t.Errorf("first member should be the regular file: %v", h)
	}
	for _, n := range []string{"m/link2", "z/data"} {
		if h := got[n]; h.typ != "link" || h.link != "a/link1" || h.size != 0 || h.mode != 0o600 {
			t.Errorf("%s should link to a/link1: %v", n, h)
		}
	}
}

func TestWhiteoutsAndOrder(t *testing.T) {
	hs := mustTar(t, Options{Epoch: 50},
		Entry{Type: "file", Path: "etc/b", Content: str("b")},
		Entry{Type: "whiteout", Path: "etc/foo"},
		Entry{Type: "file", Path: "etc/zzz", Content: str("z")},
		Entry{Type: "file", Path: "etc/foo.d/x", Content: str("x")},
	)
	// The whiteout sits where the deleted name sorts ("foo"), not where
	// ".wh.foo" would sort, as in BuildKit's overlay differ.
	want := "etc/ etc/b etc/.wh.foo etc/foo.d/ etc/foo.d/x etc/zzz"
	if got := names(hs); got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	wh := hs[2]
	if wh.typ != "reg" || wh.mode != 0 || wh.mtime != 0 || wh.size != 0 || wh.uid != 0 {
		t.Errorf("whiteout header: %v", wh)
	}
}

func TestPAXOnlyWhenNeeded(t *testing.T) {
	long := strings.Repeat("d", 120) + "/" + strings.Repeat("f", 120)
	hs := mustTar(t, Options{},
		Entry{Type: "file", Path: long, Content: str("x")},
		Entry{Type: "file", Path: "short", Content: str("x")},
		Entry{Type: "file", Path: "xattr", Content: str("x"), Xattrs: map[string]string{"user.b": "2", "user.a": "1"}, XattrsBase64: map[string]string{"security.capability": "AQAAAgAEAAAAAAAAAAAAAAAAAAA="}},
		Entry{Type: "file", Path: "bigid", Content: str("x"), UID: num(1 << 22)},
	)
	for _, h := range hs {
		// The 121-byte directory name cannot be split into USTAR's
		// prefix and name fields either.
		wantPAX := h.name == long || h.name == strings.Repeat("d", 120)+"/" || h.name == "xattr" || h.name == "bigid"
		if (h.format == tar.FormatPAX) != wantPAX || h.format == tar.FormatGNU {
			t.Errorf("%s: format %v", h.name, h.format)
		}
		if h.name == "xattr" && (h.pax["SCHILY.xattr.user.a"] != "1" || h.pax["SCHILY.xattr.security.capability"] == "") {
			t.Errorf("xattrs not stored: %v", h.pax)
		}
	}
}

// TestRewriteIsIdempotent passes our output through the same tar.Reader to
// tar.Writer conversion BuildKit's rewrite-timestamp applies, and requires
// identical bytes: BuildKit's second pass would not change our layer.
func TestRewriteIsIdempotent(t *testing.T) {
	long := strings.Repeat("n", 150)
	data, err := buildTar(t, Options{Epoch: 1000},
		Entry{Type: "file", Path: long, Content: str("x")},
		Entry{Type: "file", Path: "x", Content: str("y"), Xattrs: map[string]string{"user.k": "v"}},
		Entry{Type: "symlink", Path: strings.Repeat("s", 90) + "/" + strings.Repeat("l", 90), Target: strings.Repeat("t", 200)},
		Entry{Type: "whiteout", Path: "gone"},
		Entry{Type: "hardlink", Path: "hl", Target: "x"},
	)
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Unix(1000, 0)
	var out bytes.Buffer
	tr, tw := tar.NewReader(bytes.NewReader(data)), tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.ModTime.After(epoch) {
			h.ModTime = epoch
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.Copy(tw, tr)
	}
	tw.Close()
	if !bytes.Equal(out.Bytes(), data) {
		t.Errorf("a BuildKit-style rewrite pass changes our bytes")
	}
}

func TestConflictsNameBothDeclarations(t *testing.T) {
	cases := []struct {
		name    string
		entries []Entry
		want    []string
	}{
		{"different content", []Entry{{Type: "file", Path: "a", Content: str("1")}, {Type: "file", Path: "/a", Content: str("2")}},
			[]string{"entries[0]", "entries[1]", `"/a"`, "contents"}},
		{"different mode", []Entry{{Type: "dir", Path: "d", Mode: "0700"}, {Type: "dir", Path: "d/"}},
			[]string{"entries[0]", "entries[1]", "modes (0700, 0755)"}},
		{"file vs dir", []Entry{{Type: "file", Path: "x", Content: str("1")}, {Type: "dir", Path: "x"}},
			[]string{"types (file, directory)"}},
		{"below a file", []Entry{{Type: "file", Path: "x", Content: str("1")}, {Type: "file", Path: "x/y", Content: str("1")}},
			[]string{`"/x/y" is below "/x"`}},
		{"below a symlink", []Entry{{Type: "symlink", Path: "x", Target: "/etc"}, {Type: "file", Path: "x/passwd", Content: str("1")}},
			[]string{`which is a symlink`}},
		{"whiteout with child", []Entry{{Type: "whiteout", Path: "x"}, {Type: "file", Path: "x/y", Content: str("1")}},
			[]string{"deletes", "below it"}},
		{"dangling hardlink", []Entry{{Type: "hardlink", Path: "x", Target: "nope"}}, []string{`"/nope" is not in the layer`}},
		{"hardlink to dir", []Entry{{Type: "dir", Path: "d"}, {Type: "hardlink", Path: "x", Target: "d"}}, []string{"is a directory"}},
		{"escape", []Entry{{Type: "file", Path: "../etc/passwd", Content: str("1")}}, []string{"escapes the image root"}},
		{"nul", []Entry{{Type: "file", Path: "a\x00b", Content: str("1")}}, []string{"NUL"}},
		{"empty path", []Entry{{Type: "file", Content: str("1")}}, []string{"empty path"}},
		{"root", []Entry{{Type: "dir", Path: "/"}}, []string{"root cannot be declared"}},
		{"wh name", []Entry{{Type: "file", Path: "a/.wh.b", Content: str("1")}}, []string{"whiteout entry instead"}},
		{"bad mode", []Entry{{Type: "file", Path: "a", Content: str("1"), Mode: "0999"}}, []string{`invalid mode "0999"`}},
		{"mode too big", []Entry{{Type: "file", Path: "a", Content: str("1"), Mode: "17777"}}, []string{"at most 07777"}},
		{"unknown type", []Entry{{Type: "fil", Path: "a"}}, []string{`unknown type "fil"`}},
		{"field not allowed", []Entry{{Type: "dir", Path: "a", Content: str("x")}}, []string{`field "content" is not allowed on a dir entry`}},
		{"opaque without lower", []Entry{{Type: "opaque", Path: "var/cache"}}, []string{"lower layers are needed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := buildTar(t, Options{}, c.entries...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestIdenticalDuplicatesCollapse(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "f")
	os.WriteFile(src, []byte("same"), 0o644)
	hs := mustTar(t, Options{},
		Entry{Type: "file", Path: "a/f", Source: src},
		Entry{Type: "file", Path: "/a/f", Content: str("same")},
		Entry{Type: "dir", Path: "a"},
		Entry{Type: "dir", Path: "a/"},
	)
	if got := names(hs); got != "a/ a/f" {
		t.Errorf("got %s", got)
	}
}

func writeTarFile(t *testing.T, path, compression string, hdrs []*tar.Header, contents map[string]string) {
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
		tw.Write([]byte(contents[h.Name]))
	}
	tw.Close()
	data := buf.Bytes()
	switch compression {
	case "gzip":
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write(data)
		w.Close()
		data = z.Bytes()
	case "zstd":
		var z bytes.Buffer
		w, _ := zstd.NewWriter(&z)
		w.Write(data)
		w.Close()
		data = z.Bytes()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInputTarsMerged(t *testing.T) {
	for _, comp := range []string{"none", "gzip", "zstd"} {
		t.Run(comp, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "in.tar")
			writeTarFile(t, p, comp, []*tar.Header{
				{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755},
				{Name: "./usr/", Typeflag: tar.TypeDir, Mode: 0o750, ModTime: time.Unix(10, 0)},
				{Name: "./usr/bin/tool", Typeflag: tar.TypeReg, Mode: 0o100755, Uid: 5, Gid: 6, Uname: "u", Gname: "g", ModTime: time.Unix(5000, 0)},
				{Name: "./usr/bin/alias", Typeflag: tar.TypeLink, Linkname: "./usr/bin/tool"},
				{Name: "./usr/old", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: time.Unix(20, 500)},
			}, map[string]string{"./usr/bin/tool": "#!tool", "./usr/old": "o"})
			hs := mustTar(t, Options{Epoch: 1000},
				Entry{Type: "tar", Source: p, Path: "/opt"},
				Entry{Type: "file", Path: "/opt/usr/bin/extra", Content: str("e")},
			)
			want := "opt/ opt/usr/ opt/usr/bin/ opt/usr/bin/alias opt/usr/bin/extra opt/usr/bin/tool opt/usr/old"
			if got := names(hs); got != want {
				t.Fatalf("got %s\nwant %s", got, want)
			}
			byName := map[string]hdrSummary{}
			for _, h := range hs {
				byName[h.name] = h
			}
			if h := byName["opt/usr/"]; h.mode != 0o750 || h.mtime != 10 {
				t.Errorf("tar dir metadata not kept: %v", h)
			}
			if h := byName["opt/usr/bin/alias"]; h.typ != "reg" || h.content != "#!tool" || h.uid != 5 || h.mode != 0o755 || h.mtime != 1000 {
				t.Errorf("first hard link member should hold the data, clamped: %v", h)
			}
			if h := byName["opt/usr/bin/tool"]; h.typ != "link" || h.link != "opt/usr/bin/alias" {
				t.Errorf("tool should link to alias: %v", h)
			}
			if h := byName["opt/usr/old"]; h.mtime != 20 {
				t.Errorf("old time should be kept (truncated): %v", h)
			}
			if h := byName["opt/usr/bin/"]; h.mode != 0o755 || h.mtime != 1000 {
				t.Errorf("implicit parent: %v", h)
			}
		})
	}
}

func TestInputTarErrors(t *testing.T) {
	dir := t.TempDir()
	escape := filepath.Join(dir, "escape.tar")
	writeTarFile(t, escape, "none", []*tar.Header{{Name: "../etc/passwd", Typeflag: tar.TypeReg}}, map[string]string{"../etc/passwd": "x"})
	dangling := filepath.Join(dir, "dangling.tar")
	writeTarFile(t, dangling, "none", []*tar.Header{{Name: "a", Typeflag: tar.TypeLink, Linkname: "missing"}}, nil)
	good := filepath.Join(dir, "good.tar.gz")
	writeTarFile(t, good, "gzip", []*tar.Header{{Name: "big", Typeflag: tar.TypeReg}}, map[string]string{"big": strings.Repeat("x", 100000)})
	full, _ := os.ReadFile(good)
	truncGz := filepath.Join(dir, "trunc.tar.gz")
	os.WriteFile(truncGz, full[:len(full)/2], 0o644)
	plain := filepath.Join(dir, "plain.tar")
	writeTarFile(t, plain, "none", []*tar.Header{{Name: "big", Typeflag: tar.TypeReg}}, map[string]string{"big": strings.Repeat("x", 100000)})
	pfull, _ := os.ReadFile(plain)
	truncPlain := filepath.Join(dir, "trunc.tar")
	os.WriteFile(truncPlain, pfull[:5000], 0o644)
	corrupt := filepath.Join(dir, "corrupt.tar")
	bad := append([]byte(nil), pfull...)
	copy(bad[100:], "garbage!")
	os.WriteFile(corrupt, bad, 0o644)
	cases := []struct{ src, want string }{
		{escape, "escapes the image root"},
		{dangling, `hard link target "/missing" is not in the layer`},
		{truncGz, "truncated or corrupt"},
		{truncPlain, "truncated tar archive"},
		{corrupt, "corrupt tar archive"},
		{filepath.Join(dir, "missing.tar"), "no such file"},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.src), func(t *testing.T) {
			_, err := buildTar(t, Options{}, Entry{Type: "tar", Source: c.src})
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), filepath.Base(c.src)) {
				t.Errorf("error %v: want it to name %s and say %q", err, filepath.Base(c.src), c.want)
			}
		})
	}
}

func TestLowerLayers(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.tar.gz")
	writeTarFile(t, base, "gzip", []*tar.Header{
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777},
		{Name: "home/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "home/user/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 1000, Gid: 1000},
		{Name: "var/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "var/cache/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "var/cache/a", Typeflag: tar.TypeReg},
		{Name: "var/cache/keep/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "var/cache/keep/old", Typeflag: tar.TypeReg},
		{Name: "var/cache/sub/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "var/cache/sub/x", Typeflag: tar.TypeReg},
		{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "etc/gone-already", Typeflag: tar.TypeReg},
	}, nil)
	second := filepath.Join(dir, "second.tar")
	writeTarFile(t, second, "none", []*tar.Header{
		{Name: "etc/.wh.gone-already", Typeflag: tar.TypeReg},
	}, nil)
	lower, err := ReadLower([]string{base, second})
	if err != nil {
		t.Fatal(err)
	}
	hs := mustTar(t, Options{Epoch: 9, Lower: lower},
		Entry{Type: "file", Path: "tmp/x", Content: str("x")},
		Entry{Type: "file", Path: "home/user/.profile", Content: str("p")},
		Entry{Type: "opaque", Path: "var/cache"},
		Entry{Type: "file", Path: "var/cache/keep/new", Content: str("n")},
		Entry{Type: "whiteout", Path: "etc/gone-already"}, // base no longer has it: dropped
	)
	// Whiteouts sort by the deleted name: ".wh.old" comes after "new".
	want := "home/ home/user/ home/user/.profile tmp/ tmp/x var/ var/cache/ var/cache/.wh.a var/cache/keep/ var/cache/keep/new var/cache/keep/.wh.old var/cache/.wh.sub"
	if got := names(hs); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	for _, h := range hs {
		switch h.name {
		case "tmp/":
			if h.mode != 0o1777 {
				t.Errorf("tmp/ should keep the base's sticky mode: %v", h)
			}
		case "home/user/":
			if h.mode != 0o700 || h.uid != 1000 {
				t.Errorf("home/user/ should keep the base's owner and mode: %v", h)
			}
		}
	}
}

func TestEmptySpec(t *testing.T) {
	tree := NewTree(Options{})
	err := tree.AddSpec(&Spec{}, "empty.json")
	if err == nil || !strings.Contains(err.Error(), "empty.json declares no entries") {
		t.Errorf("got %v", err)
	}
	if err := NewTree(Options{}).AddSpec(&Spec{AllowEmpty: true}, "e"); err != nil {
		t.Error(err)
	}
}

func TestCleanPath(t *testing.T) {
	cases := map[string]string{"/a/b/": "a/b", "./a": "a", "a//b/./c": "a/b/c", "a/../b": "b", "/": "", ".": ""}
	for in, want := range cases {
		got, err := CleanPath(in)
		if err != nil || got != want {
			t.Errorf("CleanPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "..", "../a", "a/../../b", "/..", "a\x00"} {
		if _, err := CleanPath(bad); err == nil {
			t.Errorf("CleanPath(%q): no error", bad)
		}
	}
}

// TestTreeFollowsSymlinks: in Bazel's sandbox, the files of an input
// directory are symlinks to the real files.
func TestTreeFollowsSymlinks(t *testing.T) {
	real := t.TempDir()
	os.WriteFile(filepath.Join(real, "exe"), []byte("#!/bin/sh\n"), 0o555)
	os.MkdirAll(filepath.Join(real, "sub"), 0o755)
	os.WriteFile(filepath.Join(real, "sub", "data"), []byte("d"), 0o444)
	sandbox := t.TempDir()
	os.Symlink(filepath.Join(real, "exe"), filepath.Join(sandbox, "exe"))
	os.Symlink(filepath.Join(real, "sub"), filepath.Join(sandbox, "sub"))
	hs := mustTar(t, Options{}, Entry{Type: "tree", Source: sandbox, Path: "/t"})
	want := "t/ t/exe t/sub/ t/sub/data"
	if got := names(hs); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	for _, h := range hs {
		if h.typ == "sym" {
			t.Errorf("%s stored as a symlink", h.name)
		}
		if h.name == "t/exe" && (h.mode != 0o755 || h.content != "#!/bin/sh\n") {
			t.Errorf("exe: %v", h)
		}
		if h.name == "t/sub/data" && (h.mode != 0o644 || h.content != "d") {
			t.Errorf("data: %v", h)
		}
	}
}

// TestStreamDirSameBytes: writing a directory while walking it gives the
// bytes of collecting it with AddDir and sorting.
func TestStreamDirSameBytes(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o750)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "a", "b", "c"), []byte(strings.Repeat("c", 70000)), 0o755)
	os.WriteFile(filepath.Join(dir, "z"), []byte("z"), 0o600)
	os.Link(filepath.Join(dir, "z"), filepath.Join(dir, "a", "hard"))
	os.Symlink("../a.txt", filepath.Join(dir, "a", "sym"))
	syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644)
	os.MkdirAll(filepath.Join(dir, "a-b", strings.Repeat("long", 40)), 0o755)
	os.WriteFile(filepath.Join(dir, "a-b", strings.Repeat("long", 40), "f"), []byte("deep"), 0o644)
	for _, epoch := range []int64{0, 1700000000, 1 << 40} {
		collected := NewTree(Options{Epoch: epoch})
		if err := collected.AddDir(dir); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if _, err := collected.WriteTar(&want); err != nil {
			t.Fatal(err)
		}
		streamed := NewTree(Options{Epoch: epoch})
		if err := streamed.SetStreamDir(dir); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		n, err := streamed.streamDir(dir, &got)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("epoch %d: streamed bytes differ from collected ones (%d vs %d bytes)", epoch, got.Len(), want.Len())
		}
		if hs := readTar(t, got.Bytes()); n != len(hs) {
			t.Errorf("streamDir counted %d entries, the tar has %d", n, len(hs))
		}
	}
	if err := NewTree(Options{}).SetStreamDir(filepath.Join(dir, "a.txt")); err == nil {
		t.Error("a file accepted as a directory")
	}
}
