package layer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

const fuzzEpoch = 1000

// checkLayer verifies what a layer we write promises (SPEC §1), as far as
// it is cheap to check: every name clean, relative and below root; parents
// before children, in walk order, no duplicates; normalized modes, times,
// whiteouts and device numbers; hard links to earlier files; never GNU
// format; two zero blocks at the end and nothing after.
func checkLayer(data []byte, root string) error {
	if len(data) < 1024 || len(data)%512 != 0 || !bytes.Equal(data[len(data)-1024:], make([]byte, 1024)) {
		return fmt.Errorf("the layer (%d bytes) does not end with two zero blocks", len(data))
	}
	tr := tar.NewReader(bytes.NewReader(data))
	const whiteout = 'W'
	seen := map[string]byte{} // path -> typeflag, or whiteout
	prev := ""
	for i := 0; ; i++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("the layer does not read back: %v", err)
		}
		p := strings.TrimSuffix(h.Name, "/")
		if c, err := CleanPath(p); err != nil || c != p || p == "" || strings.HasPrefix(h.Name, "/") {
			return fmt.Errorf("member %q: name not normalized", h.Name)
		}
		if root != "" && p != root && !strings.HasPrefix(p, root+"/") {
			return fmt.Errorf("member %q is outside the root %q", h.Name, root)
		}
		if (h.Typeflag == tar.TypeDir) != strings.HasSuffix(h.Name, "/") {
			return fmt.Errorf("member %q: a name ends with / exactly when it is a directory", h.Name)
		}
		if h.Format == tar.FormatGNU {
			return fmt.Errorf("member %q: GNU format", h.Name)
		}
		if h.Mode&^0o7777 != 0 || h.ModTime.Unix() > fuzzEpoch || h.ModTime.Nanosecond() != 0 || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			return fmt.Errorf("member %q: mode %o, times %v %v %v not normalized", h.Name, h.Mode, h.ModTime, h.AccessTime, h.ChangeTime)
		}
		if h.Typeflag != tar.TypeChar && h.Typeflag != tar.TypeBlock && (h.Devmajor != 0 || h.Devminor != 0) {
			return fmt.Errorf("member %q: device numbers on type %q", h.Name, h.Typeflag)
		}
		dir, base := parentOf(p), path.Base(p)
		if el := whiteoutElement(dir); el != "" {
			return fmt.Errorf("member %q: %q is a directory", h.Name, el)
		}
		key, flag := p, h.Typeflag
		if deleted, ok := strings.CutPrefix(base, whiteoutPrefix); ok {
			if deleted == "" || deleted == "." || deleted == ".." || strings.HasPrefix(base, whiteoutPrefix+whiteoutPrefix) {
				return fmt.Errorf("member %q: not a whiteout of a file", h.Name)
			}
			if h.Typeflag != tar.TypeReg || h.Size != 0 || h.Mode != 0 || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || h.ModTime.Unix() != 0 || hasXattrs(h) {
				return fmt.Errorf("whiteout %q not normalized: %+v", h.Name, h)
			}
			key, flag = strings.TrimPrefix(dir+"/"+deleted, "/"), whiteout
		}
		if dir != "" && seen[dir] != tar.TypeDir {
			return fmt.Errorf("member %q: parent %q is not an earlier directory", h.Name, dir)
		}
		if _, dup := seen[key]; dup {
			return fmt.Errorf("member %q: %q appears twice", h.Name, key)
		}
		if k := sortKey(key); i > 0 && k <= prev {
			return fmt.Errorf("member %q: not in walk order", h.Name)
		}
		prev = sortKey(key)
		switch h.Typeflag {
		case tar.TypeReg:
			n, err := io.Copy(io.Discard, tr)
			if err != nil || n != h.Size {
				return fmt.Errorf("member %q: %d bytes of %d: %v", h.Name, n, h.Size, err)
			}
		case tar.TypeLink:
			if f := seen[h.Linkname]; f != tar.TypeReg && f != tar.TypeSymlink {
				return fmt.Errorf("hard link %q: target %q is not an earlier file", h.Name, h.Linkname)
			}
		case tar.TypeDir, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		default:
			return fmt.Errorf("member %q: type %q", h.Name, h.Typeflag)
		}
		seen[key] = flag
	}
	return nil
}

