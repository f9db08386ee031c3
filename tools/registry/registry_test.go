package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	"github.com/rules-repro/rules_repro/tools/oci"
)

// faults wraps a registry handler: it can rewrite response bodies, answer
// with a status, and records request paths.
type faults struct {
	next http.Handler

	mu       sync.Mutex
	rewrite  map[string]func([]byte) []byte // path suffix -> new body
	status   map[string][]int               // path suffix -> statuses to answer, in turn
	header   map[string]http.Header         // path suffix -> extra headers for status answers
	requests []string
}

func (f *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	var rewrite func([]byte) []byte
	for suffix, fn := range f.rewrite {
		if strings.HasSuffix(r.URL.Path, suffix) {
			rewrite = fn
		}
	}
	for suffix, codes := range f.status {
		if strings.HasSuffix(r.URL.Path, suffix) && len(codes) > 0 {
			f.status[suffix] = codes[1:]
			for k, v := range f.header[suffix] {
				w.Header()[k] = v
			}
			f.mu.Unlock()
			w.WriteHeader(codes[0])
			fmt.Fprintf(w, `{"errors":[{"code":"UNAVAILABLE","message":"injected %d"}]}`, codes[0])
			return
		}
	}
	f.mu.Unlock()
	if rewrite == nil {
		f.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	f.next.ServeHTTP(rec, r)
	body := rewrite(rec.Body.Bytes())
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	w.Write(body)
}

func (f *faults) set(suffix string, fn func([]byte) []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fn == nil {
		delete(f.rewrite, suffix)
	} else {
		f.rewrite[suffix] = fn
	}
}

// testRegistry is go-containerregistry's in-memory registry over TLS, with
// faults, and a client that trusts it.
type testRegistry struct {
	srv    *httptest.Server
	faults *faults
	host   string
	caFile string
}

func startRegistry(t *testing.T, handler http.Handler) *testRegistry {
	t.Helper()
	if handler == nil {
		handler = ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	}
	f := &faults{next: handler, rewrite: map[string]func([]byte) []byte{}, status: map[string][]int{}, header: map[string]http.Header{}}
	srv := httptest.NewUnstartedServer(f)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake errors are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return &testRegistry{srv: srv, faults: f, host: strings.TrimPrefix(srv.URL, "https://"), caFile: caFile}
}

func (r *testRegistry) client(t *testing.T, o Options) *Client {
	t.Helper()
	if o.CAFiles == nil {
		o.CAFiles = []string{r.caFile}
	}
	if o.Keychain == nil {
		o.Keychain = authn.NewMultiKeychain() // anonymous
	}
	o.Retry = Retry{Attempts: 3, Initial: 1, Max: 1}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rawManifest is a manifest to push as is.
type rawManifest struct {
	data []byte
	mt   types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.data, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// push uploads blobs and then manifests (ref "repo:tag" or "repo@digest").
func (r *testRegistry) push(t *testing.T, repo string, blobs [][]byte, manifests ...[2]string) {
	t.Helper()
	opts := []remote.Option{remote.WithTransport(r.srv.Client().Transport)}
	rp, err := name.NewRepository(r.host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		if err := remote.WriteLayer(rp, static.NewLayer(b, types.OCILayer), opts...); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range manifests {
		ref, err := name.ParseReference(r.host + "/" + repo + m[0])
		if err != nil {
			t.Fatal(err)
		}
		var mt struct {
			MediaType string `json:"mediaType"`
		}
		json.Unmarshal([]byte(m[1]), &mt)
		if err := remote.Put(ref, rawManifest{[]byte(m[1]), types.MediaType(mt.MediaType)}, opts...); err != nil {
			t.Fatal(err)
		}
	}
}

// testImage is a tiny image for one platform.
type testImage struct {
	layer, config, manifest []byte
	platform                string
}

func newImage(platform string, content string) testImage {
	p, _ := oci.ParsePlatform(platform)
	layer := []byte("layer of " + platform + ": " + content)
	cfg := fmt.Sprintf(`{"architecture":%q,"os":%q,%s"rootfs":{"type":"layers","diff_ids":[%q]}}`,
		p.Architecture, p.OS, variantField(p.Variant), digest.FromString("diff "+platform))
	man := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
		oci.MediaTypeImageManifest, oci.MediaTypeImageConfig, digest.FromString(cfg), len(cfg), oci.MediaTypeLayerGzip, digest.FromBytes(layer), len(layer))
	return testImage{layer: layer, config: []byte(cfg), manifest: []byte(man), platform: platform}
}

func variantField(v string) string {
	if v == "" {
		return ""
	}
	return fmt.Sprintf(`"variant":%q,`, v)
}

func (img testImage) digest() digest.Digest { return digest.FromBytes(img.manifest) }

func indexOf(imgs ...testImage) []byte {
	var ms []string
	for _, img := range imgs {
		p, _ := oci.ParsePlatform(img.platform)
		ms = append(ms, fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"architecture":%q,"os":%q%s}}`,
			oci.MediaTypeImageManifest, img.digest(), len(img.manifest), p.Architecture, p.OS, variantJSON(p.Variant)))
	}
	// A BuildKit-style attestation entry, which "all platforms" skips.
	ms = append(ms, fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"architecture":"unknown","os":"unknown"}}`,
		oci.MediaTypeImageManifest, imgs[0].digest(), len(imgs[0].manifest)))
	return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[%s]}`, oci.MediaTypeImageIndex, strings.Join(ms, ",")))
}

func variantJSON(v string) string {
	if v == "" {
		return ""
	}
	return fmt.Sprintf(`,"variant":%q`, v)
}

// seed pushes a two-platform index as base:1 and a single manifest as
// single:1.
func seed(t *testing.T, r *testRegistry) (amd, arm testImage, idx []byte, single testImage) {
	amd, arm = newImage("linux/amd64", "a"), newImage("linux/arm64/v8", "b")
	idx = indexOf(amd, arm)
	r.push(t, "base", [][]byte{amd.layer, amd.config, arm.layer, arm.config},
		[2]string{"@" + amd.digest().String(), string(amd.manifest)},
		[2]string{"@" + arm.digest().String(), string(arm.manifest)},
		[2]string{":1", string(idx)})
	single = newImage("linux/amd64", "single")
	r.push(t, "single", [][]byte{single.layer, single.config}, [2]string{":1", string(single.manifest)})
	return amd, arm, idx, single
}

func TestResolve(t *testing.T) {
	r := startRegistry(t, nil)
	amd, arm, idx, single := seed(t, r)
	c := r.client(t, Options{})
	ctx := context.Background()

	res, err := c.Resolve(ctx, r.host+"/base:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != digest.FromBytes(idx) || res.MediaType != oci.MediaTypeImageIndex || !bytes.Equal(res.Bytes, idx) {
		t.Errorf("root %s %s", res.Digest, res.MediaType)
	}
	if len(res.Images) != 2 || res.Images[0].Platform != "linux/amd64" || res.Images[1].Platform != "linux/arm64/v8" ||
		res.Images[0].ManifestDigest() != amd.digest() || res.Images[1].ConfigDigest() != digest.FromBytes(arm.config) ||
		!bytes.Equal(res.Images[1].Image.ConfigBytes, arm.config) {
		t.Errorf("images %+v", res.Images)
	}

	// A requested platform keeps its key; arm64 matches arm64/v8.
	res, err = c.Resolve(ctx, r.host+"/base:1", []string{"linux/arm64"})
	if err != nil || len(res.Images) != 1 || res.Images[0].Platform != "linux/arm64" || res.Images[0].ManifestDigest() != arm.digest() {
		t.Fatalf("linux/arm64: %v %+v", err, res)
	}
	// By digest, and by tag and digest.
	for _, ref := range []string{r.host + "/base@" + digest.FromBytes(idx).String(), r.host + "/base:1@" + digest.FromBytes(idx).String()} {
		if res, err := c.Resolve(ctx, ref, []string{"linux/amd64"}); err != nil || res.Images[0].ManifestDigest() != amd.digest() {
			t.Errorf("%s: %v", ref, err)
		}
	}
	// A single manifest is its own platform.
	res, err = c.Resolve(ctx, r.host+"/single:1", nil)
	if err != nil || res.Digest != single.digest() || len(res.Images) != 1 || res.Images[0].Platform != "linux/amd64" || res.Images[0].ManifestDigest() != single.digest() {
		t.Fatalf("single: %v %+v", err, res)
	}

	errs := []struct {
		ref       string
		platforms []string
		kind      error
		want      string
	}{
		{r.host + "/base:1", []string{"linux/s390x"}, ErrNotFound, "no image for platform linux/s390x (the index has: linux/amd64, linux/arm64/v8, unknown/unknown)"},
		{r.host + "/base:2", nil, ErrNotFound, r.host + "/base:2: not found (MANIFEST_UNKNOWN"},
		{r.host + "/base@" + digest.FromString("x").String(), nil, ErrNotFound, "the registry has no manifest " + digest.FromString("x").String() + " in " + r.host + "/base: the digest is wrong (was the lockfile edited?)"},
		{r.host + "/single:1", []string{"linux/amd64", "linux/arm64"}, nil, "is a single image manifest, not an index, so it has one platform; 2 were requested"},
		{r.host + "/single:1", []string{"linux/arm64"}, ErrVerify, "linux/arm64: the config of manifest " + single.digest().String() + " is for platform linux/amd64"},
		{"Not A Ref", nil, nil, `invalid image reference "Not A Ref"`},
	}
	for _, e := range errs {
		_, err := c.Resolve(ctx, e.ref, e.platforms)
		if err == nil || !strings.Contains(err.Error(), e.want) || e.kind != nil && !errors.Is(err, e.kind) {
			t.Errorf("Resolve(%s, %v): %v\nwant %q (%v)", e.ref, e.platforms, err, e.want, e.kind)
		}
	}
}

func TestResolveDetectsTampering(t *testing.T) {
	r := startRegistry(t, nil)
	amd, _, idx, _ := seed(t, r)
	c := r.client(t, Options{})
	ctx := context.Background()
	flip := func(b []byte) []byte { out := bytes.Clone(b); out[len(out)/2] ^= 1; return out }
	cases := []struct {
		path string
		ref  string
		want string
	}{
		// By tag: the Docker-Content-Digest header no longer matches.
		{"/manifests/1", r.host + "/base:1", "the registry says the manifest is " + digest.FromBytes(idx).String() + " (Docker-Content-Digest) but sent"},
		// By digest.
		{"/manifests/" + digest.FromBytes(idx).String(), r.host + "/base@" + digest.FromBytes(idx).String(), "for manifest " + digest.FromBytes(idx).String() + ": tampered or corrupt content"},
		{"/manifests/" + amd.digest().String(), r.host + "/base:1", "for manifest " + amd.digest().String() + ": tampered or corrupt content"},
		{"/blobs/" + digest.FromBytes(amd.config).String(), r.host + "/base:1", "config " + digest.FromBytes(amd.config).String() + " of linux/amd64: the registry sent"},
	}
	for _, tc := range cases {
		r.faults.set(tc.path, flip)
		_, err := c.Resolve(ctx, tc.ref, []string{"linux/amd64"})
		r.faults.set(tc.path, nil)
		if err == nil || !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("tampered %s: %v\nwant %q", tc.path, err, tc.want)
		}
	}
	// Other bytes of another length for the config: the size check fires.
	r.faults.set("/blobs/"+digest.FromBytes(amd.config).String(), func([]byte) []byte { return []byte("{}") })
	_, err := c.Resolve(ctx, r.host+"/base:1", []string{"linux/amd64"})
	if err == nil || !strings.Contains(err.Error(), "the registry announces 2 bytes for blob") {
		t.Errorf("short config: %v", err)
	}
}

func TestPullManifestAndBlobs(t *testing.T) {
	r := startRegistry(t, nil)
	amd, arm, idx, _ := seed(t, r)
	c := r.client(t, Options{})
	ctx := context.Background()
	ref := r.host + "/base@" + digest.FromBytes(idx).String()
	dir := filepath.Join(t.TempDir(), "base")

	res, err := c.PullManifest(ctx, PullManifestOptions{Ref: ref, Platform: "linux/arm64", Dir: dir, ExpectManifest: arm.digest(), ExpectConfig: digest.FromBytes(arm.config)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reused || res.Manifest != arm.digest() || res.Layers != 1 {
		t.Errorf("result %+v", res)
	}
	for file, want := range map[string][]byte{ManifestFile: arm.manifest, ConfigFile: arm.config} {
		if got, _ := os.ReadFile(filepath.Join(dir, file)); !bytes.Equal(got, want) {
			t.Errorf("%s: %s", file, got)
		}
	}
	var layers []Layer
	if data, err := os.ReadFile(filepath.Join(dir, LayersFile)); err != nil || json.Unmarshal(data, &layers) != nil || len(layers) != 1 ||
		layers[0].Digest != digest.FromBytes(arm.layer) || layers[0].DiffID != digest.FromString("diff linux/arm64/v8") || layers[0].Size != int64(len(arm.layer)) {
		t.Errorf("layers.json: %v %+v", err, layers)
	}

	// Blobs.
	blobs := filepath.Join(t.TempDir(), "blobs")
	var log bytes.Buffer
	bres, err := c.PullBlobs(ctx, PullBlobsOptions{Ref: r.host + "/base", Manifest: arm.manifest, Dir: blobs, Log: &log})
	if err != nil || bres.Fetched != 1 || bres.Bytes != int64(len(arm.layer)) {
		t.Fatalf("PullBlobs: %v %+v", err, bres)
	}
	layerPath := filepath.Join(blobs, "sha256", digest.FromBytes(arm.layer).Encoded())
	if got, _ := os.ReadFile(layerPath); !bytes.Equal(got, arm.layer) {
		t.Errorf("layer blob %q", got)
	}

	// A corrupt blob on disk is replaced; a tampered download leaves
	// nothing behind.
	os.WriteFile(layerPath, bytes.Repeat([]byte("x"), len(arm.layer)), 0o644)
	r.faults.set("/blobs/"+digest.FromBytes(arm.layer).String(), func(b []byte) []byte { return bytes.Repeat([]byte("y"), len(b)) })
	_, err = c.PullBlobs(ctx, PullBlobsOptions{Ref: r.host + "/base", Manifest: arm.manifest, Dir: blobs, Log: &log})
	if err == nil || !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "layer "+digest.FromBytes(arm.layer).String()+": the registry sent") {
		t.Errorf("tampered layer: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(blobs, "sha256")); len(entries) != 1 {
		t.Errorf("files left: %v", entries)
	}
	r.faults.set("/blobs/"+digest.FromBytes(arm.layer).String(), nil)
	if bres, err = c.PullBlobs(ctx, PullBlobsOptions{Ref: r.host + "/base", Manifest: arm.manifest, Dir: blobs, Log: &log}); err != nil || bres.Fetched != 1 {
		t.Errorf("refetch of a corrupt blob: %v %+v", err, bres)
	}
	if !strings.Contains(log.String(), "present but corrupt; fetching it again") {
		t.Errorf("log:\n%s", log.String())
	}

	// The lockfile expects another manifest or config.
	other := filepath.Join(t.TempDir(), "other")
	_, err = c.PullManifest(ctx, PullManifestOptions{Ref: ref, Platform: "linux/amd64", Dir: other, ExpectManifest: arm.digest()})
	if err == nil || !strings.Contains(err.Error(), "linux/amd64: the index lists manifest "+amd.digest().String()+", but the lockfile pins "+arm.digest().String()) {
		t.Errorf("expect-manifest: %v", err)
	}
	_, err = c.PullManifest(ctx, PullManifestOptions{Ref: ref, Platform: "linux/amd64", Dir: other, ExpectConfig: digest.FromBytes(arm.config)})
	if err == nil || !strings.Contains(err.Error(), "but the lockfile pins "+digest.FromBytes(arm.config).String()) {
		t.Errorf("expect-config: %v", err)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("a failed pull created %s", other)
	}
	// Pulling by tag is refused.
	if _, err = c.PullManifest(ctx, PullManifestOptions{Ref: r.host + "/base:1", Platform: "linux/amd64", Dir: other}); err == nil || !strings.Contains(err.Error(), "pull needs a reference pinned by digest") {
		t.Errorf("by tag: %v", err)
	}

	// With the registry gone, the same pull is satisfied from dir.
	r.srv.Close()
	res, err = c.PullManifest(ctx, PullManifestOptions{Ref: ref, Platform: "linux/arm64", Dir: dir, ExpectManifest: arm.digest()})
	if err != nil || !res.Reused {
		t.Errorf("offline re-pull: %v %+v", err, res)
	}
	if bres, err = c.PullBlobs(ctx, PullBlobsOptions{Ref: r.host + "/base", Manifest: arm.manifest, Dir: blobs}); err != nil || bres.Reused != 1 {
		t.Errorf("offline blobs: %v %+v", err, bres)
	}
	// But not when what is there does not match.
	os.WriteFile(filepath.Join(dir, ConfigFile), []byte("{}"), 0o644)
	if _, err = c.PullManifest(ctx, PullManifestOptions{Ref: ref, Platform: "linux/arm64", Dir: dir, ExpectManifest: arm.digest()}); err == nil || !errors.Is(err, ErrUnavailable) {
		t.Errorf("offline re-pull with a broken config: %v", err)
	}
}

// secretKeychain hands out one credential for every registry.
type secretKeychain struct{ user, password string }

func (k secretKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(authn.AuthConfig{Username: k.user, Password: k.password}), nil
}

func TestCredentialsNeverInErrors(t *testing.T) {
	const password = "hunter2-very-secret"
	// A registry that wants other credentials and quotes what it got, as a
	// careless or malicious one might.
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad login %s:%s (Authorization: %s) see https://%s:%s@example.com/?password=%s&token=%s"}]}`,
			user, pass, r.Header.Get("Authorization"), user, pass, pass, pass)
	})
	r := startRegistry(t, handler)
	c := r.client(t, Options{Keychain: secretKeychain{"me", password}})
	_, err := c.Resolve(context.Background(), r.host+"/base:1", nil)
	if err == nil || !errors.Is(err, ErrAuth) {
		t.Fatalf("err %v", err)
	}
	msg := err.Error()
	b64 := base64.StdEncoding.EncodeToString([]byte("me:" + password))
	if strings.Contains(msg, password) || strings.Contains(msg, b64) || strings.Contains(msg, "hunter2") {
		t.Fatalf("the error leaks the credential: %s", msg)
	}
	if !strings.Contains(msg, "authentication failed: the registry rejected the credentials for "+r.host) {
		t.Errorf("message %s", msg)
	}

	// Without credentials, the hint says so.
	c = r.client(t, Options{})
	_, err = c.Resolve(context.Background(), r.host+"/base:1", nil)
	if err == nil || !strings.Contains(err.Error(), "no credentials for "+r.host+" were found in the Docker config") {
		t.Errorf("anonymous: %v", err)
	}
}

