package diff

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/blob"
)

// entry summarizes one tar entry: its header fields and a hash of its
// content and of its header bytes. Summaries are what two layers are
// compared by; the content itself is never kept.
type entry struct {
	name, rawName      string
	typ                byte
	mode               int64
	uid, gid           int
	uname, gname       string
	size               int64
	mtime, atime       time.Time
	ctime              time.Time
	linkname           string
	devmajor, devminor int64
	pax, xattrs        map[string]string
	format             tar.Format
	content, header    [sha256.Size]byte
}

// layerSummary is what a pass over a layer blob yields.
type layerSummary struct {
	entries []*entry
	// trailing counts the bytes after the end-of-archive marker (GNU tar
	// pads archives to 10 KiB records, for example).
	trailing    int64
	diffID      digest.Digest
	tarSize     int64
	compression string // gzip, zstd or none
	gzip        *gzipHeader
	zstd        *zstdHeader
}

// PAX records that archive/tar turns into header fields; they are
// compared as those fields.
var paxFields = map[string]bool{
	"path": true, "linkpath": true, "size": true, "uid": true, "gid": true,
	"uname": true, "gname": true, "mtime": true, "atime": true, "ctime": true,
}

// paxTimes are the PAX records ignored with Options.Semantic.
var paxTimes = map[string]bool{"mtime": true, "atime": true, "ctime": true, "LIBARCHIVE.creationtime": true}

// canonicalName is an entry's path without "./", leading "/" or trailing "/".
func canonicalName(n string) string {
	for strings.HasPrefix(n, "./") {
		n = n[2:]
	}
	n = strings.Trim(n, "/")
	if n == "" || n == "." {
		return "."
	}
	return n
}

// tee hashes everything read (the diff_id) and, while raw is on, the
// bytes of tar headers.
type tee struct {
	r     io.Reader
	all   hash.Hash
	n     int64
	raw   hash.Hash
	rawOn bool
	// skip is how many bytes to leave out of raw: the padding of the
	// previous entry's content, which depends on its size, not on the
	// header that follows.
	skip int64
}

func (t *tee) Read(p []byte) (int, error) {
	k, err := t.r.Read(p)
	t.all.Write(p[:k])
	t.n += int64(k)
	if t.rawOn {
		b := p[:k]
		if t.skip > 0 {
			n := min(t.skip, int64(len(b)))
			b, t.skip = b[n:], t.skip-n
		}
		t.raw.Write(b)
	}
	return k, err
}

// summarize reads a layer blob (tar, tar+gzip or tar+zstd) to its end.
func summarize(r io.Reader) (*layerSummary, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(1024)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		if len(head) == 0 {
			return nil, err
		}
	}
	codec := blob.Sniff(head)
	s := &layerSummary{compression: string(codec.Name)}
	switch codec.Name {
	case blob.Gzip:
		s.gzip, _ = parseGzipHeader(head)
	case blob.Zstd:
		s.zstd, _ = parseZstdHeader(head)
	}
	var tarStream io.Reader = br
	if codec.NewReader != nil {
		zr, err := codec.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("corrupt %s stream: %w", codec.Name, err)
		}
		defer zr.Close()
		tarStream = zr
	}
	t := &tee{r: tarStream, all: sha256.New(), raw: sha256.New()}
	tr := tar.NewReader(t)
	content := sha256.New()
	buf := make([]byte, 256<<10)
	var pad int64
	for {
		t.raw.Reset()
		t.rawOn, t.skip = true, pad
		hdr, err := tr.Next()
		t.rawOn = false
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the tar: %w", err)
		}
		e := &entry{
			rawName: hdr.Name, name: canonicalName(hdr.Name), typ: hdr.Typeflag,
			mode: hdr.Mode, uid: hdr.Uid, gid: hdr.Gid, uname: hdr.Uname, gname: hdr.Gname,
			size: hdr.Size, mtime: hdr.ModTime, atime: hdr.AccessTime, ctime: hdr.ChangeTime,
			linkname: hdr.Linkname, devmajor: hdr.Devmajor, devminor: hdr.Devminor, format: hdr.Format,
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			e.name = "(PAX global header)"
		}
		for k, v := range hdr.PAXRecords {
			switch {
			case strings.HasPrefix(k, "SCHILY.xattr."):
				if e.xattrs == nil {
					e.xattrs = map[string]string{}
				}
				e.xattrs[strings.TrimPrefix(k, "SCHILY.xattr.")] = v
			case paxFields[k]:
			default:
				if e.pax == nil {
					e.pax = map[string]string{}
				}
				e.pax[k] = v
			}
		}
		copy(e.header[:], t.raw.Sum(nil))
		if hdr.Typeflag == tar.TypeReg {
			content.Reset()
			if _, err := io.CopyBuffer(content, tr, buf); err != nil {
				return nil, fmt.Errorf("reading %s in the tar: %w", hdr.Name, err)
			}
			copy(e.content[:], content.Sum(nil))
			pad = -hdr.Size & 511
		} else {
			pad = 0
		}
		s.entries = append(s.entries, e)
	}
	n, err := io.CopyBuffer(io.Discard, t, buf)
	if err != nil {
		return nil, fmt.Errorf("reading the tar: %w", err)
	}
	s.trailing = n
	s.diffID = digest.NewDigest(digest.SHA256, t.all)
	s.tarSize = t.n
	// Read the blob to its end, so that it is verified.
	if _, err := io.CopyBuffer(io.Discard, br, buf); err != nil {
		return nil, err
	}
	return s, nil
}

