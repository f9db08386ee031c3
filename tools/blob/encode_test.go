package blob

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
)

func TestEncodeRoundTrip(t *testing.T) {
	data := bytes.Repeat([]byte("rules_repro streaming "), 300000) // ~6.6 MB: several chunks
	for _, e := range []Encoding{{Compression: Gzip}, {Compression: Gzip, Level: 1, HasLevel: true}, {Compression: Zstd}, {Compression: None}} {
		t.Run(e.String(), func(t *testing.T) {
			var out bytes.Buffer
			res, err := Encode(&out, e, func(w io.Writer) error {
				for i := 0; i < len(data); i += 7777 { // odd write sizes
					if _, err := w.Write(data[i:min(i+7777, len(data))]); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.DiffID != digest.FromBytes(data) || res.UncompressedSize != int64(len(data)) {
				t.Errorf("diff_id/size wrong")
			}
			if res.Digest != digest.FromBytes(out.Bytes()) || res.Size != int64(out.Len()) {
				t.Errorf("digest/size of the blob wrong")
			}
			var r io.Reader = &out
			switch e.Compression {
			case Gzip:
				r, _ = gzip.NewReader(&out)
			case Zstd:
				zr, _ := zstd.NewReader(&out)
				r = zr
			}
			h := sha256.New()
			io.Copy(h, r)
			if digest.NewDigest(digest.SHA256, h) != res.DiffID {
				t.Errorf("decompressed stream differs")
			}
		})
	}
}

func TestEncodeProducerError(t *testing.T) {
	boom := errors.New("boom")
	for i := 0; i < 50; i++ { // no deadlock whatever the timing
		for _, c := range []Compression{Gzip, Zstd, None} {
			_, err := Encode(io.Discard, Encoding{Compression: c}, func(w io.Writer) error {
				w.Write(make([]byte, 3<<20))
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("%s: got %v", c, err)
			}
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestEncodeWriteError(t *testing.T) {
	for _, c := range []Compression{Gzip, Zstd, None} {
		_, err := Encode(failWriter{}, Encoding{Compression: c}, func(w io.Writer) error {
			// Varied content, so that the compressed side has chunks to write.
			b := make([]byte, 20<<20)
			for i := range b {
				b[i] = byte(i*7919 + i>>8*31)
			}
			_, err := w.Write(b)
			return err
		})
		if err == nil || err.Error() != "disk full" {
			t.Fatalf("%s: write error lost or changed: %v", c, err)
		}
	}
}
