package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/rules-repro/rules_repro/tools/internal/testenv"
)

// pushEnv is the real docker-registry (TLS with a test CA, htpasswd) behind
// a fault-injecting proxy, with credentials for both in a DOCKER_CONFIG.
type pushEnv struct {
	reg   *testenv.Registry
	proxy *testenv.FaultProxy
	ca    []string
	scan  *secretScanner
}

const pushPassword = "s3cret-Pa55word-never-print"

func startPushEnv(t *testing.T) *pushEnv {
	t.Helper()
	publishSeams(t)
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true, Htpasswd: true, Password: pushPassword})
	proxy := testenv.StartFaultProxy(t, reg.URL(), testenv.FaultProxyOptions{TLS: true, CA: reg.CA, UpstreamRootCAs: reg.CertPool()})
	dockerConfig(t, map[string][2]string{reg.Addr(): {reg.Username, reg.Password}, proxy.Addr(): {reg.Username, reg.Password}})
	return &pushEnv{reg: reg, proxy: proxy, ca: []string{"--ca-file", reg.CACertPath()}, scan: newSecretScanner(t, reg.Username, reg.Password)}
}

func (e *pushEnv) push(t *testing.T, repo string, img *testImage, extra ...string) (int, string, string) {
	t.Helper()
	args := append([]string{"push", "--repository", e.proxy.Addr() + "/" + repo}, img.args...)
	args = append(append(args, e.ca...), extra...)
	return e.scan.cli(t, args...)
}

