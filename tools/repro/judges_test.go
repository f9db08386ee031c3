package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requireTool returns the path of an external judge, skipping the test when
// it is missing, unless REPRO_REQUIRE_E2E=1 (set by CI) makes that a failure.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("REPRO_REQUIRE_E2E") == "1" {
			t.Fatalf("%s is required (REPRO_REQUIRE_E2E=1) but not installed; install it with apt-get install %s", name, name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestJudgesSkopeoAndUmoci has skopeo inspect every layout and archive we
// produce and umoci unpack the images (umoci 0.4.7 has no zstd support, so
// it unpacks the gzip images), then checks the unpacked files.
func TestJudgesSkopeoAndUmoci(t *testing.T) {
	skopeo := requireTool(t, "skopeo")
	umoci := requireTool(t, "umoci")
	dir := buildChain(t)
	o := func(n string) string { return filepath.Join(dir, n) }

	type inspect struct {
		Digest       string
		Architecture string
		Os           string
		Created      string
		Env          []string
		Layers       []string
	}
	readDesc := func(name string) (d struct{ Digest string }) {
		data, _ := os.ReadFile(o(name))
		json.Unmarshal(data, &d)
		return d
	}
	for _, c := range []struct{ ref, arch, desc string }{
		{"oci:" + o("layout-amd64") + ":latest", "amd64", "img-amd64.json"},
		{"oci:" + o("layout-arm64") + ":latest", "arm64", "img-arm64.json"},
		{"oci:" + o("layout-derived"), "amd64", "img-derived.json"},
		{"docker-archive:" + o("docker.tar"), "arm64", "img-arm64.json"},
	} {
		var got inspect
		out := runTool(t, skopeo, "inspect", "--override-arch", c.arch, c.ref)
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("skopeo inspect %s: %v\n%s", c.ref, err, out)
		}
		if got.Architecture != c.arch || got.Os != "linux" || got.Created != "2023-11-14T22:13:20Z" {
			t.Errorf("skopeo inspect %s: %+v", c.ref, got)
		}
		if want := readDesc(c.desc).Digest; !strings.HasPrefix(c.ref, "docker-archive:") && got.Digest != want {
			t.Errorf("skopeo inspect %s: digest %s, we built %s", c.ref, got.Digest, want)
		}
	}
	// The index: skopeo reports the index digest and resolves each
	// platform to the image we built for it.
	for _, arch := range []string{"amd64", "arm64"} {
		for _, ref := range []string{"oci:" + o("layout-index"), "oci-archive:" + o("index.tar")} {
			var got inspect
			json.Unmarshal([]byte(runTool(t, skopeo, "inspect", "--override-arch", arch, ref)), &got)
			if want := readDesc("idx.json").Digest; got.Digest != want || got.Architecture != arch {
				t.Errorf("skopeo inspect --override-arch %s %s: digest %s arch %s, want %s %s", arch, ref, got.Digest, got.Architecture, want, arch)
			}
			var cfg struct {
				Architecture string `json:"architecture"`
			}
			json.Unmarshal([]byte(runTool(t, skopeo, "inspect", "--config", "--override-arch", arch, ref)), &cfg)
			if cfg.Architecture != arch {
				t.Errorf("skopeo inspect --config --override-arch %s %s: config architecture %q", arch, ref, cfg.Architecture)
			}
		}
	}
	// skopeo copies the OCI archive into a fresh layout without complaint.
	runTool(t, skopeo, "copy", "--all", "oci-archive:"+o("index.tar"), "oci:"+o("copied")+":x")

	// umoci unpacks the image and the files are what we declared.
	bundle := o("bundle")
	runTool(t, umoci, "unpack", "--rootless", "--image", o("layout-amd64")+":latest", bundle)
	root := filepath.Join(bundle, "rootfs")
	checks := []struct {
		path    string
		mode    os.FileMode
		content string
	}{
		{"app/server", 0o755, "#!/bin/sh\necho server\n"},
		{"app/server2", 0o755, "#!/bin/sh\necho server\n"},
		{"app/assets/a.css", 0o644, "body{}"},
		{"app/assets/img/logo.svg", 0o644, "<svg/>"},
	}
	for _, c := range checks {
		fi, err := os.Stat(filepath.Join(root, c.path))
		if err != nil {
			t.Errorf("umoci unpack: %v", err)
			continue
		}
		data, _ := os.ReadFile(filepath.Join(root, c.path))
		if fi.Mode().Perm() != c.mode || string(data) != c.content {
			t.Errorf("%s: mode %v content %q", c.path, fi.Mode().Perm(), data)
		}
		if fi.ModTime().Unix() != 1700000000 {
			t.Errorf("%s: mtime %v, want the epoch", c.path, fi.ModTime().UTC())
		}
	}
	if target, err := os.Readlink(filepath.Join(root, "usr/local/bin/server")); err != nil || target != "/app/server" {
		t.Errorf("symlink: %q %v", target, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "data")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir: %v %v", fi, err)
	}
	a, _ := os.Stat(filepath.Join(root, "app/server"))
	b, _ := os.Stat(filepath.Join(root, "app/server2"))
	if !os.SameFile(a, b) {
		t.Errorf("app/server2 should be a hard link to app/server")
	}
}
