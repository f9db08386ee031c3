package blob

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// Codec is what the helper knows about one layer compression, in one row:
// reading (magic bytes, decompressor) and naming (file extension, media
// types). How a compatibility version writes it (levels, the compressor, the
// media type it records) is that version's compression table
// (compat.Version.Compressions), which refers to the codec by Name.
type Codec struct {
	// Name is the compression's name in flags and rule attributes.
	Name Compression
	// Extension is the file name ending of a layer blob (".tar.gz").
	Extension string
	// OCIMediaType and DockerMediaType name a layer blob of this codec.
	OCIMediaType, DockerMediaType string
	// Magic is how a stream of this codec begins; empty for None.
	Magic []byte
	// NewReader returns the decompressed stream of r (which starts with
	// Magic); nil for None.
	NewReader func(r io.Reader) (io.ReadCloser, error)
}

// Codecs lists every compression, the Starlark constants
// (rules/private/codecs.bzl) are generated from it.
var Codecs = []Codec{
	{
		Name: Gzip, Extension: ".tar.gz",
		OCIMediaType:    "application/vnd.oci.image.layer.v1.tar+gzip",
		DockerMediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
		Magic:           []byte{0x1f, 0x8b},
		NewReader: func(r io.Reader) (io.ReadCloser, error) {
			zr, err := gzip.NewReader(r)
			if err != nil {
				return nil, err
			}
			zr.Multistream(true)
			return zr, nil
		},
	},
	{
		Name: Zstd, Extension: ".tar.zst",
		OCIMediaType:    "application/vnd.oci.image.layer.v1.tar+zstd",
		DockerMediaType: "application/vnd.docker.image.rootfs.diff.tar.zstd",
		Magic:           []byte{0x28, 0xb5, 0x2f, 0xfd},
		NewReader: func(r io.Reader) (io.ReadCloser, error) {
			zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
			if err != nil {
				return nil, err
			}
			return zr.IOReadCloser(), nil
		},
	},
	{
		Name: None, Extension: ".tar",
		OCIMediaType:    "application/vnd.oci.image.layer.v1.tar",
		DockerMediaType: "application/vnd.docker.image.rootfs.diff.tar",
	},
}

// unsupported are compressions recognized only to be refused clearly.
var unsupported = []struct {
	name  string
	magic []byte
}{
	{"bzip2", []byte("BZh")},
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
}

// CodecOf returns the codec named c.
func CodecOf(c Compression) (Codec, bool) {
	for _, k := range Codecs {
		if k.Name == c {
			return k, true
		}
	}
	return Codec{}, false
}

// Sniff returns the codec whose magic head starts with, or None's.
func Sniff(head []byte) Codec {
	for _, k := range Codecs {
		if len(k.Magic) > 0 && bytes.HasPrefix(head, k.Magic) {
			return k
		}
	}
	none, _ := CodecOf(None)
	return none
}

// Decompress detects the codec of r from its first bytes and returns the
// decompressed stream (r itself, buffered, when it is not compressed), and
// the codec. Errors name the stream as name; bzip2 and xz are refused.
func Decompress(r io.Reader, name string) (io.ReadCloser, Codec, error) {
	br := bufio.NewReaderSize(r, 64*1024)
	head, err := br.Peek(6)
	if err != nil && err != io.EOF {
		return nil, Codec{}, fmt.Errorf("%s: %w", name, err)
	}
	for _, u := range unsupported {
		if bytes.HasPrefix(head, u.magic) {
			return nil, Codec{}, fmt.Errorf("%s: %s archives are not supported; use a plain, gzip or zstd tar", name, u.name)
		}
	}
	k := Sniff(head)
	if k.NewReader == nil {
		return io.NopCloser(br), k, nil
	}
	zr, err := k.NewReader(br)
	if err != nil {
		return nil, Codec{}, fmt.Errorf("%s: corrupt %s stream: %w", name, k.Name, err)
	}
	return zr, k, nil
}

// IsCompressed reports whether head begins a compressed stream, including
// the compressions Decompress refuses.
func IsCompressed(head []byte) bool {
	if Sniff(head).NewReader != nil {
		return true
	}
	for _, u := range unsupported {
		if bytes.HasPrefix(head, u.magic) {
			return true
		}
	}
	return false
}
