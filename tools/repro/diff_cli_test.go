package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildImage builds a layer, an image and a layout with the repro CLI from
// a source tree, as the rules do, and returns the layout's path.
func buildImage(t *testing.T, bin, dir, hello string, epoch string) string {
	t.Helper()
	writeFile(t, filepath.Join(dir, "src/hello"), hello, 0o755)
	writeFile(t, filepath.Join(dir, "src/README"), "an example\n", 0o644)
	spec := filepath.Join(dir, "layer.spec.json")
	writeJSON(t, spec, map[string]any{"entries": []map[string]any{
		{"type": "file", "path": "/app/hello", "source": filepath.Join(dir, "src/hello")},
		{"type": "file", "path": "/app/README", "source": filepath.Join(dir, "src/README")},
		{"type": "symlink", "path": "/usr/local/bin/hello", "target": "/app/hello"},
	}})
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("repro %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("layer", "--spec", spec, "--output", filepath.Join(dir, "layer.tar.gz"), "--descriptor", filepath.Join(dir, "layer.json"), "--source-date-epoch", epoch, "--created-by", "//app:layer")
	run("image", "--layer", filepath.Join(dir, "layer.json"), "--platform", "linux/amd64", "--entrypoint", "/app/hello", "--source-date-epoch", epoch,
		"--config-out", filepath.Join(dir, "image.config.json"), "--manifest-out", filepath.Join(dir, "image.manifest.json"), "--descriptor-out", filepath.Join(dir, "image.descriptor.json"))
	layout := filepath.Join(dir, "image")
	run("layout", "--descriptor", filepath.Join(dir, "image.descriptor.json"), "--blob", filepath.Join(dir, "image.config.json"), "--blob", filepath.Join(dir, "image.manifest.json"),
		"--layer", filepath.Join(dir, "layer.json")+"="+filepath.Join(dir, "layer.tar.gz"), "--output", layout)
	return layout
}

func runBinary(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// TestDiffTwoRealImages: two images built the same way from sources that
// differ in one file; repro diff names that file and nothing else.
func TestDiffTwoRealImages(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	a := buildImage(t, bin, filepath.Join(dir, "a"), "#!/bin/sh\necho hello\n", "1700000000")
	b := buildImage(t, bin, filepath.Join(dir, "b"), "#!/bin/sh\necho hello, world\n", "1700000000")
	same := buildImage(t, bin, filepath.Join(dir, "same"), "#!/bin/sh\necho hello\n", "1700000000")

	code, out, errOut := runBinary(t, bin, "diff", a, b)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	t.Logf("\n%s", out)
	for _, want := range []string{
		"different: 1 difference\n",
		"layer 0:\n  app/hello: content: sha256:",
		"(21 bytes) → sha256:",
		"(28 bytes)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}

	// JSON, and descriptor files as inputs (blobs found next to them).
	code, out, _ = runBinary(t, bin, "diff", "--format", "json", filepath.Join(dir, "a", "image.descriptor.json"), filepath.Join(dir, "b", "layer.json"))
	var rep struct {
		Equal       bool
		Differences []struct{ Level, Kind, Entry, Field string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if len(rep.Differences) != 1 || rep.Differences[0].Entry != "app/hello" || rep.Differences[0].Field != "content" {
		t.Errorf("got %+v", rep)
	}

	// Equal images built in different directories.
	if code, out, errOut := runBinary(t, bin, "diff", a, same); code != 0 || !strings.Contains(out, "equal: the same digest") {
		t.Errorf("exit %d, want 0\n%s%s", code, out, errOut)
	}
}

func TestDiffExitCodes(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	a := buildImage(t, bin, filepath.Join(dir, "a"), "#!/bin/sh\necho hello\n", "0")
	b := buildImage(t, bin, filepath.Join(dir, "b"), "#!/bin/sh\necho hello\n", "1700000000")
	corrupt := filepath.Join(dir, "corrupt")
	buildImage(t, bin, corrupt, "#!/bin/sh\necho hello\n", "5")
	// The layer blob of the corrupt layout no longer matches its digest.
	var layer struct{ Digest string }
	data, _ := os.ReadFile(filepath.Join(corrupt, "layer.json"))
	json.Unmarshal(data, &layer)
	os.WriteFile(filepath.Join(corrupt, "image", "blobs", "sha256", strings.TrimPrefix(layer.Digest, "sha256:")), []byte("garbage"), 0o644)

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stdout or stderr
	}{
		{"equal", []string{"diff", a, a}, 0, "equal: the same digest"},
		{"different", []string{"diff", a, b}, 1, "created: 1970-01-01T00:00:00Z → 2023-11-14T22:13:20Z (SOURCE_DATE_EPOCH 0 → 1700000000)"},
		{"semantic", []string{"diff", "--semantic", a, b}, 0, "the digests differ only in what is ignored"},
		{"flags after the inputs", []string{"diff", a, b, "--format", "json"}, 1, `"equal": false`},
		{"missing input", []string{"diff", a, filepath.Join(dir, "nope")}, 2, "no such file or directory"},
		{"corrupt blob", []string{"diff", a, filepath.Join(corrupt, "image")}, 2, "is corrupt"},
		{"one input", []string{"diff", a}, 2, "want two inputs"},
		{"bad format", []string{"diff", "--format", "yaml", a, b}, 2, "want text or json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runBinary(t, bin, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("exit %d (want %d), want %q in:\n%s%s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
}