func (w *walker) summary(src *Source, d specs.Descriptor) (*layerSummary, error) {
	r, err := src.openBlob(w.ctx, d)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	s, err := summarize(r)
	if err != nil {
		return nil, fmt.Errorf("%s: layer %s: %w", src.Name, d.Digest, err)
	}
	return s, nil
}

func shortDigest(d digest.Digest) string {
	s := d.String()
	if len(s) > 19 {
		return s[:19] + "…"
	}
	return s
}

// layer explains two layers with different digests. ida and idb are their
// diff_ids from the configs, when known.
func (w *walker) layer(sc scope, la, lb specs.Descriptor, ida, idb digest.Digest) error {
	if ida == "" {
		ida = w.a.diffIDs[la.Digest]
	}
	if idb == "" {
		idb = w.b.diffIDs[lb.Digest]
	}
	if ida != "" && ida == idb {
		if w.o.Semantic {
			return nil
		}
		return w.compression(sc, la, lb, ida)
	}
	var sa, sb *layerSummary
	var ea, eb error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); sa, ea = w.summary(w.a, la) }()
	go func() { defer wg.Done(); sb, eb = w.summary(w.b, lb) }()
	wg.Wait()
	for _, x := range []struct {
		err  error
		side *Source
		d    specs.Descriptor
	}{{ea, w.a, la}, {eb, w.b, lb}} {
		if x.err == nil {
			continue
		}
		if !errors.Is(x.err, errNotFound) {
			return x.err
		}
		note := fmt.Sprintf("its blob is not in %s; add --blobs-from LAYOUT, --blob or --layer", x.side.Name)
		if ida != "" && idb != "" {
			note = fmt.Sprintf("its tar differs (diff_id %s → %s), not only its compression; ", shortDigest(ida), shortDigest(idb)) + note
		}
		w.at(sc, LevelLayer, Unavailable, "layer", str(la.Digest.String()), str(lb.Digest.String()), note)
		return nil
	}
	if sa.diffID == sb.diffID {
		if w.o.Semantic {
			return nil
		}
		return w.compression(sc, la, lb, sa.diffID)
	}
	if !w.o.Semantic && sa.compression != sb.compression {
		w.at(sc, LevelCompression, Changed, "compression", str(sa.compression), str(sb.compression), "")
	}
	w.entries(sc, sa, sb)
	return nil
}

// entryChange is one changed field of one entry.
type entryChange struct {
	entry, field, a, b string
}

func typeName(t byte) string {
	switch t {
	case tar.TypeReg:
		return "regular file"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeDir:
		return "directory"
	case tar.TypeFifo:
		return "fifo"
	case tar.TypeXGlobalHeader:
		return "PAX global header"
	}
	return fmt.Sprintf("type %q", t)
}

