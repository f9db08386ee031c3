// Package blob compresses and hashes layer streams in one pass.
//
// Encode runs the stages of a layer as a pipeline (see pipe.go): the
// producer of the uncompressed tar, the hash of the tar, the compressor, the
// hash of the compressed stream and the write of the blob each run on their
// own goroutine, connected by small pools of buffers, so that the wall time
// is that of the slowest stage rather than the sum, and memory stays bounded
// whatever the size of the layer.
package blob

import (
	"compress/gzip"
	"fmt"
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
