package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/rules-repro/rules_repro/tools/blob"
)

// OpenArchive opens a tar file that may be gzip or zstd compressed and
// returns a reader of the plain tar stream.
func OpenArchive(name string) (io.ReadCloser, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	r, _, err := blob.Decompress(f, name)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &readCloser{Reader: r, close: func() error { r.Close(); return f.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

// countingReader tracks the offset of a seekable file so that the data
// offset of each tar member is known after tar.Reader.Next. tar.Reader reads
// headers block by block and skips data with Seek, so the offset is exact.
type countingReader struct {
	f   *os.File
	pos int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	c.pos += int64(n)
	return n, err
}

func (c *countingReader) Seek(off int64, whence int) (int64, error) {
	p, err := c.f.Seek(off, whence)
	if err == nil {
		c.pos = p
	}
	return p, err
}

// sectionSource is a regular file stored inside a (plain) tar file.
type sectionSource struct {
	f          *os.File
	off, size  int64
	tarName    string
	memberName string
}

func (s sectionSource) open() (io.ReadCloser, error) {
	return io.NopCloser(io.NewSectionReader(s.f, s.off, s.size)), nil
}
func (s sectionSource) describe() string { return fmt.Sprintf("%s member %s", s.tarName, s.memberName) }

// spool returns a seekable plain tar for name, decompressing a compressed
// archive once into a temporary file.
func (t *Tree) spool(name string) (f *os.File, decompressed bool, err error) {
	f, err = os.Open(name)
	if err != nil {
		return nil, false, err
	}
	head := make([]byte, 6)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if !blob.IsCompressed(head) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, false, err
		}
		t.cleanup = append(t.cleanup, func() { f.Close() })
		return f, false, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, false, err
	}
	defer f.Close()
	zr, _, err := blob.Decompress(f, name)
	if err != nil {
		return nil, false, err
	}
	defer zr.Close()
	tmp, err := os.CreateTemp("", "repro-tar-*")
	if err != nil {
		return nil, false, fmt.Errorf("spooling %s: %w", name, err)
	}
	os.Remove(tmp.Name()) // unlinked: it disappears with the process
	t.cleanup = append(t.cleanup, func() { tmp.Close() })
	if _, err := io.Copy(tmp, zr); err != nil {
		return nil, false, fmt.Errorf("%s: truncated or corrupt compressed stream: %w", name, err)
	}
	return tmp, true, nil
}

// stripMember removes strip from a member's cleaned name. skip reports a
// member that is strip itself or one of its parent directories.
func stripMember(rel, strip string) (out string, skip bool, ok bool) {
	switch {
	case strip == "":
		return rel, false, true
	case rel == strip || strings.HasPrefix(strip, rel+"/"):
		return "", true, true
	case strings.HasPrefix(rel, strip+"/"):
		return rel[len(strip)+1:], false, true
	}
	return "", false, false
}

// addTar merges the members of an input tar, with strip removed from their
// names, placed under prefix.
func (t *Tree) addTar(name, prefix, strip, origin string) error {
	f, decompressed, err := t.spool(name)
	if err != nil {
		return fmt.Errorf("%s: %w", origin, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", origin, err)
	}
	cr := &countingReader{f: f}
	if _, err := cr.Seek(0, io.SeekStart); err != nil {
		return err
	}
	tr := tar.NewReader(cr)
	members := 0
	// end is where the end-of-archive marker must start: after the last
	// member's data and padding.
	end := int64(0)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			// tar.Reader also reports a clean end when the stream simply
			// stops at a block boundary, so a tar cut there would lose its
			// remaining members silently. Require at least one zero block
			// where the next header would be: writers (GNU tar, bsdtar, Go's
			// tar.Writer, Python's tarfile) write two; one alone still marks
			// the end, after which nothing can be missing.
			if cr.pos < end+blockSize {
				return truncatedTar(origin, decompressed, members, cr.pos)
			}
			break
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%s: truncated tar archive (after %d members)", origin, members)
			}
			return fmt.Errorf("%s: corrupt tar archive (after %d members): %v", origin, members, err)
		}
		members++
		end = roundBlock(cr.pos + dataSize(hdr))
		mo := fmt.Sprintf("%s member %q", origin, hdr.Name)
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		rel, err := CleanPath(hdr.Name)
		if err != nil {
			return fmt.Errorf("%s: %v", mo, err)
		}
		if rel == "" {
			continue // "./": the root is never emitted
		}
		rel, skip, ok := stripMember(rel, strip)
		if !ok {
			return fmt.Errorf("%s: not under strip_prefix %q", mo, strip)
		}
		if skip {
			if hdr.Typeflag != tar.TypeDir && !strings.HasSuffix(hdr.Name, "/") {
				what := "regular file"
				if hdr.Typeflag != tar.TypeReg {
					what = tarTypeName(hdr)
				}
				return fmt.Errorf("%s: a %s where strip_prefix %q needs a directory", mo, what, strip)
			}
			continue
		}
		p := rel
		if prefix != "" {
			p = prefix + "/" + rel
		}
		if done, err := t.tarWhiteout(hdr, rel, p, mo); done || err != nil {
			if err != nil {
				return err
			}
			continue
		}
		n := &node{
			path:   p,
			mode:   hdr.Mode & 0o7777,
			uid:    hdr.Uid,
			gid:    hdr.Gid,
			uname:  hdr.Uname,
			gname:  hdr.Gname,
			mtime:  t.clamp(hdr.ModTime.Unix()),
			origin: mo,
		}
		for k, v := range hdr.PAXRecords {
			if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				if n.xattrs == nil {
					n.xattrs = map[string]string{}
				}
				n.xattrs[x] = v
			}
			if strings.HasPrefix(k, "GNU.sparse.") {
				return fmt.Errorf("%s: sparse files are not supported", mo)
			}
		}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			if strings.HasSuffix(hdr.Name, "/") {
				n.kind = kindDir
				break
			}
			n.kind, n.size = kindFile, hdr.Size
			if cr.pos+hdr.Size > fi.Size() {
				return fmt.Errorf("%s: truncated tar archive: member data ends at byte %d but the archive has %d bytes", mo, cr.pos+hdr.Size, fi.Size())
			}
			n.src = sectionSource{f: f, off: cr.pos, size: hdr.Size, tarName: name, memberName: hdr.Name}
		case tar.TypeDir:
			n.kind = kindDir
		case tar.TypeSymlink:
			n.kind, n.linkname = kindSymlink, hdr.Linkname
		case tar.TypeLink:
			target, err := CleanPath(hdr.Linkname)
			if err != nil || target == "" {
				return fmt.Errorf("%s: invalid hard link target %q", mo, hdr.Linkname)
			}
			if el := whiteoutElement(target); el != "" {
				return fmt.Errorf("%s: hard link target %q: %q marks a deletion in OCI layers, not a file", mo, hdr.Linkname, el)
			}
			if target, skip, ok = stripMember(target, strip); !ok || skip {
				return fmt.Errorf("%s: hard link target %q is not under strip_prefix %q", mo, hdr.Linkname, strip)
			}
			if prefix != "" {
				target = prefix + "/" + target
			}
			n.kind, n.linkname = kindHardlink, target
		case tar.TypeChar, tar.TypeBlock:
			// tar.Reader returns the device fields of every header; only a
			// device keeps them.
			n.kind, n.devmajor, n.devminor = kindChar, hdr.Devmajor, hdr.Devminor
			if hdr.Typeflag == tar.TypeBlock {
				n.kind = kindBlock
			}
		case tar.TypeFifo:
			n.kind = kindFifo
		case tar.TypeGNUSparse:
			return fmt.Errorf("%s: sparse files are not supported", mo)
		default:
			return fmt.Errorf("%s: unsupported tar entry type %q", mo, hdr.Typeflag)
		}
		if err := t.insert(n); err != nil {
			return err
		}
	}
	return nil
}

