package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rules-repro/rules_repro/tools/oci"
)

// Compatibility version 2's behaviours through the CLI: fixed file times,
// label-free history and {KEY} stamps in labels, annotations and env; and
// version 1 refusing or ignoring them.

func compat2Layer(t *testing.T, dir, name string, args ...string) *oci.LayerDescriptor {
	t.Helper()
	spec := filepath.Join(dir, "spec.json")
	writeJSON(t, spec, map[string]any{"entries": []map[string]any{
		{"type": "file", "path": "/app/hello.txt", "content": "hello\n"},
		{"type": "dir", "path": "/var/lib/app"},
	}})
	desc := filepath.Join(dir, name+".json")
	mustCLI(t, append([]string{"layer", "--spec", spec, "--output", filepath.Join(dir, name+".tar.gz"), "--descriptor", desc}, args...)...)
	d, err := oci.ReadLayerDescriptor(desc)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestFileMTime(t *testing.T) {
	dir := t.TempDir()
	e1 := compat2Layer(t, dir, "e1", "--compatibility-version", "2", "--source-date-epoch", "1700000000")
	e2 := compat2Layer(t, dir, "e2", "--compatibility-version", "2", "--source-date-epoch", "1700086400")
	if e1.Digest == e2.Digest {
		t.Errorf("without --file-mtime the layer must follow the epoch, got %s twice", e1.Digest)
	}
	if len(e1.Annotations) != 0 {
		t.Errorf("without --file-mtime: annotations %v", e1.Annotations)
	}
	f1 := compat2Layer(t, dir, "f1", "--compatibility-version", "2", "--file-mtime", "0", "--source-date-epoch", "1700000000")
	f2 := compat2Layer(t, dir, "f2", "--compatibility-version", "2", "--file-mtime", "0", "--source-date-epoch", "1700086400")
	if f1.Digest != f2.Digest {
		t.Errorf("--file-mtime 0: the layer changed with the epoch: %s vs %s", f1.Digest, f2.Digest)
	}
	if got := f1.Annotations["dev.rules-repro.file-mtime"]; got != "0" {
		t.Errorf("--file-mtime 0: annotation %q, want \"0\"", got)
	}
	// A fixed time is the epoch for the layer's bytes: the same layer as
	// one built with SOURCE_DATE_EPOCH 0.
	z := compat2Layer(t, dir, "z", "--compatibility-version", "2", "--source-date-epoch", "0")
	if z.Digest != f1.Digest {
		t.Errorf("--file-mtime 0 gave %s, epoch 0 gave %s", f1.Digest, z.Digest)
	}

	// The image keeps the annotation on the layer descriptor and still takes
	// the epoch for created.
	out := filepath.Join(dir, "m.json")
	mustCLI(t, "image", "--layer", filepath.Join(dir, "f1.json"), "--platform", "linux/amd64", "--compatibility-version", "2",
		"--source-date-epoch", "1700000000", "--manifest-out", out, "--config-out", filepath.Join(dir, "c.json"))
	var m struct {
		Layers []struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"layers"`
	}
	data, _ := os.ReadFile(out)
	if err := json.Unmarshal(data, &m); err != nil || len(m.Layers) != 1 || m.Layers[0].Annotations["dev.rules-repro.file-mtime"] != "0" {
		t.Errorf("manifest layer annotations: %s", data)
	}
	if cfg, _ := os.ReadFile(filepath.Join(dir, "c.json")); !strings.Contains(string(cfg), `"created":"2023-11-14T22:13:20Z"`) {
		t.Errorf("config created is not the epoch: %s", cfg)
	}

	// Version 1 refuses the option and writes nothing.
	code, _, errOut := runCLI(t, "layer", "--spec", filepath.Join(dir, "spec.json"), "--output", filepath.Join(dir, "v1.tar.gz"),
		"--descriptor", filepath.Join(dir, "v1.json"), "--compatibility-version", "1", "--file-mtime", "0")
	if code == 0 || !strings.Contains(errOut, "needs compatibility version 2") {
		t.Errorf("version 1 with --file-mtime: exit %d, %s", code, errOut)
	}
	for _, p := range []string{"v1.tar.gz", "v1.json"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("version 1 with --file-mtime wrote %s", p)
		}
	}
	// A version 2 layer in a version 1 image is refused (as any mix).
	code, _, errOut = runCLI(t, "image", "--layer", filepath.Join(dir, "f1.json"), "--platform", "linux/amd64", "--compatibility-version", "1")
	if code == 0 || !strings.Contains(errOut, "compatibility version 2") {
		t.Errorf("v2 layer in a v1 image: exit %d, %s", code, errOut)
	}
}

func TestHistoryWithoutLabel(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []string{"1", "2"} {
		a := compat2Layer(t, dir, "a"+v, "--compatibility-version", v, "--created-by", "//app:hello_layer")
		b := compat2Layer(t, dir, "b"+v, "--compatibility-version", v, "--created-by", "//moved/elsewhere:greeter_files")
		if a.Digest != b.Digest {
			t.Fatalf("v%s: the label changed the layer: %s vs %s", v, a.Digest, b.Digest)
		}
		da := mustCLI(t, "image", "--layer", filepath.Join(dir, "a"+v+".json"), "--platform", "linux/amd64", "--compatibility-version", v)
		db := mustCLI(t, "image", "--layer", filepath.Join(dir, "b"+v+".json"), "--platform", "linux/amd64", "--compatibility-version", v)
		if v == "1" && da == db {
			t.Errorf("v1: history is expected to hold the label (the bug version 2 fixes), got %s for both", da)
		}
		if v == "2" && da != db {
			t.Errorf("v2: the label changed the image digest: %s vs %s", da, db)
		}
	}
}

func TestStampedConfig(t *testing.T) {
	dir := t.TempDir()
	compat2Layer(t, dir, "l", "--compatibility-version", "2")
	status := filepath.Join(dir, "status.txt")
	writeFile(t, status, "STABLE_SOURCE_DATE_EPOCH 1700000000\nSTABLE_GIT_COMMIT 0123abc\n", 0o644)
	image := func(v string, extra ...string) (int, string, string) {
		return runCLI(t, append([]string{"image", "--layer", filepath.Join(dir, "l.json"), "--platform", "linux/amd64", "--compatibility-version", v,
			"--config-out", filepath.Join(dir, "c"+v+".json"), "--manifest-out", filepath.Join(dir, "m"+v+".json"),
			"--label", "org.opencontainers.image.revision={STABLE_GIT_COMMIT}", "--env", "REV=r-{STABLE_GIT_COMMIT}",
			"--annotation", "org.example.rev={STABLE_GIT_COMMIT}"}, extra...)...)
	}
	if code, _, errOut := image("2", "--stamp-file", status); code != 0 {
		t.Fatal(errOut)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "c2.json"))
	man, _ := os.ReadFile(filepath.Join(dir, "m2.json"))
	for _, want := range []string{`"org.opencontainers.image.revision":"0123abc"`, `"REV=r-0123abc"`} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("v2 stamped config lacks %s: %s", want, cfg)
		}
	}
	if !strings.Contains(string(man), `"org.example.rev":"0123abc"`) {
		t.Errorf("v2 stamped manifest: %s", man)
	}
	// Unstamped, and under version 1 even when stamped: kept as written.
	for _, c := range []struct{ v, out string }{{"2", "c2.json"}, {"1", "c1.json"}} {
		extra := []string{}
		if c.v == "1" {
			compat2Layer(t, dir, "l", "--compatibility-version", "1")
			extra = []string{"--stamp-file", status}
		}
		if code, _, errOut := image(c.v, extra...); code != 0 {
			t.Fatal(errOut)
		}
		cfg, _ := os.ReadFile(filepath.Join(dir, c.out))
		if !strings.Contains(string(cfg), `"org.opencontainers.image.revision":"{STABLE_GIT_COMMIT}"`) {
			t.Errorf("v%s %v: the label was expanded: %s", c.v, extra, cfg)
		}
	}
	// An unknown key names the label and writes nothing.
	compat2Layer(t, dir, "l", "--compatibility-version", "2")
	os.Remove(filepath.Join(dir, "c2.json"))
	code, _, errOut := image("2", "--stamp-file", status, "--label", "org.example.build={NO_SUCH_KEY}")
	if code == 0 || !strings.Contains(errOut, `label org.example.build: value "{NO_SUCH_KEY}": the workspace status has no key NO_SUCH_KEY`) {
		t.Errorf("unknown key: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "c2.json")); err == nil {
		t.Error("the failed image wrote its config")
	}
}