// TestPushFaults pushes an image through the fault proxy once per fault
// scenario, each to a fresh repository, and then checks the registry
// directly: after a success every blob and manifest pulled back has its
// digest and the tag points at the image; after a failure no tag exists.
func TestPushFaults(t *testing.T) {
	e := startPushEnv(t)
	img := buildPushImage(t, filepath.Join(t.TempDir(), "img"), "linux/amd64", 1)
	var big, medium digest.Digest
	for d, p := range img.layers {
		if st, _ := os.Stat(p); st.Size() > 512<<10 {
			big = d
		} else {
			medium = d
		}
	}
	root := img.digest.String()

	type scenario struct {
		name   string
		faults []testenv.Fault
		ok     bool
		want   []string // in stderr (failure) or stdout (success)
		check  func(t *testing.T, recs []testenv.RequestRecord)
	}
	scenarios := []scenario{
		{name: "no faults", ok: true},
		{name: "500 on blob PUT, twice", ok: true,
			faults: []testenv.Fault{{Method: "PUT", Path: `/blobs/uploads/`, Times: 2, Action: testenv.RespondStatus(500)}},
			want:   []string{"retry sha256:", "failed with HTTP 500"}},
		{name: "429 Retry-After: 1 on upload POST", ok: true,
			faults: []testenv.Fault{{Method: "POST", Path: `/blobs/uploads/$`, Times: 1, Action: testenv.RespondRetryAfter(429, "1")}},
			check: func(t *testing.T, recs []testenv.RequestRecord) {
				// The retry (the last POST: the other blobs' went through at
				// once) came no earlier than the registry asked.
				var faulted, next time.Time
				for _, r := range recs {
					if r.Fault != "" {
						faulted = r.End
					} else if r.Method == "POST" && r.Start.After(next) {
						next = r.Start
					}
				}
				if next.IsZero() || next.Sub(faulted) < 900*time.Millisecond {
					t.Errorf("retried %v after a 429 with Retry-After: 1", next.Sub(faulted))
				}
			}},
		{name: "connection dropped mid-PATCH", ok: true,
			faults: []testenv.Fault{{Method: "PATCH", MinBodySize: 512 << 10, Times: 1, Action: testenv.DropRequestAfter(300 << 10)}},
			want:   []string{"retry " + shortD(big)},
			check: func(t *testing.T, recs []testenv.RequestRecord) {
				// A fresh session: two POSTs for the big blob's uploads.
				patches := 0
				for _, r := range recs {
					if r.Method == "PATCH" {
						patches++
					}
				}
				if patches != 2 {
					t.Errorf("%d PATCH requests, want 2 (one cut, one from a fresh session)", patches)
				}
			}},
		{name: "connection dropped mid monolithic PUT", ok: true,
			faults: []testenv.Fault{{Method: "PUT", Path: `/blobs/uploads/`, MinBodySize: 50 << 10, Times: 1, Action: testenv.DropRequestAfter(30 << 10)}},
			want:   []string{"retry " + shortD(medium)}},
		{name: "answer to a blob PUT lost after commit", ok: true,
			faults: []testenv.Fault{{Method: "PUT", Path: `/blobs/uploads/`, Times: 1, Action: testenv.DropRequestAfter(1 << 30)}}},
		{name: "503 on manifest PUT, twice", ok: true,
			faults: []testenv.Fault{{Method: "PUT", Path: `/manifests/`, Times: 2, Action: testenv.RespondStatus(503)}}},
		{name: "manifest read-back truncated", ok: true,
			faults: []testenv.Fault{{Method: "GET", Path: `/manifests/` + root + `$`, Times: 1, Action: testenv.TruncateResponseAfter(100)}}},
		{name: "upload stalls 2s (stall timeout 1s)", ok: true,
			faults: []testenv.Fault{{Method: "PATCH", Times: 1, Action: testenv.StallRequestAfter(200<<10, 2*time.Second)}},
			want:   []string{"the upload stalled: no progress for 1s"}},
		{name: "manifest PUT stalls 300ms", ok: true,
			faults: []testenv.Fault{{Method: "PUT", Path: `/manifests/`, Times: 1, Action: testenv.StallBefore(300 * time.Millisecond)}}},
		{name: "blob PUT always 500",
			faults: []testenv.Fault{{Method: "PUT", Path: `/blobs/uploads/`, Action: testenv.RespondStatus(500)}},
			want:   []string{"failed 4 times, giving up", "failed with HTTP 500", "no tag was set or moved"}},
		{name: "blob PATCH always dropped",
			faults: []testenv.Fault{{Method: "PATCH", Action: testenv.DropRequestAfter(100 << 10)}},
			want:   []string{shortD(big)[:19], "failed 4 times, giving up", "no tag was set or moved"}},
		{name: "manifest PUT always 503",
			faults: []testenv.Fault{{Method: "PUT", Path: `/manifests/`, Action: testenv.RespondStatus(503)}},
			want:   []string{"failed with HTTP 503 (after 4 attempts)", "no tag was set or moved"}},
		{name: "tag PUT always 500",
			faults: []testenv.Fault{{Method: "PUT", Path: `/manifests/latest$`, Action: testenv.RespondStatus(500)}},
			want:   []string{":latest: registry", "failed with HTTP 500", "no tag was set or moved"}},
		{name: "429 Retry-After: 3600 on upload POST",
			faults: []testenv.Fault{{Method: "POST", Path: `/blobs/uploads/$`, Action: testenv.RespondRetryAfter(429, "3600")}},
			want:   []string{"the registry asks to wait 1h0m0s before trying again (Retry-After), longer than the 2s allowed", "no tag was set or moved"}},
		{name: "manifest read back tampered",
			faults: []testenv.Fault{{Method: "GET", Path: `/manifests/` + root + `$`, Action: testenv.ReplaceResponseBody([]byte(`{"schemaVersion":2}`))}},
			want:   []string{"reading back " + root, "tampered or corrupt content", "no tag was set or moved"}},
	}

	type row struct {
		name                              string
		requests, retries, client, faults int
		failed                            int
		bytesIn                           int64
		took                              time.Duration
		outcome                           string
	}
	var rows []row
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			repo := fmt.Sprintf("faults/s%02d", i)
			e.proxy.ClearFaults()
			e.proxy.Reset()
			var rules []*testenv.Rule
			for _, f := range sc.faults {
				rules = append(rules, e.proxy.AddFault(f))
			}
			start := time.Now()
			code, out, errOut := e.push(t, repo, img, "--tag", "latest", "--progress", "plain")
			took := time.Since(start)
			e.proxy.ClearFaults()
			recs := e.proxy.Requests()
			st := e.proxy.Stats()
			for _, r := range rules {
				if r.Fired() == 0 {
					t.Errorf("%s did not fire", r)
				}
			}
			outcome := "pushed"
			if code != 0 {
				outcome = "failed (exit " + fmt.Sprint(code) + ")"
			}
			rows = append(rows, row{sc.name, st.Requests, st.Retries, clientRetries(out + errOut), st.Faults, st.Failed, st.BytesIn, took, outcome})
			if sc.ok {
				if code != 0 {
					t.Fatalf("push failed (exit %d):\n%s\n%s", code, out, errOut)
				}
				mustContain(t, "push output", out, sc.want...)
				mustContain(t, "push output", out, "verified "+e.proxy.Addr()+"/"+repo+"@"+root, "tagged "+e.proxy.Addr()+"/"+repo+":latest", e.proxy.Addr()+"/"+repo+"@"+root+"\n")
				if got, ok := regTag(t, e.reg, repo, "latest"); !ok || got != img.digest {
					t.Errorf("tag latest: %s %v, want %s", got, ok, img.digest)
				}
				if n := pullBack(t, e.reg, repo, img.digest); n < 1<<20 {
					t.Errorf("pulled back only %d bytes", n)
				}
			} else {
				if code != 1 {
					t.Fatalf("exit %d, want 1:\n%s\n%s", code, out, errOut)
				}
				mustContain(t, "push error", errOut, sc.want...)
				if tags := regTags(t, e.reg, repo); len(tags) != 0 {
					t.Errorf("a failed push left tags %v", tags)
				}
				t.Logf("error:\n%s", errOut)
			}
			if sc.check != nil {
				sc.check(t, recs)
			}
			if t.Failed() {
				t.Logf("stdout:\n%s\nrequests:\n%s", out, e.proxy.Dump())
			}
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-42s %8s %8s %8s %7s %7s %9s %8s  %s\n", "scenario", "requests", "retries", "client", "faults", "failed", "bytes in", "time", "outcome")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-42s %8d %8d %8d %7d %7d %9d %8s  %s\n", r.name, r.requests, r.retries, r.client, r.faults, r.failed, r.bytesIn, r.took.Round(time.Millisecond), r.outcome)
	}
	t.Logf("push through the fault proxy (image %s: %d blobs, layers 100 KiB and 1 MiB random; retries: 4 attempts, 20ms..100ms backoff; stall timeout 1s)\n"+
		"requests/retries/faults/failed/bytes in: as the proxy saw them; client: retries push reported\n%s", img.digest, len(img.layers)+1, b.String())
}

