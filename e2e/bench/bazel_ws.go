package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// The generated monorepo of the bazel section: one base image, two
// common layers, and per image its own application layer, built twice
// in the same workspace: with rules_repro, and with genrules calling
// bsdtar and crane (the tools rules_oci relies on).

// monoSpec sizes the monorepo of a mode.
type monoSpec struct {
	images   int
	app      corpusSpec // per image; name and seed are set per image
	base     corpusSpec
	runtime  corpusSpec
	assets   corpusSpec
	changeAt int // the image whose file the incremental build changes (1-based)
}

func monorepo(quick bool) monoSpec {
	if quick {
		return monoSpec{
			images:   4,
			app:      corpusSpec{title: "application", top: "app", kind: "mixed", bytes: 2e6, files: 8},
			base:     corpusSpec{name: "base", title: "base system", top: "usr", kind: "mixed", bytes: 2e6, files: 20, seed: 11},
			runtime:  corpusSpec{name: "runtime", title: "common runtime", top: "opt", kind: "text", bytes: 0.5e6, files: 25, seed: 12},
			assets:   corpusSpec{name: "assets", title: "common assets", top: "srv", kind: "binary", bytes: 0.5e6, files: 4, seed: 13},
			changeAt: 2,
		}
	}
	return monoSpec{
		images:   20,
		app:      corpusSpec{title: "application", top: "app", kind: "mixed", bytes: 20e6, files: 40},
		base:     corpusSpec{name: "base", title: "base system", top: "usr", kind: "mixed", bytes: 20e6, files: 200, seed: 11},
		runtime:  corpusSpec{name: "runtime", title: "common runtime", top: "opt", kind: "text", bytes: 5e6, files: 250, seed: 12},
		assets:   corpusSpec{name: "assets", title: "common assets", top: "srv", kind: "binary", bytes: 5e6, files: 20, seed: 13},
		changeAt: 10,
	}
}

func (m monoSpec) imageName(i int) string { return fmt.Sprintf("app%02d", i) }

func (m monoSpec) appSpec(i int) corpusSpec {
	s := m.app
	s.name = m.imageName(i)
	s.seed = 100 + uint64(i)
	return s
}

// Target labels of the two pipelines.
func (m monoSpec) reproTargets() []string {
	var t []string
	for i := 1; i <= m.images; i++ {
		t = append(t, "//images/"+m.imageName(i)+":image", "//images/"+m.imageName(i)+":push")
	}
	return t
}

func (m monoSpec) reproPushTargets() []string {
	var t []string
	for i := 1; i <= m.images; i++ {
		t = append(t, "//images/"+m.imageName(i)+":push")
	}
	return t
}

func (m monoSpec) genruleTargets() []string {
	var t []string
	for i := 1; i <= m.images; i++ {
		t = append(t, "//images/"+m.imageName(i)+":gr_image")
	}
	return t
}

// writeIfChanged writes a file only when its content differs, so that
// Bazel sees unchanged mtimes for unchanged files.
func writeIfChanged(path string, content []byte, mode os.FileMode) error {
	if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, content) {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() == mode {
			return nil
		}
		return os.Chmod(path, mode)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, content, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func copyIfChanged(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if fi.Mode()&0o111 != 0 {
		mode = 0o755
	}
	return writeIfChanged(dst, b, mode)
}

// snapshotRepo copies the files of the repository's working tree (tracked
// and untracked, not ignored: what a clone holds) to dst, and removes
// files that are no longer there. The benchmark's workspace points at
// this copy, so that edits made while it runs do not invalidate its
// builds halfway.
func snapshotRepo(repo, dst string) (int, error) {
	out, err := exec.Command("git", "-C", repo, "ls-files", "-z", "-c", "-o", "--exclude-standard").Output()
	if err != nil {
		return 0, fmt.Errorf("git ls-files in %s: %w", repo, err)
	}
	keep := map[string]bool{}
	for _, rel := range strings.Split(string(out), "\x00") {
		if rel == "" {
			continue
		}
		src := filepath.Join(repo, rel)
		fi, err := os.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the working tree, or a symlink
		}
		keep[filepath.Clean(rel)] = true
		if err := copyIfChanged(src, filepath.Join(dst, rel)); err != nil {
			return 0, err
		}
	}
	var stale []string
	err = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dst, p)
		if d.IsDir() || keep[rel] {
			return nil
		}
		stale = append(stale, p)
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, p := range stale {
		if err := os.Remove(p); err != nil {
			return 0, err
		}
	}
	return len(keep), nil
}

