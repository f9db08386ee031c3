package diff

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	kflate "github.com/klauspost/compress/flate"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/blob"
)

// gzipHeader holds the fields of a gzip member header (RFC 1952).
type gzipHeader struct {
	flags, xfl, os byte
	mtime          uint32
	name, comment  string
	extra          []byte
	hcrc           bool
	length         int // bytes before the deflate stream
}

var errShort = errors.New("header truncated")

func parseGzipHeader(b []byte) (*gzipHeader, error) {
	if len(b) < 10 || b[0] != 0x1f || b[1] != 0x8b || b[2] != 8 {
		return nil, fmt.Errorf("not a gzip stream")
	}
	h := &gzipHeader{flags: b[3], mtime: binary.LittleEndian.Uint32(b[4:8]), xfl: b[8], os: b[9]}
	p := 10
	if h.flags&0x04 != 0 { // FEXTRA
		if len(b) < p+2 {
			return nil, errShort
		}
		n := int(binary.LittleEndian.Uint16(b[p:]))
		if len(b) < p+2+n {
			return nil, errShort
		}
		h.extra = b[p+2 : p+2+n]
		p += 2 + n
	}
	cstr := func() (string, error) {
		i := bytes.IndexByte(b[p:], 0)
		if i < 0 {
			return "", errShort
		}
		s := string(b[p : p+i])
		p += i + 1
		return s, nil
	}
	var err error
	if h.flags&0x08 != 0 { // FNAME
		if h.name, err = cstr(); err != nil {
			return nil, err
		}
	}
	if h.flags&0x10 != 0 { // FCOMMENT
		if h.comment, err = cstr(); err != nil {
			return nil, err
		}
	}
	if h.flags&0x02 != 0 { // FHCRC
		h.hcrc = true
		p += 2
	}
	h.length = p
	return h, nil
}

var gzipOS = map[byte]string{0: "FAT", 3: "Unix", 7: "Macintosh", 10: "NTFS", 11: "NTFS", 255: "unknown"}

func osName(b byte) string {
	if n, ok := gzipOS[b]; ok {
		return fmt.Sprintf("%d (%s)", b, n)
	}
	return strconv.Itoa(int(b))
}

// fields lists the header fields for comparison, with what they usually
// mean.
func (h *gzipHeader) fields() [][2]string {
	xfl := strconv.Itoa(int(h.xfl))
	switch h.xfl {
	case 2:
		xfl += " (maximum compression)"
	case 4:
		xfl += " (fastest compression)"
	}
	return [][2]string{
		{"gzip MTIME", strconv.FormatUint(uint64(h.mtime), 10)},
		{"gzip OS", osName(h.os)},
		{"gzip XFL", xfl},
		{"gzip FNAME", strconv.Quote(h.name)},
		{"gzip FCOMMENT", strconv.Quote(h.comment)},
		{"gzip FEXTRA", fmt.Sprintf("%x", h.extra)},
		{"gzip FHCRC", strconv.FormatBool(h.hcrc)},
	}
}

// zstdHeader holds the fields of a zstd frame header (RFC 8878).
type zstdHeader struct {
	windowSize    uint64
	contentSize   int64 // -1 when absent
	checksum      bool
	singleSegment bool
	dictID        uint32
}

func parseZstdHeader(b []byte) (*zstdHeader, error) {
	if len(b) < 5 || !bytes.Equal(b[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		return nil, fmt.Errorf("not a zstd frame")
	}
	fhd := b[4]
	h := &zstdHeader{contentSize: -1, checksum: fhd&0x04 != 0, singleSegment: fhd&0x20 != 0}
	p := 5
	if !h.singleSegment {
		if len(b) < p+1 {
			return nil, errShort
		}
		exp, mant := uint64(b[p]>>3), uint64(b[p]&7)
		base := uint64(1) << (10 + exp)
		h.windowSize = base + base/8*mant
		p++
	}
	didSize := []int{0, 1, 2, 4}[fhd&3]
	if len(b) < p+didSize {
		return nil, errShort
	}
	for i := didSize - 1; i >= 0; i-- {
		h.dictID = h.dictID<<8 | uint32(b[p+i])
	}
	p += didSize
	fcsSize := []int{0, 2, 4, 8}[fhd>>6]
	if fhd>>6 == 0 && h.singleSegment {
		fcsSize = 1
	}
	if len(b) < p+fcsSize {
		return nil, errShort
	}
	if fcsSize > 0 {
		var v uint64
		for i := fcsSize - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[p+i])
		}
		if fcsSize == 2 {
			v += 256
		}
		h.contentSize = int64(v)
		if h.singleSegment {
			h.windowSize = v
		}
	}
	return h, nil
}

