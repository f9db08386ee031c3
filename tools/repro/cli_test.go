package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/rules-repro/rules_repro/tools/blob"
	"github.com/rules-repro/rules_repro/tools/oci"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("repro %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, mode)
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(data), 0o644)
}

// fixture builds a layer spec with files, a tree, links and whiteouts.
func fixture(t *testing.T, dir string) string {
	writeFile(t, filepath.Join(dir, "src/server"), "#!/bin/sh\necho server\n", 0o755)
	writeFile(t, filepath.Join(dir, "src/assets/a.css"), "body{}", 0o444)
	writeFile(t, filepath.Join(dir, "src/assets/img/logo.svg"), "<svg/>", 0o644)
	spec := filepath.Join(dir, "spec.json")
	writeJSON(t, spec, map[string]any{"entries": []map[string]any{
		{"type": "file", "path": "/app/server", "source": filepath.Join(dir, "src/server")},
		{"type": "tree", "path": "/app/assets", "source": filepath.Join(dir, "src/assets")},
		{"type": "symlink", "path": "/usr/local/bin/server", "target": "/app/server"},
		{"type": "hardlink", "path": "/app/server2", "target": "/app/server"},
		{"type": "dir", "path": "/data", "mode": "0700", "uid": 1000, "gid": 1000},
		{"type": "whiteout", "path": "/etc/unwanted"},
	}})
	return spec
}

func validateLayout(t *testing.T, dir string) {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Index(child); err != nil {
				t.Errorf("go-containerregistry validate.Index(%s): %v", d.Digest, err)
			}
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		validateImage(t, img)
	}
}

// validateImage runs go-containerregistry's validate.Image. Its layer check
// decompresses with gzip only (v0.22.1, validate/layer.go), so images with
// zstd layers get its structural check (validate.Fast) and our own check
// that every layer decompresses to its diff_id.
func validateImage(t *testing.T, img v1.Image) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	zstd := false
	for _, l := range m.Layers {
		zstd = zstd || strings.HasSuffix(string(l.MediaType), "+zstd")
	}
	if !zstd {
		if err := validate.Image(img); err != nil {
			t.Errorf("go-containerregistry validate.Image: %v", err)
		}
		return
	}
	if err := validate.Image(img, validate.Fast); err != nil {
		t.Errorf("go-containerregistry validate.Image (fast): %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	for i, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		zr, _, err := blob.Decompress(rc, "layer")
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		io.Copy(h, zr)
		rc.Close()
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != cf.RootFS.DiffIDs[i].String() {
			t.Errorf("layer %d decompresses to %s, config says %s", i, got, cf.RootFS.DiffIDs[i])
		}
	}
}

// buildChain builds layer, base image, derived image and a two-platform
// index with the CLI and returns the directory holding the outputs.
func buildChain(t *testing.T) string {
	dir := t.TempDir()
	spec := fixture(t, dir)
	o := func(n string) string { return filepath.Join(dir, n) }
	mustCLI(t, "layer", "--spec", spec, "--output", o("l1.tgz"), "--descriptor", o("l1.json"), "--source-date-epoch", "1700000000", "--created-by", "//app:layer")
	mustCLI(t, "layer", "--spec", spec, "--output", o("l1.zst"), "--descriptor", o("l1z.json"), "--compression", "zstd", "--source-date-epoch", "1700000000")
	for _, arch := range []string{"amd64", "arm64"} {
		mustCLI(t, "image", "--layer", o("l1.json"), "--platform", "linux/"+arch, "--entrypoint", "/app/server", "--env", "PATH=/usr/bin:/bin",
			"--label", "team=infra", "--expose", "8080", "--volume", "/data", "--user", "1000", "--workdir", "/app", "--stop-signal", "SIGTERM",
			"--annotation", "org.opencontainers.image.source=https://example.com", "--source-date-epoch", "1700000000",
			"--config-out", o("cfg-"+arch+".json"), "--manifest-out", o("man-"+arch+".json"), "--descriptor-out", o("img-"+arch+".json"))
		mustCLI(t, "layout", "--descriptor", o("img-"+arch+".json"), "--blob", o("cfg-"+arch+".json"), "--blob", o("man-"+arch+".json"),
			"--layer", o("l1.json")+"="+o("l1.tgz"), "--output", o("layout-"+arch), "--ref-name", "latest")
	}
	// Derived image: FROM the amd64 layout, adding the zstd layer.
	mustCLI(t, "image", "--base", o("layout-amd64"), "--layer", o("l1z.json"), "--env", "PATH=$PATH:/app", "--cmd", "--serve",
		"--source-date-epoch", "1700000000", "--config-out", o("cfg-derived.json"), "--manifest-out", o("man-derived.json"), "--descriptor-out", o("img-derived.json"))
	mustCLI(t, "layout", "--descriptor", o("img-derived.json"), "--blob", o("cfg-derived.json"), "--blob", o("man-derived.json"),
		"--layer", o("l1z.json")+"="+o("l1.zst"), "--blobs-from", o("layout-amd64"), "--output", o("layout-derived"))
	mustCLI(t, "index", "--image", o("img-amd64.json"), "--image", o("img-arm64.json"), "--source-date-epoch", "1700000000",
		"--index-out", o("index.json"), "--descriptor-out", o("idx.json"))
	blobs := []string{"--blob", o("index.json"), "--blob", o("cfg-amd64.json"), "--blob", o("man-amd64.json"), "--blob", o("cfg-arm64.json"),
		"--blob", o("man-arm64.json"), "--layer", o("l1.json") + "=" + o("l1.tgz")}
	mustCLI(t, append([]string{"layout", "--descriptor", o("idx.json"), "--output", o("layout-index")}, blobs...)...)
	mustCLI(t, append([]string{"oci-archive", "--descriptor", o("idx.json"), "--output", o("index.tar")}, blobs...)...)
	mustCLI(t, append([]string{"docker-archive", "--descriptor", o("idx.json"), "--platform", "linux/arm64", "--tag", "example.com/app:arm", "--output", o("docker.tar")}, blobs...)...)
	return dir
}

