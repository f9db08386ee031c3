package main

// Hostile registries written in the test (httptest TLS servers on
// 127.0.0.1, go-containerregistry's in-memory registry behind a hook that
// misbehaves) against the real binary: transfers that stall, bearer tokens
// echoed in error bodies, endless bodies, corrupt build outputs, redirect
// loops and a 401 from a redirect target.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	"github.com/rules-repro/rules_repro/tools/oci"
)

// hostileReq is one request a hostile registry received.
type hostileReq struct {
	method, path string
	auth         string
	bodyLen      int64
	body         []byte // the body of a PUT or PATCH
}

// hostile is a registry over TLS on 127.0.0.1: go-containerregistry's
// in-memory registry, unless the hook answers a request first.
type hostile struct {
	srv   *httptest.Server
	host  string
	ca    string // the server's certificate, for --ca-file
	inner http.Handler
	done  chan struct{} // closed when the test ends: stalled handlers return

	mu   sync.Mutex
	hook func(w http.ResponseWriter, r *http.Request) bool
	reqs []hostileReq
}

func startHostile(t *testing.T) *hostile {
	t.Helper()
	h := &hostile{inner: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))), done: make(chan struct{})}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(h.done) }) // before srv.Close, which waits for handlers
	h.srv, h.host = srv, strings.TrimPrefix(srv.URL, "https://")
	h.ca = filepath.Join(t.TempDir(), "hostile-ca.pem")
	if err := os.WriteFile(h.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return h
}

// keptBody counts a request body and keeps it (when keep is set).
type keptBody struct {
	r    io.ReadCloser
	n    int64
	keep bool
	data []byte
}

func (b *keptBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.keep {
		b.data = append(b.data, p[:n]...)
	}
	b.n += int64(n)
	return n, err
}

func (b *keptBody) Close() error { return b.r.Close() }

func (h *hostile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := &keptBody{r: r.Body, keep: r.Method == http.MethodPut || r.Method == http.MethodPatch}
	r.Body = body
	h.mu.Lock()
	hook := h.hook
	h.mu.Unlock()
	if hook == nil || !hook(w, r) {
		h.inner.ServeHTTP(w, r)
	}
	h.mu.Lock()
	h.reqs = append(h.reqs, hostileReq{method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization"), bodyLen: body.n, body: body.data})
	h.mu.Unlock()
}

func (h *hostile) setHook(f func(w http.ResponseWriter, r *http.Request) bool) {
	h.mu.Lock()
	h.hook = f
	h.mu.Unlock()
}

// count returns how many method requests for exactly path were received.
func (h *hostile) count(method, path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.reqs {
		if r.method == method && r.path == path {
			n++
		}
	}
	return n
}

func (h *hostile) requests() []hostileReq {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hostileReq(nil), h.reqs...)
}

// stall sends the status line and headers and the first byte of a
// chunked body, flushes them, and then sends nothing until the client goes away or the test
// ends.
func (h *hostile) stall(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("{"))
	w.(http.Flusher).Flush()
	select {
	case <-r.Context().Done():
	case <-h.done:
	}
}