const blockSize = 512

func roundBlock(n int64) int64 { return (n + blockSize - 1) / blockSize * blockSize }

// dataSize is the size of the data section that follows a header in the
// archive, as tar.Reader reads it: none for the types that cannot have data.
func dataSize(hdr *tar.Header) int64 {
	switch hdr.Typeflag {
	case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
		return 0
	}
	return hdr.Size
}

func truncatedTar(origin string, decompressed bool, members int, size int64) error {
	what := "the archive"
	if decompressed {
		what = "the decompressed archive"
	}
	if size == 0 {
		return fmt.Errorf("%s: truncated tar archive: %s is empty (a tar, even without members, ends with two zero blocks)", origin, what)
	}
	return fmt.Errorf("%s: truncated tar archive: %s stops after %d members at byte %d without the end-of-archive marker (two zero blocks)", origin, what, members, size)
}

// whiteoutElement returns the first element of p that starts with ".wh.",
// or "".
func whiteoutElement(p string) string {
	for el := range strings.SplitSeq(p, "/") {
		if strings.HasPrefix(el, whiteoutPrefix) {
			return el
		}
	}
	return ""
}

const opaqueMarker = whiteoutPrefix + whiteoutPrefix + ".opq"

// tarWhiteout handles a member of an input tar whose name marks a deletion:
// a whiteout ".wh.NAME" becomes the whiteout of NAME, checked and written
// exactly as a declared one; an opaque marker ".wh..wh..opq" makes its
// directory opaque as a declared opaque entry does. rel is the member's
// cleaned name, p its path in the layer. It reports whether the member was
// such a name; other names containing ".wh." are errors.
func (t *Tree) tarWhiteout(hdr *tar.Header, rel, p, mo string) (bool, error) {
	if el := whiteoutElement(parentOf(rel)); el != "" {
		return false, fmt.Errorf("%s: %q marks a deletion in OCI layers; it cannot be a directory holding other entries", mo, el)
	}
	base := path.Base(rel)
	if !strings.HasPrefix(base, whiteoutPrefix) {
		return false, nil
	}
	if strings.HasPrefix(base, whiteoutPrefix+whiteoutPrefix) && base != opaqueMarker {
		return false, fmt.Errorf("%s: %q is AUFS metadata, not a layer entry (export the layer without it)", mo, base)
	}
	switch {
	case hdr.Typeflag == tar.TypeLink:
		// Docker's export of AUFS layers links whiteouts to one another.
	case hdr.Typeflag != tar.TypeReg || strings.HasSuffix(hdr.Name, "/"):
		return false, fmt.Errorf("%s: the name marks a deletion in OCI layers, but the member is a %s; a whiteout is an empty regular file", mo, tarTypeName(hdr))
	case hdr.Size != 0:
		return false, fmt.Errorf("%s: the name marks a deletion in OCI layers, but the member has %d bytes; a whiteout is an empty regular file", mo, hdr.Size)
	}
	dir := parentOf(p)
	if base == opaqueMarker {
		if dir == "" {
			return false, fmt.Errorf("%s: an opaque marker at the image root is not supported: a layer cannot hide the whole base image", mo)
		}
		if _, ok := t.opaque[dir]; !ok {
			t.opaque[dir] = mo
		}
		return true, nil
	}
	deleted := strings.TrimPrefix(base, whiteoutPrefix)
	if deleted == "" || deleted == "." || deleted == ".." {
		return false, fmt.Errorf("%s: whiteout %q names no file", mo, base)
	}
	if dir != "" {
		deleted = dir + "/" + deleted
	}
	// As a declared whiteout: no metadata of its own (SPEC: size 0, mode 0,
	// owner 0:0, mtime 0 when written).
	return true, t.insert(&node{path: deleted, kind: kindWhiteout, origin: mo})
}

