package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/rules-repro/rules_repro/tools/internal/testenv"
)

// podmanImage removes an image loaded by the test when it ends.
func podmanCleanup(t *testing.T, podman string, ids ...digest.Digest) {
	t.Cleanup(func() {
		for _, id := range ids {
			exec.Command(podman, "rmi", "-f", id.Encoded()).Run()
		}
	})
}

func podmanID(t *testing.T, podman, ref string) string {
	t.Helper()
	out, err := exec.Command(podman, "image", "inspect", "--format", "{{.Id}}", ref).CombinedOutput()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// TestLoadPodman loads images built in the test into podman (whose `load`
// works in this sandbox; `run` does not) and checks the image ID and tags.
func TestLoadPodman(t *testing.T) {
	podman := requireTool(t, "podman")
	publishSeams(t)
	work := t.TempDir()
	run := fmt.Sprint(time.Now().UnixNano())
	img := buildPushImage(t, filepath.Join(work, "img"), "linux/amd64", 21)
	idx, imgs := buildPushIndex(t, filepath.Join(work, "idx"), 22)
	podmanCleanup(t, podman, img.config, imgs["linux/amd64"].config, imgs["linux/arm64"].config)

	t.Run("image", func(t *testing.T) {
		tag := "localhost/repro-test/app:" + run
		out := mustCLI(t, append([]string{"load", "--engine", "podman", "--tag", tag, "--tag", "localhost/repro-test/app-latest-" + run}, img.args...)...)
		t.Logf("load output:\n%s", out)
		mustContain(t, "load output", out, "loading "+img.digest.String(), "into podman (--engine podman)",
			"image ID "+img.config.String(), "tagged "+tag, "tagged localhost/repro-test/app-latest-"+run+":latest")
		if got := podmanID(t, podman, tag); got != img.config.Encoded() {
			t.Errorf("podman image inspect %s: ID %q, want %s", tag, got, img.config.Encoded())
		}
		if got := podmanID(t, podman, "localhost/repro-test/app-latest-"+run+":latest"); got != img.config.Encoded() {
			t.Errorf("second tag: ID %q", got)
		}
	})

	t.Run("auto picks podman and says why", func(t *testing.T) {
		if exec.Command("docker", "info").Run() == nil {
			t.Skip("a docker daemon answers here; auto would pick docker")
		}
		out := mustCLI(t, append([]string{"load"}, img.args...)...)
		mustContain(t, "auto", out, "into podman (", "image ID "+img.config.String())
		t.Logf("auto:\n%s", out)
	})

	t.Run("index picks the platform", func(t *testing.T) {
		tag := "localhost/repro-test/idx:" + run
		out := mustCLI(t, append([]string{"load", "--engine", "podman", "--platform", "linux/arm64", "--tag", tag}, idx.args...)...)
		arm := imgs["linux/arm64"]
		mustContain(t, "index load", out, "loaded "+arm.digest.String()+" for linux/arm64 into podman", "image ID "+arm.config.String())
		if got := podmanID(t, podman, tag); got != arm.config.Encoded() {
			t.Errorf("%s: ID %q, want the arm64 config %s", tag, got, arm.config.Encoded())
		}
		// Without --platform: this machine's.
		here, ok := imgs[runtime.GOOS+"/"+runtime.GOARCH]
		if !ok {
			t.Skipf("the index has no image for %s/%s", runtime.GOOS, runtime.GOARCH)
		}
		out = mustCLI(t, append([]string{"load", "--engine", "podman"}, idx.args...)...)
		mustContain(t, "index load", out, "image ID "+here.config.String())
		code, _, errOut := runCLI(t, append([]string{"load", "--engine", "podman", "--platform", "linux/s390x"}, idx.args...)...)
		if code != 1 {
			t.Fatalf("exit %d", code)
		}
		mustContain(t, "missing platform", errOut, "has no image for linux/s390x (it has linux/amd64, linux/arm64)")
	})

	t.Run("corrupt layer loads nothing", func(t *testing.T) {
		bad := buildPushImage(t, filepath.Join(work, "bad"), "linux/amd64", 23)
		podmanCleanup(t, podman, bad.config)
		for _, p := range bad.layers {
			data := readBytes(t, p)
			data[len(data)/2] ^= 0xff
			os.WriteFile(p, data, 0o644)
			break
		}
		code, _, errOut := runCLI(t, append([]string{"load", "--engine", "podman", "--tag", "localhost/repro-test/bad:" + run}, bad.args...)...)
		if code != 1 {
			t.Fatalf("exit %d", code)
		}
		mustContain(t, "corrupt layer", errOut, "writing the archive for podman load: blob from ", "has digest sha256:")
		if id := podmanID(t, podman, bad.config.Encoded()); id != "" {
			t.Errorf("podman has the image of a corrupt archive: %s", id)
		}
		t.Logf("corrupt layer:\n%s", errOut)
	})

	t.Run("no engine", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		code, _, errOut := runCLI(t, append([]string{"load"}, img.args...)...)
		if code != 1 {
			t.Fatalf("exit %d", code)
		}
		mustContain(t, "no engine", errOut, "no container engine to load into: docker is not installed, and podman is not installed; start the docker daemon or install podman")
		code, _, errOut = runCLI(t, append([]string{"load", "--engine", "docker"}, img.args...)...)
		if code != 1 {
			t.Fatalf("exit %d", code)
		}
		mustContain(t, "no docker", errOut, "--engine docker: docker is not installed (not on PATH)")
		// docker present but its daemon down, podman missing.
		writeFile(t, filepath.Join(os.Getenv("PATH"), "docker"), "#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2\nexit 1\n", 0o755)
		code, _, errOut = runCLI(t, append([]string{"load"}, img.args...)...)
		if code != 1 {
			t.Fatalf("exit %d", code)
		}
		mustContain(t, "docker down", errOut, "`docker info` failed: Cannot connect to the Docker daemon", "and podman is not installed")
		t.Logf("no engine:\n%s", errOut)
	})
}

