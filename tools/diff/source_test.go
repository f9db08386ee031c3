package diff

import (
	"bytes"
	"compress/gzip"
	"context"
	digest "github.com/opencontainers/go-digest"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/compat"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/registry"
)

func ggcrImage(t *testing.T, dir string, root specs.Descriptor) v1.Image {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := v1.NewHash(root.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	img, err := p.Image(h)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func writeArchive(t *testing.T, dir, out string, root specs.Descriptor, o oci.ArchiveOptions, gz bool) {
	t.Helper()
	set := oci.NewBlobSet()
	set.AddLayout(dir)
	var buf bytes.Buffer
	if err := oci.WriteArchive(&buf, root, set, compat.V1().Archive, o); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	if gz {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(data)
		zw.Close()
		data = z.Bytes()
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyTo(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInputKinds opens the same image from every kind of input (and a
// changed one) and compares each with a layout: equal, or the change found.
func TestInputKinds(t *testing.T) {
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref")
	base := baseImage()
	root := writeLayout(t, ref, base)
	changed := base.clone()
	setBody(&changed, "app/motd", "changed\n")
	other := filepath.Join(dir, "other")
	oroot := writeLayout(t, other, changed)

	// Archives.
	writeArchive(t, ref, filepath.Join(dir, "oci.tar"), root, oci.ArchiveOptions{}, false)
	writeArchive(t, other, filepath.Join(dir, "other.tar.gz"), oroot, oci.ArchiveOptions{}, true)
	writeArchive(t, ref, filepath.Join(dir, "ours.docker.tar"), root, oci.ArchiveOptions{Docker: true}, false)
	tag, _ := name.NewTag("example.com/app:latest")
	if err := tarball.WriteToFile(filepath.Join(dir, "legacy.docker.tar"), tag, ggcrImage(t, ref, root)); err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(filepath.Join(dir, "legacy-other.docker.tar"), tag, ggcrImage(t, other, oroot)); err != nil {
		t.Fatal(err)
	}

	// A registry.
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for tagName, img := range map[string]v1.Image{"ref": ggcrImage(t, ref, root), "other": ggcrImage(t, other, oroot)} {
		r, _ := name.ParseReference(host + "/app:" + tagName)
		if err := remote.Write(r, img); err != nil {
			t.Fatal(err)
		}
	}
	client, err := registry.New(registry.Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}

	// Layer blobs and descriptor files, laid out as Bazel does.
	var man specs.Manifest
	mdata, _ := os.ReadFile(blobPath(t, ref, root.Digest))
	if err := jsonUnmarshal(mdata, &man); err != nil {
		t.Fatal(err)
	}
	layerDigest := man.Layers[0].Digest
	bazel := filepath.Join(dir, "bazel-bin")
	os.MkdirAll(bazel, 0o755)
	copyTo(t, blobPath(t, ref, layerDigest), filepath.Join(bazel, "app_layer.tar.gz"))
	var cfg specs.Image
	cdata, _ := os.ReadFile(blobPath(t, ref, man.Config.Digest))
	jsonUnmarshal(cdata, &cfg)
	writeJSONFile(t, filepath.Join(bazel, "app_layer.json"), oci.LayerDescriptor{MediaType: man.Layers[0].MediaType, Digest: layerDigest, Size: man.Layers[0].Size, DiffID: cfg.RootFS.DiffIDs[0], CompatibilityVersion: 1})
	copyTo(t, blobPath(t, ref, root.Digest), filepath.Join(bazel, "image.manifest.json"))
	copyTo(t, blobPath(t, ref, man.Config.Digest), filepath.Join(bazel, "image.config.json"))
	desc := oci.ImageDescriptor{MediaType: root.MediaType, Digest: root.Digest, Size: root.Size, Platform: root.Platform, Config: &man.Config, Layers: man.Layers, CompatibilityVersion: 1}
	writeJSONFile(t, filepath.Join(bazel, "image.descriptor.json"), desc)
	// A descriptor alone: no blobs next to it.
	alone := filepath.Join(dir, "alone")
	os.MkdirAll(alone, 0o755)
	writeJSONFile(t, filepath.Join(alone, "image.descriptor.json"), desc)

	lookup := oci.NewBlobSet()
	lookup.AddLayout(ref)

	for _, tc := range []struct {
		name, a, b string
		blobs      BlobLookup
		kind       Kind
		wantEqual  bool
		want       string // in the text report
	}{
		{"OCI archive", ref, filepath.Join(dir, "oci.tar"), nil, KindOCIArchive, true, "equal: the same digest"},
		{"gzipped OCI archive", ref, "oci-archive:" + filepath.Join(dir, "other.tar.gz"), nil, KindOCIArchive, false, "app/motd: content:"},
		{"our docker archive", ref, filepath.Join(dir, "ours.docker.tar"), nil, KindDockerArchive, true, "a docker archive holds no manifest"},
		{"docker save archive", ref, filepath.Join(dir, "legacy.docker.tar"), nil, KindDockerArchive, true, "a docker archive holds no manifest"},
		{"docker save archive, changed", ref, filepath.Join(dir, "legacy-other.docker.tar"), nil, KindDockerArchive, false, "app/motd: content:"},
		{"registry by tag", ref, host + "/app:ref", nil, KindRegistry, true, "equal: the same digest"},
		{"registry by digest", ref, "docker://" + host + "/app@" + oroot.Digest.String(), nil, KindRegistry, false, "app/motd: content:"},
		{"layer blob", filepath.Join(bazel, "app_layer.tar.gz"), other, nil, KindLayer, false, "app/motd: content:"},
		{"layer descriptor with its blob", filepath.Join(bazel, "app_layer.json"), other, nil, KindLayerDescriptor, false, "app/motd: content:"},
		{"image descriptor with blobs next to it", filepath.Join(bazel, "image.descriptor.json"), other, nil, KindImageDescriptor, false, "app/motd: content:"},
		{"manifest file", filepath.Join(bazel, "image.manifest.json"), other, nil, KindManifest, false, "app/motd: content:"},
		{"descriptor alone", filepath.Join(alone, "image.descriptor.json"), other, nil, KindImageDescriptor, false, "cannot look closer"},
		{"descriptor alone, blobs from a layout", filepath.Join(alone, "image.descriptor.json"), other, lookup, KindImageDescriptor, false, "app/motd: content:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			oo := OpenOptions{Registry: func() (*registry.Client, error) { return client, nil }, Blobs: tc.blobs}
			sa, err := Open(ctx, tc.a, oo)
			if err != nil {
				t.Fatal(err)
			}
			defer sa.Close()
			sb, err := Open(ctx, tc.b, oo)
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Close()
			if k := sa.Kind; tc.a != ref && k != tc.kind {
				t.Errorf("A is a %s, want %s", k, tc.kind)
			}
			if k := sb.Kind; tc.b != other && k != tc.kind {
				t.Errorf("B is a %s, want %s", k, tc.kind)
			}
			rep, err := Compare(ctx, sa, sb, Options{})
			if err != nil {
				t.Fatal(err)
			}
			text := reportText(rep)
			if rep.Equal != tc.wantEqual || !strings.Contains(text, tc.want) {
				t.Errorf("equal %v (want %v), want %q in:\n%s", rep.Equal, tc.wantEqual, tc.want, text)
			}
			if !tc.wantEqual && strings.Contains(tc.want, "motd") {
				// Only the one change is reported, whatever the inputs.
				for _, d := range rep.Differences {
					if d.Entry != "app/motd" {
						t.Errorf("unexpected difference %+v in:\n%s", d, text)
					}
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref")
	root := writeLayout(t, ref, baseImage())
	bad := filepath.Join(dir, "bad")
	writeLayout(t, bad, baseImage())
	// Corrupt the layer blob.
	var man specs.Manifest
	mdata, _ := os.ReadFile(blobPath(t, bad, root.Digest))
	jsonUnmarshal(mdata, &man)
	os.WriteFile(blobPath(t, bad, man.Layers[0].Digest), []byte("not the layer"), 0o644)
	other := baseImage().clone()
	setBody(&other, "app/hello", "x")
	otherDir := filepath.Join(dir, "other")
	writeLayout(t, otherDir, other)
	os.WriteFile(filepath.Join(dir, "text.txt"), []byte("hello"), 0o644)
	os.WriteFile(filepath.Join(dir, "other.json"), []byte(`{"hello": 1}`), 0o644)

	ctx := context.Background()
	for _, tc := range []struct{ name, arg, want string }{
		{"missing path", filepath.Join(dir, "nope", "x"), "no such file"},
		{"not an image", filepath.Join(dir, "text.txt"), "not an OCI layout, an archive, a layer"},
		{"other JSON", filepath.Join(dir, "other.json"), "neither a descriptor"},
		{"directory", dir, "not an OCI layout"},
		{"registry without client", "example.com/app:1", "registry references are not supported"},
		{"bare name", "nope", "no such file or directory (for an image in a registry, write docker://nope)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(ctx, tc.arg, OpenOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("mistyped path", func(t *testing.T) {
		t.Chdir(dir)
		_, err := Open(ctx, "ref/index.jsn", OpenOptions{})
		if err == nil || !strings.Contains(err.Error(), "no such file or directory (for an image in a registry, write docker://ref/index.jsn)") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("corrupt blob", func(t *testing.T) {
		sa, _ := Open(ctx, bad, OpenOptions{})
		sb, _ := Open(ctx, otherDir, OpenOptions{})
		_, err := Compare(ctx, sa, sb, Options{})
		if err == nil || !strings.Contains(err.Error(), "corrupt") && !strings.Contains(err.Error(), "bytes, its descriptor says") {
			t.Errorf("got %v", err)
		}
	})
}

// blobPath is oci.BlobPath for digests the test made itself.
func blobPath(t testing.TB, layout string, d digest.Digest) string {
	t.Helper()
	p, err := oci.BlobPath(layout, d)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