// seed pushes a tiny linux/amd64 image to repo:tag, straight into the
// in-memory registry (no hook is involved when none is set).
func (h *hostile) seed(t *testing.T, repo, tag string) builtImage {
	t.Helper()
	img := buildTestImage(t, "linux/amd64", "hostile "+repo)
	h.pushBlobs(t, repo, img.layer, img.config)
	r, err := name.NewRepository(h.host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	opts := []remote.Option{remote.WithTransport(h.srv.Client().Transport)}
	if err := remote.Put(r.Digest(img.desc.Digest.String()), pushedManifest{img.manifest, types.OCIManifestSchema1}, opts...); err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(r.Tag(tag), pushedManifest{img.manifest, types.OCIManifestSchema1}, opts...); err != nil {
		t.Fatal(err)
	}
	return img
}

func (h *hostile) pushBlobs(t *testing.T, repo string, blobs ...[]byte) {
	t.Helper()
	r, err := name.NewRepository(h.host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		if err := remote.WriteLayer(r, static.NewLayer(b, types.OCILayer), remote.WithTransport(h.srv.Client().Transport)); err != nil {
			t.Fatal(err)
		}
	}
}

// binResult is what one run of the repro binary did.
type binResult struct {
	code           int
	stdout, stderr string
	took           time.Duration
	killed         bool  // still running at the limit
	maxRSS         int64 // bytes, where known
}

func (r binResult) String() string {
	return fmt.Sprintf("exit %d after %v (killed: %v)\nstdout:\n%s\nstderr:\n%s", r.code, r.took.Round(time.Millisecond), r.killed, r.stdout, r.stderr)
}

// runBinaryLimited runs the real repro binary with an empty Docker config and
// env added to the environment, killing it after limit.
func runBinaryLimited(t *testing.T, limit time.Duration, env []string, args ...string) binResult {
	t.Helper()
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(append(os.Environ(), "DOCKER_CONFIG="+t.TempDir()), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	res := binResult{stdout: out.String(), stderr: errOut.String(), took: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && runtime.GOOS == "linux" {
		res.maxRSS = ru.Maxrss << 10
	}
	switch ee, isExit := err.(*exec.ExitError); {
	case ctx.Err() != nil:
		res.killed, res.code = true, -1
	case isExit:
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running repro: %v", err)
	}
	return res
}

// mustFail checks that a run ended by itself with exit status 1.
func mustFail(t *testing.T, what string, r binResult, subs ...string) {
	t.Helper()
	if r.killed || r.code != 1 {
		t.Fatalf("%s: want exit 1 within the limit:\n%s", what, r)
	}
	mustContain(t, what+" stderr", r.stderr, subs...)
}

// Item 3: a registry that sends headers and then nothing must not hang a
// command: every body read goes through one stall watchdog, settable by
// --stall-timeout or REPRO_STALL_TIMEOUT, and a stalled transfer is
// retried as the docs say (5 attempts) and then reported, naming the
// registry and what was being read.
func TestHardenStallTimeout(t *testing.T) {
	h := startHostile(t)
	const limit = 120 * time.Second // generous: 5 attempts of 2s each, on a busy machine
	stalled := map[string]bool{}    // GET paths that stall
	var mu sync.Mutex
	h.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		s := r.Method == http.MethodGet && stalled[r.URL.Path]
		mu.Unlock()
		if s {
			h.stall(w, r)
		}
		return s
	})
	stall := func(path string) {
		mu.Lock()
		stalled[path] = true
		mu.Unlock()
	}
	flag := []string{"--stall-timeout", "2s"}
	env := []string{"REPRO_STALL_TIMEOUT=2s"}
	const want = "stalled: no progress for 2s"

	t.Run("pull manifest", func(t *testing.T) {
		t.Parallel()
		img := h.seed(t, "pm", "1")
		path := "/v2/pm/manifests/" + img.desc.Digest.String()
		stall(path)
		out := filepath.Join(t.TempDir(), "out")
		r := runBinaryLimited(t, limit, nil, append([]string{"pull", "manifest", "--image", h.host + "/pm@" + img.desc.Digest.String(), "--platform", "linux/amd64", "--out", out, "--ca-file", h.ca}, flag...)...)
		t.Logf("pull manifest:\n%s", r)
		mustFail(t, "pull manifest", r, want, h.host, path)
		if n := h.count("GET", path); n != 5 {
			t.Errorf("%d GETs of the stalled manifest, want 5 (the default attempts)", n)
		}
		if names := dirEntries(t, out); len(names) != 0 {
			t.Errorf("pull manifest left %v", names)
		}
	})

	t.Run("pull blobs", func(t *testing.T) {
		t.Parallel()
		img := h.seed(t, "pb", "1")
		path := "/v2/pb/blobs/" + digest.FromBytes(img.layer).String()
		stall(path)
		work := t.TempDir()
		man := filepath.Join(work, "manifest.json")
		writeFile(t, man, string(img.manifest), 0o644)
		out := filepath.Join(work, "blobs")
		r := runBinaryLimited(t, limit, env, "pull", "blobs", "--image", h.host+"/pb", "--manifest", man, "--out", out, "--ca-file", h.ca)
		t.Logf("pull blobs:\n%s", r)
		mustFail(t, "pull blobs", r, want, h.host, path)
		if n := h.count("GET", path); n != 5 {
			t.Errorf("%d GETs of the stalled layer, want 5", n)
		}
		if names := dirEntries(t, filepath.Join(out, "sha256")); len(names) != 0 {
			t.Errorf("pull blobs left %v", names)
		}
	})

	t.Run("lock update", func(t *testing.T) {
		t.Parallel()
		h.seed(t, "lu", "1")
		path := "/v2/lu/manifests/1"
		stall(path)
		lf := filepath.Join(t.TempDir(), "repro.lock.json")
		mustCLI(t, "lock", "add", "base", h.host+"/lu:1", "--platform", "linux/amd64", "--lockfile", lf)
		before := readBytes(t, lf)
		r := runBinaryLimited(t, limit, nil, append([]string{"lock", "update", "--lockfile", lf, "--ca-file", h.ca}, flag...)...)
		t.Logf("lock update:\n%s", r)
		mustFail(t, "lock update", r, want, h.host, path, "nothing was written")
		if n := h.count("GET", path); n != 5 {
			t.Errorf("%d GETs of the stalled tag, want 5", n)
		}
		if !bytes.Equal(readBytes(t, lf), before) {
			t.Error("lock update changed the lockfile")
		}
	})

	t.Run("push read-back", func(t *testing.T) {
		t.Parallel()
		img := buildPushImage(t, filepath.Join(t.TempDir(), "img"), "linux/amd64", 91)
		path := "/v2/app/manifests/" + img.digest.String()
		stall(path)
		r := runBinaryLimited(t, limit, nil, append(append([]string{"push", "--repository", h.host + "/app", "--tag", "latest", "--ca-file", h.ca}, img.args...), flag...)...)
		t.Logf("push:\n%s", r)
		mustFail(t, "push", r, want, h.host, path, "reading back", "no tag was set or moved")
		if n := h.count("GET", path); n != 5 {
			t.Errorf("%d GETs of the stalled read-back, want 5", n)
		}
		if n := h.count("PUT", "/v2/app/manifests/latest"); n != 0 {
			t.Errorf("the tag was set (%d PUTs) after a read-back that never came", n)
		}
	})

	t.Run("ping answers nothing", func(t *testing.T) {
		t.Parallel()
		mute := startHostile(t)
		mute.setHook(func(w http.ResponseWriter, r *http.Request) bool {
			select { // no status line, no headers
			case <-r.Context().Done():
			case <-mute.done:
			}
			return true
		})
		r := runBinaryLimited(t, limit, env, "pull", "manifest", "--image", mute.host+"/x@sha256:"+strings.Repeat("0", 64), "--platform", "linux/amd64", "--out", t.TempDir(), "--ca-file", mute.ca)
		t.Logf("pull manifest, mute registry:\n%s", r)
		mustFail(t, "pull manifest", r, "stalled: no progress for 2s while waiting for the answer to GET https://"+mute.host+"/v2/", "after 5 attempts")
		if n := mute.count("GET", "/v2/"); n != 5 {
			t.Errorf("%d pings, want 5", n)
		}
	})

	t.Run("load", func(t *testing.T) {
		t.Parallel()
		work := t.TempDir()
		base := h.seed(t, "lb", "1")
		writeFile(t, filepath.Join(work, "base", "manifest.json"), string(base.manifest), 0o644)
		writeFile(t, filepath.Join(work, "base", "config.json"), string(base.config), 0o644)
		app := buildPushImage(t, filepath.Join(work, "app"), "", 92, filepath.Join(work, "base", "manifest.json"), filepath.Join(work, "base", "config.json"))
		path := "/v2/lb/blobs/" + digest.FromBytes(base.layer).String()
		stall(path)
		// A fake engine that reads the whole archive.
		bin := filepath.Join(work, "bin")
		writeFile(t, filepath.Join(bin, "podman"), "#!/bin/sh\nif [ \"$1\" = load ]; then cat >/dev/null; exit 0; fi\nexit 1\n", 0o755)
		r := runBinaryLimited(t, limit, append(env, "PATH="+bin+string(os.PathListSeparator)+"/usr/bin:/bin"),
			append([]string{"load", "--engine", "podman", "--source-repository", h.host + "/lb", "--ca-file", h.ca}, app.args...)...)
		t.Logf("load:\n%s", r)
		mustFail(t, "load", r, want, h.host, digest.FromBytes(base.layer).String())
		if n := h.count("GET", path); n != 5 {
			t.Errorf("%d GETs of the stalled base layer, want 5", n)
		}
	})
}

// The stall timeout's flag and environment variable are checked like any
// other input.
func TestHardenStallTimeoutSetting(t *testing.T) {
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{env: []string{"REPRO_STALL_TIMEOUT=soon"}, want: `REPRO_STALL_TIMEOUT "soon"`},
		{env: []string{"REPRO_STALL_TIMEOUT=-1s"}, want: `REPRO_STALL_TIMEOUT "-1s"`},
		{args: []string{"--stall-timeout", "0s"}, want: "--stall-timeout 0s: want a duration above zero"},
	} {
		for _, cmd := range [][]string{
			{"pull", "manifest", "--image", "127.0.0.1:1/x@sha256:" + strings.Repeat("0", 64), "--out", t.TempDir()},
			{"lock", "update", "--lockfile", filepath.Join(t.TempDir(), "none.json")},
			{"push", "--repository", "127.0.0.1:1/x", "--descriptor", "none.json"},
			{"load", "--descriptor", "none.json", "--source-repository", "127.0.0.1:1/x"},
		} {
			r := runBinaryLimited(t, time.Minute, c.env, append(cmd, c.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("repro %s %v with %v: want exit 2 and %q:\n%s", strings.Join(cmd[:2], " "), c.args, c.env, c.want, r)
			}
		}
	}
	// The flag wins over the environment.
	r := runBinaryLimited(t, time.Minute, []string{"REPRO_STALL_TIMEOUT=soon"}, "pull", "manifest", "--stall-timeout", "3s", "--image", "127.0.0.1:1/x@sha256:"+strings.Repeat("0", 64), "--platform", "linux/amd64", "--out", t.TempDir(), "--ca-file", "/nonexistent.pem")
	if r.code != 1 || strings.Contains(r.stderr, "REPRO_STALL_TIMEOUT") {
		t.Errorf("--stall-timeout with an invalid REPRO_STALL_TIMEOUT:\n%s", r)
	}
}

// Item 5: a bearer token handed out by the token endpoint and echoed in an
// error body (4xx or 5xx) is never printed, nor its base64.
func TestHardenBearerTokenRedacted(t *testing.T) {
	h := startHostile(t)
	img := h.seed(t, "base", "1")
	token := fmt.Sprintf("REGTOKEN-%d-secret-bearer", time.Now().UnixNano())
	b64 := base64.StdEncoding.EncodeToString([]byte(token))
	forms := []string{token, b64, base64.URLEncoding.EncodeToString([]byte(token)), base64.RawStdEncoding.EncodeToString([]byte(token))}
	var status atomic.Int32
	h.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/token" {
			fmt.Fprintf(w, `{"token": %q, "access_token": %q}`, token, token)
			return true
		}
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="https://%s/token",service="hostile"`, h.host))
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}`)
			return true
		}
		if r.URL.Path == "/v2/" {
			return false
		}
		w.WriteHeader(int(status.Load()))
		fmt.Fprintf(w, `{"errors":[{"code":"DENIED","message":"the token Bearer %s (%s) is not allowed here; Authorization: Bearer %s","detail":%q}]}`, token, b64, token, token)
		return true
	})
	check := func(t *testing.T, what string, r binResult) {
		t.Helper()
		t.Logf("%s:\n%s", what, r)
		if r.killed || r.code != 1 {
			t.Fatalf("%s: want exit 1:\n%s", what, r)
		}
		for _, f := range forms {
			if strings.Contains(r.stdout+r.stderr, f) {
				t.Errorf("%s: the output contains the bearer token (%q)", what, f)
			}
		}
		mustContain(t, what, r.stderr, "[REDACTED]")
	}
	status.Store(http.StatusForbidden)
	r := runBinaryLimited(t, 2*time.Minute, nil, "pull", "manifest", "--image", h.host+"/base@"+img.desc.Digest.String(), "--platform", "linux/amd64", "--out", t.TempDir(), "--ca-file", h.ca)
	check(t, "pull manifest, 403", r)
	mustContain(t, "pull manifest, 403", r.stderr, "access denied")

	status.Store(http.StatusInternalServerError)
	lf := filepath.Join(t.TempDir(), "repro.lock.json")
	mustCLI(t, "lock", "add", "base", h.host+"/base:1", "--platform", "linux/amd64", "--lockfile", lf)
	r = runBinaryLimited(t, 2*time.Minute, nil, "lock", "update", "--lockfile", lf, "--ca-file", h.ca)
	check(t, "lock update, 500", r)
	mustContain(t, "lock update, 500", r.stderr, "failed with HTTP 500")

	var tokenRequests int
	for _, q := range h.requests() {
		if q.path == "/token" {
			tokenRequests++
		}
	}
	if tokenRequests == 0 {
		t.Error("the token endpoint was never asked: the test tested nothing")
	}
}