// TestLoadFetchesBaseFromRegistry loads a shallow image (its base layers
// are not in the build) with the base layers streamed from the source
// repository into podman.
func TestLoadFetchesBaseFromRegistry(t *testing.T) {
	podman := requireTool(t, "podman")
	e := startPushEnv(t)
	work := t.TempDir()
	base := buildPushImage(t, filepath.Join(work, "base"), "linux/amd64", 31)
	if code, out, errOut := e.scan.cli(t, append(append([]string{"push", "--repository", e.proxy.Addr() + "/base", "--tag", "1"}, base.args...), e.ca...)...); code != 0 {
		t.Fatalf("%s%s", out, errOut)
	}
	app := buildPushImage(t, filepath.Join(work, "app"), "", 32, filepath.Join(base.dir, "manifest.json"), filepath.Join(base.dir, "config.json"))
	podmanCleanup(t, podman, app.config)
	tag := fmt.Sprintf("localhost/repro-test/shallow:%d", time.Now().UnixNano())

	code, _, errOut := e.scan.cli(t, append([]string{"load", "--engine", "podman", "--tag", tag}, app.args...)...)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	mustContain(t, "no source", errOut, "is not available (not built, and not in any base layout given)")

	e.proxy.Reset()
	// The first layer download breaks off; the stream resumes.
	e.proxy.AddFault(testenv.Fault{Method: "GET", Path: `/blobs/sha256:`, Times: 1, Action: testenv.TruncateResponseAfter(30 << 10)})
	code, out, errOut := e.scan.cli(t, append(append([]string{"load", "--engine", "podman", "--tag", tag, "--source-repository", e.proxy.Addr() + "/base"}, app.args...), e.ca...)...)
	if code != 0 {
		t.Fatalf("load: %s%s\n%s", out, errOut, e.proxy.Dump())
	}
	mustContain(t, "shallow load", out, "fetched 1.2 MB of base layers from the source repositories while streaming", "image ID "+app.config.String(), "tagged "+tag)
	if got := podmanID(t, podman, tag); got != app.config.Encoded() {
		t.Errorf("%s: ID %q", tag, got)
	}
	var gets int
	for _, r := range e.proxy.Requests() {
		if r.Method == "GET" && strings.Contains(r.Path, "/blobs/") {
			gets++
		}
	}
	if gets != 3 {
		t.Errorf("%d blob GETs, want 3 (two base layers, one resumed)\n%s", gets, e.proxy.Dump())
	}
	t.Logf("shallow load (source proxy: %s):\n%s", e.proxy.Stats(), out)
}

