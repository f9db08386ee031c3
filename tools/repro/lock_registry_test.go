package main

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	"github.com/rules-repro/rules_repro/tools/blob"
	"github.com/rules-repro/rules_repro/tools/compat"
	"github.com/rules-repro/rules_repro/tools/image"
	"github.com/rules-repro/rules_repro/tools/internal/testenv"
	"github.com/rules-repro/rules_repro/tools/layer"
	"github.com/rules-repro/rules_repro/tools/lock"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/policy"
	"github.com/rules-repro/rules_repro/tools/registry"
)

// builtImage is a tiny image built with tools/layer and tools/image.
type builtImage struct {
	layer    []byte
	manifest []byte
	config   []byte
	desc     oci.ImageDescriptor
}

func buildTestImage(t *testing.T, platform, content string) builtImage {
	t.Helper()
	v, err := compat.Lookup(0)
	if err != nil {
		t.Fatal(err)
	}
	tree := layer.NewTree(layer.Options{})
	defer tree.Close()
	if err := tree.AddSpec(&layer.Spec{Entries: []layer.Entry{{Type: "file", Path: "/etc/platform", Content: &content}}}, "test"); err != nil {
		t.Fatal(err)
	}
	blobPath := filepath.Join(t.TempDir(), "layer.tar.gz")
	enc := blob.Encoding{Compression: blob.Gzip}
	ld, err := layer.Build(tree, blobPath, "", layer.BuildOptions{Encoding: enc})
	if err != nil {
		t.Fatal(err)
	}
	p, err := oci.ParsePlatform(platform)
	if err != nil {
		t.Fatal(err)
	}
	res, err := image.Build(image.Options{Version: v, Layers: []image.Layer{{Descriptor: ld}}, Platform: p})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(blobPath)
	if err != nil {
		t.Fatal(err)
	}
	return builtImage{layer: data, manifest: res.Manifest, config: res.Config, desc: res.Descriptor}
}

type pushedManifest struct {
	data []byte
	mt   types.MediaType
}

func (m pushedManifest) RawManifest() ([]byte, error)        { return m.data, nil }
func (m pushedManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// seedBase pushes a two-platform index of tiny images as repo:tag and
// returns the images and the index.
func seedBase(t *testing.T, reg *testenv.Registry, repo, tag string) (amd, arm builtImage, index []byte) {
	t.Helper()
	amd = buildTestImage(t, "linux/amd64", "amd64 "+tag)
	arm = buildTestImage(t, "linux/arm64/v8", "arm64 "+tag)
	v, _ := compat.Lookup(0)
	idx, err := image.BuildIndex(image.IndexOptions{Version: v, Images: []*oci.ImageDescriptor{&amd.desc, &arm.desc}})
	if err != nil {
		t.Fatal(err)
	}
	opts := []remote.Option{
		remote.WithAuth(&authn.Basic{Username: reg.Username, Password: reg.Password}),
		remote.WithTransport(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: reg.CertPool()}}),
	}
	r, err := name.NewRepository(reg.Addr() + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range []builtImage{amd, arm} {
		for _, b := range [][]byte{img.layer, img.config} {
			if err := remote.WriteLayer(r, static.NewLayer(b, types.OCILayer), opts...); err != nil {
				t.Fatal(err)
			}
		}
		if err := remote.Put(r.Digest(img.desc.Digest.String()), pushedManifest{img.manifest, types.OCIManifestSchema1}, opts...); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Put(r.Tag(tag), pushedManifest{idx.Index, types.OCIImageIndex}, opts...); err != nil {
		t.Fatal(err)
	}
	return amd, arm, idx.Index
}

// dockerConfig points DOCKER_CONFIG at a fresh config.json with the given
// basic-auth credentials per host, so that authn.DefaultKeychain finds them.
func dockerConfig(t *testing.T, creds map[string][2]string) {
	t.Helper()
	auths := map[string]any{}
	for host, c := range creds {
		auths[host] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(c[0] + ":" + c[1]))}
	}
	dir := t.TempDir()
	data, _ := json.Marshal(map[string]any{"auths": auths})
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
}