// The genrule baseline's macros. Layers: bsdtar with the normalization it
// offers (owner 0:0, numeric, no gzip timestamp); it can neither sort nor
// clamp mtimes, so the sources' mtimes go into the layer. Images: crane
// v0.22.1 can only take a base from a registry (`crane append -b` and
// `crane mutate` pull it), so each image action does what rules_oci 1.x's
// oci_image did: start `crane registry serve` on the loopback of its
// sandbox, push the base there, and `crane mutate --append ... -o` writes
// the image as a tarball.
const genruleDefs = `"""Genrule pipeline of the benchmark: bsdtar layers, crane images (generated by e2e/bench)."""

def bsdtar_layer(name, srcs, strip):
    native.genrule(
        name = name,
        srcs = srcs,
        outs = [name + ".tar.gz"],
        tools = ["//tools:bsdtar"],
        cmd = "$(execpath //tools:bsdtar) --uid 0 --gid 0 --numeric-owner --options gzip:!timestamp -H -s '|^%s/||' -czf $@ $(SRCS)" % strip,
    )

def crane_base(name, layer, tag):
    native.genrule(
        name = name,
        srcs = [layer],
        outs = [name + ".tar"],
        tools = ["//tools:crane"],
        cmd = "$(execpath //tools:crane) append --oci-empty-base -t %s -f $(location %s) -o $@ 2>$(@D)/%s.log || { cat $(@D)/%s.log >&2; exit 1; }" % (tag, layer, name, name),
    )

_IMAGE_CMD = """set -eu
crane=$(execpath //tools:crane)
log=$(@D)/{name}.registry.log
: >"$$log"
"$$crane" registry serve --address 127.0.0.1:0 >>"$$log" 2>&1 &
pid=$$!
trap 'kill $$pid 2>/dev/null || true' EXIT
port=
for _ in $$(seq 400); do
  port=$$(sed -n 's/.*serving on port \\([0-9]*\\).*/\\1/p' "$$log")
  [ -n "$$port" ] && break
  sleep 0.025
done
[ -n "$$port" ] || {{ echo "crane registry serve did not start:" >&2; cat "$$log" >&2; exit 1; }}
reg=127.0.0.1:$$port
"$$crane" push --insecure $(location {base}) "$$reg/base:latest" >"$$log.push" 2>&1 || {{ cat "$$log.push" >&2; exit 1; }}
"$$crane" mutate --insecure "$$reg/base:latest" {appends} {config} -t {tag} -o $@ >"$$log.mutate" 2>&1 || {{ cat "$$log.mutate" >&2; exit 1; }}
"""

def crane_image(name, base, layers, entrypoint, env, tag):
    native.genrule(
        name = name,
        srcs = [base] + layers,
        outs = [name + ".tar"],
        tools = ["//tools:crane"],
        cmd = _IMAGE_CMD.format(
            name = name,
            base = base,
            appends = " ".join(["--append $(location %s)" % l for l in layers]),
            config = " ".join(["--entrypoint " + e for e in entrypoint] + ["--env %s=%s" % (k, v) for k, v in env.items()]),
            tag = tag,
        ),
    )
`