func (h *zstdHeader) fields() [][2]string {
	cs := "(absent)"
	if h.contentSize >= 0 {
		cs = strconv.FormatInt(h.contentSize, 10)
	}
	return [][2]string{
		{"zstd window size", strconv.FormatUint(h.windowSize, 10)},
		{"zstd content size", cs},
		{"zstd checksum", strconv.FormatBool(h.checksum)},
		{"zstd single segment", strconv.FormatBool(h.singleSegment)},
		{"zstd dictionary ID", strconv.FormatUint(uint64(h.dictID), 10)},
	}
}

// encoder is a way to compress a layer that detectEncoders tries.
type encoder struct {
	name string
	// body: the output is a raw deflate stream, compared with the blob's
	// after its gzip header.
	body bool
	new  func(io.Writer) (io.WriteCloser, error)
}

func gzipEncoders() []encoder {
	var out []encoder
	for l := 0; l <= 9; l++ {
		name := fmt.Sprintf("Go compress/gzip level %d", l)
		switch l {
		case 6:
			name += " (the default; rules_repro's without compression_level)"
		case 0:
			name += " (stored, no compression)"
		}
		out = append(out, encoder{name: name, body: true, new: func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, l) }})
	}
	for l := 1; l <= 9; l++ {
		out = append(out, encoder{name: fmt.Sprintf("klauspost/compress gzip level %d", l), body: true, new: func(w io.Writer) (io.WriteCloser, error) { return kflate.NewWriter(w, l) }})
	}
	return out
}

func zstdEncoders() []encoder {
	var out []encoder
	for _, l := range []struct {
		level int
		name  string
	}{
		{1, "zstd levels 1-2, klauspost/compress SpeedFastest"},
		{3, "zstd levels 3-5, klauspost/compress SpeedDefault (rules_repro's default)"},
		{6, "zstd levels 6-9, klauspost/compress SpeedBetterCompression"},
		{10, "zstd levels 10-22, klauspost/compress SpeedBestCompression"},
	} {
		e := blob.Encoding{Compression: blob.Zstd, Level: l.level, HasLevel: true}
		out = append(out, encoder{name: l.name, new: func(w io.Writer) (io.WriteCloser, error) { return blob.NewCompressor(w, e) }})
	}
	return out
}

// Limits of the search for the encoder of a blob.
const (
	// decideAfter: a candidate that is the only one left and has
	// reproduced this many compressed bytes is taken as the encoder.
	decideAfter = 1 << 20
	// searchLimit bounds the uncompressed bytes fed to candidates; those
	// still matching then are reported as indistinguishable.
	searchLimit = 64 << 20
)

var errMismatch = errors.New("mismatch")

// blobWindow serves the bytes of a compressed stream to candidates that
// read it at different offsets, keeping only what the slowest still needs.
type blobWindow struct {
	r    io.Reader
	buf  []byte
	base int64 // offset of buf[0]
	eof  bool
}

// at returns up to n bytes at off (fewer at the end of the stream).
func (w *blobWindow) at(off int64, n int) ([]byte, error) {
	for !w.eof && off+int64(n) > w.base+int64(len(w.buf)) {
		chunk := make([]byte, 256<<10)
		k, err := io.ReadFull(w.r, chunk)
		w.buf = append(w.buf, chunk[:k]...)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			w.eof = true
		} else if err != nil {
			return nil, err
		}
	}
	i := off - w.base
	if i < 0 {
		return nil, fmt.Errorf("window moved past offset %d", off)
	}
	if i > int64(len(w.buf)) {
		return nil, nil
	}
	j := min(i+int64(n), int64(len(w.buf)))
	return w.buf[i:j], nil
}

