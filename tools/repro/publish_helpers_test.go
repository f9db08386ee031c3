package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/internal/testenv"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/registry"
)

// publishSeams makes retries, stall detection and the monolithic limit
// small for the test, and restores them afterwards.
func publishSeams(t *testing.T) {
	t.Helper()
	oldRetry, oldStall, oldMono := pullRetry, registryStallTimeout, pushMonolithicMax
	pullRetry = registry.Retry{Attempts: 4, Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond, MaxRetryAfter: 2 * time.Second}
	registryStallTimeout = time.Second
	pushMonolithicMax = 256 << 10
	t.Cleanup(func() { pullRetry, registryStallTimeout, pushMonolithicMax = oldRetry, oldStall, oldMono })
}

// testImage is an image (or index) built with the CLI, with the push/load
// arguments that name its files.
type testImage struct {
	dir    string
	digest digest.Digest
	config digest.Digest // of an image
	args   []string      // --descriptor ... --blob ... --layer ...
	// layers are the layer blobs built, by digest.
	layers map[digest.Digest]string
}

// randomFile writes n pseudo-random (incompressible) bytes.
func randomFile(t *testing.T, path string, n int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	buf := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildLayer builds a layer holding one file of size random bytes.
func buildLayer(t *testing.T, dir, name string, size int, seed uint64) (descPath, blobPath string, d digest.Digest) {
	t.Helper()
	src := filepath.Join(dir, name+".data")
	randomFile(t, src, size, seed)
	spec := filepath.Join(dir, name+".spec.json")
	writeJSON(t, spec, map[string]any{"entries": []map[string]any{{"type": "file", "path": "/data/" + name, "source": src}}})
	descPath, blobPath = filepath.Join(dir, name+".json"), filepath.Join(dir, name+".tgz")
	mustCLI(t, "layer", "--spec", spec, "--output", blobPath, "--descriptor", descPath, "--compression-level", "1", "--source-date-epoch", "1700000000")
	ld, err := oci.ReadLayerDescriptor(descPath)
	if err != nil {
		t.Fatal(err)
	}
	return descPath, blobPath, ld.Digest
}

// buildPushImage builds an image with a medium layer (monolithic PUT) and
// a large one (streamed PATCH with the test's 256 KiB limit), on top of
// baseManifest/baseConfig when given (their layers are not in the build).
func buildPushImage(t *testing.T, dir, platform string, seed uint64, base ...string) *testImage {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	img := &testImage{dir: dir, layers: map[digest.Digest]string{}}
	o := func(n string) string { return filepath.Join(dir, n) }
	args := []string{"image", "--source-date-epoch", "1700000000", "--config-out", o("config.json"), "--manifest-out", o("manifest.json"), "--descriptor-out", o("image.json")}
	if len(base) == 2 {
		args = append(args, "--base-manifest", base[0], "--base-config", base[1])
	} else {
		args = append(args, "--platform", platform)
	}
	for i, size := range []int{100 << 10, 1 << 20} {
		desc, blob, d := buildLayer(t, dir, fmt.Sprintf("layer%d", i), size, seed*10+uint64(i))
		args = append(args, "--layer", desc)
		img.args = append(img.args, "--layer", desc+"="+blob)
		img.layers[d] = blob
	}
	mustCLI(t, args...)
	var d oci.ImageDescriptor
	if err := oci.ReadJSON(o("image.json"), &d); err != nil {
		t.Fatal(err)
	}
	img.digest, img.config = d.Digest, d.Config.Digest
	img.args = append([]string{"--descriptor", o("image.json"), "--blob", o("config.json"), "--blob", o("manifest.json")}, img.args...)
	return img
}

// buildPushIndex builds a two-platform index of buildPushImage images.
func buildPushIndex(t *testing.T, dir string, seed uint64) (*testImage, map[string]*testImage) {
	t.Helper()
	imgs := map[string]*testImage{}
	idx := &testImage{dir: dir, layers: map[digest.Digest]string{}}
	args := []string{"index", "--source-date-epoch", "1700000000", "--index-out", filepath.Join(dir, "index.json"), "--descriptor-out", filepath.Join(dir, "idx.json")}
	for i, p := range []string{"linux/amd64", "linux/arm64"} {
		img := buildPushImage(t, filepath.Join(dir, strings.ReplaceAll(p, "/", "_")), p, seed+uint64(i)*100)
		imgs[p] = img
		args = append(args, "--image", filepath.Join(img.dir, "image.json"))
		idx.args = append(idx.args, img.args[2:]...) // without --descriptor
		for d, b := range img.layers {
			idx.layers[d] = b
		}
	}
	mustCLI(t, args...)
	var d oci.ImageDescriptor
	if err := oci.ReadJSON(filepath.Join(dir, "idx.json"), &d); err != nil {
		t.Fatal(err)
	}
	idx.digest = d.Digest
	idx.args = append([]string{"--descriptor", filepath.Join(dir, "idx.json"), "--blob", filepath.Join(dir, "index.json")}, idx.args...)
	return idx, imgs
}

// regRequest sends a request straight to the registry (no proxy), with
// its credentials.
func regRequest(t *testing.T, reg *testenv.Registry, method, path string, accept ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, reg.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(accept) > 0 {
		req.Header.Set("Accept", strings.Join(accept, ", "))
	}
	resp, err := reg.AuthClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, body
}

var manifestAccept = []string{oci.MediaTypeImageIndex, oci.MediaTypeImageManifest, oci.DockerManifest, oci.DockerManifestList}

// regTag returns what a tag points at, read straight from the registry.
func regTag(t *testing.T, reg *testenv.Registry, repo, tag string) (digest.Digest, bool) {
	t.Helper()
	status, _, body := regRequest(t, reg, http.MethodGet, "/v2/"+repo+"/manifests/"+tag, manifestAccept...)
	switch status {
	case http.StatusOK:
		return digest.FromBytes(body), true
	case http.StatusNotFound:
		return "", false
	}
	t.Fatalf("GET %s:%s: HTTP %d: %s", repo, tag, status, body)
	return "", false
}

// regTags lists a repository's tags straight from the registry (none when
// the repository does not exist).
func regTags(t *testing.T, reg *testenv.Registry, repo string) []string {
	t.Helper()
	status, _, body := regRequest(t, reg, http.MethodGet, "/v2/"+repo+"/tags/list")
	if status == http.StatusNotFound {
		return nil
	}
	var l struct{ Tags []string }
	if status != http.StatusOK || json.Unmarshal(body, &l) != nil {
		t.Fatalf("tags of %s: HTTP %d: %s", repo, status, body)
	}
	return l.Tags
}

// pullBack fetches root and everything it references straight from the
// registry, checks every digest and size, and returns the bytes fetched.
func pullBack(t *testing.T, reg *testenv.Registry, repo string, root digest.Digest) int64 {
	t.Helper()
	var total int64
	var visit func(d digest.Digest, manifest bool, size int64)
	visit = func(d digest.Digest, manifest bool, size int64) {
		kind := "blobs"
		if manifest {
			kind = "manifests"
		}
		status, _, body := regRequest(t, reg, http.MethodGet, "/v2/"+repo+"/"+kind+"/"+d.String(), manifestAccept...)
		if status != http.StatusOK {
			t.Errorf("pull back %s %s: HTTP %d", kind, d, status)
			return
		}
		total += int64(len(body))
		sum := sha256.Sum256(body)
		if "sha256:"+hex.EncodeToString(sum[:]) != d.String() || (size >= 0 && int64(len(body)) != size) {
			t.Errorf("pull back %s %s: the registry has %d bytes with digest sha256:%x", kind, d, len(body), sum)
			return
		}
		if !manifest {
			return
		}
		var m struct {
			MediaType string
			Manifests []specs.Descriptor
			Config    *specs.Descriptor
			Layers    []specs.Descriptor
		}
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		for _, c := range m.Manifests {
			visit(c.Digest, true, c.Size)
		}
		if m.Config != nil {
			visit(m.Config.Digest, false, m.Config.Size)
		}
		for _, l := range m.Layers {
			visit(l.Digest, false, l.Size)
		}
	}
	visit(root, true, -1)
	return total
}

// storageSnapshot lists every file of the registry's storage with its size
// and modification time.
func storageSnapshot(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%s %d %d", strings.TrimPrefix(p, dir), info.Size(), info.ModTime().UnixNano()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// secretScanner collects every output of a test and checks at the end
// that no credential appears in any of them.
type secretScanner struct {
	mu      sync.Mutex
	secrets []string
	seen    int
}

func newSecretScanner(t *testing.T, user string, passwords ...string) *secretScanner {
	s := &secretScanner{}
	s.add(user, passwords...)
	t.Cleanup(func() {
		if s.seen == 0 {
			t.Error("the secret scanner saw no output")
		}
		t.Logf("secret scan: %d outputs checked for %d forms of credentials: none found", s.seen, len(s.secrets))
	})
	return s
}

// add adds passwords (and their base64 forms with user) to look for.
func (s *secretScanner) add(user string, passwords ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range passwords {
		s.secrets = append(s.secrets, p, base64.StdEncoding.EncodeToString([]byte(user+":"+p)), base64.URLEncoding.EncodeToString([]byte(user+":"+p)))
	}
}

func (s *secretScanner) check(t *testing.T, what string, outputs ...string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range outputs {
		s.seen++
		for _, sec := range s.secrets {
			if strings.Contains(o, sec) {
				t.Errorf("%s: output contains a credential (%q…):\n%s", what, sec[:4], o)
			}
		}
	}
}

// cli runs repro in-process, scanning its output for credentials.
func (s *secretScanner) cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	code, out, errOut := runCLI(t, args...)
	s.check(t, "repro "+args[0], out, errOut)
	return code, out, errOut
}

var retriesRE = regexp.MustCompile(`(\d+) retr(?:y|ies)`)

// clientRetries reads the retry count push reports ("3 retries").
func clientRetries(out string) int {
	m := retriesRE.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(m[len(m)-1][1])
	return n
}
