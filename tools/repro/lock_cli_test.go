package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLockCLIOffline covers the lock, policy export/import and pull
// commands' flags, exit codes and messages without a registry.
func TestLockCLIOffline(t *testing.T) {
	dir := t.TempDir()
	lf := filepath.Join(dir, "repro.lock.json")
	sha := strings.Repeat("a", 64)
	tests := []struct {
		name string
		args []string
		code int
		out  string // substring of stdout
		err  string // substring of stderr
	}{
		{"lock without subcommand", []string{"lock"}, 2, "Subcommands:", "missing subcommand"},
		{"lock help", []string{"lock", "help"}, 0, "update ", ""},
		{"unknown subcommand", []string{"lock", "frobnicate"}, 2, "", `unknown subcommand "frobnicate" (have: add, add-file, check, fmt, update)`},
		{"add needs two arguments", []string{"lock", "add", "base", "--lockfile", lf}, 2, "", "want NAME and REF, got 1 arguments"},
		{"add bad platform", []string{"lock", "add", "base", "alpine:3", "--platform", "amd64", "--lockfile", lf}, 2, "", "--platform: invalid platform"},
		{"add sha for image", []string{"lock", "add", "base", "alpine:3", "--sha256", sha, "--lockfile", lf}, 2, "", "--sha256 is for files"},
		{"add bad name", []string{"lock", "add", "my-base", "alpine:3", "--lockfile", lf}, 1, "", `invalid name "my-base"`},
		{"add digest", []string{"lock", "add", "base", "alpine@sha256:" + sha, "--lockfile", lf}, 1, "", "has a digest; give the tag only"},
		{"add image", []string{"lock", "add", "base", "alpine:3", "--platform", "linux/amd64", "--lockfile", lf}, 0, "added images.base (alpine:3); run repro lock update --name base", ""},
		{"add again", []string{"lock", "add", "base", "busybox", "--lockfile", lf}, 1, "", "images.base already exists (use --replace"},
		{"add file", []string{"lock", "add", "tool", "https://example.com/tool.tgz", "--sha256", sha, "--lockfile", lf}, 0, "added files.tool", ""},
		{"check incomplete", []string{"lock", "check", "--lockfile", lf}, 1, "", "has 4 problems:\n  images.base.digest: missing; run repro lock update"},
		{"export incomplete", []string{"policy", "export", "--lockfile", lf}, 1, "", "cannot export: images.base: no digest; run repro lock update"},
		{"check missing file", []string{"lock", "check", "--lockfile", filepath.Join(dir, "nope.json")}, 1, "", "no such file"},
		{"update missing file", []string{"lock", "update", "--lockfile", filepath.Join(dir, "nope.json")}, 1, "", "no such file"},
		{"update unknown name", []string{"lock", "update", "--lockfile", lf, "--name", "nope"}, 1, "", `no entry named "nope" in the lockfile (have: base, tool; to pin a new source: repro lock add NAME REF, or repro lock add-file NAME URL) (nothing was written)`},
		{"update bad CA", []string{"lock", "update", "--lockfile", lf, "--ca-file", lf}, 1, "", "no PEM certificate"},
		{"import missing", []string{"policy", "import", "--lockfile", lf}, 2, "", "want one policy FILE"},
		{"import bad policy", []string{"policy", "import", lf, "--lockfile", lf}, 1, "", `unknown field "files"`},
		{"pull without subcommand", []string{"pull"}, 2, "manifest ", "missing subcommand"},
		{"pull manifest flags", []string{"pull", "manifest", "--out", dir}, 2, "", "--image and --out are required"},
		{"pull manifest bad expect", []string{"pull", "manifest", "--image", "r.example/a@sha256:" + sha, "--out", dir, "--expect-manifest", "abc"}, 2, "", `--expect-manifest "abc": want sha256:<64 hex digits>`},
		{"pull manifest by tag", []string{"pull", "manifest", "--image", "r.example/a:1", "--platform", "linux/amd64", "--out", dir}, 1, "", "r.example/a:1: pull needs a reference pinned by digest"},
		{"pull manifest bad ref", []string{"pull", "manifest", "--image", "A B", "--out", dir}, 1, "", `invalid image reference "A B"`},
		{"pull blobs flags", []string{"pull", "blobs", "--image", "r.example/a"}, 2, "", "--image, --manifest and --out are required"},
		{"pull blobs bad manifest", []string{"pull", "blobs", "--image", "r.example/a", "--manifest", lf, "--out", dir}, 1, "", "is not an image manifest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errOut, tc.err) {
				t.Errorf("repro %s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout ~ %q, stderr ~ %q", strings.Join(tc.args, " "), code, tc.code, out, errOut, tc.out, tc.err)
			}
		})
	}
	// fmt makes a hand-written file canonical.
	hand := filepath.Join(dir, "hand.lock.json")
	os.WriteFile(hand, []byte(`{"version": 1, "images": {"b": {"image": "alpine:3", "platforms": {"linux/amd64": {}}}}}`), 0o644)
	_, _, errOut := runCLI(t, "lock", "check", "--lockfile", hand)
	if !strings.Contains(errOut, "not in canonical form") {
		t.Errorf("check of a hand-written file: %s", errOut)
	}
	mustCLI(t, "lock", "fmt", "--lockfile", hand)
	_, _, errOut = runCLI(t, "lock", "check", "--lockfile", hand)
	if strings.Contains(errOut, "canonical") || !strings.Contains(errOut, "images.b.digest: missing") {
		t.Errorf("check after fmt: %s", errOut)
	}
	// Lint warnings are printed, and are not problems by themselves.
	warn := filepath.Join(dir, "warn.lock.json")
	os.WriteFile(warn, []byte(`{
  "files": {},
  "images": {},
  "policy": [
    {
      "action": "CONVERT",
      "selector": {
        "identifier": "https://files.example.com/*",
        "match_type": "WILDCARD"
      },
      "updates": {
        "attrs": {
          "http.checksum": "sha256:`+strings.Repeat("b", 64)+`"
        },
        "identifier": ""
      }
    }
  ],
  "version": 1
}
`), 0o644)
	out := mustCLI(t, "lock", "check", "--lockfile", warn)
	if !strings.Contains(out, "warning: policy[0].updates.identifier: empty, so BuildKit replaces each matching source with the literal pattern") || !strings.Contains(out, ": ok") {
		t.Errorf("check with a lint warning: %s", out)
	}
}
