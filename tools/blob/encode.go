// Package blob compresses and hashes layer streams in one pass.
//
// Encode runs the producer of the uncompressed tar and the compressor on
// separate goroutines connected by a small pool of buffers, so that reading
// inputs, building the tar and hashing it overlap with compression, and
// memory stays bounded whatever the size of the layer.
package blob

import (
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"

	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
)

// Compression names a layer encoding.
type Compression string

const (
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
	None Compression = "none"
)

// Encoding is a compression and its level. Level is only meaningful when
// HasLevel is set; otherwise the library default is used.
type Encoding struct {
	Compression Compression
	Level       int
	HasLevel    bool
	// Writer is the implementation of the compression, chosen by a
	// compatibility version (compat.Version's compression table); nil means
	// Standard.
	Writer Writer
}

// Writer returns a writer that compresses into w as e says.
type Writer func(w io.Writer, e Encoding) (io.WriteCloser, error)

func (e Encoding) String() string {
	if e.HasLevel {
		return fmt.Sprintf("%s level %d", e.Compression, e.Level)
	}
	return string(e.Compression)
}

// Result describes an encoded blob.
type Result struct {
	Digest           digest.Digest // sha256 of the blob as stored
	Size             int64
	DiffID           digest.Digest // sha256 of the uncompressed tar
	UncompressedSize int64
}

// NewCompressor returns a writer that compresses into w.
//
//   - gzip: the Go standard library compress/gzip, as BuildKit does; header
//     without name, MTIME 0, OS 255.
//   - zstd: github.com/klauspost/compress/zstd, one frame; levels map as in
//     BuildKit (zstd.EncoderLevelFromZstd): below 3 fastest, 3-5 default,
//     6-9 better, 10 and above best. The output does not depend on the
//     encoder's concurrency.
//   - none: w itself.
//
// e.Writer, when set, replaces this choice.
func NewCompressor(w io.Writer, e Encoding) (io.WriteCloser, error) {
	if e.Writer != nil {
		return e.Writer(w, e)
	}
	return Standard(w, e)
}

// Standard is the compression implementation of compatibility versions 1
// and 2 (see NewCompressor).
func Standard(w io.Writer, e Encoding) (io.WriteCloser, error) {
	switch e.Compression {
	case Gzip:
		level := gzip.DefaultCompression
		if e.HasLevel {
			level = e.Level
		}
		return gzip.NewWriterLevel(w, level)
	case Zstd:
		var opts []zstd.EOption
		if e.HasLevel {
			opts = append(opts, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(e.Level)))
		}
		return zstd.NewWriter(w, opts...)
	case None:
		return nopCloser{w}, nil
	}
	return nil, fmt.Errorf("unknown compression %q", e.Compression)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

type counter struct {
	h hash.Hash
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	c.h.Write(p)
	c.n += int64(len(p))
	return len(p), nil
}

const (
	chunkSize = 1 << 20
	chunks    = 6
)

// Encode calls produce with a writer for the uncompressed stream, compresses
// what it writes with e into dst, and returns the digests and sizes of both
// streams. produce runs on its own goroutine.
func Encode(dst io.Writer, e Encoding, produce func(io.Writer) error) (Result, error) {
	blobSum := &counter{h: sha256.New()}
	out := io.MultiWriter(dst, blobSum)
	if e.Compression == None {
		// The blob is the tar: its digest is the diff_id, hashed once.
		out = dst
	}
	comp, err := NewCompressor(out, e)
	if err != nil {
		return Result{}, err
	}
	p := newPipe()
	tarSum := &counter{h: sha256.New()}
	go func() {
		w := &chunkWriter{p: p, sum: tarSum}
		err := produce(w)
		if err == nil {
			err = w.flush()
		}
		p.finish(err)
	}()
	var werr error
	for c := range p.full {
		if werr == nil {
			if _, err := comp.Write(c); err != nil {
				werr = fmt.Errorf("compressing: %w", err)
			}
		}
		p.free <- c[:0]
	}
	if err := p.err; err != nil {
		return Result{}, err
	}
	if werr != nil {
		return Result{}, werr
	}
	if err := comp.Close(); err != nil {
		return Result{}, fmt.Errorf("compressing: %w", err)
	}
	r := Result{
		DiffID:           digest.NewDigest(digest.SHA256, tarSum.h),
		UncompressedSize: tarSum.n,
		Digest:           digest.NewDigest(digest.SHA256, blobSum.h),
		Size:             blobSum.n,
	}
	if e.Compression == None {
		r.Digest, r.Size = r.DiffID, r.UncompressedSize
	}
	return r, nil
}

// pipe passes filled buffers from the producer to the compressor and
// returns them for reuse.
type pipe struct {
	full chan []byte
	free chan []byte
	err  error // set before full is closed
}

func newPipe() *pipe {
	p := &pipe{full: make(chan []byte, chunks), free: make(chan []byte, chunks)}
	for i := 0; i < chunks; i++ {
		p.free <- make([]byte, 0, chunkSize)
	}
	return p
}

func (p *pipe) finish(err error) {
	p.err = err
	close(p.full)
}

// chunkWriter fills buffers from the pipe, hashing the uncompressed stream
// one buffer at a time.
type chunkWriter struct {
	p   *pipe
	buf []byte
	sum *counter
}

func (w *chunkWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		if w.buf == nil {
			w.buf = <-w.p.free
		}
		k := copy(w.buf[len(w.buf):cap(w.buf)], b)
		w.buf = w.buf[:len(w.buf)+k]
		b = b[k:]
		if len(w.buf) == cap(w.buf) {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (w *chunkWriter) flush() error {
	if w.buf == nil {
		return nil
	}
	w.sum.Write(w.buf)
	w.p.full <- w.buf
	w.buf = nil
	return nil
}
