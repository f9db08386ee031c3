package testenv

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rules-repro/rules_repro/tools/internal/registryconf"
)

// RegistryOptions configures StartRegistry. The zero value is a plain-HTTP
// registry without authentication and without blob/manifest deletion.
type RegistryOptions struct {
	// TLS serves HTTPS with a certificate for 127.0.0.1/localhost issued by
	// a fresh test CA (Registry.CA). The default is plain HTTP.
	TLS bool
	// Htpasswd turns on basic authentication (auth.htpasswd) for Username
	// and Password. The default is no authentication.
	Htpasswd bool
	// Username for Htpasswd. The default is "repro".
	Username string
	// Password for Htpasswd. The default is a random string.
	Password string
	// DeleteEnabled sets storage.delete.enabled, which the registry needs
	// to answer DELETE. The default is false (DELETE gets 405).
	DeleteEnabled bool
	// StartTimeout bounds each start until /v2/ answers. The default is 20s.
	StartTimeout time.Duration
}

// Registry is a docker-registry process started by StartRegistry. It keeps
// its port, configuration and storage across Stop and Start.
type Registry struct {
	// Username and Password are the credentials accepted with
	// RegistryOptions.Htpasswd; both are empty otherwise.
	Username, Password string
	// CA issued the registry's certificate; nil without RegistryOptions.TLS.
	CA *CA

	opts                                  RegistryOptions
	bin                                   string
	dir, storage, config, logPath, htpath string
	secret                                string
	port                                  int

	mu         sync.Mutex
	proc       *registryProcess
	client     *http.Client
	authClient *http.Client
}

type registryProcess struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // cmd.Wait's result, valid after done is closed
}

// errAddrInUse means the chosen port was taken before the registry bound it.
var errAddrInUse = errors.New("address already in use")

// StartRegistry starts /usr/bin/docker-registry on a free port of 127.0.0.1
// with a generated configuration under t.TempDir(), waits until GET /v2/
// answers, and stops it in t.Cleanup. When the test has failed, the cleanup
// logs the tail of the registry's log. It skips the test when docker-registry
// is not installed, or fails it when REPRO_REQUIRE_E2E=1.
func StartRegistry(t testing.TB, opts RegistryOptions) *Registry {
	t.Helper()
	bin := requireProgram(t, "docker-registry", "/usr/bin/docker-registry")
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 20 * time.Second
	}
	dir := t.TempDir()
	r := &Registry{
		opts:    opts,
		bin:     bin,
		dir:     dir,
		storage: filepath.Join(dir, "storage"),
		config:  filepath.Join(dir, "config.yml"),
		logPath: filepath.Join(dir, "registry.log"),
		secret:  randomHex(16),
	}
	if err := os.MkdirAll(r.storage, 0o755); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if opts.TLS {
		ca, err := newCA(dir)
		if err != nil {
			t.Fatalf("testenv: creating the registry's test CA: %v", err)
		}
		r.CA = ca
	}
	if opts.Htpasswd {
		r.Username, r.Password = opts.Username, opts.Password
		if r.Username == "" {
			r.Username = "repro"
		}
		if r.Password == "" {
			r.Password = randomHex(12)
		}
		line, err := registryconf.HtpasswdLine(r.Username, r.Password)
		if err != nil {
			t.Fatalf("testenv: writing htpasswd entry: %v", err)
		}
		r.htpath = filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(r.htpath, []byte(line+"\n"), 0o600); err != nil {
			t.Fatalf("testenv: %v", err)
		}
	}
	r.client = newClient(r.CertPool())
	r.authClient = &http.Client{
		Transport: basicAuthTransport{user: r.Username, password: r.Password, next: r.client.Transport},
		Timeout:   r.client.Timeout,
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testenv: docker-registry at %s, log %s, last lines:\n%s", r.Addr(), r.logPath, r.LogTail(40))
		}
		if err := r.Stop(); err != nil {
			t.Errorf("testenv: stopping docker-registry: %v", err)
		}
	})

	// The port is free when chosen but not reserved: retry a few times if
	// another process takes it first.
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if r.port, err = freePort(); err != nil {
			break
		}
		if err = r.writeConfig(); err != nil {
			break
		}
		if err = r.Start(); !errors.Is(err, errAddrInUse) {
			break
		}
	}
	if err != nil {
		t.Fatalf("testenv: starting docker-registry: %v", err)
	}
	return r
}

// Addr returns "127.0.0.1:PORT".
func (r *Registry) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// Scheme returns "https" with RegistryOptions.TLS, else "http".
func (r *Registry) Scheme() string {
	if r.CA != nil {
		return "https"
	}
	return "http"
}

// URL returns the registry's base URL, such as "http://127.0.0.1:PORT".
func (r *Registry) URL() string { return r.Scheme() + "://" + r.Addr() }

// CACertPath returns the PEM file of the CA that the registry's certificate
// chains to, or "" without TLS.
func (r *Registry) CACertPath() string {
	if r.CA == nil {
		return ""
	}
	return r.CA.CertPath
}

// CertPool returns a pool holding only the test CA, or nil (the system
// roots) without TLS.
func (r *Registry) CertPool() *x509.CertPool {
	if r.CA == nil {
		return nil
	}
	return r.CA.Pool
}

