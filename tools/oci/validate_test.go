package oci

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

var hex64 = strings.Repeat("0123456789abcdef", 4)

func TestCheckDigest(t *testing.T) {
	good := []digest.Digest{"sha256:" + digest.Digest(hex64), digest.FromString("x")}
	for _, d := range good {
		if err := CheckDigest(d); err != nil {
			t.Errorf("%q: %v", d, err)
		}
	}
	bad := map[string]string{
		"":                                 "invalid digest",
		hex64:                              "invalid digest",
		"sha256:":                          "invalid digest",
		"sha256:" + hex64[:63]:             "invalid digest",
		"sha256:" + hex64 + "0":            "invalid digest",
		"sha256:" + hex64 + "/x":           "invalid digest",
		"sha256:../../../../X/payload":     "invalid digest",
		"sha256:" + strings.ToUpper(hex64): "lower-case",
		"sha256:" + hex64[:63] + "\x00":    "invalid digest",
		"sha512:" + hex64 + hex64:          "only sha256",
		"sha384:" + hex64[:48]:             "only sha256",
		"SHA256:" + hex64:                  "invalid digest",
		"../x:" + hex64:                    "invalid digest",
		":" + hex64:                        "invalid digest",
	}
	for d, want := range bad {
		err := CheckDigest(digest.Digest(d))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error saying %q", d, err, want)
		}
	}
	// A hostile long digest is shortened in the message.
	long := "sha256:" + strings.Repeat("../", 10000)
	if err := CheckDigest(digest.Digest(long)); err == nil || len(err.Error()) > 300 {
		t.Errorf("long digest: %d-byte message", len(err.Error()))
	}
}

func TestValidateDescriptor(t *testing.T) {
	d := digest.Digest("sha256:" + hex64)
	cases := []struct {
		desc specs.Descriptor
		want string // "" for valid
	}{
		{specs.Descriptor{MediaType: MediaTypeLayerGzip, Digest: d, Size: 0}, ""},
		{specs.Descriptor{MediaType: MediaTypeLayerGzip, Digest: d, Size: MaxBlobSize}, ""},
		{specs.Descriptor{MediaType: MediaTypeLayerGzip, Digest: d, Size: -1}, "invalid size -1"},
		{specs.Descriptor{MediaType: MediaTypeLayerGzip, Digest: d, Size: MaxBlobSize + 1}, "invalid size"},
		{specs.Descriptor{MediaType: MediaTypeLayerGzip, Digest: d, Size: 1 << 62}, "invalid size"},
		{specs.Descriptor{MediaType: MediaTypeImageManifest, Digest: d, Size: MaxManifestSize + 1}, "for a manifest or index"},
		{specs.Descriptor{MediaType: MediaTypeImageIndex, Digest: d, Size: MaxManifestSize + 1}, "for a manifest or index"},
		{specs.Descriptor{MediaType: MediaTypeImageConfig, Digest: d, Size: MaxConfigSize + 1}, "for an image config"},
		{specs.Descriptor{MediaType: MediaTypeLayerGzip, Digest: "sha256:/etc/passwd", Size: 1}, `"sha256:/etc/passwd"`},
	}
	for _, c := range cases {
		err := ValidateDescriptor(c.desc)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", c.desc, err, c.want)
		}
	}
}

func TestBlobPathRefusesInvalidDigests(t *testing.T) {
	layout := "/some/layout"
	p, err := BlobPath(layout, digest.Digest("sha256:"+hex64))
	if err != nil || p != filepath.Join(layout, "blobs/sha256", hex64) {
		t.Errorf("good digest: %q %v", p, err)
	}
	for _, d := range []digest.Digest{"sha256:../../../../X/payload", "sha256:/etc/passwd", "sha512:" + digest.Digest(hex64+hex64), "nocolon", ""} {
		if p, err := BlobPath(layout, d); err == nil || p != "" || !strings.Contains(err.Error(), layout) {
			t.Errorf("%q: path %q, error %v; want a refusal naming the layout", d, p, err)
		}
	}
}