func (w *blobWindow) trim(off int64) {
	if k := off - w.base; k > 1<<20 && k <= int64(len(w.buf)) {
		w.buf = append([]byte(nil), w.buf[k:]...)
		w.base = off
	}
}

// candidateOut compares what an encoder writes with the stream.
type candidateOut struct {
	w      *blobWindow
	off    int64
	failed bool
	err    error
}

func (c *candidateOut) Write(b []byte) (int, error) {
	if c.failed {
		return 0, errMismatch
	}
	want, err := c.w.at(c.off, len(b))
	if err != nil {
		c.failed, c.err = true, err
		return 0, err
	}
	if !bytes.Equal(b, want) {
		c.failed = true
		return 0, errMismatch
	}
	c.off += int64(len(b))
	return len(b), nil
}

// detectEncoders compresses the blob's tar again with each candidate
// encoder, comparing the output with the blob's compressed stream as it
// goes, and returns those that reproduce it. Most candidates are ruled out
// within the first block; one left alone after decideAfter bytes is taken;
// several still matching after searchLimit input bytes (random data is
// stored the same way at every level) are all returned, with sure = false.
func (w *walker) detectEncoders(src *Source, d specs.Descriptor, compression string) (names []string, sure bool, err error) {
	var encs []encoder
	switch compression {
	case "gzip":
		encs = gzipEncoders()
	case "zstd":
		encs = zstdEncoders()
	default:
		return nil, true, nil
	}
	// The compressed stream, after the gzip header for deflate candidates.
	r, err := src.openBlob(w.ctx, d)
	if err != nil {
		return nil, false, err
	}
	defer r.Close()
	var start int64
	if compression == "gzip" {
		head := make([]byte, 4096)
		n, _ := io.ReadFull(r, head)
		h, err := parseGzipHeader(head[:n])
		if err != nil {
			return nil, true, nil
		}
		start = int64(h.length)
		r.Close()
		if r, err = src.openBlob(w.ctx, d); err != nil {
			return nil, false, err
		}
		if _, err := io.CopyN(io.Discard, r, start); err != nil {
			return nil, false, err
		}
	}
	win := &blobWindow{r: r}
	// The end of the compressed data: for gzip, 8 bytes (CRC32 and ISIZE)
	// before the end of the blob.
	end := d.Size - start
	if compression == "gzip" {
		end -= 8
	}
	type live struct {
		enc encoder
		out *candidateOut
		w   io.WriteCloser
	}
	var cands []*live
	for _, e := range encs {
		out := &candidateOut{w: win}
		cw, err := e.new(out)
		if err != nil {
			return nil, false, err
		}
		cands = append(cands, &live{e, out, cw})
	}
	rr, err := src.openBlob(w.ctx, d)
	if err != nil {
		return nil, false, err
	}
	defer rr.Close()
	tarStream, _, err := blob.Decompress(rr, d.Digest.String())
	if err != nil {
		return nil, false, err
	}
	defer tarStream.Close()
	buf := make([]byte, 256<<10)
	var fed int64
	alive := func() []*live {
		var l []*live
		for _, c := range cands {
			if !c.out.failed {
				l = append(l, c)
			}
		}
		return l
	}
	finished := false
	for {
		l := alive()
		if len(l) == 0 {
			return nil, true, nil
		}
		if len(l) == 1 && l[0].out.off >= decideAfter {
			return []string{l[0].enc.name}, true, nil
		}
		if fed >= searchLimit {
			break
		}
		k, rerr := io.ReadFull(tarStream, buf)
		fed += int64(k)
		for _, c := range l {
			c.w.Write(buf[:k])
			if c.out.err != nil {
				return nil, false, c.out.err
			}
		}
		minOff := end
		for _, c := range alive() {
			minOff = min(minOff, c.out.off)
		}
		win.trim(minOff)
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			finished = true
			break
		}
		if rerr != nil {
			return nil, false, fmt.Errorf("%s: layer %s: %w", src.Name, d.Digest, rerr)
		}
	}
	for _, c := range alive() {
		if finished {
			c.w.Close()
			if c.out.err != nil {
				return nil, false, c.out.err
			}
			if c.out.failed || c.out.off != end {
				continue
			}
		}
		names = append(names, c.enc.name)
	}
	return names, finished || len(names) <= 1, nil
}

