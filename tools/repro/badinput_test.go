package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// outputsLeft lists files in dir that a failed command must not leave:
// the named outputs and temporary files.
func outputsLeft(t *testing.T, dir string, outputs ...string) []string {
	t.Helper()
	var left []string
	for _, o := range outputs {
		if _, err := os.Lstat(o); err == nil {
			left = append(left, o)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			left = append(left, e.Name())
		}
	}
	return left
}

func tarBytes(t *testing.T, hdrs ...*tar.Header) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
	}
	tw.Close()
	return buf.Bytes()
}

func gz(data []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(data)
	w.Close()
	return buf.Bytes()
}

// TestBadInput runs the table of bad inputs from the issue: each gives a
// message naming the offending input, a non-zero exit status and no output.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	o := func(n string) string { return filepath.Join(dir, n) }
	writeFile(t, o("ok.txt"), "ok", 0o644)
	writeFile(t, o("good-spec.json"), `{"entries":[{"type":"file","path":"/a","source":"`+o("ok.txt")+`"}]}`, 0o644)
	spec := func(name, body string) string {
		writeFile(t, o(name), body, 0o644)
		return o(name)
	}
	big := tarBytes(t, &tar.Header{Name: "big", Typeflag: tar.TypeReg, Size: 50000, Mode: 0o644})
	writeFile(t, o("trunc.tar"), string(big[:3000]), 0o644)
	writeFile(t, o("trunc.tar.gz"), string(gz(big)[:200]), 0o644)
	corrupt := append([]byte(nil), big...)
	copy(corrupt[148:], "zzzzzzzz") // header checksum field
	writeFile(t, o("corrupt.tar"), string(corrupt), 0o644)
	writeFile(t, o("escape.tar"), string(tarBytes(t, &tar.Header{Name: "../../etc/passwd", Typeflag: tar.TypeReg, Size: 1})), 0o644)
	mustCLI(t, "layer", "--spec", o("good-spec.json"), "--output", o("good.tgz"), "--descriptor", o("good.json"))
	writeFile(t, o("corrupt-blob.tgz"), "not the layer", 0o644)
	writeFile(t, o("empty-layout/index.json"), `{"schemaVersion":2,"manifests":[]}`, 0o644)

	layerArgs := func(specPath string, extra ...string) []string {
		return append([]string{"layer", "--spec", specPath, "--output", o("out.tgz"), "--descriptor", o("out.json")}, extra...)
	}
	cases := []struct {
		name string
		args []string
		want []string // substrings of stderr; the first names the input
		code int
	}{
		{"missing source file", layerArgs(spec("s1.json", `{"entries":[{"type":"file","path":"/a","source":"`+o("nope.bin")+`"}]}`)),
			[]string{"nope.bin", "no such file", "entries[0]"}, 1},
		{"source is a directory", layerArgs(spec("s2.json", `{"entries":[{"type":"file","path":"/a","source":"`+dir+`"}]}`)),
			[]string{dir, "is a directory", "tree"}, 1},
		{"invalid mode", layerArgs(spec("s3.json", `{"entries":[{"type":"file","path":"/a","content":"x","mode":"0o755"}]}`)),
			[]string{`"/a"`, `invalid mode "0o755"`, "entries[0]"}, 1},
		{"mode as number", layerArgs(spec("s3b.json", `{"entries":[{"type":"file","path":"/a","content":"x","mode":755}]}`)),
			[]string{"s3b.json", "mode"}, 1},
		{"epoch 1.5", layerArgs(o("good-spec.json"), "--source-date-epoch", "1.5"), []string{`"1.5"`, "not a decimal integer"}, 1},
		{"epoch abc", layerArgs(o("good-spec.json"), "--source-date-epoch", "abc"), []string{`"abc"`, "not a decimal integer"}, 1},
		{"epoch overflow", layerArgs(o("good-spec.json"), "--source-date-epoch", "99999999999999999999"), []string{`"99999999999999999999"`, "out of range"}, 1},
		{"epoch negative", layerArgs(o("good-spec.json"), "--source-date-epoch", "-5"), []string{`"-5"`}, 1},
		{"epoch from stamp file missing key", layerArgs(o("good-spec.json"), "--stamp-file", spec("status.txt", "BUILD_USER me\n")),
			[]string{"STABLE_SOURCE_DATE_EPOCH", "workspace_status_command"}, 1},
		{"epoch from stamp file malformed", layerArgs(o("good-spec.json"), "--stamp-file", spec("status2.txt", "STABLE_SOURCE_DATE_EPOCH yesterday\n")),
			[]string{`"yesterday"`, "STABLE_SOURCE_DATE_EPOCH"}, 1},
		{"unknown compatibility version", layerArgs(o("good-spec.json"), "--compatibility-version", "7"),
			[]string{"unknown compatibility version 7", "supported versions: 1 (default)"}, 1},
		{"bad compression", layerArgs(o("good-spec.json"), "--compression", "brotli"), []string{`"brotli"`, "gzip, zstd, none"}, 1},
		{"gzip level", layerArgs(o("good-spec.json"), "--compression-level", "12"), []string{"level 12", "0-9"}, 1},
		{"zstd level 0", layerArgs(o("good-spec.json"), "--compression", "zstd", "--compression-level", "0"), []string{"level 0", "ambiguous"}, 1},
		{"truncated tar", layerArgs(spec("s4.json", `{"entries":[{"type":"tar","source":"`+o("trunc.tar")+`"}]}`)),
			[]string{"trunc.tar", "truncated"}, 1},
		{"truncated gzip tar", layerArgs(spec("s5.json", `{"entries":[{"type":"tar","source":"`+o("trunc.tar.gz")+`"}]}`)),
			[]string{"trunc.tar.gz", "truncated or corrupt"}, 1},
		{"corrupt tar", layerArgs(spec("s6.json", `{"entries":[{"type":"tar","source":"`+o("corrupt.tar")+`"}]}`)),
			[]string{"corrupt.tar", "corrupt"}, 1},
		{"tar with ../", layerArgs(spec("s7.json", `{"entries":[{"type":"tar","source":"`+o("escape.tar")+`"}]}`)),
			[]string{"escape.tar", `"../../etc/passwd"`, "escapes the image root"}, 1},
		{"duplicate conflicting paths", layerArgs(spec("s8.json", `{"entries":[{"type":"file","path":"/a","content":"1"},{"type":"file","path":"a","content":"2"}]}`)),
			[]string{`"/a"`, "entries[0]", "entries[1]", "declared twice"}, 1},
		{"empty entry list", layerArgs(spec("s9.json", `{"entries":[]}`)), []string{"s9.json", "declares no entries"}, 1},
		{"unknown spec field", layerArgs(spec("s10.json", `{"entries":[{"type":"file","path":"/a","content":"x","owner":"root"}]}`)),
			[]string{"s10.json", `"owner"`}, 1},
		{"malformed spec", layerArgs(spec("s11.json", `{"entries":[`)), []string{"s11.json"}, 1},
		{"both spec and dir", append(layerArgs(o("good-spec.json")), "--dir", dir), []string{"exactly one of --spec or --dir"}, 2},
		{"missing dir", []string{"layer", "--dir", o("no-such-dir"), "--output", o("out.tgz")}, []string{"no-such-dir"}, 1},
		{"image: missing layer descriptor", []string{"image", "--layer", o("missing.json"), "--platform", "linux/amd64", "--descriptor-out", o("out.json")},
			[]string{"missing.json"}, 1},
		{"image: no platform", []string{"image", "--layer", o("good.json"), "--descriptor-out", o("out.json")}, []string{"platform"}, 1},
		{"image: bad platform", []string{"image", "--layer", o("good.json"), "--platform", "linux", "--descriptor-out", o("out.json")},
			[]string{`"linux"`, "os/architecture"}, 1},
		{"image: not a layout", []string{"image", "--base", dir, "--descriptor-out", o("out.json")}, []string{dir, "not an OCI image layout"}, 1},
		{"image: empty layout", []string{"image", "--base", o("empty-layout"), "--descriptor-out", o("out.json")}, []string{"empty-layout", "no image"}, 1},
		{"image: bad port", []string{"image", "--layer", o("good.json"), "--platform", "linux/amd64", "--expose", "http", "--descriptor-out", o("out.json")},
			[]string{`"http"`}, 1},
		{"image: unknown version", []string{"image", "--layer", o("good.json"), "--platform", "linux/amd64", "--compatibility-version", "99", "--descriptor-out", o("out.json")},
			[]string{"unknown compatibility version 99"}, 1},
		{"index: no images", []string{"index", "--descriptor-out", o("out.json")}, []string{"at least one --image"}, 2},
		{"layout: corrupt blob", []string{"layout", "--descriptor", o("good.json"), "--output", o("out-layout")}, []string{"good.json", "neither an image manifest nor an index"}, 1},
		{"unknown flag", []string{"layer", "--frobnicate"}, []string{"-frobnicate"}, 2},
		{"unknown command", []string{"frobnicate"}, []string{`"frobnicate"`}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, c.code, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, stderr)
				}
			}
			if left := outputsLeft(t, dir, o("out.tgz"), o("out.json"), o("out-layout")); len(left) > 0 {
				t.Errorf("outputs left behind: %v", left)
			}
		})
	}
}

