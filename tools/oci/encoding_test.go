package oci

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/canonjson"
)

// testEncoding is an Encoding for tests of this package, which cannot
// import compat (compat imports oci); the bytes a version writes are pinned
// by compat's golden matrix, not here.
var testEncoding = Encoding{
	IndexJSON:          canonjson.Marshal,
	LayoutFile:         []byte(`{"imageLayoutVersion":"1.0.0"}`),
	DockerManifestJSON: json.Marshal,
	Tar:                ArchiveTarRules{DirMode: 0o755, FileMode: 0o644, Format: tar.FormatPAX},
}

// smallImage is a manifest and config in a BlobSet.
func smallImage(t *testing.T) (specs.Descriptor, *BlobSet) {
	t.Helper()
	set := NewBlobSet()
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cd := set.AddBytes(cfg)
	man := []byte(`{"schemaVersion":2,"mediaType":"` + MediaTypeImageManifest + `","config":{"mediaType":"` + MediaTypeImageConfig + `","digest":"` + cd.String() + `","size":` + itoa(len(cfg)) + `},"layers":[]}`)
	md := set.AddBytes(man)
	return specs.Descriptor{MediaType: MediaTypeImageManifest, Digest: md, Size: int64(len(man))}, set
}

// TestIncompleteEncodingRefused: no caller writes bytes nobody chose; a
// zero or partial Encoding fails before anything is written.
func TestIncompleteEncodingRefused(t *testing.T) {
	root, set := smallImage(t)
	partial := testEncoding
	partial.DockerManifestJSON = nil
	noFormat := testEncoding
	noFormat.Tar.Format = tar.FormatUnknown
	for name, enc := range map[string]Encoding{"zero": {}, "no docker JSON": partial, "no tar format": noFormat} {
		out := filepath.Join(t.TempDir(), "layout")
		if err := WriteLayout(out, root, set, enc, ""); err == nil || !strings.Contains(err.Error(), "incomplete") {
			t.Errorf("%s: WriteLayout: %v", name, err)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: WriteLayout left %s", name, out)
		}
		var buf bytes.Buffer
		if err := WriteArchive(&buf, root, set, enc, ArchiveOptions{Docker: true}); err == nil || !strings.Contains(err.Error(), "incomplete") {
			t.Errorf("%s: WriteArchive: %v", name, err)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: WriteArchive wrote %d bytes", name, buf.Len())
		}
	}
}

// TestArchiveFollowsEncoding: every header field and JSON file comes from
// the Encoding given, not from constants in this package.
func TestArchiveFollowsEncoding(t *testing.T) {
	root, set := smallImage(t)
	enc := testEncoding
	enc.Tar = ArchiveTarRules{DirMode: 0o700, FileMode: 0o600, MTime: 1700000000, Format: tar.FormatGNU}
	enc.LayoutFile = []byte(`{"imageLayoutVersion":"1.0.0","x":1}`)
	enc.IndexJSON = func(v any) ([]byte, error) { return json.MarshalIndent(v, "", " ") }
	for _, docker := range []bool{false, true} {
		var buf bytes.Buffer
		if err := WriteArchive(&buf, root, set, enc, ArchiveOptions{Docker: docker}); err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(&buf)
		n := 0
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			n++
			want := enc.Tar.FileMode
			if h.Typeflag == tar.TypeDir {
				want = enc.Tar.DirMode
			}
			if h.Mode != want || h.ModTime.Unix() != enc.Tar.MTime || h.Format != tar.FormatGNU {
				t.Errorf("docker=%v %s: mode %o mtime %d format %v", docker, h.Name, h.Mode, h.ModTime.Unix(), h.Format)
			}
			data := new(bytes.Buffer)
			data.ReadFrom(tr)
			switch h.Name {
			case "oci-layout":
				if !bytes.Equal(data.Bytes(), enc.LayoutFile) {
					t.Errorf("oci-layout %q", data)
				}
			case "index.json":
				if !bytes.Contains(data.Bytes(), []byte("\n ")) {
					t.Errorf("index.json not from the encoder: %q", data)
				}
			}
		}
		if n != 6 && !docker || n != 5 && docker {
			t.Errorf("docker=%v: %d entries", docker, n)
		}
	}
}