func hasXattrs(h *tar.Header) bool {
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.") {
			return true
		}
	}
	return false
}

// fuzzTmp makes the fuzz target's temporary files (the input written for
// each run, decompressed spools) live on tmpfs when the machine has one: a
// run is dominated by file system calls, and on a disk it is about twice as
// slow. It must be called before f.TempDir.
func fuzzTmp(f *testing.F) {
	if fi, err := os.Stat("/dev/shm"); err != nil || !fi.IsDir() {
		return
	}
	d, err := os.MkdirTemp("/dev/shm", "repro-fuzz-")
	if err != nil {
		return
	}
	f.Cleanup(func() { os.RemoveAll(d) })
	f.Setenv("TMPDIR", d)
}

// fuzzLower is a base image with directories and files to delete.
func fuzzLower(t testing.TB, dir string) *Lower {
	p := filepath.Join(dir, "lower.tar")
	data := tarData(t, []*tar.Header{
		{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "etc/old", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "in/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 3},
		{Name: "in/a", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "in/d/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "in/d/x", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "in/d/sub/", Typeflag: tar.TypeDir, Mode: 0o700},
		{Name: "in/d/sub/y", Typeflag: tar.TypeSymlink, Linkname: "x"},
		{Name: "var/cache/z", Typeflag: tar.TypeReg, Mode: 0o644},
	}, nil)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := ReadLower([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// fuzzTars are small valid tars: files, directories, links, devices, long
// names (PAX and GNU), xattrs, whiteouts and an opaque marker.
func fuzzTars(t testing.TB) [][]byte {
	long := strings.Repeat("n", 120) + "/" + strings.Repeat("m", 120)
	content := map[string]string{"d/x": "x", "f": "hello", long: "long", "gnu/" + strings.Repeat("g", 110): "g"}
	return [][]byte{
		tarData(t, []*tar.Header{
			{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o700, ModTime: time.Unix(5, 0)},
			{Name: "d/x", Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 1, Gid: 2, Uname: "u", Gname: "g", ModTime: time.Unix(99999, 0)},
			{Name: "d/hl", Typeflag: tar.TypeLink, Linkname: "d/x"},
			{Name: "d/sym", Typeflag: tar.TypeSymlink, Linkname: "../etc/passwd"},
			{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644, PAXRecords: map[string]string{"SCHILY.xattr.user.k": "v"}},
			{Name: "dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3},
			{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o600},
			{Name: long, Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatPAX},
		}, content),
		tarData(t, []*tar.Header{
			{Name: "gnu/" + strings.Repeat("g", 110), Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatGNU},
			{Name: "gnu/link", Typeflag: tar.TypeLink, Linkname: "gnu/" + strings.Repeat("g", 110), Format: tar.FormatGNU},
		}, content),
		tarData(t, []*tar.Header{
			{Name: ".wh.a", Typeflag: tar.TypeReg},
			{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "d/.wh..wh..opq", Typeflag: tar.TypeReg},
			{Name: "d/new", Typeflag: tar.TypeReg, Mode: 0o644},
			{Name: "d/sub/.wh.y", Typeflag: tar.TypeLink, Linkname: "d/.wh..wh..opq"},
		}, nil),
		tarData(t, []*tar.Header{
			{Name: "d/.wh.x", Typeflag: tar.TypeReg, Mode: 0o600, ModTime: time.Unix(7, 0)},
			{Name: "d/.wh.sub", Typeflag: tar.TypeReg},
			{Name: ".wh.etc", Typeflag: tar.TypeLink, Linkname: "d/.wh.x"},
		}, nil),
		tarData(t, []*tar.Header{
			{Name: "d/sub/.wh..wh..plnk", Typeflag: tar.TypeReg},
			{Name: "d/.wh.x/y", Typeflag: tar.TypeReg},
		}, nil),
	}
}

func gzipBytes(data []byte) []byte {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(data)
	w.Close()
	return z.Bytes()
}

// FuzzReadTar feeds an input tar through the code path of a spec's "tar"
// entry. mode&3 says how the harness passes the bytes: as they are (plain,
// gzip or zstd, detected), or compressed by the harness (1: gzip, 2: zstd)
// so that mutations of the tar inside reach the decompressing path too;
// mode&4 adds lower layers (opaque markers need them); mode&8 fixes the
// header checksums first, so that mutated headers get past the checksum
// and reach the code behind it. Whatever the input,
// the build must not panic, and a layer built from it must be normalized
// and stay below the directory the tar is placed under.
func FuzzReadTar(f *testing.F) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		f.Fatal(err)
	}
	for _, tr := range fuzzTars(f) {
		for _, mode := range []byte{0, 1, 2, 4, 5, 6, 12, 13} {
			f.Add(tr, mode)
		}
		f.Add(gzipBytes(tr), byte(4))
		f.Add(enc.EncodeAll(tr, nil), byte(4))
		f.Add(tr[:len(tr)-1024], byte(4))
		f.Add(tr[:len(tr)/2], byte(1))
	}
	fuzzTmp(f)
	dir := f.TempDir()
	lower := fuzzLower(f, dir)
	in := filepath.Join(dir, "in.tar")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		if mode&8 != 0 {
			data = fixChecksums(data)
		}
		switch mode & 3 {
		case 1:
			gz.Reset()
			zw.Reset(&gz)
			zw.Write(data)
			zw.Close()
			data = gz.Bytes()
		case 2:
			data = enc.EncodeAll(data, nil)
		}
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		opts := Options{Epoch: fuzzEpoch}
		if mode&4 != 0 {
			opts.Lower = lower
		}
		tree := NewTree(opts)
		defer tree.Close()
		if err := tree.AddSpec(&Spec{Entries: []Entry{{Type: "tar", Source: in, Path: "/in"}}}, "fuzz.json"); err != nil {
			return
		}
		var out bytes.Buffer
		if _, err := tree.WriteTar(&out); err != nil {
			return
		}
		if err := checkLayer(out.Bytes(), "in"); err != nil {
			t.Fatalf("mode %d: %v", mode, err)
		}
	})
}

// fixChecksums returns data with the checksum of every header block
// recomputed, following headers and data sections the way a tar reader
// does (as far as an octal size field says).
func fixChecksums(data []byte) []byte {
	data = append([]byte(nil), data...)
	for off := 0; off+512 <= len(data); {
		blk := data[off : off+512]
		if bytes.Equal(blk, make([]byte, 512)) {
			off += 512
			continue
		}
		sum := 0
		for i, c := range blk {
			if i >= 148 && i < 156 {
				c = ' '
			}
			sum += int(c)
		}
		copy(blk[148:156], fmt.Sprintf("%06o\x00 ", sum))
		size := int64(0)
		for _, c := range blk[124:136] {
			if c >= '0' && c <= '7' {
				size = size*8 + int64(c-'0')
			} else if c != ' ' && size > 0 {
				break
			}
		}
		if size < 0 || size > int64(len(data)) {
			size = 0
		}
		off += 512 + int(roundBlock(size))
	}
	return data
}

// FuzzParseSpec parses a layer spec. An accepted spec must survive a
// re-encoding unchanged, and building it (with every source replaced by a
// small fixture of the right kind, so nothing outside the test is read)
// must not panic and must give a normalized layer.
func FuzzParseSpec(f *testing.F) {
	for _, s := range specSeeds {
		f.Add([]byte(s))
	}
	fuzzTmp(f)
	dir := f.TempDir()
	lower := fuzzLower(f, dir)
	file, tarFile, tree := specFixtures(f, dir)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzSpec(t, data, dir, lower, file, tarFile, tree)
	})
}