// TestCorruptBlobLeavesNoArchive feeds a blob whose bytes do not match its
// descriptor to every materializing command.
func TestCorruptBlobLeavesNoArchive(t *testing.T) {
	dir := buildChain(t)
	o := func(n string) string { return filepath.Join(dir, n) }
	writeFile(t, o("evil.tgz"), "definitely not the layer", 0o644)
	for _, kind := range []string{"layout", "oci-archive", "docker-archive"} {
		out := o("bad-" + kind)
		code, _, stderr := runCLI(t, kind, "--descriptor", o("img-amd64.json"), "--blob", o("cfg-amd64.json"), "--blob", o("man-amd64.json"),
			"--layer", o("l1.json")+"="+o("evil.tgz"), "--output", out)
		if code != 1 || !strings.Contains(stderr, "evil.tgz") {
			t.Errorf("%s: exit %d, stderr %q; want failure naming evil.tgz", kind, code, stderr)
		}
		if left := outputsLeft(t, dir, out); len(left) > 0 {
			t.Errorf("%s: outputs left behind: %v", kind, left)
		}
	}
}

// TestUnreadableSource runs the real binary. Root reads any file, so as
// root the binary runs as nobody.
func TestUnreadableSource(t *testing.T) {
	// t.TempDir's parent is private to root; nobody needs a path it can use.
	dir, err := os.MkdirTemp("", "repro-unreadable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	bin := filepath.Join(dir, "repro")
	if err := copyFile(buildBinary(t), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret.key")
	writeFile(t, secret, "s3cr3t", 0o000)
	spec := filepath.Join(dir, "spec.json")
	writeFile(t, spec, `{"entries":[{"type":"file","path":"/key","source":"`+secret+`"}]}`, 0o644)
	out := filepath.Join(dir, "out.tgz")
	cmd := exec.Command(bin, "layer", "--spec", spec, "--output", out, "--descriptor", filepath.Join(dir, "out.json"))
	if os.Getuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if err == nil {
		t.Fatal("an unreadable source was accepted")
	}
	if !strings.Contains(stderr.String(), "secret.key") || !strings.Contains(stderr.String(), "permission denied") {
		t.Errorf("stderr should name the file and say permission denied:\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if left := outputsLeft(t, dir, out, filepath.Join(dir, "out.json")); len(left) > 0 {
		t.Errorf("outputs left behind: %v", left)
	}
}