// fileServer serves one file over HTTPS and returns its URL and CA file.
func fileServer(t *testing.T, content []byte) (string, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/tool.tar.gz" {
			http.NotFound(w, r)
			return
		}
		w.Write(content)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "files-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.URL + "/tool.tar.gz", ca
}

// fastRetries makes retries quick for the test.
func fastRetries(t *testing.T) {
	old := pullRetry
	pullRetry = registry.Retry{Attempts: 3, Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}
	t.Cleanup(func() { pullRetry = old })
}

// failCLI runs a command that must fail with exit status 1 and returns its
// stderr.
func failCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, args...)
	if code != 1 {
		t.Fatalf("repro %s: exit %d, want 1\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return errOut
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// dirEntries lists a directory ("" entries when it does not exist).
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestLockAndPullWithRegistry runs the lockfile and pull commands against
// the real docker-registry (TLS with a test CA, htpasswd auth, credentials
// from a DOCKER_CONFIG config.json), behind a fault-injecting proxy.
func TestLockAndPullWithRegistry(t *testing.T) {
	fastRetries(t)
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true, Htpasswd: true, Password: "pa55-w0rd-do-not-leak"})
	proxy := testenv.StartFaultProxy(t, reg.URL(), testenv.FaultProxyOptions{TLS: true, CA: reg.CA, UpstreamRootCAs: reg.CertPool()})
	amd, arm, index := seedBase(t, reg, "base", "1")
	good := map[string][2]string{reg.Addr(): {reg.Username, reg.Password}, proxy.Addr(): {reg.Username, reg.Password}}
	dockerConfig(t, good)
	toolContent := []byte("tool archive bytes")
	toolURL, filesCA := fileServer(t, toolContent)
	ca := []string{"--ca-file", reg.CACertPath(), "--ca-file", filesCA}

	work := t.TempDir()
	lf := filepath.Join(work, "repro.lock.json")
	ref := proxy.Addr() + "/base:1"
	indexDigest := digest.FromBytes(index).String()

	// Request the image and the file, and a policy that allows only this
	// registry and only pinned tags.
	mustCLI(t, "lock", "add", "base", ref, "--platform", "linux/amd64", "--platform", "linux/arm64", "--lockfile", lf)
	mustCLI(t, "lock", "add", "--lockfile", lf, "tool", toolURL)
	l, err := lock.Read(lf)
	if err != nil {
		t.Fatal(err)
	}
	pol := `{"rules": [
		{"action": "DENY", "selector": {"identifier": "docker-image://*"}},
		{"action": "ALLOW", "selector": {"identifier": "docker-image://` + proxy.Addr() + `/*"}},
		{"action": "DENY", "selector": {"identifier": "^docker-image://[^@]*$", "match_type": "REGEX"}}]}`
	l.Policy = mustPolicy(t, pol).Rules
	if err := l.Write(lf); err != nil {
		t.Fatal(err)
	}
	errOut := failCLI(t, "lock", "check", "--lockfile", lf)
	mustContain(t, "check of the unpinned lockfile", errOut, "images.base.digest: missing; run repro lock update", "files.tool.sha256: missing")

	t.Run("update pins both platforms", func(t *testing.T) {
		out := mustCLI(t, append([]string{"lock", "update", "--lockfile", lf}, ca...)...)
		mustContain(t, "update output", out,
			"images.base: docker-image://"+ref+" pinned to "+indexDigest+" (index, 2 platforms)",
			"files.tool: "+toolURL+" pinned to sha256 "+digest.FromBytes(toolContent).Encoded())
		l, err := lock.Read(lf)
		if err != nil {
			t.Fatal(err)
		}
		b := l.Images["base"]
		if b.Digest != indexDigest || b.MediaType != oci.MediaTypeImageIndex ||
			b.Platforms["linux/amd64"].Digest != amd.desc.Digest.String() || b.Platforms["linux/amd64"].Config != digest.FromBytes(amd.config).String() ||
			b.Platforms["linux/arm64"].Digest != arm.desc.Digest.String() || b.Platforms["linux/arm64"].Config != digest.FromBytes(arm.config).String() {
			t.Errorf("pins %+v", b)
		}
		mustContain(t, "check", mustCLI(t, "lock", "check", "--lockfile", lf), "ok")
		// Again: nothing moved.
		out = mustCLI(t, append([]string{"lock", "update", "--lockfile", lf, "--name", "base"}, ca...)...)
		mustContain(t, "second update", out, "images.base: docker-image://"+ref+" unchanged at "+indexDigest)
	})
	pinned := readBytes(t, lf)

	t.Run("export and import", func(t *testing.T) {
		exported := mustCLI(t, "policy", "export", "--lockfile", lf)
		mustContain(t, "export", exported, `"identifier": "docker-image://`+ref+`@`+indexDigest+`"`, `"http.checksum": "sha256:`+digest.FromBytes(toolContent).Encoded()+`"`)
		pf := filepath.Join(work, "policy.json")
		mustCLI(t, "policy", "export", "--lockfile", lf, "--output", pf)
		if got := readBytes(t, pf); string(got) != exported {
			t.Error("--output differs from stdout")
		}
		imported := filepath.Join(work, "imported.lock.json")
		out := mustCLI(t, "policy", "import", pf, "--lockfile", imported)
		mustContain(t, "import", out, "1 images (base), 1 files (tool), 3 policy rules")
		again := mustCLI(t, "policy", "export", "--lockfile", imported)
		if again != exported {
			t.Errorf("export → import → export differs:\n%s", again)
		}
		// Platforms come back with --keep-digests.
		out = mustCLI(t, append([]string{"lock", "update", "--keep-digests", "--lockfile", imported}, ca...)...)
		mustContain(t, "update --keep-digests", out, "pins completed or corrected (2 platforms)", "linux/arm64/v8: (not pinned) → "+arm.desc.Digest.String())
		il, err := lock.Read(imported)
		if err != nil {
			t.Fatal(err)
		}
		if il.Images["base"].Platforms["linux/arm64/v8"].Digest != arm.desc.Digest.String() {
			t.Errorf("imported platforms %+v", il.Images["base"].Platforms)
		}
		// Importing into the original lockfile keeps it as it is.
		mustCLI(t, "policy", "import", pf, "--lockfile", lf)
		if !bytes.Equal(readBytes(t, lf), pinned) {
			t.Errorf("import into the lockfile changed it:\n%s", readBytes(t, lf))
		}
	})

	base := filepath.Join(work, "base_arm64")
	blobs := filepath.Join(work, "blobs")
	pullArgs := func(dir string, extra ...string) []string {
		return append(append([]string{"pull", "manifest", "--image", proxy.Addr() + "/base@" + indexDigest, "--platform", "linux/arm64", "--out", dir,
			"--expect-manifest", arm.desc.Digest.String(), "--expect-config", digest.FromBytes(arm.config).String()}, ca...), extra...)
	}
	t.Run("pull manifest and blobs", func(t *testing.T) {
		out := mustCLI(t, pullArgs(base)...)
		mustContain(t, "pull manifest", out, "wrote manifest "+arm.desc.Digest.String())
		if !bytes.Equal(readBytes(t, filepath.Join(base, "manifest.json")), arm.manifest) || !bytes.Equal(readBytes(t, filepath.Join(base, "config.json")), arm.config) {
			t.Error("manifest.json or config.json are not the pushed bytes")
		}
		var layers []registry.Layer
		if err := json.Unmarshal(readBytes(t, filepath.Join(base, "layers.json")), &layers); err != nil || len(layers) != 1 || layers[0].Digest != digest.FromBytes(arm.layer) {
			t.Errorf("layers.json: %v %+v", err, layers)
		}
		out = mustCLI(t, append([]string{"pull", "blobs", "--image", proxy.Addr() + "/base", "--manifest", filepath.Join(base, "manifest.json"), "--out", blobs}, ca...)...)
		mustContain(t, "pull blobs", out, "1 layers fetched")
		if !bytes.Equal(readBytes(t, filepath.Join(blobs, "sha256", digest.FromBytes(arm.layer).Encoded())), arm.layer) {
			t.Error("layer blob differs")
		}
	})

	t.Run("tamper 1: registry serves other bytes for a pinned digest", func(t *testing.T) {
		cases := []struct {
			path string
			body []byte
			want string
		}{
			{"/manifests/" + arm.desc.Digest.String() + "$", amd.manifest, "for manifest " + arm.desc.Digest.String() + ": tampered or corrupt content"},
			{"/manifests/" + indexDigest + "$", bytes.Replace(index, []byte(`"linux"`), []byte(`"Linux"`), 1), "for manifest " + indexDigest + ": tampered or corrupt content"},
			{"/blobs/" + digest.FromBytes(arm.config).String() + "$", bytes.Replace(arm.config, []byte("arm64"), []byte("amd64"), 1), "config " + digest.FromBytes(arm.config).String() + " of linux/arm64: the registry sent"},
		}
		for _, tc := range cases {
			dir := filepath.Join(work, "tampered")
			rule := proxy.AddFault(testenv.Fault{Method: "GET", Path: tc.path, Times: 1, Action: testenv.ReplaceResponseBody(tc.body)})
			errOut := failCLI(t, pullArgs(dir)...)
			mustContain(t, "tampered pull", errOut, tc.want, "nothing was written")
			if rule.Fired() != 1 {
				t.Errorf("%s: the fault did not fire", tc.path)
			}
			if names := dirEntries(t, dir); len(names) != 0 {
				t.Errorf("a failed pull left %v", names)
			}
			t.Logf("tamper %s:\n%s", tc.path, errOut)
		}
		// A tampered layer: nothing half-written in the blob directory.
		fresh := filepath.Join(work, "blobs_tampered")
		proxy.AddFault(testenv.Fault{Method: "GET", Path: "/blobs/" + digest.FromBytes(arm.layer).String() + "$", Times: 1,
			Action: testenv.RewriteResponseBody(func(b []byte) []byte { out := bytes.Clone(b); out[len(out)/2] ^= 0xff; return out })})
		errOut := failCLI(t, append([]string{"pull", "blobs", "--image", proxy.Addr() + "/base", "--manifest", filepath.Join(base, "manifest.json"), "--out", fresh}, ca...)...)
		mustContain(t, "tampered layer", errOut, "layer "+digest.FromBytes(arm.layer).String()+": the registry sent", "nothing was written")
		if names := dirEntries(t, filepath.Join(fresh, "sha256")); len(names) != 0 {
			t.Errorf("a failed blob pull left %v", names)
		}
		t.Logf("tampered layer:\n%s", errOut)
		// Through an update, the moved tag is caught the same way.
		proxy.AddFault(testenv.Fault{Method: "GET", Path: "/manifests/1$", Times: 1, Action: testenv.ReplaceResponseBody(amd.manifest)})
		errOut = failCLI(t, append([]string{"lock", "update", "--lockfile", lf}, ca...)...)
		mustContain(t, "tampered update", errOut, "(Docker-Content-Digest) but sent", "nothing was written")
		if !bytes.Equal(readBytes(t, lf), pinned) {
			t.Error("a failed update changed the lockfile")
		}
	})

	t.Run("tamper 2: lockfile edited to a wrong digest", func(t *testing.T) {
		// The platform pin edited to another (valid) digest: pull refuses.
		errOut := failCLI(t, append([]string{"pull", "manifest", "--image", proxy.Addr() + "/base@" + indexDigest, "--platform", "linux/arm64", "--out", filepath.Join(work, "edited"),
			"--expect-manifest", amd.desc.Digest.String()}, ca...)...)
		mustContain(t, "edited platform pin", errOut, "linux/arm64: the index lists manifest "+arm.desc.Digest.String()+", but the lockfile pins "+amd.desc.Digest.String(), "run repro lock update to re-pin")
		t.Logf("edited platform pin:\n%s", errOut)
		// The index digest edited: the registry has no such manifest.
		wrong := digest.FromString("edited").String()
		errOut = failCLI(t, append([]string{"pull", "manifest", "--image", proxy.Addr() + "/base@" + wrong, "--platform", "linux/arm64", "--out", filepath.Join(work, "edited")}, ca...)...)
		mustContain(t, "edited index pin", errOut, "the registry has no manifest "+wrong, "was the lockfile edited?")
		t.Logf("edited index pin:\n%s", errOut)
		if names := dirEntries(t, filepath.Join(work, "edited")); len(names) != 0 {
			t.Errorf("left %v", names)
		}
		// check catches edits that break consistency, offline.
		edited := strings.Replace(string(pinned), `"media_type": "application/vnd.oci.image.index.v1+json"`, `"media_type": "application/vnd.oci.image.manifest.v1+json"`, 1)
		edited = strings.Replace(edited, arm.desc.Digest.String(), "sha256:not-a-digest", 1)
		ef := filepath.Join(work, "edited.lock.json")
		os.WriteFile(ef, []byte(edited), 0o644)
		errOut = failCLI(t, "lock", "check", "--lockfile", ef)
		mustContain(t, "check of an edited lockfile", errOut, `images.base.platforms.linux/arm64.digest: "sha256:not-a-digest" is not a sha256 digest`,
			"is a single image manifest (application/vnd.oci.image.manifest.v1+json), so it has one platform, not 2")
		t.Logf("check:\n%s", errOut)
		// update repairs a wrong but well-formed pin, saying what moved.
		os.WriteFile(ef, bytes.Replace(pinned, []byte(arm.desc.Digest.String()), []byte(amd.desc.Digest.String()), 1), 0o644)
		out := mustCLI(t, append([]string{"lock", "update", "--lockfile", ef}, ca...)...)
		if !bytes.Equal(readBytes(t, ef), pinned) {
			t.Errorf("update did not restore the pins; output:\n%s", out)
		}
		mustContain(t, "update of an edited pin", out, "pins completed or corrected (2 platforms)", "linux/arm64: "+amd.desc.Digest.String()+" → "+arm.desc.Digest.String())
	})

	t.Run("tamper 3: wrong credentials", func(t *testing.T) {
		dockerConfig(t, map[string][2]string{reg.Addr(): {reg.Username, "wrong-" + reg.Password}, proxy.Addr(): {reg.Username, "wrong-" + reg.Password}})
		for _, args := range [][]string{
			append([]string{"lock", "update", "--lockfile", lf}, ca...),
			pullArgs(filepath.Join(work, "wrongcreds")),
		} {
			code, out, errOut := runCLI(t, args...)
			if code != 1 {
				t.Fatalf("exit %d", code)
			}
			mustContain(t, "wrong credentials", errOut, "authentication failed: the registry rejected the credentials for "+proxy.Addr(), "docker login")
			for _, secret := range []string{reg.Password, base64.StdEncoding.EncodeToString([]byte(reg.Username + ":wrong-" + reg.Password))} {
				if strings.Contains(out+errOut, secret) {
					t.Errorf("output contains a credential:\n%s%s", out, errOut)
				}
			}
			t.Logf("wrong credentials:\n%s", errOut)
		}
		if !bytes.Equal(readBytes(t, lf), pinned) {
			t.Error("a failed update changed the lockfile")
		}
		dockerConfig(t, good)
	})

	t.Run("tamper 4: registry down", func(t *testing.T) {
		if err := reg.Stop(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := reg.Start(); err != nil {
				t.Fatal(err)
			}
		}()
		// A first fetch, straight to the registry: connection refused.
		direct := filepath.Join(work, "direct")
		errOut := failCLI(t, append([]string{"pull", "manifest", "--image", reg.Addr() + "/base@" + indexDigest, "--platform", "linux/arm64", "--out", direct}, ca...)...)
		mustContain(t, "registry down", errOut, reg.Addr()+"/base@"+indexDigest+": registry "+reg.Addr()+" unreachable (after 3 attempts)", "connection refused")
		t.Logf("registry down:\n%s", errOut)
		if names := dirEntries(t, direct); len(names) != 0 {
			t.Errorf("left %v", names)
		}
		// Through the proxy: 502, retried, then a clear failure.
		errOut = failCLI(t, append([]string{"lock", "update", "--lockfile", lf}, ca...)...)
		mustContain(t, "registry down behind a proxy", errOut, "failed with HTTP 502 (after 3 attempts)", "nothing was written")
		t.Logf("registry down behind the proxy:\n%s", errOut)
		// A second pull into the same directory reuses what is there.
		out := mustCLI(t, pullArgs(base)...)
		mustContain(t, "offline pull", out, "up to date")
		out = mustCLI(t, append([]string{"pull", "blobs", "--image", proxy.Addr() + "/base", "--manifest", filepath.Join(base, "manifest.json"), "--out", blobs}, ca...)...)
		mustContain(t, "offline blobs", out, "0 layers fetched (0 bytes), 1 already present")
	})

	t.Run("tamper 5: a DENY rule matches", func(t *testing.T) {
		denied := filepath.Join(work, "denied.lock.json")
		mustCLI(t, "lock", "add", "--lockfile", denied, "hub", "alpine:3.20", "--platform", "linux/amd64")
		mustCLI(t, "lock", "add", "--lockfile", denied, "base", ref)
		l, err := lock.Read(denied)
		if err != nil {
			t.Fatal(err)
		}
		l.Policy = mustPolicy(t, `{"rules": [{"action": "DENY", "selector": {"identifier": "docker-image://docker.io/*"}}]}`).Rules
		l.Write(denied)
		before := readBytes(t, denied)
		proxy.Reset()
		errOut := failCLI(t, append([]string{"lock", "update", "--lockfile", denied}, ca...)...)
		mustContain(t, "denied", errOut, `images.hub: source docker-image://docker.io/library/alpine:3.20 is denied by the policy: policy[0] (DENY WILDCARD "docker-image://docker.io/*")`, "nothing was written")
		t.Logf("denied:\n%s", errOut)
		if !bytes.Equal(readBytes(t, denied), before) {
			t.Error("a denied update changed the lockfile")
		}
		if n := len(proxy.Requests()); n != 0 {
			t.Errorf("%d registry requests before the policy check failed", n)
		}
		errOut = failCLI(t, "lock", "check", "--lockfile", denied)
		mustContain(t, "check", errOut, "images.hub.digest: missing")
	})

	t.Run("insecure warns", func(t *testing.T) {
		var warn bytes.Buffer
		old := pullWarnings
		pullWarnings = &warn
		defer func() { pullWarnings = old }()
		mustCLI(t, "pull", "manifest", "--insecure", "--image", proxy.Addr()+"/base@"+indexDigest, "--platform", "linux/amd64", "--out", filepath.Join(work, "insecure"))
		mustContain(t, "warning", warn.String(), "warning: --insecure")
	})

	t.Run("binary honours SSL_CERT_FILE", func(t *testing.T) {
		bin := buildBinary(t)
		cmd := exec.Command(bin, "pull", "manifest", "--image", reg.Addr()+"/base@"+indexDigest, "--platform", "linux/amd64", "--out", filepath.Join(work, "sslcertfile"))
		cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+reg.CACertPath())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		cmd = exec.Command(bin, "pull", "manifest", "--image", reg.Addr()+"/base@"+indexDigest, "--platform", "linux/amd64", "--out", filepath.Join(work, "nocert"))
		cmd.Env = append(os.Environ(), "SSL_CERT_FILE=/nonexistent")
		out, err = cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "cannot verify the TLS certificate") {
			t.Errorf("without the CA: %v\n%s", err, out)
		}
	})
}

func mustPolicy(t *testing.T, s string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
