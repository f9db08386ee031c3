package testenv

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestRegistryPlainPushPullRestart(t *testing.T) {
	reg := StartRegistry(t, RegistryOptions{})
	if !strings.HasPrefix(reg.URL(), "http://127.0.0.1:") || reg.CACertPath() != "" || reg.CertPool() != nil {
		t.Fatalf("plain registry: URL %q, CA %q", reg.URL(), reg.CACertPath())
	}
	d := distClient{base: reg.URL(), client: reg.Client()}
	img := newTestImage(t, 4096)

	digest, err := d.pushImage("test/plain", "v1", img, false)
	if err != nil {
		t.Fatal(err)
	}
	if digest != digestOf(img.manifest) {
		t.Errorf("registry says manifest digest %s, want %s", digest, digestOf(img.manifest))
	}
	if err := d.pullAndCheck("test/plain", "v1", img); err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(reg.StorageDir(), "docker", "registry", "v2", "repositories", "test", "plain")
	if _, err := os.Stat(repoDir); err != nil {
		t.Errorf("storage dir has no repository: %v", err)
	}

	// Deletion is off by default.
	resp, err := d.do("delete", http.MethodDelete, reg.URL()+"/v2/test/plain/manifests/"+digest, nil, 0, nil, http.StatusMethodNotAllowed)
	if err != nil {
		t.Errorf("DELETE without delete.enabled: %v", err)
	} else {
		resp.Body.Close()
	}

	// Down: connections are refused.
	if err := reg.Stop(); err != nil {
		t.Fatal(err)
	}
	if reg.Running() {
		t.Fatal("Running() after Stop")
	}
	if _, err := d.getManifest("test/plain", "v1"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("GET while stopped: got %v, want connection refused", err)
	}
	if err := reg.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}

	// Up again on the same port and storage: the image is still there.
	addr := reg.Addr()
	if err := reg.Start(); err != nil {
		t.Fatal(err)
	}
	if reg.Addr() != addr || !reg.Running() {
		t.Fatalf("after Start: addr %s (was %s), running %v", reg.Addr(), addr, reg.Running())
	}
	if err := reg.Start(); err == nil {
		t.Error("Start on a running registry did not fail")
	}
	if err := d.pullAndCheck("test/plain", "v1", img); err != nil {
		t.Fatalf("after restart: %v", err)
	}

	// A crash (SIGKILL) loses nothing either.
	if err := reg.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := reg.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := d.pullAndCheck("test/plain", "v1", img); err != nil {
		t.Fatalf("after kill and restart: %v", err)
	}
	if !strings.Contains(reg.LogTail(200), "GET /v2/test/plain/manifests/v1") {
		t.Errorf("registry log has no access log line for the pull:\n%s", reg.LogTail(20))
	}
}

func TestRegistryTLSHtpasswd(t *testing.T) {
	reg := StartRegistry(t, RegistryOptions{TLS: true, Htpasswd: true, Password: "s3cret pass", DeleteEnabled: true})
	if !strings.HasPrefix(reg.URL(), "https://127.0.0.1:") || reg.Username != "repro" || reg.Password != "s3cret pass" {
		t.Fatalf("URL %q user %q password %q", reg.URL(), reg.Username, reg.Password)
	}
	pem, err := os.ReadFile(reg.CACertPath())
	if err != nil || !strings.HasPrefix(string(pem), "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("CA file %s: %v", reg.CACertPath(), err)
	}

	// No credentials: 401 with a Basic challenge.
	resp, err := reg.Client().Get(reg.URL() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("Www-Authenticate"), "Basic realm=") {
		t.Fatalf("GET /v2/ without credentials: %s, WWW-Authenticate %q", resp.Status, resp.Header.Get("Www-Authenticate"))
	}
	// Wrong password: 401.
	req, _ := http.NewRequest(http.MethodGet, reg.URL()+"/v2/", nil)
	req.SetBasicAuth(reg.Username, "wrong")
	if resp, err = reg.Client().Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %s", resp.Status)
	}
	// A client that does not trust the test CA fails the handshake.
	if _, err := newClient(nil).Get(reg.URL() + "/v2/"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("client without the CA: got %v, want a certificate error", err)
	}

	d := distClient{base: reg.URL(), client: reg.AuthClient()}
	img := newTestImage(t, 2048)
	digest, err := d.pushImage("test/secure", "v1", img, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.pullAndCheck("test/secure", "v1", img); err != nil {
		t.Fatal(err)
	}
	if err := reg.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := d.pullAndCheck("test/secure", "v1", img); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	// delete.enabled: the manifest can be deleted.
	if resp, err = d.do("delete", http.MethodDelete, reg.URL()+"/v2/test/secure/manifests/"+digest, nil, 0, nil, http.StatusAccepted); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := d.getManifest("test/secure", "v1"); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("GET after DELETE: %v, want 404", err)
	}
}

// fakeTB records Skip and Fatal instead of stopping the goroutine.
type fakeTB struct {
	testing.TB
	skipped, fatal string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Skip(args ...any)               { f.skipped = fmt.Sprint(args...) }
func (f *fakeTB) Fatalf(format string, a ...any) { f.fatal = fmt.Sprintf(format, a...) }

func TestRequireProgramSkipsOrFails(t *testing.T) {
	t.Setenv(RequireEnv, "")
	f := &fakeTB{TB: t}
	if p := requireProgram(f, "no-such-program-testenv", "/nonexistent/x"); p != "" || f.fatal != "" {
		t.Fatalf("got path %q, fatal %q", p, f.fatal)
	}
	if !strings.Contains(f.skipped, "no-such-program-testenv is not installed") || !strings.Contains(f.skipped, InstallHint()) {
		t.Errorf("skip message %q", f.skipped)
	}

	t.Setenv(RequireEnv, "1")
	f = &fakeTB{TB: t}
	requireProgram(f, "no-such-program-testenv")
	if f.skipped != "" || !strings.Contains(f.fatal, RequireEnv+"=1") {
		t.Errorf("with %s=1: skipped %q, fatal %q", RequireEnv, f.skipped, f.fatal)
	}

	if p := requireProgram(t, "sh"); p == "" {
		t.Error("sh not found")
	}
	if !strings.Contains(InstallHint(), "docker-registry") || !strings.Contains(InstallHint(), "nginx") {
		t.Errorf("InstallHint() = %q", InstallHint())
	}
}