func TestEndToEndValidatedByGoContainerregistry(t *testing.T) {
	dir := buildChain(t)
	o := func(n string) string { return filepath.Join(dir, n) }
	for _, l := range []string{"layout-amd64", "layout-arm64", "layout-derived", "layout-index"} {
		validateLayout(t, o(l))
	}
	// The docker archive loads as the arm64 image.
	img, err := tarball.ImageFromPath(o("docker.tar"), nil)
	if err != nil {
		t.Fatal(err)
	}
	validateImage(t, img)
	cf, _ := img.ConfigFile()
	if cf.Architecture != "arm64" {
		t.Errorf("docker archive holds %s, want arm64", cf.Architecture)
	}
	// The derived image kept the base's layer and history and merged env.
	var cfg struct {
		Config struct {
			Env        []string
			Cmd        []string
			Entrypoint []string
		} `json:"config"`
		History []struct {
			CreatedBy string `json:"created_by"`
			Created   string `json:"created"`
		} `json:"history"`
	}
	oci.ReadJSON(o("cfg-derived.json"), &cfg)
	if got := strings.Join(cfg.Config.Env, " "); got != "PATH=/usr/bin:/bin:/app" {
		t.Errorf("env %q", got)
	}
	if len(cfg.History) != 2 || cfg.History[0].CreatedBy != "//app:layer" || cfg.History[1].Created != "2023-11-14T22:13:20Z" {
		t.Errorf("history %+v", cfg.History)
	}
	if strings.Join(cfg.Config.Entrypoint, " ") != "/app/server" || strings.Join(cfg.Config.Cmd, " ") != "--serve" {
		t.Errorf("entrypoint/cmd %v %v", cfg.Config.Entrypoint, cfg.Config.Cmd)
	}
	// A base given as extracted manifest and config (no blobs) gives the
	// same image as the base layout itself.
	mustCLI(t, "base", "--layout", o("layout-amd64"), "--manifest-out", o("base-man.json"), "--config-out", o("base-cfg.json"))
	viaFiles := mustCLI(t, "image", "--base-manifest", o("base-man.json"), "--base-config", o("base-cfg.json"), "--layer", o("l1z.json"),
		"--env", "PATH=$PATH:/app", "--cmd", "--serve", "--source-date-epoch", "1700000000")
	mustCLI(t, "image", "--base-manifest", o("base-man.json"), "--base-config", o("base-cfg.json"), "--layer", o("l1z.json"),
		"--env", "PATH=$PATH:/app", "--cmd", "--serve", "--source-date-epoch", "1700000000", "--digest-out", o("derived.digest"))
	digestFile, _ := os.ReadFile(o("derived.digest"))
	var derived oci.ImageDescriptor
	oci.ReadJSON(o("img-derived.json"), &derived)
	if strings.TrimSpace(viaFiles) != derived.Digest.String() || strings.TrimSpace(string(digestFile)) != derived.Digest.String() {
		t.Errorf("base from manifest+config gives %s (digest file %q), base from layout %s", viaFiles, digestFile, derived.Digest)
	}
	// Rebuilding everything gives the same bytes.
	again := buildChain(t)
	for _, f := range []string{"l1.tgz", "l1.zst", "cfg-derived.json", "man-derived.json", "index.json", "index.tar", "docker.tar"} {
		a, _ := os.ReadFile(filepath.Join(dir, f))
		b, _ := os.ReadFile(filepath.Join(again, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two builds", f)
		}
	}
}

// TestLowerManifest: parent directories of a new layer take the base's
// metadata when the base is given as a manifest and a place to find blobs.
func TestLowerManifest(t *testing.T) {
	dir := buildChain(t)
	o := func(n string) string { return filepath.Join(dir, n) }
	mustCLI(t, "base", "--layout", o("layout-amd64"), "--manifest-out", o("lm.json"), "--config-out", o("lc.json"))
	writeJSON(t, o("add.json"), map[string]any{"entries": []map[string]any{
		{"type": "file", "path": "/data/new.txt", "content": "n"},
	}})
	mustCLI(t, "layer", "--spec", o("add.json"), "--output", o("add.tar"), "--compression", "none",
		"--lower-manifest", o("lm.json"), "--blobs-from", o("layout-amd64"), "--descriptor", o("add.desc"))
	data, _ := os.ReadFile(o("add.tar"))
	tr := tar.NewReader(bytes.NewReader(data))
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != "data/" || h.Mode != 0o700 || h.Uid != 1000 || h.Gid != 1000 {
		t.Errorf("data/ should keep the base's 0700 1000:1000, got %s %04o %d:%d", h.Name, h.Mode, h.Uid, h.Gid)
	}
	// A blob that does not match the manifest is refused.
	writeFile(t, o("fake/blobs/sha256/placeholder"), "", 0o644)
	var m struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	oci.ReadJSON(o("lm.json"), &m)
	hex := strings.TrimPrefix(m.Layers[0].Digest, "sha256:")
	writeFile(t, o("fake/blobs/sha256/"+hex), "not the layer", 0o644)
	code, _, stderr := runCLI(t, "layer", "--spec", o("add.json"), "--output", o("bad.tar"),
		"--lower-manifest", o("lm.json"), "--blobs-from", o("fake"), "--descriptor", o("bad.desc"))
	if code == 0 || !strings.Contains(stderr, "lower") {
		t.Errorf("a corrupt lower layer was accepted: %d %s", code, stderr)
	}
}