func shortD(d digest.Digest) string { return d.String()[:19] + "…" }

// TestPushMountAndCopy pushes an image whose base layers are not in the
// build: to the base's registry (cross-repository mount) and to a second
// registry (streamed registry to registry), and checks that the base
// layers went through the proxies but never to disk.
func TestPushMountAndCopy(t *testing.T) {
	e := startPushEnv(t)
	// A second registry, with its own CA and password, behind its own proxy.
	regB := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true, Htpasswd: true, Password: "second-" + pushPassword})
	proxyB := testenv.StartFaultProxy(t, regB.URL(), testenv.FaultProxyOptions{TLS: true, CA: regB.CA, UpstreamRootCAs: regB.CertPool()})
	dockerConfig(t, map[string][2]string{
		e.proxy.Addr(): {e.reg.Username, e.reg.Password},
		proxyB.Addr():  {regB.Username, regB.Password},
	})
	e.scan.add(regB.Username, regB.Password)
	ca := []string{"--ca-file", e.reg.CACertPath(), "--ca-file", regB.CACertPath()}

	// The base, pushed to registry A as base:1 with our own push.
	work := t.TempDir()
	base := buildPushImage(t, filepath.Join(work, "base"), "linux/amd64", 7)
	code, out, errOut := e.scan.cli(t, append(append([]string{"push", "--repository", e.proxy.Addr() + "/base", "--tag", "1"}, base.args...), ca...)...)
	if code != 0 {
		t.Fatalf("pushing the base: %s%s", out, errOut)
	}
	var baseBytes int64
	for _, p := range base.layers {
		st, _ := os.Stat(p)
		baseBytes += st.Size()
	}
	// The app: a shallow build on the base: only the base's manifest and
	// config are in the build, not its layers.
	app := buildPushImage(t, filepath.Join(work, "app"), "", 8, filepath.Join(base.dir, "manifest.json"), filepath.Join(base.dir, "config.json"))
	var appBytes int64
	for _, p := range app.layers {
		st, _ := os.Stat(p)
		appBytes += st.Size()
	}

	// Nothing may be written to disk but what the test expects: TMPDIR is
	// watched, and the build directory must not grow.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	before := storageSnapshot(t, work)

	t.Run("mount from the same registry", func(t *testing.T) {
		e.proxy.Reset()
		code, out, errOut := e.scan.cli(t, append(append([]string{"push", "--repository", e.proxy.Addr() + "/app", "--tag", "v1", "--source-repository", e.proxy.Addr() + "/base"}, app.args...), ca...)...)
		if code != 0 {
			t.Fatalf("push: %s%s", out, errOut)
		}
		mustContain(t, "output", out, "mounted sha256:", "from "+e.proxy.Addr()+"/base", ", 2 mounted)")
		st := e.proxy.Stats()
		mounts := 0
		for _, r := range e.proxy.Requests() {
			if r.Method == "POST" && strings.Contains(r.Query, "mount=") && r.Status == http.StatusCreated {
				mounts++
			}
		}
		if mounts != 2 {
			t.Errorf("%d mounts answered 201, want 2 (the base layers):\n%s", mounts, e.proxy.Dump())
		}
		// Only the app's layers, config and manifest went up; the base
		// layers stayed registry-side.
		if st.BytesIn > appBytes+(16<<10) || st.BytesOut > 64<<10 {
			t.Errorf("the push sent %d bytes and received %d (app layers: %d bytes, base layers: %d)", st.BytesIn, st.BytesOut, appBytes, baseBytes)
		}
		pullBack(t, e.reg, "app", app.digest)
		t.Logf("mount: %s\n%s", st, out)
	})

	t.Run("copy from another registry", func(t *testing.T) {
		e.proxy.Reset()
		proxyB.Reset()
		// The first GET of a base layer from the source is cut off midway:
		// the stream resumes with a Range request.
		e.proxy.AddFault(testenv.Fault{Method: "GET", Path: `/blobs/sha256:`, Times: 1, Action: testenv.TruncateResponseAfter(40 << 10)})
		code, out, errOut := e.scan.cli(t, append(append([]string{"push", "--repository", proxyB.Addr() + "/app", "--tag", "v1", "--source-repository", e.proxy.Addr() + "/base"}, app.args...), ca...)...)
		if code != 0 {
			t.Fatalf("push: %s%s\n%s", out, errOut, e.proxy.Dump())
		}
		mustContain(t, "output", out, "copied sha256:", "from "+e.proxy.Addr()+"/base", "2 copied registry-to-registry: 1.2 MB")
		src := e.proxy.Stats()
		dst := proxyB.Stats()
		var ranged int
		for _, r := range e.proxy.Requests() {
			if r.Method == "GET" && strings.Contains(r.Path, "/blobs/") {
				ranged++
			}
		}
		// Every byte of the base layers came down from A once (plus the
		// cut-off part) and went up to B; nothing was written locally.
		// Resumed, not restarted: no byte came down twice.
		if src.BytesOut < baseBytes || src.BytesOut > baseBytes+(8<<10) {
			t.Errorf("the source proxy sent %d bytes; the base layers are %d", src.BytesOut, baseBytes)
		}
		if dst.BytesIn < baseBytes {
			t.Errorf("the destination proxy received %d bytes; the base layers are %d", dst.BytesIn, baseBytes)
		}
		if ranged < 3 {
			t.Errorf("%d blob GETs from the source: want 3 (2 layers, one resumed)", ranged)
		}
		pullBack(t, regB, "app", app.digest)
		t.Logf("registry-to-registry: source proxy %s; destination proxy %s\n%s", src, dst, out)
	})

	t.Run("base layer nowhere", func(t *testing.T) {
		code, _, errOut := e.scan.cli(t, append(append([]string{"push", "--repository", e.proxy.Addr() + "/app2"}, app.args...), ca...)...)
		if code != 1 {
			t.Fatalf("exit %d", code)
		}
		mustContain(t, "error", errOut, " of linux/amd64 sha256:", "is not in the build, and no --source-repository was given")
		code, _, errOut = e.scan.cli(t, append(append([]string{"push", "--repository", e.proxy.Addr() + "/app2", "--source-repository", e.proxy.Addr() + "/nothing-here"}, app.args...), ca...)...)
		if code != 1 {
			t.Fatalf("exit %d", code)
		}
		mustContain(t, "error", errOut, "no source repository has it", "/nothing-here")
		if tags := regTags(t, e.reg, "app2"); len(tags) != 0 {
			t.Errorf("tags %v", tags)
		}
		t.Logf("error:\n%s", errOut)
	})

	if after := storageSnapshot(t, work); after != before {
		t.Errorf("the build directory changed during the pushes")
	}
	if names := dirEntries(t, tmp); len(names) != 0 {
		t.Errorf("files written to TMPDIR: %v", names)
	}
}

