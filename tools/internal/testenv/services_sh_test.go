package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestServicesShell runs e2e/lib/services_test.sh: the e2e scripts' registry
// and nginx cache, started by shell with the configuration that
// registryconf writes for the Go tests too.
func TestServicesShell(t *testing.T) {
	if testing.Short() {
		t.Skip("starts docker-registry and nginx")
	}
	requireProgram(t, "docker-registry", "/usr/bin/docker-registry")
	requireProgram(t, "nginx", "/usr/sbin/nginx")
	script, err := filepath.Abs("../../../e2e/lib/services_test.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script)
	// The script builds registryconf with the go that runs this test.
	cmd.Env = append(os.Environ(), "PATH="+filepath.Join(runtime.GOROOT(), "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	t.Logf("%s", out)
}