func describe(e *entry) string {
	switch e.typ {
	case tar.TypeReg:
		return fmt.Sprintf("regular file, %d bytes, mode %04o", e.size, e.mode)
	case tar.TypeDir:
		return fmt.Sprintf("directory, mode %04o", e.mode)
	case tar.TypeSymlink:
		return "symlink to " + e.linkname
	case tar.TypeLink:
		return "hard link to " + e.linkname
	}
	return typeName(e.typ)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "(none)"
	}
	return fmt.Sprintf("%s (%s)", t.UTC().Format(time.RFC3339Nano), strconv.FormatInt(t.Unix(), 10))
}

func formatName(f tar.Format) string {
	switch f {
	case tar.FormatUSTAR:
		return "USTAR"
	case tar.FormatPAX:
		return "PAX"
	case tar.FormatGNU:
		return "GNU"
	case tar.FormatUnknown:
		return "V7 or unknown"
	}
	return f.String()
}

func contentString(e *entry) string {
	return fmt.Sprintf("sha256:%x… (%d bytes)", e.content[:6], e.size)
}

// fieldChanges lists the header fields (and content) that differ between
// two entries of the same name.
func (w *walker) fieldChanges(a, b *entry) []entryChange {
	sem := w.o.Semantic
	var out []entryChange
	add := func(field, va, vb string) {
		if va != vb {
			out = append(out, entryChange{a.name, field, va, vb})
		}
	}
	if !sem {
		add("name spelling", a.rawName, b.rawName)
	}
	add("type", typeName(a.typ), typeName(b.typ))
	if sem {
		add("mode", fmt.Sprintf("%04o", a.mode&0o7777), fmt.Sprintf("%04o", b.mode&0o7777))
	} else {
		add("mode", fmt.Sprintf("%04o", a.mode), fmt.Sprintf("%04o", b.mode))
	}
	add("uid", strconv.Itoa(a.uid), strconv.Itoa(b.uid))
	add("gid", strconv.Itoa(a.gid), strconv.Itoa(b.gid))
	add("uname", a.uname, b.uname)
	add("gname", a.gname, b.gname)
	if a.typ == tar.TypeReg && b.typ == tar.TypeReg {
		if a.content != b.content || a.size != b.size {
			out = append(out, entryChange{a.name, "content", contentString(a), contentString(b)})
		}
	} else {
		add("size", strconv.FormatInt(a.size, 10), strconv.FormatInt(b.size, 10))
	}
	add("link target", a.linkname, b.linkname)
	if !sem {
		add("mtime", fmtTime(a.mtime), fmtTime(b.mtime))
		add("atime", fmtTime(a.atime), fmtTime(b.atime))
		add("ctime", fmtTime(a.ctime), fmtTime(b.ctime))
	}
	add("devmajor", strconv.FormatInt(a.devmajor, 10), strconv.FormatInt(b.devmajor, 10))
	add("devminor", strconv.FormatInt(a.devminor, 10), strconv.FormatInt(b.devminor, 10))
	for _, k := range unionKeys(a.xattrs, b.xattrs) {
		va, oka := a.xattrs[k]
		vb, okb := b.xattrs[k]
		if oka != okb || va != vb {
			out = append(out, entryChange{a.name, "xattr " + k, presentQuoted(va, oka), presentQuoted(vb, okb)})
		}
	}
	for _, k := range unionKeys(a.pax, b.pax) {
		if sem && paxTimes[k] {
			continue
		}
		va, oka := a.pax[k]
		vb, okb := b.pax[k]
		if oka != okb || va != vb {
			out = append(out, entryChange{a.name, "PAX record " + k, presentQuoted(va, oka), presentQuoted(vb, okb)})
		}
	}
	if !sem {
		add("format", formatName(a.format), formatName(b.format))
		if len(out) == 0 && a.header != b.header {
			out = append(out, entryChange{a.name, "header bytes", fmt.Sprintf("sha256:%x…", a.header[:6]), fmt.Sprintf("sha256:%x…", b.header[:6])})
		}
	}
	return out
}

func presentQuoted(v string, ok bool) string {
	if !ok {
		return "(absent)"
	}
	return strconv.Quote(v)
}