// TestPushCredentials: missing and wrong credentials fail clearly, and no
// output ever holds the password or its base64 form.
func TestPushCredentials(t *testing.T) {
	e := startPushEnv(t)
	img := buildPushImage(t, filepath.Join(t.TempDir(), "img"), "linux/amd64", 3)
	wrong := "wrong-" + pushPassword
	e.scan.add(e.reg.Username, wrong)

	dockerConfig(t, map[string][2]string{})
	code, _, errOut := e.push(t, "creds/app", img, "--tag", "latest")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	mustContain(t, "missing credentials", errOut, "authentication failed: no credentials for "+e.proxy.Addr()+" were found in the Docker config", "docker login "+e.proxy.Addr())
	t.Logf("missing credentials:\n%s", errOut)

	dockerConfig(t, map[string][2]string{e.proxy.Addr(): {e.reg.Username, wrong}})
	code, _, errOut = e.push(t, "creds/app", img, "--tag", "latest")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	mustContain(t, "wrong credentials", errOut, "authentication failed: the registry rejected the credentials for "+e.proxy.Addr(), "docker login")
	t.Logf("wrong credentials:\n%s", errOut)
	code, out, errOut := e.push(t, "creds/app", img, "--dry-run")
	if code != 1 {
		t.Fatalf("dry run with wrong credentials: exit %d\n%s", code, out)
	}
	e.scan.check(t, "dry run", out, errOut)

	// Without the CA: TLS verification fails, and says what to do.
	t.Setenv("SSL_CERT_FILE", "/nonexistent")
	code, _, errOut = e.scan.cli(t, append([]string{"push", "--repository", e.proxy.Addr() + "/creds/app"}, img.args...)...)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	mustContain(t, "no CA", errOut, "cannot verify the TLS certificate of "+e.proxy.Addr(), "pass --ca-file CA.pem or set SSL_CERT_FILE")
	t.Logf("no CA:\n%s", errOut)

	// A credential in the repository itself is refused without echoing it.
	code, _, errOut = e.scan.cli(t, append([]string{"push", "--repository", e.reg.Username + ":" + e.reg.Password + "@" + e.proxy.Addr() + "/app"}, img.args...)...)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	mustContain(t, "credential in the repository", errOut, "[REDACTED]@"+e.proxy.Addr()+"/app", "docker login")

	// The good credentials, with verbose output of every kind.
	dockerConfig(t, map[string][2]string{e.proxy.Addr(): {e.reg.Username, e.reg.Password}})
	e.proxy.AddFault(testenv.Fault{Method: "PUT", Path: `/blobs/uploads/`, Times: 1, Action: testenv.RespondStatus(500)})
	for _, mode := range []string{"plain", "tty"} {
		code, out, errOut = e.push(t, "creds/app", img, "--tag", "latest", "--progress", mode, "--insecure")
		if code != 0 {
			t.Fatalf("push: %s%s", out, errOut)
		}
	}
	if tags := regTags(t, e.reg, "creds/app"); len(tags) != 1 {
		t.Errorf("tags %v", tags)
	}
}