var specSeeds = []string{
	`{"entries":[{"type":"file","path":"/app/server","source":"x"},{"type":"file","path":"/etc/motd","content":"hello\n","mode":"0444"},` +
		`{"type":"dir","path":"/var/lib/app","mode":"0700","uid":1000,"gid":1000,"uname":"app","gname":"app"},` +
		`{"type":"symlink","path":"/usr/bin/server","target":"/app/server"},{"type":"hardlink","path":"/app/server-copy","target":"/app/server"},` +
		`{"type":"whiteout","path":"/etc/old"},{"type":"opaque","path":"/in/d"},{"type":"tar","source":"x","path":"/opt"},` +
		`{"type":"tree","source":"x","path":"/app/assets"}]}`,
	`{"entries":[{"type":"file","path":"a","content":"x","xattrs":{"user.a":"1"},"xattrs_base64":{"security.capability":"AQAAAg=="}}]}`,
	`{"entries":[{"type":"hardlink","path":"a","target":"b"},{"type":"hardlink","path":"b","target":"a"}]}`,
	`{"entries":[{"type":"whiteout","path":"/x"},{"type":"file","path":"/x/y","content":""}]}`,
	`{"entries":[{"type":"file","path":"/a/../b/./c/","content":"x","uid":4194304}]}`,
	`{"entries":[],"allow_empty":true}`,
	`{"entries":[{"type":"tar","source":"x"},{"type":"tar","source":"x","path":"in/d"}]}`,
	`{"entries":[` + strings.Repeat("[", 100) + `]}`,
	`{"entries":[{"type":"file","path":"/a","content":"x"}]} trailing`,
}