// groupMin is how many entries must share a change for it to be reported
// once for all of them.
const groupMin = 4

// entries compares two tar summaries entry by entry.
func (w *walker) entries(sc scope, sa, sb *layerSummary) {
	key := func(es []*entry) ([]string, map[string]*entry) {
		seen := map[string]int{}
		keys := make([]string, len(es))
		m := make(map[string]*entry, len(es))
		for i, e := range es {
			k := e.name
			seen[k]++
			if seen[k] > 1 {
				k = fmt.Sprintf("%s (occurrence %d)", k, seen[k])
			}
			keys[i] = k
			m[k] = e
		}
		return keys, m
	}
	ka, ma := key(sa.entries)
	kb, mb := key(sb.entries)
	before := len(w.diffs)
	listed, skipped := 0, 0
	emit := func(d Difference) {
		if d.Entries == 0 && listed >= w.o.MaxEntries {
			skipped++
			return
		}
		if d.Entries == 0 {
			listed++
		}
		d.Platform, d.Layer = sc.platform, sc.layer
		w.add(d)
	}
	for i, k := range ka {
		if _, ok := mb[k]; !ok {
			emit(Difference{Level: LevelEntry, Kind: Removed, Entry: k, A: str(describe(sa.entries[i]))})
		}
	}
	for i, k := range kb {
		if _, ok := ma[k]; !ok {
			emit(Difference{Level: LevelEntry, Kind: Added, Entry: k, B: str(describe(sb.entries[i]))})
		}
	}
	if !w.o.Semantic {
		var oa, ob []string
		for _, k := range ka {
			if _, ok := mb[k]; ok {
				oa = append(oa, k)
			}
		}
		for _, k := range kb {
			if _, ok := ma[k]; ok {
				ob = append(ob, k)
			}
		}
		for i := range oa {
			if oa[i] != ob[i] {
				emit(Difference{Level: LevelEntry, Kind: Order, Field: "entry order", A: str(oa[i]), B: str(ob[i]),
					Note: fmt.Sprintf("the entries are in a different order: at position %d of the entries both have, A has %s and B has %s", i, oa[i], ob[i])})
				break
			}
		}
	}
	var changes []entryChange
	for _, k := range ka {
		if eb, ok := mb[k]; ok {
			for _, c := range w.fieldChanges(ma[k], eb) {
				c.entry = k
				changes = append(changes, c)
			}
		}
	}
	type group struct{ names []string }
	groups := map[[3]string]*group{}
	for _, c := range changes {
		g := groups[[3]string{c.field, c.a, c.b}]
		if g == nil {
			g = &group{}
			groups[[3]string{c.field, c.a, c.b}] = g
		}
		g.names = append(g.names, c.entry)
	}
	done := map[[3]string]bool{}
	for _, c := range changes {
		k := [3]string{c.field, c.a, c.b}
		g := groups[k]
		if len(g.names) < groupMin {
			emit(Difference{Level: LevelEntry, Kind: Changed, Entry: c.entry, Field: c.field, A: str(c.a), B: str(c.b)})
			continue
		}
		if done[k] {
			continue
		}
		done[k] = true
		ex := g.names
		if len(ex) > 3 {
			ex = ex[:3]
		}
		emit(Difference{Level: LevelEntry, Kind: Changed, Field: c.field, A: str(c.a), B: str(c.b), Entries: len(g.names), Examples: append([]string(nil), ex...)})
	}
	if skipped > 0 {
		emit(Difference{Level: LevelEntry, Kind: Truncated, Entries: skipped, Note: fmt.Sprintf("%d more entry differences not listed", skipped)})
	}
	if !w.o.Semantic && sa.trailing != sb.trailing {
		w.at(sc, LevelLayer, Changed, "bytes after the end-of-archive marker", str(strconv.FormatInt(sa.trailing, 10)), str(strconv.FormatInt(sb.trailing, 10)), "padding after the two zero blocks that end a tar (GNU tar pads to 10 KiB records)")
	}
	if len(w.diffs) == before && !w.o.Semantic {
		w.at(sc, LevelLayer, Encoding, "tar", str(sa.diffID.String()), str(sb.diffID.String()), "the tars differ but every entry has the same header fields and content")
	}
}
