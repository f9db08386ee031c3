// Package testenv runs real components for this module's tests: Debian's
// docker-registry (distribution 2.8) on 127.0.0.1 with optional TLS and
// htpasswd auth (StartRegistry), and a fault-injecting HTTP(S) reverse proxy
// to put in front of it (StartFaultProxy).
//
// It is for tests only (only _test.go files may import it; a test checks
// that): everything here takes a testing.TB, stops what it started in
// t.Cleanup, and skips the test when a required program is not installed,
// unless REPRO_REQUIRE_E2E=1 is set (as CI does), in which case the test
// fails instead. InstallHint says what to install.
//
// A push test that must survive a registry hiccup:
//
//	reg := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true, Htpasswd: true})
//	proxy := testenv.StartFaultProxy(t, reg.URL(), testenv.FaultProxyOptions{
//		TLS: true, CA: reg.CA, UpstreamRootCAs: reg.CertPool(),
//	})
//	// The first large monolithic blob PUT is cut off after 1 MiB, the
//	// first manifest PUT gets a 503.
//	proxy.AddFault(testenv.Fault{Method: "PUT", Path: `/blobs/uploads/`, MinBodySize: 4 << 20, Times: 1,
//		Action: testenv.DropRequestAfter(1 << 20)})
//	proxy.AddFault(testenv.Fault{Method: "PUT", Path: `/manifests/`, Times: 1,
//		Action: testenv.RespondStatus(503)})
//	// ... push to proxy.Addr() with reg.Username/reg.Password, trusting
//	// reg.CACertPath() (one CA issued both certificates) ...
//	t.Log(proxy.Stats()) // "9 requests, 2 retries, 2 faults, ..."
//	// Registry down, then back on the same port and storage:
//	if err := reg.Stop(); err != nil { t.Fatal(err) }
//	// ... expect the push to fail cleanly or work from a cache ...
//	if err := reg.Start(); err != nil { t.Fatal(err) }
package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// RequireEnv is the environment variable that turns "program not installed"
// skips into failures when set to 1.
const RequireEnv = "REPRO_REQUIRE_E2E"

// aptPackages are the Debian packages the real-component tests and
// e2e/lib/services.sh use.
var aptPackages = []string{"docker-registry", "nginx", "curl", "openssl"}

// InstallHint returns the command that installs the Debian packages these
// helpers (and e2e/lib/services.sh) need: docker-registry for the registry
// (its htpasswd entries come from golang.org/x/crypto/bcrypt, in
// registryconf), nginx for the Bazel remote cache, curl and openssl for the
// shell helpers.
func InstallHint() string {
	return "apt-get update && apt-get install -y " + strings.Join(aptPackages, " ")
}

// requireProgram returns the path of an executable named name, looked up on
// PATH and then in the given fallback locations. When it is missing the test
// is skipped, or fails when RequireEnv=1.
func requireProgram(t testing.TB, name string, fallbacks ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range fallbacks {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	where := "on PATH"
	if len(fallbacks) > 0 {
		where += " nor at " + strings.Join(fallbacks, ", ")
	}
	msg := fmt.Sprintf("testenv: %s is not installed (not %s); install with: %s", name, where, InstallHint())
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (%s=1 makes this a failure instead of a skip)", msg, RequireEnv)
		return ""
	}
	t.Skip(msg)
	return ""
}

// freePort asks the kernel for a free TCP port on 127.0.0.1. The port is free
// when this returns but nothing reserves it; callers that hand it to another
// process retry on "address already in use".
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port on 127.0.0.1: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailFile returns the last n lines of the file at path, or a note saying why
// it could not be read.
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "(no log file " + path + ")"
		}
		return fmt.Sprintf("(reading %s: %v)", path, err)
	}
	data = bytes.TrimRight(data, "\n")
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
