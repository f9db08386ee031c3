package oci

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Fuzz targets of issue 9: whatever OCI document or descriptor file the
// parsers accept has only valid digests, every blob path built from it
// stays inside the layout, and nothing panics. tools/fuzz.sh runs each for
// a short while in `make test`.

// inside reports whether the blob path of d stays in layout.
func inside(t *testing.T, layout string, d digest.Digest) {
	t.Helper()
	if err := CheckDigest(d); err != nil {
		t.Fatalf("accepted an invalid digest: %v", err)
	}
	p, err := BlobPath(layout, d)
	if err != nil {
		t.Fatalf("BlobPath refused an accepted digest: %v", err)
	}
	rel, err := filepath.Rel(layout, p)
	if err != nil || strings.HasPrefix(rel, "..") || filepath.Dir(rel) != filepath.Join("blobs", "sha256") {
		t.Fatalf("blob path %q of %q is not in %s/blobs/sha256", p, d, layout)
	}
}

func checkDescriptor(t *testing.T, layout string, d specs.Descriptor) {
	t.Helper()
	inside(t, layout, d.Digest)
	if d.Size < 0 || d.Size > MaxBlobSize {
		t.Fatalf("accepted size %d", d.Size)
	}
}

func checkImage(t *testing.T, layout string, img *Image) {
	t.Helper()
	checkDescriptor(t, layout, img.Descriptor)
	checkDescriptor(t, layout, img.Manifest.Config)
	for _, l := range img.Manifest.Layers {
		checkDescriptor(t, layout, l)
	}
	for _, d := range img.Config.RootFS.DiffIDs {
		inside(t, layout, d)
	}
	if len(img.Config.RootFS.DiffIDs) != len(img.Manifest.Layers) {
		t.Fatalf("accepted %d diff_ids for %d layers", len(img.Config.RootFS.DiffIDs), len(img.Manifest.Layers))
	}
}

var (
	seedConfig   = `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + hex64 + `"]}}`
	seedManifest = `{"schemaVersion":2,"mediaType":"` + MediaTypeImageManifest + `","config":{"mediaType":"` + MediaTypeImageConfig + `","digest":"CONFIG","size":SIZE},` +
		`"layers":[{"mediaType":"` + MediaTypeLayerGzip + `","digest":"sha256:` + hex64 + `","size":5}]}`
	seedIndex = `{"schemaVersion":2,"manifests":[{"mediaType":"` + MediaTypeImageManifest + `","digest":"MANIFEST","size":SIZE,"platform":{"os":"linux","architecture":"amd64"}}]}`
)

// fill replaces the placeholders a fuzzer cannot guess (the digest and
// size of a blob) by those of blob.
func fill(doc string, placeholder string, blob []byte) []byte {
	s := strings.ReplaceAll(doc, placeholder, digest.FromBytes(blob).String())
	return []byte(strings.ReplaceAll(s, "SIZE", itoa(len(blob))))
}

func FuzzParseImage(f *testing.F) {
	f.Add([]byte(seedManifest), []byte(seedConfig))
	f.Add([]byte(strings.Replace(seedManifest, "sha256:"+hex64, "sha256:../../../../X/payload", 1)), []byte(seedConfig))
	f.Add([]byte(`{"config":{"digest":"nocolon"},"layers":[{"digest":"sha512:ab"}]}`), []byte(`{"rootfs":{"diff_ids":["x"]}}`))
	f.Add([]byte(`[[[[[[`), []byte(`{`))
	f.Fuzz(func(t *testing.T, manifest, config []byte) {
		m := fill(string(manifest), "CONFIG", config)
		desc := specs.Descriptor{MediaType: MediaTypeImageManifest, Digest: digest.FromBytes(m), Size: int64(len(m))}
		if img, err := ParseImage(desc, m, config); err == nil {
			checkImage(t, "/layout", img)
		}
		if man, err := ParseManifest(manifest); err == nil {
			checkDescriptor(t, "/layout", man.Config)
			for _, l := range man.Layers {
				checkDescriptor(t, "/layout", l)
			}
		}
		if idx, err := ParseIndex(manifest); err == nil {
			for _, d := range idx.Manifests {
				checkDescriptor(t, "/layout", d)
			}
		}
		if c, err := ParseConfig(config); err == nil {
			for _, d := range c.RootFS.DiffIDs {
				inside(t, "/layout", d)
			}
		}
	})
}

// memFiles stands in for the disk while fuzzing (readFile): a map of
// files, and a check that every path asked for is index.json or
// blobs/sha256/<64 hex> inside the layout, or the descriptor file.
type memFiles struct {
	t      *testing.T
	layout string
	files  map[string][]byte
}