// Client returns an HTTP client that trusts the registry's CA and ignores
// proxy environment variables. It sends no credentials. It is shared: Stop
// closes its idle connections.
func (r *Registry) Client() *http.Client { return r.client }

// AuthClient is Client plus basic authentication with Username and Password
// on every request that has no Authorization header (on any host, so it
// also works through a FaultProxy).
func (r *Registry) AuthClient() *http.Client { return r.authClient }

// Dir returns the registry's temporary directory (configuration, log,
// htpasswd, certificates and storage).
func (r *Registry) Dir() string { return r.dir }

// StorageDir returns the filesystem storage root.
func (r *Registry) StorageDir() string { return r.storage }

// ConfigPath returns the generated configuration file.
func (r *Registry) ConfigPath() string { return r.config }

// LogPath returns the file that collects the registry's stdout and stderr
// across restarts.
func (r *Registry) LogPath() string { return r.logPath }

// LogTail returns the last n lines of the registry's log.
func (r *Registry) LogTail(n int) string { return tailFile(r.logPath, n) }

// Running reports whether the registry process is up.
func (r *Registry) Running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc == nil {
		return false
	}
	select {
	case <-r.proc.done:
		return false
	default:
		return true
	}
}

// Start starts the registry again after Stop or Kill, on the same port with
// the same configuration and storage, and waits until /v2/ answers. The
// error names the cause and includes the log tail.
func (r *Registry) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc != nil {
		select {
		case <-r.proc.done:
		default:
			return fmt.Errorf("docker-registry is already running at %s", r.Addr())
		}
	}
	logFile, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logFile, "=== testenv: %s serve %s (listening on %s) at %s\n", r.bin, r.config, r.Addr(), time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(r.bin, "serve", r.config)
	cmd.Dir = r.dir
	cmd.Env = registryEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("running %s: %w", r.bin, err)
	}
	p := &registryProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	r.proc = p
	if err := r.waitReady(p); err != nil {
		stopProcess(p)
		return err
	}
	return nil
}

// waitReady polls GET /v2/ until the registry answers 200 or 401.
func (r *Registry) waitReady(p *registryProcess) error {
	probe := newClient(r.CertPool())
	probe.Timeout = 2 * time.Second
	probe.Transport.(*http.Transport).DisableKeepAlives = true
	deadline := time.Now().Add(r.opts.StartTimeout)
	var lastErr error
	for {
		select {
		case <-p.done:
			tail := r.LogTail(30)
			if strings.Contains(tail, "address already in use") {
				return fmt.Errorf("%s: %w", r.Addr(), errAddrInUse)
			}
			return fmt.Errorf("docker-registry exited during start (%v); config %s; log %s ends with:\n%s", p.err, r.config, r.logPath, tail)
		default:
		}
		resp, err := probe.Get(r.URL() + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
			err = fmt.Errorf("GET /v2/: %s", resp.Status)
		}
		lastErr = err
		if time.Now().After(deadline) {
			return fmt.Errorf("docker-registry did not answer %s/v2/ within %v (last error: %v); log %s ends with:\n%s",
				r.URL(), r.opts.StartTimeout, lastErr, r.logPath, r.LogTail(30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the registry (SIGTERM, then SIGKILL after 5s) and waits for it
// to exit. Storage and configuration stay for Start. Stopping a stopped
// registry does nothing.
func (r *Registry) Stop() error { return r.halt(false) }

// Kill stops the registry abruptly with SIGKILL, as a crash would.
func (r *Registry) Kill() error { return r.halt(true) }

func (r *Registry) halt(kill bool) error {
	r.mu.Lock()
	p := r.proc
	r.mu.Unlock()
	if p == nil {
		return nil
	}
	if kill {
		_ = p.cmd.Process.Kill()
		<-p.done
	} else {
		stopProcess(p)
	}
	r.client.Transport.(*http.Transport).CloseIdleConnections()
	return nil
}

// Restart is Stop followed by Start.
func (r *Registry) Restart() error {
	if err := r.Stop(); err != nil {
		return err
	}
	return r.Start()
}

func stopProcess(p *registryProcess) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// registryEnv is the test's environment without REGISTRY_* variables, which
// docker-registry would read as configuration overrides.
func registryEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REGISTRY_") {
			env = append(env, kv)
		}
	}
	return env
}

// writeConfig writes the registry's configuration for the current port,
// with the same code as the e2e scripts' registry (registryconf).
func (r *Registry) writeConfig() error {
	c := registryconf.Config{
		Addr:     r.Addr(),
		Storage:  r.storage,
		Secret:   r.secret,
		Delete:   r.opts.DeleteEnabled,
		Htpasswd: r.htpath,
		Service:  "testenv-registry",
	}
	if r.CA != nil {
		sc, err := r.CA.IssueServerCert("registry")
		if err != nil {
			return err
		}
		c.TLSCert, c.TLSKey = sc.CertPath, sc.KeyPath
	}
	yaml, err := c.YAML()
	if err != nil {
		return err
	}
	return os.WriteFile(r.config, yaml, 0o644)
}

type basicAuthTransport struct {
	user, password string
	next           http.RoundTripper
}

func (t basicAuthTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.user == "" || req.Header.Get("Authorization") != "" {
		return t.next.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	req.SetBasicAuth(t.user, t.password)
	return t.next.RoundTrip(req)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// sleepCtx sleeps for d or until ctx ends, and reports whether it slept the
// whole time.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
