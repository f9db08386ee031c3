package blob

import (
	"bytes"
	"io"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// FuzzEncodeSameBytes: whatever the stream and however the producer cuts it
// into writes, the pipelined Encode writes exactly what one compressor
// writes when given the whole stream on one goroutine, and reports the
// digests and sizes of both streams. The stream is the fuzzer's data,
// repeated to cross the boundaries of chunks, made small here.
func FuzzEncodeSameBytes(f *testing.F) {
	oldTar, oldBlob := tarChunkSize, blobChunkSize
	tarChunkSize, blobChunkSize = 4096, 1024
	f.Cleanup(func() { tarChunkSize, blobChunkSize = oldTar, oldBlob })
	f.Add([]byte("rules_repro"), uint16(1), uint8(0), uint16(7))
	f.Add(bytes.Repeat([]byte{0}, 4096), uint16(300), uint8(1), uint16(65535))
	f.Add([]byte{0xff, 0x00, 0x28, 0xb5, 0x2f, 0xfd}, uint16(2000), uint8(2), uint16(1))
	f.Fuzz(func(t *testing.T, unit []byte, repeat uint16, comp uint8, cut uint16) {
		data := bytes.Repeat(unit, int(repeat)%300)
		if len(data) > 20*tarChunkSize {
			data = data[:20*tarChunkSize]
		}
		e := []Encoding{{Compression: None}, {Compression: Gzip, Level: 1, HasLevel: true}, {Compression: Zstd}}[comp%3]
		var want bytes.Buffer
		zw, err := NewCompressor(&want, e)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(data)
		zw.Close()
		var got bytes.Buffer
		step := int(cut)%(len(data)+1) + 1
		res, err := Encode(&got, e, func(w io.Writer) error {
			for i := 0; i < len(data); i += step {
				if _, err := w.Write(data[i:min(i+step, len(data))]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("%s: pipelined output (%d bytes) differs from the sequential one (%d bytes)", e, got.Len(), want.Len())
		}
		if res.Digest != digest.FromBytes(want.Bytes()) || res.Size != int64(want.Len()) ||
			res.DiffID != digest.FromBytes(data) || res.UncompressedSize != int64(len(data)) {
			t.Fatalf("%s: result %+v does not describe the streams", e, res)
		}
	})
}