func (m *memFiles) read(path string, max int64) ([]byte, error) {
	rel, err := filepath.Rel(m.layout, path)
	if err != nil || rel != "index.json" && rel != "desc.json" && (filepath.Dir(rel) != filepath.Join("blobs", "sha256") || len(filepath.Base(rel)) != 64) {
		m.t.Fatalf("read %q, outside the layout %s", path, m.layout)
	}
	data, ok := m.files[path]
	if !ok {
		return nil, &os.PathError{Op: "open", Path: path, Err: os.ErrNotExist}
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return data, nil
}

// useMemFiles makes readFile read from m for the rest of f's run. Fuzz
// iterations run one at a time in each process, so one stand-in serves
// them all.
func useMemFiles(f *testing.F, m *memFiles) {
	f.Cleanup(func() { readFile = ReadFileLimited })
	readFile = m.read
}

// FuzzReadLayoutImage reads a layout made of the fuzzed index.json,
// manifest and config (stored under their digests) as `repro image --base`
// and `repro base` do, and walks it as `repro layout --blobs-from` does.
// The layout is in memory (see memFiles); TestHostileLayout* read real
// ones from disk.
func FuzzReadLayoutImage(f *testing.F) {
	f.Add([]byte(seedIndex), []byte(seedManifest), []byte(seedConfig))
	f.Add([]byte(strings.Replace(seedIndex, "MANIFEST", "sha256:../../../etc/passwd", 1)), []byte(seedManifest), []byte(seedConfig))
	f.Add([]byte(seedIndex), []byte(strings.Replace(seedManifest, "sha256:"+hex64, "sha256:/etc/passwd", 1)), []byte(seedConfig))
	f.Add([]byte(strings.Replace(seedIndex, MediaTypeImageManifest, MediaTypeImageIndex, 1)), []byte(seedIndex), []byte(seedConfig))
	layout := "/fuzz/layout"
	mem := &memFiles{layout: layout}
	useMemFiles(f, mem)
	f.Fuzz(func(t *testing.T, index, manifest, config []byte) {
		m := fill(string(manifest), "CONFIG", config)
		blob := func(b []byte) string { return filepath.Join(layout, "blobs/sha256", digest.FromBytes(b).Encoded()) }
		mem.t = t
		mem.files = map[string][]byte{
			filepath.Join(layout, "index.json"): fill(string(index), "MANIFEST", m),
			blob(m):                             m,
			blob(config):                        config,
		}
		if img, err := ReadLayoutImage(layout, nil, ""); err == nil {
			checkImage(t, layout, img)
		}
		set := NewBlobSet()
		set.AddBytes(m)
		set.AddBytes(config)
		root := specs.Descriptor{MediaType: MediaTypeImageManifest, Digest: digest.FromBytes(m), Size: int64(len(m))}
		if bytes.Contains(index, []byte(MediaTypeImageIndex)) {
			root.MediaType = MediaTypeImageIndex
		}
		if descs, err := set.Closure(root); err == nil {
			for _, d := range descs {
				checkDescriptor(t, layout, d)
			}
		}
	})
}

// FuzzReadDescriptor parses descriptor files as `repro layout`, `repro
// image` and `repro index` read them (the file is in memory, see
// memFiles).
func FuzzReadDescriptor(f *testing.F) {
	f.Add([]byte(`{"mediaType":"` + MediaTypeLayerGzip + `","digest":"sha256:` + hex64 + `","size":5,"diff_id":"sha256:` + hex64 + `"}`))
	f.Add([]byte(`{"mediaType":"` + MediaTypeImageManifest + `","digest":"sha256:` + hex64 + `","size":5,"config":{"digest":"sha256:` + hex64 + `","size":1},` +
		`"layers":[{"digest":"sha256:../../x","size":1}],"manifests":[{"digest":"sha256:` + hex64 + `","size":-1}]}`))
	f.Add([]byte(`{"mediaType":"` + MediaTypeImageIndex + `","digest":"sha512:` + hex64 + hex64 + `","size":5}`))
	f.Add([]byte(`{"x":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`))
	dir := "/fuzz"
	p := filepath.Join(dir, "desc.json")
	mem := &memFiles{layout: dir}
	useMemFiles(f, mem)
	f.Fuzz(func(t *testing.T, data []byte) {
		mem.t = t
		mem.files = map[string][]byte{p: data}
		if d, err := ReadLayerDescriptor(p); err == nil {
			inside(t, "/layout", d.Digest)
			inside(t, "/layout", d.DiffID)
			if d.Size <= 0 || d.Size > MaxBlobSize {
				t.Fatalf("accepted size %d", d.Size)
			}
		}
		if d, err := ReadImageDescriptor(p); err == nil {
			checkDescriptor(t, "/layout", d.Descriptor())
			if d.Config != nil {
				checkDescriptor(t, "/layout", *d.Config)
			}
			for _, l := range d.Layers {
				checkDescriptor(t, "/layout", l)
			}
			for _, m := range d.Manifests {
				checkDescriptor(t, "/layout", m)
			}
		}
	})
}
