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

func TestCheckDigest(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	a := buildImage(t, bin, filepath.Join(dir, "a"), "#!/bin/sh\necho hello\n", "0")
	buildImage(t, bin, filepath.Join(dir, "b"), "#!/bin/sh\necho hello, world\n", "0")
	descA := filepath.Join(dir, "a", "image.descriptor.json")
	descB := filepath.Join(dir, "b", "image.descriptor.json")
	var da, db struct{ Digest string }
	for p, v := range map[string]any{descA: &da, descB: &db} {
		data, _ := os.ReadFile(p)
		json.Unmarshal(data, v)
	}
	ws := filepath.Join(dir, "ws")
	writeFile(t, filepath.Join(ws, "golden.txt"), "# goldens\n//app:image unstamped "+da.Digest+"\n", 0o644)
	golden := filepath.Join(ws, "golden.txt")
	// A golden descriptor, alone in its directory (no blobs next to it).
	copyFile(descA, filepath.Join(ws, "image.golden.json"), 0o644)
	// Blobs of B, as repro_digest_test passes them.
	blobsB := []string{"--blob", filepath.Join(dir, "b", "image.config.json"), "--blob", filepath.Join(dir, "b", "image.manifest.json"),
		"--layer", filepath.Join(dir, "b", "layer.json") + "=" + filepath.Join(dir, "b", "layer.tar.gz")}
	update := "bazel run //app:image_golden_test -- --update"
	common := []string{"check-digest", "--label", "//app:image", "--golden", golden, "--golden-key", "//app:image unstamped", "--update-command", update}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"match", append(common, "--descriptor", descA), 0, []string{"PASS: //app:image is " + da.Digest}},
		{"mismatch, golden not reachable", append(append(common, "--descriptor", descB), blobsB...), 1, []string{
			"FAIL: //app:image is " + db.Digest + ", but the golden digest is " + da.Digest,
			"The golden image is not reachable here",
			"layer 0: sha256:",
			"update the golden file with:\n\n    " + update + "\n",
		}},
		{"mismatch, golden layout", append(append(common, "--descriptor", descB, "--golden-layout", a), blobsB...), 1, []string{
			"Why: repro diff against the golden layout",
			"app/hello: content: sha256:",
			"    " + update,
		}},
		{"mismatch, golden descriptor", append([]string{"check-digest", "--golden", filepath.Join(ws, "image.golden.json"), "--descriptor", descB}, blobsB...), 1, []string{
			"Why: repro diff against the golden descriptor",
			"cannot look closer",
		}},
		{"no such row", []string{"check-digest", "--golden", golden, "--golden-key", "//app:other", "--descriptor", descA}, 1, []string{`has no row "//app:other"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runBinary(t, bin, tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("no %q in:\n%s%s", w, out, errOut)
				}
			}
			if code != tc.code || t.Failed() {
				t.Errorf("exit %d (want %d):\n%s%s", code, tc.code, out, errOut)
			}
		})
	}

	t.Run("update", func(t *testing.T) {
		cmd := exec.Command(bin, "check-digest", "--update", "--golden", golden, "--golden-key", "//app:image unstamped", "--golden-workspace-path", "golden.txt", "--descriptor", descB)
		cmd.Env = append(os.Environ(), "BUILD_WORKSPACE_DIRECTORY="+ws)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		got, _ := os.ReadFile(golden)
		if string(got) != "# goldens\n//app:image unstamped "+db.Digest+"\n" || !strings.Contains(string(out), da.Digest+" → "+db.Digest) {
			t.Errorf("golden file:\n%s\noutput:\n%s", got, out)
		}
		// Without bazel run, --update refuses.
		cmd = exec.Command(bin, "check-digest", "--update", "--golden", golden, "--golden-workspace-path", "golden.txt", "--descriptor", descA)
		cmd.Env = append(os.Environ(), "BUILD_WORKSPACE_DIRECTORY=")
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "run it with bazel run") {
			t.Errorf("%v\n%s", err, out)
		}
	})
}

// TestCheckDigestRebuild: the layers are built again in another directory,
// umask, time zone and locale; an input that differs there is explained.
func TestCheckDigestRebuild(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	buildImage(t, bin, filepath.Join(dir, "a"), "#!/bin/sh\necho hello\n", "0")
	// The runfiles root: the plan's paths are relative to it.
	root := filepath.Join(dir, "runfiles")
	os.MkdirAll(root, 0o755)
	for _, f := range []string{"layer.spec.json", "layer.json", "layer.tar.gz", "src/hello", "src/README", "image.descriptor.json"} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, "ws", f)), 0o755)
		copyFile(filepath.Join(dir, "a", f), filepath.Join(root, "ws", f), 0o644)
	}
	os.Chmod(filepath.Join(root, "ws", "src/hello"), 0o755)
	writeFile(t, filepath.Join(root, "ws", "src/other"), "#!/bin/sh\necho other\n", 0o755)
	writeFile(t, filepath.Join(root, "golden.txt"), "sha256:0000000000000000000000000000000000000000000000000000000000000000\n", 0o644)
	plan := func(hello string) string {
		p := filepath.Join(root, "plan-"+filepath.Base(hello)+".json")
		writeJSON(t, p, map[string]any{
			"layers": []any{map[string]any{
				"label": "//app:layer", "descriptor": "ws/layer.json", "blob": "ws/layer.tar.gz", "spec": "ws/layer.spec.json",
				"args": []string{"--compression", "gzip", "--created-by", "//app:layer", "--source-date-epoch", "0"},
			}},
			// The spec names the sources by absolute path here (the rules
			// use execution-root paths); both are mapped.
			"paths": map[string]string{
				filepath.Join(dir, "a", "src/hello"):  hello,
				filepath.Join(dir, "a", "src/README"): "ws/src/README",
			},
			"skipped": []string{"//app:base_layer (it has a base)"},
		})
		return p
	}
	for _, tc := range []struct {
		name, hello string
		code        int
		want        []string
	}{
		{"same", "ws/src/hello", 1, []string{"PASS: //app:layer rebuilt in ", "umask ", "TZ=", "the same layer sha256:", "not rebuilt: //app:base_layer (it has a base)"}},
		{"different input", "ws/src/other", 1, []string{"FAIL: //app:layer rebuilt in ", "Why: repro diff", "app/hello: content: sha256:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, "check-digest", "--descriptor", "ws/image.descriptor.json", "--golden", "golden.txt", "--rebuild", plan(tc.hello))
			cmd.Dir = root
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			cmd.Run()
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("no %q in:\n%s", w, out.String())
				}
			}
			// The golden digest is wrong in both cases: exit 1.
			if code := cmd.ProcessState.ExitCode(); code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, out.String())
			}
		})
	}
}