func tarTypeName(hdr *tar.Header) string {
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeDir:
		return "directory" // TypeReg: a regular file named with a trailing "/"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "fifo"
	}
	return fmt.Sprintf("member of type %q", hdr.Typeflag)
}

// lowerEntry is the metadata of a path in the base image.
type lowerEntry struct {
	kind         kind
	mode         int64
	uid, gid     int
	uname, gname string
}

// Lower is the merged file tree of a stack of layers (the base image), with
// whiteouts applied. Only metadata is kept, never content.
type Lower struct {
	entries map[string]lowerEntry
}

// ReadLower reads the headers of layer blobs (plain, gzip or zstd tars),
// applied bottom to top.
func ReadLower(layers []string) (*Lower, error) {
	l := &Lower{entries: map[string]lowerEntry{}}
	for _, name := range layers {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("lower layer: %w", err)
		}
		err = l.Apply(f, name)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return l, nil
}

// NewLower returns an empty view, to which layers are applied in order.
func NewLower() *Lower { return &Lower{entries: map[string]lowerEntry{}} }

// Apply applies one layer blob (plain, gzip or zstd tar) read from r; name
// is used in error messages.
func (l *Lower) Apply(r io.Reader, name string) error {
	rc, _, err := blob.Decompress(r, name)
	if err != nil {
		return fmt.Errorf("lower layer: %w", err)
	}
	defer rc.Close()
	type add struct {
		p string
		e lowerEntry
	}
	var adds []add
	var deletes, opaques []string
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("lower layer %s: corrupt tar archive: %v", name, err)
		}
		p, err := CleanPath(hdr.Name)
		if err != nil {
			return fmt.Errorf("lower layer %s member %q: %v", name, hdr.Name, err)
		}
		if p == "" {
			continue
		}
		dir, base := parentOf(p), path.Base(p)
		switch {
		case base == whiteoutPrefix+whiteoutPrefix+".opq":
			opaques = append(opaques, dir)
			continue
		case strings.HasPrefix(base, whiteoutPrefix):
			del := strings.TrimPrefix(base, whiteoutPrefix)
			if dir != "" {
				del = dir + "/" + del
			}
			deletes = append(deletes, del)
			continue
		}
		e := lowerEntry{mode: hdr.Mode & 0o7777, uid: hdr.Uid, gid: hdr.Gid, uname: hdr.Uname, gname: hdr.Gname}
		switch hdr.Typeflag {
		case tar.TypeDir:
			e.kind = kindDir
		case tar.TypeSymlink:
			e.kind = kindSymlink
		default:
			e.kind = kindFile
		}
		adds = append(adds, add{p, e})
	}
	// Whiteouts hide entries of the layers below, not of their own layer.
	for _, d := range opaques {
		for _, p := range l.below(d) {
			delete(l.entries, p)
		}
	}
	for _, d := range deletes {
		delete(l.entries, d)
		for _, p := range l.below(d) {
			delete(l.entries, p)
		}
	}
	for _, a := range adds {
		if old, ok := l.entries[a.p]; ok && old.kind == kindDir && a.e.kind != kindDir {
			for _, p := range l.below(a.p) {
				delete(l.entries, p)
			}
		}
		l.entries[a.p] = a.e
	}
	return nil
}

// below returns the paths strictly below dir ("" is the root), in walk order.
func (l *Lower) below(dir string) []string {
	var out []string
	prefix := dir + "/"
	for p := range l.entries {
		if dir == "" || strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	sortPaths(out)
	return out
}
