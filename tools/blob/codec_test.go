package blob

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestCodecsRoundTrip(t *testing.T) {
	payload := []byte(strings.Repeat("layer bytes ", 1000))
	for _, k := range Codecs {
		var buf bytes.Buffer
		w, err := Standard(&buf, Encoding{Compression: k.Name})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(payload)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := Sniff(buf.Bytes()); got.Name != k.Name {
			t.Errorf("%s: sniffed as %s", k.Name, got.Name)
		}
		r, got, err := Decompress(bytes.NewReader(buf.Bytes()), "x")
		if err != nil || got.Name != k.Name {
			t.Fatalf("%s: Decompress: %v, %s", k.Name, err, got.Name)
		}
		back, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(back, payload) {
			t.Errorf("%s: round trip: %v, %d bytes", k.Name, err, len(back))
		}
		if c, ok := CodecOf(k.Name); !ok || c.Extension != k.Extension {
			t.Errorf("CodecOf(%s) = %v, %v", k.Name, c, ok)
		}
	}
}

func TestDecompressRefuses(t *testing.T) {
	for name, head := range map[string][]byte{
		"bzip2 archives are not supported": []byte("BZh91AY&SY"),
		"xz archives are not supported":    {0xfd, '7', 'z', 'X', 'Z', 0x00, 1},
		"corrupt gzip stream":              {0x1f, 0x8b, 0, 0, 0, 0},
	} {
		if _, _, err := Decompress(bytes.NewReader(head), "in.tar"); err == nil || !strings.Contains(err.Error(), "in.tar: "+name) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}