// TestPushDryRun: a dry run prints the plan and sends only GET and HEAD
// requests; the registry's storage does not change.
func TestPushDryRun(t *testing.T) {
	e := startPushEnv(t)
	idx, imgs := buildPushIndex(t, filepath.Join(t.TempDir(), "idx"), 11)
	// The registry already has the amd64 image as :old and the index's
	// tag :v1 points at it.
	amd := imgs["linux/amd64"]
	if code, out, errOut := e.push(t, "dry/app", amd, "--tag", "v1"); code != 0 {
		t.Fatalf("%s%s", out, errOut)
	}
	before := storageSnapshot(t, e.reg.StorageDir())
	e.proxy.Reset()
	code, out, errOut := e.push(t, "dry/app", idx, "--tag", "v1", "--tag", "v2", "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("dry run output:\n%s", out)
	mustContain(t, "dry run", out,
		"dry run: push "+idx.digest.String()+" to "+e.proxy.Addr()+"/dry/app (only read-only requests are sent)",
		"blobs (6, ", "config of linux/amd64", "exists", "config of linux/arm64", "upload (one PUT)", "upload (streamed PATCH, then PUT)",
		"manifests (3, children first):", "linux/amd64            put (already there)", "linux/arm64            put\n", "index                  put\n",
		e.proxy.Addr()+"/dry/app:v1 moves from "+shortD(amd.digest)+" to "+shortD(idx.digest),
		e.proxy.Addr()+"/dry/app:v2 new",
		"dry run: would upload 3 blobs (1.2 MB) and leave 3 that exist; put 3 manifests and 2 tags; nothing was sent")
	for _, r := range e.proxy.Requests() {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			t.Errorf("a dry run sent %s %s", r.Method, r.Path)
		}
	}
	if after := storageSnapshot(t, e.reg.StorageDir()); after != before {
		t.Errorf("the registry's storage changed during a dry run")
	}
	if got, _ := regTag(t, e.reg, "dry/app", "v1"); got != amd.digest {
		t.Errorf("v1 moved to %s", got)
	}
	t.Logf("dry run requests: %s", e.proxy.Stats())

	// The real push then does what the dry run said.
	code, out, errOut = e.push(t, "dry/app", idx, "--tag", "v1", "--tag", "v2")
	if code != 0 {
		t.Fatalf("%s%s", out, errOut)
	}
	mustContain(t, "push", out, "3 pushed: 1.2 MB", "3 existed", "manifest "+shortD(imgs["linux/arm64"].digest)+" linux/arm64\nmanifest "+shortD(idx.digest)+" index")
	for _, tag := range []string{"v1", "v2"} {
		if got, _ := regTag(t, e.reg, "dry/app", tag); got != idx.digest {
			t.Errorf("%s: %s", tag, got)
		}
	}
	pullBack(t, e.reg, "dry/app", idx.digest)

	// A dry run that finds a base layer nowhere says so and fails.
	app := buildPushImage(t, filepath.Join(t.TempDir(), "app"), "", 12, filepath.Join(amd.dir, "manifest.json"), filepath.Join(amd.dir, "config.json"))
	code, out, errOut = e.push(t, "dry/other", app, "--dry-run", "--source-repository", e.proxy.Addr()+"/dry/app")
	if code != 0 {
		t.Fatalf("%s%s", out, errOut)
	}
	mustContain(t, "dry run with a source", out, "mount from "+e.proxy.Addr()+"/dry/app")
	code, out, errOut = e.push(t, "dry/other", app, "--dry-run")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	mustContain(t, "dry run without a source", out, "MISSING: not in the build, and no source repository given")
	mustContain(t, "dry run without a source", errOut, "dry run: 2 blobs are neither in the build nor in any source repository")
}