// specFixtures are the sources every spec entry of the fuzzer reads.
func specFixtures(t testing.TB, dir string) (file, tarFile, tree string) {
	file = filepath.Join(dir, "file")
	os.WriteFile(file, []byte("content"), 0o755)
	tarFile = filepath.Join(dir, "in.tar.gz")
	os.WriteFile(tarFile, gzipBytes(fuzzTars(t)[2]), 0o644)
	tree = filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "sub"), 0o755)
	os.WriteFile(filepath.Join(tree, "sub", "f"), []byte("f"), 0o644)
	return file, tarFile, tree
}

func fuzzSpec(t *testing.T, data []byte, dir string, lower *Lower, file, tarFile, tree string) (built int) {
	s, err := ParseSpec(data, "fuzz.json")
	if err != nil {
		return
	}
	again, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := ParseSpec(again, "again.json")
	if err != nil {
		t.Fatalf("re-encoded spec refused: %v\n%s", err, again)
	}
	if third, _ := json.Marshal(s2); !bytes.Equal(third, again) {
		t.Fatalf("re-encoding changes the spec:\n%s\n%s", again, third)
	}
	if len(s.Entries) > 200 {
		return
	}
	for i := range s.Entries {
		e := &s.Entries[i]
		if e.Source == "" {
			continue
		}
		switch e.Type {
		case "file":
			e.Source = file
		case "tar":
			e.Source = tarFile
		case "tree":
			e.Source = tree
		default:
			e.Source = filepath.Join(dir, "missing")
		}
	}
	for _, l := range []*Lower{nil, lower} {
		tr := NewTree(Options{Epoch: fuzzEpoch, Lower: l})
		err := tr.AddSpec(s, "fuzz.json")
		var out bytes.Buffer
		if err == nil {
			_, err = tr.WriteTar(&out)
		}
		tr.Close()
		if err != nil {
			continue
		}
		if err := checkLayer(out.Bytes(), ""); err != nil {
			t.Fatalf("lower %v: %v", l != nil, err)
		}
		built++
	}
	return built
}

// TestFuzzSeedsBuild keeps the fuzzers' seeds meaningful: the valid ones
// build layers that pass checkLayer, so mutations start from the build path
// and not only from errors.
func TestFuzzSeedsBuild(t *testing.T) {
	dir := t.TempDir()
	lower := fuzzLower(t, dir)
	in := filepath.Join(dir, "seed.tar")
	for i, data := range fuzzTars(t)[:4] {
		os.WriteFile(in, data, 0o644)
		tree := NewTree(Options{Epoch: fuzzEpoch, Lower: lower})
		err := tree.AddSpec(&Spec{Entries: []Entry{{Type: "tar", Source: in, Path: "/in"}}}, "seed.json")
		var out bytes.Buffer
		if err == nil {
			_, err = tree.WriteTar(&out)
		}
		tree.Close()
		if err != nil {
			t.Errorf("tar seed %d: %v", i, err)
		} else if err := checkLayer(out.Bytes(), "in"); err != nil {
			t.Errorf("tar seed %d: %v", i, err)
		}
	}
	file, tarFile, tree := specFixtures(t, dir)
	for i, s := range specSeeds {
		built := fuzzSpec(t, []byte(s), dir, lower, file, tarFile, tree)
		if want := i != 2 && i < 7; want != (built > 0) {
			t.Errorf("spec seed %d built %d layers", i, built)
		}
	}
}