// endless answers with status and then bytes until the client goes away
// (or, as a safety net, 256 MiB), recording how much was written and
// whether a write failed.
type endlessLog struct {
	wg      sync.WaitGroup
	mu      sync.Mutex
	written []int64
	cut     []bool
}

// wait waits for the handlers to finish (the client has exited: their
// writes fail), for at most a minute.
func (l *endlessLog) wait(t *testing.T) {
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Error("the endless handlers were still writing a minute after the client exited")
	}
}

const endlessStop = 256 << 20

func (l *endlessLog) serve(w http.ResponseWriter, status int) {
	l.wg.Add(1)
	defer l.wg.Done()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	chunk := bytes.Repeat([]byte(`{"errors":[]}`), 2500)
	var n int64
	cut := false
	for n < endlessStop {
		m, err := w.Write(chunk)
		n += int64(m)
		if err != nil {
			cut = true
			break
		}
	}
	l.mu.Lock()
	l.written = append(l.written, n)
	l.cut = append(l.cut, cut)
	l.mu.Unlock()
}

// Item 9: the /v2/ ping body and error bodies are read up to one cap; a
// registry that streams an endless body gets its connection closed.
func TestHardenEndlessBodies(t *testing.T) {
	// What the client may have read (the cap) plus what the kernel buffers
	// on both sides of a loopback connection.
	const slack = 64 << 20
	for _, c := range []struct {
		name  string
		ping  int // status of /v2/, with an endless body (0: the registry's answer)
		token bool
		get   int // status of the manifest GET, endless (0: the registry's answer)
		want  []string
	}{
		{name: "endless ping, then endless 500s", ping: 200, get: 500, want: []string{"HTTP 500", "more than 65536 bytes", "/v2/base/manifests/"}},
		{name: "endless 401 ping, endless token", ping: 401, token: true, want: []string{"HTTP 200", "more than 65536 bytes", "/token"}},
		{name: "endless 404", get: 404, want: []string{"HTTP 404", "more than 65536 bytes"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := startHostile(t)
			var pings, gets endlessLog
			h.setHook(func(w http.ResponseWriter, r *http.Request) bool {
				switch {
				case r.URL.Path == "/v2/" && c.ping != 0:
					if c.token {
						w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="https://%s/token",service="hostile"`, h.host))
					}
					pings.serve(w, c.ping)
				case r.URL.Path == "/token" && c.token:
					gets.serve(w, 200)
				case strings.Contains(r.URL.Path, "/manifests/") && c.get != 0:
					gets.serve(w, c.get)
				default:
					return false
				}
				return true
			})
			r := runBinaryLimited(t, 3*time.Minute, nil, "pull", "manifest", "--image", h.host+"/base@sha256:"+strings.Repeat("0", 64), "--platform", "linux/amd64", "--out", t.TempDir(), "--ca-file", h.ca)
			pings.wait(t)
			gets.wait(t)
			t.Logf("%s\nmax RSS %d MiB; ping bodies written %v (cut: %v); manifest bodies written %v (cut: %v)", r, r.maxRSS>>20, pings.written, pings.cut, gets.written, gets.cut)
			mustFail(t, c.name, r, c.want...)
			for _, l := range []*endlessLog{&pings, &gets} {
				for i, n := range l.written {
					if n > slack || !l.cut[i] {
						t.Errorf("a response body got %d bytes written (cut by the client: %v); want the client to close the connection after at most %d", n, l.cut[i], slack)
					}
				}
			}
			if r.maxRSS > 200<<20 {
				t.Errorf("max RSS %d MiB", r.maxRSS>>20)
			}
		})
	}
}

// corruptImage is an image with a small layer (sent with one PUT) and a
// large one (streamed with PATCH: above the 4 MiB of one PUT).
func corruptImage(t *testing.T, dir string) (args []string, layers []string, descs []digest.Digest, img digest.Digest) {
	t.Helper()
	o := func(n string) string { return filepath.Join(dir, n) }
	imgArgs := []string{"image", "--source-date-epoch", "1700000000", "--platform", "linux/amd64", "--config-out", o("config.json"), "--manifest-out", o("manifest.json"), "--descriptor-out", o("image.json")}
	for i, size := range []int{100 << 10, 5 << 20} {
		desc, blob, d := buildLayer(t, dir, fmt.Sprintf("layer%d", i), size, uint64(300+i))
		imgArgs = append(imgArgs, "--layer", desc)
		args = append(args, "--layer", desc+"="+blob)
		layers = append(layers, blob)
		descs = append(descs, d)
	}
	mustCLI(t, imgArgs...)
	var d oci.ImageDescriptor
	if err := oci.ReadJSON(o("image.json"), &d); err != nil {
		t.Fatal(err)
	}
	return append([]string{"--descriptor", o("image.json"), "--blob", o("config.json"), "--blob", o("manifest.json")}, args...), layers, descs, d.Digest
}

// Item 12: a build output whose bytes do not match its descriptor is found
// before anything of it is sent, whatever its size.
func TestHardenCorruptBlobNotSent(t *testing.T) {
	work := t.TempDir()
	args, layers, descs, _ := corruptImage(t, work)
	for i, c := range []struct {
		name    string
		layer   int
		corrupt func(data []byte) []byte
		want    string
	}{
		{"small layer, one byte changed", 0, func(b []byte) []byte { b[len(b)/2] ^= 1; return b }, ""},
		{"large layer, one byte changed", 1, func(b []byte) []byte { b[len(b)-100] ^= 1; return b }, ""},
		{"small layer, cut short", 0, func(b []byte) []byte { return b[:len(b)-1000] }, "bytes"},
		{"large layer, one byte more", 1, func(b []byte) []byte { return append(b, 0) }, "bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := startHostile(t) // its blobs are shared by all repositories: one per case
			data := c.corrupt(readBytes(t, layers[c.layer]))
			bad := filepath.Join(t.TempDir(), "corrupt.tgz")
			writeFile(t, bad, string(data), 0o644)
			got := digest.FromBytes(data)
			a := append([]string(nil), args...)
			for j := range a {
				if a[j] == "--layer" && strings.HasSuffix(a[j+1], "="+layers[c.layer]) {
					a[j+1] = strings.TrimSuffix(a[j+1], layers[c.layer]) + bad
				}
			}
			repo := fmt.Sprintf("corrupt%d", i)
			r := runBinaryLimited(t, 2*time.Minute, nil, append([]string{"push", "--repository", h.host + "/" + repo, "--tag", "latest", "--ca-file", h.ca, "--jobs", "1"}, a...)...)
			t.Logf("push:\n%s", r)
			mustFail(t, "push", r, bad, got.String(), descs[c.layer].String(), "no tag was set or moved", c.want)
			for _, q := range h.requests() {
				// A body that is the corrupt blob, or a prefix of it longer
				// than what gzip streams of similar tars share.
				if strings.HasPrefix(q.path, "/v2/"+repo+"/") && len(q.body) > 4096 && bytes.HasPrefix(data, q.body) {
					t.Errorf("%s %s carried %d bytes of the corrupt blob", q.method, q.path, q.bodyLen)
				}
			}
		})
	}
}

// Item 13: a redirect loop is reported as one, naming the URLs, not as an
// unreachable registry.
func TestHardenRedirectLoop(t *testing.T) {
	ref := "/base@sha256:" + strings.Repeat("0", 64)
	for _, c := range []struct {
		name   string
		hops   map[string]string // path → redirect target path
		prefix string            // redirect every path with this prefix to prefix+(n+1)
		want   []string
	}{
		{name: "ping", hops: map[string]string{"/v2/": "/v2/elsewhere", "/v2/elsewhere": "/v2/"},
			want: []string{"redirect loop", "/v2/ → ", "/v2/elsewhere"}},
		{name: "manifest", hops: map[string]string{"/v2/base/manifests/sha256:" + strings.Repeat("0", 64): "/mirror/m", "/mirror/m": "/v2/base/manifests/sha256:" + strings.Repeat("0", 64)},
			want: []string{"redirect loop", "/mirror/m", "/v2/base/manifests/sha256:"}},
		{name: "no loop, too many", prefix: "/hop/", hops: map[string]string{"/v2/base/manifests/sha256:" + strings.Repeat("0", 64): "/hop/1"},
			want: []string{"too many redirects", "/hop/1", "/hop/10"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := startHostile(t)
			h.setHook(func(w http.ResponseWriter, r *http.Request) bool {
				if to, ok := c.hops[r.URL.Path]; ok {
					http.Redirect(w, r, "https://"+h.host+to, http.StatusTemporaryRedirect)
					return true
				}
				if c.prefix != "" && strings.HasPrefix(r.URL.Path, c.prefix) {
					var n int
					fmt.Sscanf(strings.TrimPrefix(r.URL.Path, c.prefix), "%d", &n)
					http.Redirect(w, r, fmt.Sprintf("https://%s%s%d", h.host, c.prefix, n+1), http.StatusFound)
					return true
				}
				return false
			})
			r := runBinaryLimited(t, 2*time.Minute, nil, "pull", "manifest", "--image", h.host+ref, "--platform", "linux/amd64", "--out", t.TempDir(), "--ca-file", h.ca)
			t.Logf("%s", r)
			mustFail(t, c.name, r, c.want...)
			if strings.Contains(r.stderr, "unreachable") || strings.Contains(r.stderr, "attempts") {
				t.Errorf("a redirect loop reported as a network failure:\n%s", r.stderr)
			}
		})
	}
}

// Item 13: a 401 from the host a registry redirected to (a CDN) names
// that host and does not blame the registry's credentials.
func TestHardenRedirect401(t *testing.T) {
	cdn := startHostile(t)
	var cdnAuth []string
	var mu sync.Mutex
	cdn.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		cdnAuth = append(cdnAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="cdn"`)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"signature expired"}]}`)
		return true
	})
	reg := startHostile(t)
	img := reg.seed(t, "base", "1")
	layer := digest.FromBytes(img.layer)
	reg.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v2/base/blobs/"+layer.String() {
			http.Redirect(w, r, "https://"+cdn.host+"/cdn/"+layer.Encoded()+"?sig=abc", http.StatusTemporaryRedirect)
			return true
		}
		return false
	})
	work := t.TempDir()
	man := filepath.Join(work, "manifest.json")
	writeFile(t, man, string(img.manifest), 0o644)
	// Credentials for the registry, none for the CDN (both have the same
	// certificate: httptest's).
	cfg := t.TempDir()
	writeFile(t, filepath.Join(cfg, "config.json"), fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.host, base64.StdEncoding.EncodeToString([]byte("me:registry-pw"))), 0o600)
	r := runBinaryLimited(t, 2*time.Minute, []string{"DOCKER_CONFIG=" + cfg}, "pull", "blobs", "--image", reg.host+"/base", "--manifest", man, "--out", filepath.Join(work, "blobs"), "--ca-file", reg.ca)
	t.Logf("%s", r)
	mustFail(t, "pull blobs", r, cdn.host, "redirect", "HTTP 401")
	for _, bad := range []string{"docker login " + reg.host, "credentials for " + reg.host, "registry-pw"} {
		if strings.Contains(r.stderr, bad) {
			t.Errorf("the error blames the registry's credentials (%q):\n%s", bad, r.stderr)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(cdnAuth) == 0 {
		t.Fatal("the CDN was never asked")
	}
	for _, a := range cdnAuth {
		if a != "" {
			t.Errorf("the registry's credentials were sent to the redirect target: %q", a)
		}
	}
}