func TestTLSAndPlainHTTP(t *testing.T) {
	r := startRegistry(t, nil)
	seed(t, r)
	ctx := context.Background()
	// Without the CA: a clear TLS error, no plain-HTTP fallback.
	c, err := New(Options{Keychain: authn.NewMultiKeychain(), Retry: Retry{Attempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve(ctx, r.host+"/base:1", nil)
	if err == nil || !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "cannot verify the TLS certificate of "+r.host) || !strings.Contains(err.Error(), "--ca-file") ||
		strings.Contains(err.Error(), "plain HTTP") {
		t.Errorf("untrusted CA: %v", err)
	}
	// --insecure skips verification.
	c, _ = New(Options{Keychain: authn.NewMultiKeychain(), Insecure: true})
	if _, err := c.Resolve(ctx, r.host+"/base:1", nil); err != nil {
		t.Errorf("insecure: %v", err)
	}
	// A plain-HTTP registry needs --insecure.
	plain := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer plain.Close()
	host := strings.TrimPrefix(plain.URL, "http://")
	c, _ = New(Options{Keychain: authn.NewMultiKeychain(), Retry: Retry{Attempts: 1}})
	_, err = c.Resolve(ctx, host+"/base:1", nil)
	if err == nil || !errors.Is(err, ErrTLS) {
		t.Errorf("plain HTTP without --insecure: %v", err)
	}
	c, _ = New(Options{Keychain: authn.NewMultiKeychain(), Insecure: true})
	if _, err = c.Resolve(ctx, host+"/base:1", nil); err == nil || !errors.Is(err, ErrNotFound) {
		t.Errorf("plain HTTP with --insecure: %v (want not found: nothing pushed)", err)
	}
	// CA file errors.
	if _, err := New(Options{CAFiles: []string{"/nonexistent.pem"}}); err == nil {
		t.Error("missing CA file accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not PEM"), 0o644)
	if _, err := New(Options{CAFiles: []string{bad}}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("bad CA file: %v", err)
	}
}

func TestRetriesThroughRegistryFailures(t *testing.T) {
	r := startRegistry(t, nil)
	seed(t, r)
	c := r.client(t, Options{})
	r.faults.mu.Lock()
	r.faults.status["/manifests/1"] = []int{503, 502}
	r.faults.mu.Unlock()
	if _, err := c.Resolve(context.Background(), r.host+"/base:1", nil); err != nil {
		t.Fatalf("two failures then success: %v", err)
	}
	r.faults.mu.Lock()
	r.faults.status["/manifests/1"] = []int{503, 503, 503}
	r.faults.mu.Unlock()
	_, err := c.Resolve(context.Background(), r.host+"/base:1", nil)
	if err == nil || !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "failed with HTTP 503 (after 3 attempts)") {
		t.Errorf("persistent 503: %v", err)
	}
	// A Retry-After longer than the client waits: given up at once.
	r.faults.mu.Lock()
	r.faults.status["/manifests/1"] = []int{429, 429}
	r.faults.header["/manifests/1"] = http.Header{"Retry-After": {"3600"}}
	r.faults.requests = nil
	r.faults.mu.Unlock()
	_, err = c.Resolve(context.Background(), r.host+"/base:1", nil)
	if err == nil || !strings.Contains(err.Error(), "is rate limiting requests") {
		t.Errorf("429: %v", err)
	}
	if n := strings.Count(strings.Join(r.faults.requests, "\n"), "/manifests/1"); n != 1 {
		t.Errorf("%d manifest requests for a 429 with a long Retry-After, want 1", n)
	}
}

func TestFileSHA256(t *testing.T) {
	content := []byte("hello")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/f" {
			http.NotFound(w, r)
			return
		}
		w.Write(content)
	}))
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	c, err := New(Options{CAFiles: []string{caFile}, Retry: Retry{Attempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := c.FileSHA256(context.Background(), srv.URL+"/f")
	if err != nil || sum != digest.FromBytes(content).Encoded() {
		t.Errorf("sha256 %s %v", sum, err)
	}
	if _, err := c.FileSHA256(context.Background(), srv.URL+"/missing"); err == nil || !errors.Is(err, ErrNotFound) {
		t.Errorf("404: %v", err)
	}
	if _, err := c.FileSHA256(context.Background(), strings.Replace(srv.URL, "https", "http", 1)+"/f"); err == nil || !strings.Contains(err.Error(), "refusing plain HTTP") {
		t.Errorf("plain http: %v", err)
	}
}

// TestBearerToken: a registry that answers with a Bearer challenge; the
// token endpoint takes the keychain's credentials.
func TestBearerToken(t *testing.T) {
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	var (
		mu     sync.Mutex
		open   = true // while seeding
		scopes []string
		base   string
	)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/token" {
			if u, p, ok := r.BasicAuth(); !ok || u != "me" || p != "s3cret-token-pw" {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`)
				return
			}
			scopes = append(scopes, r.URL.Query().Get("scope"))
			fmt.Fprint(w, `{"token": "tok-123"}`)
			return
		}
		if !open && r.Header.Get("Authorization") != "Bearer tok-123" {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="test"`, base))
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}`)
			return
		}
		inner.ServeHTTP(w, r)
	})
	r := startRegistry(t, handler)
	base = r.srv.URL
	_, _, idx, _ := seed(t, r)
	mu.Lock()
	open = false
	mu.Unlock()

	c := r.client(t, Options{Keychain: secretKeychain{"me", "s3cret-token-pw"}})
	res, err := c.Resolve(context.Background(), r.host+"/base:1", []string{"linux/amd64"})
	if err != nil || res.Digest != digest.FromBytes(idx) {
		t.Fatalf("Resolve with a bearer token: %v", err)
	}
	mu.Lock()
	if len(scopes) != 1 || scopes[0] != "repository:base:pull" {
		t.Errorf("token requests with scopes %q, want one for repository:base:pull", scopes)
	}
	mu.Unlock()

	c = r.client(t, Options{Keychain: secretKeychain{"me", "wrong-token-pw"}})
	_, err = c.Resolve(context.Background(), r.host+"/base:1", nil)
	if err == nil || !errors.Is(err, ErrAuth) || strings.Contains(err.Error(), "wrong-token-pw") {
		t.Errorf("wrong credentials: %v", err)
	}
	t.Log(err)
}