// TestPushStampAndProgress: {KEY} from the workspace status, errors for
// unknown keys, the live progress view and the --insecure warning.
func TestPushStampAndProgress(t *testing.T) {
	e := startPushEnv(t)
	img := buildPushImage(t, filepath.Join(t.TempDir(), "img"), "linux/amd64", 5)
	status := filepath.Join(t.TempDir(), "stable-status.txt")
	writeFile(t, status, "BUILD_USER ci\nSTABLE_GIT_COMMIT 0123abcd\nSTABLE_TEAM infra\n", 0o644)

	code, out, errOut := e.push(t, "{STABLE_TEAM}/app", img, "--tag", "git-{STABLE_GIT_COMMIT}", "--tag", "latest", "--stamp-file", status)
	if code != 0 {
		t.Fatalf("%s%s", out, errOut)
	}
	for _, tag := range []string{"git-0123abcd", "latest"} {
		if got, ok := regTag(t, e.reg, "infra/app", tag); !ok || got != img.digest {
			t.Errorf("infra/app:%s: %s %v", tag, got, ok)
		}
	}
	mustContain(t, "stamped push", out, e.proxy.Addr()+"/infra/app:git-0123abcd\n")

	code, _, errOut = e.push(t, "app", img, "--tag", "{STABLE_NOPE}", "--stamp-file", status)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	mustContain(t, "unknown key", errOut, `--tag "{STABLE_NOPE}": the workspace status has no key STABLE_NOPE (it has: BUILD_USER, STABLE_GIT_COMMIT, STABLE_TEAM)`)
	code, _, errOut = e.push(t, "app", img, "--tag", "{STABLE_GIT_COMMIT}")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	mustContain(t, "no stamp file", errOut, "uses the stamp variable {STABLE_GIT_COMMIT}, but no workspace status was given: build with --stamp")
	code, _, errOut = e.push(t, "app", img, "--tag", "bad tag!")
	if code != 2 {
		t.Fatalf("exit %d", code)
	}
	mustContain(t, "bad tag", errOut, `invalid tag "bad tag!"`)

	// The live view redraws in place and shows rates and the total.
	var warn bytes.Buffer
	old := pullWarnings
	pullWarnings = &warn
	defer func() { pullWarnings = old }()
	code, out, errOut = e.push(t, "tty/app", img, "--tag", "latest", "--progress", "tty", "--insecure")
	if code != 0 {
		t.Fatalf("%s%s", out, errOut)
	}
	mustContain(t, "tty progress", out, "\x1b[", "pushed sha256:", "/s)", "verified ")
	mustContain(t, "--insecure", warn.String(), "warning: --insecure")
	t.Logf("tty output (escapes shown):\n%q", out)
}