// TestLoadEngineFailures drives load against fake engines (scripts named
// podman on PATH) for what a real one rarely does: fail to load, or report
// another image ID than the config digest.
func TestLoadEngineFailures(t *testing.T) {
	img := buildPushImage(t, filepath.Join(t.TempDir(), "img"), "linux/amd64", 51)
	bin := t.TempDir()
	t.Setenv("PATH", bin+string(os.PathListSeparator)+"/usr/bin:/bin") // the fake first
	fake := func(script string) {
		t.Helper()
		writeFile(t, filepath.Join(bin, "podman"), "#!/bin/sh\n"+script, 0o755)
	}
	fake("if [ \"$1\" = load ]; then cat >/dev/null; echo 'Error: payload does not match any of the supported image formats' >&2; exit 125; fi\nexit 1\n")
	code, _, errOut := runCLI(t, append([]string{"load", "--engine", "podman"}, img.args...)...)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	mustContain(t, "load fails", errOut, "podman load failed (exit status 125): Error: payload does not match any of the supported image formats")

	fake("case \"$1\" in load) cat >/dev/null; echo 'Loaded image: sha256:0000';; image) echo 0000000000000000000000000000000000000000000000000000000000000000;; esac\nexit 0\n")
	code, _, errOut = runCLI(t, append([]string{"load", "--engine", "podman", "--tag", "example.com/app:x"}, img.args...)...)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	mustContain(t, "wrong ID", errOut, "after loading, podman reports image ID 0000000000000000000000000000000000000000000000000000000000000000, but the config digest we built is "+img.config.String())
	t.Logf("fake engines:\n%s", errOut)
}

// TestDockerArchiveKeepsTagsInPodman loads the `docker-archive` output (what
// repro_image's docker_archive output group holds) with a plain `podman
// load -i`: the archive holds only what `docker load` reads, so podman
// reads it as a docker archive and keeps the tag. With an index.json and
// oci-layout next to manifest.json it read an OCI archive and dropped the
// tag (<none>:<none>).
func TestDockerArchiveKeepsTagsInPodman(t *testing.T) {
	podman := requireTool(t, "podman")
	dir := buildChain(t)
	o := func(n string) string { return filepath.Join(dir, n) }
	tag := fmt.Sprintf("localhost/repro-test/archive:%d", time.Now().UnixNano())
	mustCLI(t, "docker-archive", "--descriptor", o("img-amd64.json"), "--blob", o("cfg-amd64.json"), "--blob", o("man-amd64.json"),
		"--layer", o("l1.json")+"="+o("l1.tgz"), "--tag", tag, "--output", o("img.docker.tar"))
	out, err := exec.Command("tar", "-tf", o("img.docker.tar")).CombinedOutput()
	if err != nil {
		t.Fatalf("tar -tf: %v\n%s", err, out)
	}
	for _, name := range strings.Fields(string(out)) {
		if name == "index.json" || name == "oci-layout" {
			t.Errorf("the docker archive holds %s", name)
		}
	}
	cfg, err := fileDigest(o("cfg-amd64.json"))
	if err != nil {
		t.Fatal(err)
	}
	podmanCleanup(t, podman, cfg)
	if out, err := exec.Command(podman, "load", "-i", o("img.docker.tar")).CombinedOutput(); err != nil {
		t.Fatalf("podman load: %v\n%s", err, out)
	}
	out, err = exec.Command(podman, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").CombinedOutput()
	if err != nil {
		t.Fatalf("podman images: %v\n%s", err, out)
	}
	want := tag + " " + cfg.Encoded()[:12]
	if !strings.Contains(string(out), want) {
		t.Errorf("podman images does not show %q:\n%s", want, out)
	}
}