// writeWorkspace generates the monorepo's data (corpora, cached by their
// stamps) and writes the WORKSPACE, BUILD files and tools.
func writeWorkspace(e *env, ws, rulesRepro string, m monoSpec) error {
	if err := os.MkdirAll(ws, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"WORKSPACE": fmt.Sprintf(`# Generated by e2e/bench (section bazel).
workspace(name = "bench")

local_repository(
    name = "rules_repro",
    path = %q,
)

load("@rules_repro//rules:repositories.bzl", "rules_repro_toolchains")

rules_repro_toolchains()
`, rulesRepro),
		// The output base inside the work directory, so that --clean
		// removes it too. Compatibility version 2, as the README advises
		// for remote builds: under version 1 the images built on the
		// cluster differ (Bazel marks remote inputs executable).
		".bazelrc":    fmt.Sprintf("startup --host_jvm_args=-Xmx1g\nstartup --output_base=%s\ntry-import %%workspace%%/offline.bazelrc\nbuild --@rules_repro//rules/settings:compatibility_version=2\n", ws+"-output"),
		"BUILD.bazel": "",
		"tools/BUILD.bazel": `package(default_visibility = ["//visibility:public"])

exports_files(["bsdtar", "crane"])
`,
		"tools/defs.bzl": genruleDefs,
	}
	for rel, content := range files {
		if err := writeIfChanged(filepath.Join(ws, rel), []byte(content), 0o644); err != nil {
			return err
		}
	}
	// The genrule pipeline's tools are inputs of its actions (as in
	// rules_oci, whose toolchains provide them), so their bytes are part
	// of the action keys.
	for _, t := range []string{"bsdtar", "crane"} {
		if err := copyIfChanged(e.tools[t], filepath.Join(ws, "tools", t)); err != nil {
			return err
		}
	}

	load := "load(\"@rules_repro//rules:defs.bzl\", \"repro_image\", \"repro_layer\", \"repro_push\")\nload(\"//tools:defs.bzl\", \"bsdtar_layer\", \"crane_base\", \"crane_image\")\n\npackage(default_visibility = [\"//visibility:public\"])\n\n"
	common := []corpusSpec{m.base, m.runtime, m.assets}
	for _, c := range common {
		if _, err := ensureCorpus(ws, c, e.logf); err != nil {
			return err
		}
		build := load + fmt.Sprintf(`repro_layer(
    name = "layer",
    srcs = glob([%q]),
)

bsdtar_layer(
    name = "gr_layer",
    srcs = glob([%q]),
    strip = %q,
)
`, c.top+"/**", c.top+"/**", c.name)
		if c.name == "base" {
			build += `
repro_image(
    name = "image",
    env = {"PATH": "/usr/bin:/bin"},
    layers = [":layer"],
)

crane_base(
    name = "gr_image",
    layer = ":gr_layer",
    tag = "bench.invalid/base:latest",
)
`
		}
		if err := writeIfChanged(filepath.Join(ws, c.name, "BUILD.bazel"), []byte(build), 0o644); err != nil {
			return err
		}
	}
	for i := 1; i <= m.images; i++ {
		name := m.imageName(i)
		if _, err := ensureCorpus(filepath.Join(ws, "images"), m.appSpec(i), e.logf); err != nil {
			return err
		}
		build := load + fmt.Sprintf(`repro_layer(
    name = "layer",
    srcs = glob(["app/**"]),
)

repro_image(
    name = "image",
    base = "//base:image",
    entrypoint = ["/app/run"],
    env = {"APP": %[1]q},
    layers = [
        "//runtime:layer",
        "//assets:layer",
        ":layer",
    ],
)

repro_push(
    name = "push",
    image = ":image",
    repository = "127.0.0.1:9/bench/%[1]s",
    tags_to_push = ["latest"],
)

bsdtar_layer(
    name = "gr_layer",
    srcs = glob(["app/**"]),
    strip = "images/%[1]s",
)

crane_image(
    name = "gr_image",
    base = "//base:gr_image",
    entrypoint = ["/app/run"],
    env = {"APP": %[1]q},
    layers = [
        "//runtime:gr_layer",
        "//assets:gr_layer",
        ":gr_layer",
    ],
    tag = "bench.invalid/%[1]s:latest",
)
`, name)
		if err := writeIfChanged(filepath.Join(ws, "images", name, "BUILD.bazel"), []byte(build), 0o644); err != nil {
			return err
		}
	}
	// Packages of images from a larger earlier configuration would still
	// match nothing we build; remove them so the workspace is what we say.
	entries, err := os.ReadDir(filepath.Join(ws, "images"))
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for i := 1; i <= m.images; i++ {
		want[m.imageName(i)] = true
		want[m.imageName(i)+".stamp"] = true
	}
	for _, d := range entries {
		if !want[d.Name()] {
			if err := os.RemoveAll(filepath.Join(ws, "images", d.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// firstFile returns the first regular file below dir in lexical order.
func firstFile(dir string) (string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if len(files) == 0 {
		return "", fmt.Errorf("no files below %s", dir)
	}
	sort.Strings(files)
	return files[0], nil
}