// TestParsersValidateEveryDescriptor: manifests, indexes and configs are
// refused when any descriptor or diff_id in them is not a sha256 digest or
// has a bad size, with the field named.
func TestParsersValidateEveryDescriptor(t *testing.T) {
	d := `"sha256:` + hex64 + `"`
	bad := `"sha256:../../x"`
	manifest := func(config, layer, subject string) string {
		s := `{"schemaVersion":2,"config":{"mediaType":"` + MediaTypeImageConfig + `","digest":` + config + `,"size":2},` +
			`"layers":[{"mediaType":"` + MediaTypeLayerGzip + `","digest":` + d + `,"size":3},{"mediaType":"` + MediaTypeLayerGzip + `","digest":` + layer + `,"size":3}]`
		if subject != "" {
			s += `,"subject":{"mediaType":"` + MediaTypeImageManifest + `","digest":` + subject + `,"size":3}`
		}
		return s + "}"
	}
	if _, err := ParseManifest([]byte(manifest(d, d, d))); err != nil {
		t.Errorf("good manifest: %v", err)
	}
	for name, c := range map[string]struct{ doc, want string }{
		"config":    {manifest(bad, d, ""), "config: invalid digest"},
		"layer":     {manifest(d, bad, ""), "layers[1]: invalid digest"},
		"subject":   {manifest(d, d, bad), "subject: invalid digest"},
		"no config": {`{"schemaVersion":2,"layers":[]}`, `config: invalid digest ""`},
		"size":      {strings.Replace(manifest(d, d, ""), `"size":3}]`, `"size":-3}]`, 1), "layers[1]: sha256:"},
		"deep":      {`{"layers":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "nested deeper than"},
		"huge":      {`{"schemaVersion":2` + strings.Repeat(" ", MaxManifestSize) + `}`, "larger than"},
	} {
		if _, err := ParseManifest([]byte(c.doc)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("manifest %s: %v, want %q", name, err, c.want)
		}
	}
	index := func(m string) string {
		return `{"schemaVersion":2,"manifests":[{"mediaType":"` + MediaTypeImageManifest + `","digest":` + m + `,"size":3}]}`
	}
	if _, err := ParseIndex([]byte(index(d))); err != nil {
		t.Errorf("good index: %v", err)
	}
	if _, err := ParseIndex([]byte(index(bad))); err == nil || !strings.Contains(err.Error(), "manifests[0]: invalid digest") {
		t.Errorf("bad index: %v", err)
	}
	if _, err := ParseIndex([]byte(index(`"sha512:` + hex64 + hex64 + `"`))); err == nil || !strings.Contains(err.Error(), "only sha256") {
		t.Errorf("sha512 index entry: %v", err)
	}
	if _, err := ParseConfig([]byte(`{"rootfs":{"type":"layers","diff_ids":[` + d + `,` + bad + `]}}`)); err == nil || !strings.Contains(err.Error(), "rootfs.diff_ids[1]") {
		t.Errorf("bad diff_id: %v", err)
	}
}

// hostileLayout writes a layout whose one image lists a layer digest that
// is a path.
func hostileLayout(t *testing.T, dir, layerDigest string) specs.Descriptor {
	t.Helper()
	put := func(data string) digest.Digest {
		d := digest.FromString(data)
		p := filepath.Join(dir, "blobs/sha256", d.Encoded())
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	cfg := `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + hex64 + `"]}}`
	cd := put(cfg)
	man := `{"schemaVersion":2,"mediaType":"` + MediaTypeImageManifest + `","config":{"mediaType":"` + MediaTypeImageConfig + `","digest":"` + cd.String() + `","size":` + itoa(len(cfg)) + `},` +
		`"layers":[{"mediaType":"` + MediaTypeLayerGzip + `","digest":"` + layerDigest + `","size":5}]}`
	md := put(man)
	desc := specs.Descriptor{MediaType: MediaTypeImageManifest, Digest: md, Size: int64(len(man))}
	idx := `{"schemaVersion":2,"manifests":[{"mediaType":"` + MediaTypeImageManifest + `","digest":"` + md.String() + `","size":` + itoa(len(man)) + `}]}`
	os.WriteFile(filepath.Join(dir, "index.json"), []byte(idx), 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), testEncoding.LayoutFile, 0o644)
	return desc
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestHostileLayoutWritesNothingOutside: the attack of issue 9 item 1 at
// the library level.
func TestHostileLayoutWritesNothingOutside(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "a/b/base")
	desc := hostileLayout(t, base, "sha256:../../../../X/payload")
	if _, err := ReadLayoutImage(base, nil, ""); err == nil || !strings.Contains(err.Error(), base) || !strings.Contains(err.Error(), "../../../../X/payload") {
		t.Errorf("ReadLayoutImage: %v", err)
	}
	set := NewBlobSet()
	set.AddLayout(base)
	out := filepath.Join(root, "a/b/out")
	if err := WriteLayout(out, desc, set, testEncoding, ""); err == nil || !strings.Contains(err.Error(), "../../../../X/payload") {
		t.Errorf("WriteLayout: %v", err)
	}
	for _, p := range []string{filepath.Join(root, "a/X"), out} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
	// Even a caller that skips the parsers cannot read or write outside:
	// the blob set refuses the digest.
	if _, _, err := set.Open("sha256:../../../../etc/passwd"); err == nil {
		t.Error("Open read a path from a digest")
	}
	if set.Has("sha256:../../../../etc/passwd") {
		t.Error("Has looked at a path from a digest")
	}
	if err := set.copyVerified(io.Discard, "sha256:"+digest.Digest(hex64), -1); err == nil {
		t.Error("copyVerified accepted a negative size")
	}
}

// watchSource serves one blob and, when it is read, checks that the blob
// is being written under a temporary name, not its final one.
type watchSource struct {
	t      *testing.T
	parent string
	data   []byte
	d      digest.Digest
	seen   bool
}

func (w *watchSource) OpenBlob(d digest.Digest) (io.ReadCloser, string, error) {
	if d != w.d {
		return nil, "watch", ErrBlobNotFound
	}
	return &watchReader{w: w, r: strings.NewReader(string(w.data))}, "watch", nil
}

type watchReader struct {
	w *watchSource
	r io.Reader
}

func (r *watchReader) Read(p []byte) (int, error) {
	if !r.w.seen {
		r.w.seen = true
		final, _ := filepath.Glob(filepath.Join(r.w.parent, ".out.tmp-*", "blobs/sha256", r.w.d.Encoded()))
		tmp, _ := filepath.Glob(filepath.Join(r.w.parent, ".out.tmp-*", "blobs/sha256", "."+r.w.d.Encoded()+".tmp-*"))
		if len(final) != 0 || len(tmp) != 1 {
			r.w.t.Errorf("while copying: final %v, temporary %v; want only a temporary", final, tmp)
		}
	}
	return r.r.Read(p)
}

func (r *watchReader) Close() error { return nil }

func TestWriteLayoutRenamesVerifiedBlobs(t *testing.T) {
	for _, lie := range []bool{false, true} {
		parent := t.TempDir()
		layer := []byte("layer bytes")
		cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + hex64 + `"]}}`)
		set := NewBlobSet()
		cd := set.AddBytes(cfg)
		ld := digest.FromBytes(layer)
		man := []byte(`{"schemaVersion":2,"mediaType":"` + MediaTypeImageManifest + `","config":{"mediaType":"` + MediaTypeImageConfig + `","digest":"` + cd.String() + `","size":` + itoa(len(cfg)) + `},` +
			`"layers":[{"mediaType":"` + MediaTypeLayerGzip + `","digest":"` + ld.String() + `","size":` + itoa(len(layer)) + `}]}`)
		md := set.AddBytes(man)
		served := layer
		if lie {
			served = []byte("other bytes")
		}
		w := &watchSource{t: t, parent: parent, data: served, d: ld}
		set.AddSource(w)
		out := filepath.Join(parent, "out")
		err := WriteLayout(out, specs.Descriptor{MediaType: MediaTypeImageManifest, Digest: md, Size: int64(len(man))}, set, testEncoding, "")
		if !w.seen {
			t.Fatal("the layer was not read")
		}
		if lie {
			if err == nil {
				t.Error("a blob with the wrong digest was written")
			}
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Errorf("left behind: %v", entries)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(out, "blobs/sha256", ld.Encoded()))
		if err != nil || string(got) != string(layer) {
			t.Errorf("layer blob: %q %v", got, err)
		}
		tmps, _ := filepath.Glob(filepath.Join(out, "blobs/sha256/.*"))
		if len(tmps) != 0 {
			t.Errorf("temporaries left in the layout: %v", tmps)
		}
	}
}

func TestReadFileLimited(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("12345"), 0o644)
	if data, err := ReadFileLimited(p, 5); err != nil || string(data) != "12345" {
		t.Errorf("at the limit: %q %v", data, err)
	}
	if _, err := ReadFileLimited(p, 4); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "larger than 4 bytes") {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := ReadFileLimited(dir, 4); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
	if _, err := ReadFileLimited(filepath.Join(dir, "nope"), 4); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}
