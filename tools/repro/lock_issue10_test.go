package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/rules-repro/rules_repro/tools/internal/testenv"
	"github.com/rules-repro/rules_repro/tools/lock"
)

// TestLockWithoutCAFlags runs the lock commands against the TLS registry
// and an HTTPS file server, trusting their CAs through REPRO_REGISTRY_CA
// alone: add-file pins a file, update reports what moved, --check-only
// tells a stale lockfile (exit 3) from a broken one (exit 1), and a file
// that changed upstream is an error naming its URL.
func TestLockWithoutCAFlags(t *testing.T) {
	fastRetries(t)
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true})
	_, _, index := seedBase(t, reg, "base", "1")
	content := []byte("tool v1")
	toolURL, filesCA := fileServer(t, content)
	lf := filepath.Join(t.TempDir(), "repro.lock.json")
	ref := reg.Addr() + "/base:1"

	// Without the CA: refused.
	t.Setenv(RegistryCAEnv, "")
	mustCLI(t, "lock", "add", "base", ref, "--platform", "linux/amd64", "--lockfile", lf)
	mustContain(t, "update without CA", failCLI(t, "lock", "update", "--lockfile", lf), "images.base", "nothing was written")

	t.Setenv(RegistryCAEnv, reg.CACertPath()+string(os.PathListSeparator)+filesCA)
	out := mustCLI(t, "lock", "update", "--lockfile", lf)
	mustContain(t, "update", out, "images.base: docker-image://"+ref+" pinned to "+digest.FromBytes(index).String())
	out = mustCLI(t, "lock", "add-file", "tool", toolURL, "--lockfile", lf)
	mustContain(t, "add-file", out, "files.tool: "+toolURL+" pinned to sha256 "+digest.FromBytes(content).Encoded())
	mustContain(t, "check", mustCLI(t, "lock", "check", "--lockfile", lf), "ok")

	// Up to date: --check-only exits 0 and writes nothing.
	before := readBytes(t, lf)
	mustContain(t, "check-only", mustCLI(t, "lock", "update", "--check-only", "--lockfile", lf), "up to date", "files.tool: "+toolURL+" unchanged")

	// The tag moves: --check-only reports old → new and exits 3.
	seedBase(t, reg, "base", "1") // same content: same digest
	moved := strings.Replace(string(before), digest.FromBytes(index).String(), "sha256:"+strings.Repeat("0", 64), 1)
	if err := os.WriteFile(lf, []byte(moved), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "lock", "update", "--check-only", "--lockfile", lf)
	if code != 3 {
		t.Fatalf("--check-only of a stale lockfile: exit %d, want 3\n%s%s", code, out, errOut)
	}
	mustContain(t, "check-only output", out+errOut, "moved: sha256:"+strings.Repeat("0", 64)+" → "+digest.FromBytes(index).String(), "is stale", "nothing was written")
	if got := readBytes(t, lf); string(got) != moved {
		t.Error("--check-only wrote the lockfile")
	}
	if err := os.WriteFile(lf, before, 0o644); err != nil {
		t.Fatal(err)
	}

	// A broken lockfile: exit 1, not 3.
	mustCLI(t, "lock", "add", "typo", reg.Addr()+"/bsae:1", "--lockfile", lf)
	mustContain(t, "check-only of a broken lockfile", failCLI(t, "lock", "update", "--check-only", "--lockfile", lf), "images.typo")
	mustContain(t, "did you mean", failCLI(t, "lock", "update", "--name", "bsae", "--lockfile", lf), `no entry named "bsae"`, `did you mean "base"?`)
	if err := os.WriteFile(lf, before, 0o644); err != nil {
		t.Fatal(err)
	}

	// The file changes upstream: update fails naming the URL, keeps the pin.
	copy(content, "tool v2")
	errOut = failCLI(t, "lock", "update", "--lockfile", lf)
	mustContain(t, "changed file", errOut, "files.tool: "+toolURL+" changed upstream", "repro lock add-file --replace tool "+toolURL, "nothing was written")
	if got := readBytes(t, lf); string(got) != string(before) {
		t.Error("update changed the lockfile of a file that changed upstream")
	}
	out = mustCLI(t, "lock", "add-file", "--replace", "tool", toolURL, "--lockfile", lf)
	mustContain(t, "re-pin", out, "pinned to sha256 "+digest.FromBytes([]byte("tool v2")).Encoded())
}

// TestLockCheckJSON checks the per-entry report the pins repository rules
// read: each problem with its entry, the canonical form apart.
func TestLockCheckJSON(t *testing.T) {
	lf := filepath.Join(t.TempDir(), "repro.lock.json")
	mustCLI(t, "lock", "add", "base", "registry.example.com/base:1", "--platform", "linux/amd64", "--lockfile", lf)
	mustCLI(t, "lock", "add", "tool", "https://example.com/t.tgz", "--sha256", strings.Repeat("a", 64), "--lockfile", lf)
	data := readBytes(t, lf)
	if err := os.WriteFile(lf, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLI(t, "lock", "check", "--json", "--lockfile", lf)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	var rep checkJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Canonical {
		t.Error("canonical: true for a file with an extra newline")
	}
	for _, p := range rep.Problems {
		if p.Kind != "images" || p.Name != "base" {
			t.Errorf("problem not about images.base: %+v", p)
		}
	}
	if len(rep.Problems) == 0 {
		t.Error("no problems reported for an unpinned image")
	}

	// Not JSON: one problem of the whole file.
	if err := os.WriteFile(lf, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, out, _ = runCLI(t, "lock", "check", "--json", "--lockfile", lf)
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Problems) != 1 || rep.Problems[0].Kind != "" {
		t.Errorf("report of a broken file: %v %s", err, out)
	}
	// A missing file: a report too.
	_, out, _ = runCLI(t, "lock", "check", "--json", "--lockfile", lf+".missing")
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Problems) != 1 {
		t.Errorf("report of a missing file: %v %s", err, out)
	}
	_ = lock.DefaultPath
}