// compression explains two layers with the same tar (diff_id) and
// different blobs.
func (w *walker) compression(sc scope, la, lb specs.Descriptor, diffID digest.Digest) error {
	heads := [2][]byte{}
	for i, x := range []struct {
		s *Source
		d specs.Descriptor
	}{{w.a, la}, {w.b, lb}} {
		r, err := x.s.openBlob(w.ctx, x.d)
		if errors.Is(err, errNotFound) {
			w.at(sc, LevelCompression, Unavailable, "layer", str(la.Digest.String()), str(lb.Digest.String()),
				fmt.Sprintf("the same tar (diff_id %s) compressed differently; to tell how, add the blob, which is not in %s, with --blobs-from LAYOUT, --blob or --layer", shortDigest(diffID), x.s.Name))
			return nil
		}
		if err != nil {
			return err
		}
		head := make([]byte, 4096)
		n, _ := io.ReadFull(r, head)
		r.Close()
		heads[i] = head[:n]
	}
	before := len(w.diffs)
	// The first line says that the tar is the same; the others need not.
	emit := func(field, a, b, more string) {
		note := more
		if len(w.diffs) == before {
			note = strings.TrimSuffix(fmt.Sprintf("the same tar (diff_id %s), compressed differently; %s", shortDigest(diffID), more), "; ")
		}
		w.at(sc, LevelCompression, Changed, field, str(a), str(b), note)
	}
	ca, cb := string(blob.Sniff(heads[0]).Name), string(blob.Sniff(heads[1]).Name)
	w.compatNote(sc, la, lb)
	if ca != cb {
		emit("compression", ca, cb, fmt.Sprintf("%d → %d bytes", la.Size, lb.Size))
		return nil
	}
	var fa, fb [][2]string
	switch ca {
	case "gzip":
		ha, erra := parseGzipHeader(heads[0])
		hb, errb := parseGzipHeader(heads[1])
		if erra == nil && errb == nil {
			fa, fb = ha.fields(), hb.fields()
		}
	case "zstd":
		ha, erra := parseZstdHeader(heads[0])
		hb, errb := parseZstdHeader(heads[1])
		if erra == nil && errb == nil {
			fa, fb = ha.fields(), hb.fields()
		}
	}
	for i := range fa {
		if fa[i][1] != fb[i][1] {
			emit(fa[i][0], fa[i][1], fb[i][1], "")
		}
	}
	ea, sa, err := w.detectEncoders(w.a, la, ca)
	if err != nil {
		return err
	}
	eb, sb, err := w.detectEncoders(w.b, lb, cb)
	if err != nil {
		return err
	}
	if na, nb := encoderText(ea, sa), encoderText(eb, sb); na != nb {
		emit("encoder and level", na, nb, "")
	}
	if len(w.diffs) == before {
		emit("compressed bytes", fmt.Sprintf("%d bytes", la.Size), fmt.Sprintf("%d bytes", lb.Size),
			"the headers and the encoder settings found are the same (another version of the encoder, or parallel compression?)")
	}
	return nil
}

func encoderText(names []string, sure bool) string {
	if len(names) == 0 {
		return "not reproduced by Go compress/gzip, klauspost/compress or rules_repro's zstd at any level (another encoder, such as GNU gzip, pigz or the zstd command)"
	}
	s := strings.Join(names, "; or ")
	if !sure {
		s += fmt.Sprintf(" (indistinguishable in the first %d MiB)", searchLimit>>20)
	}
	return s
}

// compatNote reports different compatibility versions of two layers or
// their images, once per scope.
func (w *walker) compatNote(sc scope, la, lb specs.Descriptor) {
	va, vb := w.compat[0], w.compat[1]
	if x := w.a.compat[la.Digest]; x != 0 {
		va = strconv.Itoa(x)
	}
	if x := w.b.compat[lb.Digest]; x != 0 {
		vb = strconv.Itoa(x)
	}
	if va != "" && vb != "" && va != vb {
		w.at(sc, LevelCompression, Changed, "compatibility version", str(va), str(vb), "each compatibility version pins its own compression table (docs/compatibility.md)")
	}
}
