package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/rules-repro/rules_repro/tools/diff"
	"github.com/rules-repro/rules_repro/tools/layer"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/safejson"
)

func init() {
	register(command{"check-digest", "check an image or index against a golden digest and explain a mismatch (what repro_digest_test runs)", cmdCheckDigest})
}

// checkDigestFlags are the flags of check-digest.
type checkDigestFlags struct {
	descriptor, label, goldenName      string
	golden, goldenKey, goldenWorkspace string
	goldenLayout, goldenRepository     string
	updateCommand, rebuild             string
	update                             bool
	blobs                              blobFlags
	pull                               pullFlags
}

func cmdCheckDigest(args []string, stdout io.Writer) error {
	fs := newFlags("check-digest", "check-digest --descriptor DESC --golden FILE [--golden-key KEY] [--golden-layout DIR | --golden-repository REPO] [--rebuild PLAN.json] [--update] [blob flags]", stdout)
	var f checkDigestFlags
	fs.StringVar(&f.descriptor, "descriptor", "", "descriptor of the image or index to check (from 'repro image' or 'repro index') (required)")
	fs.StringVar(&f.label, "label", "", "what to call the image in messages, for example //app:image")
	fs.StringVar(&f.golden, "golden", "", "the golden file: one digest, a table of KEY... DIGEST rows, or a descriptor (required)")
	fs.StringVar(&f.goldenName, "golden-name", "", "what to call the golden file in messages (default: its path)")
	fs.StringVar(&f.goldenKey, "golden-key", "", "the row of a golden table, for example \"//app:image unstamped\"")
	fs.StringVar(&f.goldenWorkspace, "golden-workspace-path", "", "the golden file's path in the workspace, for --update")
	fs.StringVar(&f.goldenLayout, "golden-layout", "", "an OCI layout of the golden image, to explain a mismatch")
	fs.StringVar(&f.goldenRepository, "golden-repository", "", "a registry repository holding the golden image (by its digest), to explain a mismatch")
	fs.StringVar(&f.updateCommand, "update-command", "", "the command that updates the golden file, printed on a mismatch")
	fs.StringVar(&f.rebuild, "rebuild", "", "JSON plan of layers to rebuild in another environment and compare (written by repro_digest_test)")
	fs.BoolVar(&f.update, "update", false, "write the image's digest into the golden file (under bazel run: in the workspace) instead of checking")
	f.blobs.register(fs)
	f.pull.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if f.descriptor == "" || f.golden == "" {
		return usagef("--descriptor and --golden are required")
	}
	if f.label == "" {
		f.label = f.descriptor
	}
	d, err := oci.ReadImageDescriptor(f.descriptor)
	if err != nil {
		return err
	}
	if f.update {
		return updateGolden(&f, d, stdout)
	}
	ok := true
	if f.rebuild != "" {
		rebuilt, err := rebuildLayers(f.rebuild, stdout)
		if err != nil {
			return err
		}
		ok = rebuilt
	}
	g, err := diff.ReadGolden(f.golden, f.goldenKey)
	if err != nil {
		return err
	}
	if f.goldenName != "" {
		g.Path = f.goldenName
	}
	if g.Digest == d.Digest {
		fmt.Fprintf(stdout, "PASS: %s is %s, as the golden file says (%s)\n", f.label, d.Digest, g.Where())
	} else {
		ok = false
		explainMismatch(&f, d, g, stdout)
	}
	if !ok {
		return exitError{code: 1}
	}
	return nil
}

func updateGolden(f *checkDigestFlags, d *oci.ImageDescriptor, stdout io.Writer) error {
	ws := os.Getenv("BUILD_WORKSPACE_DIRECTORY")
	if ws == "" || f.goldenWorkspace == "" {
		return fmt.Errorf("--update writes into the workspace: run it with bazel run (BUILD_WORKSPACE_DIRECTORY is not set), and on a golden file of this workspace; otherwise put %s into %s by hand", d.Digest, f.golden)
	}
	path := filepath.Join(ws, f.goldenWorkspace)
	old, written, err := diff.UpdateGolden(path, f.goldenKey, d.Digest, f.descriptor)
	if err != nil {
		return err
	}
	what := written
	if f.goldenKey != "" {
		what += fmt.Sprintf(" (row %q)", f.goldenKey)
	}
	switch old {
	case d.Digest:
		fmt.Fprintf(stdout, "%s already holds %s\n", what, d.Digest)
	case "":
		fmt.Fprintf(stdout, "%s: added %s\n", what, d.Digest)
	default:
		fmt.Fprintf(stdout, "%s: %s → %s\n", what, old, d.Digest)
	}
	return nil
}

// explainMismatch prints the two digests, why they differ as far as the
// golden image can be reached, and the command that accepts the change.
func explainMismatch(f *checkDigestFlags, d *oci.ImageDescriptor, g *diff.Golden, w io.Writer) {
	fmt.Fprintf(w, "FAIL: %s is %s, but the golden digest is %s (%s).\n\n", f.label, d.Digest, g.Digest, g.Where())
	var golden, how string
	switch {
	case f.goldenLayout != "":
		golden, how = "oci:"+f.goldenLayout, "the golden layout"
	case f.goldenRepository != "":
		golden, how = "docker://"+f.goldenRepository+"@"+g.Digest.String(), "the golden image in the registry"
	case g.Descriptor != nil:
		golden, how = f.golden, "the golden descriptor (digests only: layer contents cannot be compared)"
	}
	explained := false
	if golden != "" {
		var df diffFlags
		df.format, df.blobs, df.pull = "text", f.blobs, f.pull
		o, oo, err := df.options()
		var rep *diff.Report
		if err == nil {
			rep, err = runDiff(golden, f.descriptor, o, oo)
		}
		if err != nil {
			fmt.Fprintf(w, "Could not compare with %s: %v\n\n", how, err)
		} else {
			fmt.Fprintf(w, "Why: repro diff against %s (A is the golden image, B this build):\n", how)
			diff.WriteText(w, rep)
			fmt.Fprintln(w)
			explained = true
		}
	}
	if !explained {
		fmt.Fprintf(w, "The golden image is not reachable here, so only this build's side can be shown. Set golden_layout (an OCI layout of the golden image) or golden_repository (a registry holding it) on the test, or keep a descriptor as the golden file, to see why.\n")
		fmt.Fprintf(w, "This build (%s):\n", f.descriptor)
		describeImage(w, d)
		fmt.Fprintln(w)
	}
	if f.updateCommand != "" {
		fmt.Fprintf(w, "If the new digest is intended, update the golden file with:\n\n    %s\n", f.updateCommand)
	}
}

// describeImage prints what a descriptor says: the descriptor-level view
// of an image or index.
func describeImage(w io.Writer, d *oci.ImageDescriptor) {
	if oci.IsIndex(d.MediaType) {
		fmt.Fprintf(w, "  index %s\n", d.Digest)
		for _, m := range d.Manifests {
			fmt.Fprintf(w, "  %s: image %s\n", oci.PlatformString(m.Platform), m.Digest)
		}
		return
	}
	fmt.Fprintf(w, "  image %s (%s)\n", d.Digest, oci.PlatformString(d.Platform))
	if d.Config != nil {
		fmt.Fprintf(w, "  config %s\n", d.Config.Digest)
	}
	for i, l := range d.Layers {
		fmt.Fprintf(w, "  layer %d: %s (%d bytes, %s)\n", i, l.Digest, l.Size, l.MediaType)
	}
}

// rebuildPlan is what repro_digest_test writes for --rebuild: the layers of
// the image and how `repro layer` built them.
type rebuildPlan struct {
	Layers []rebuildLayer `json:"layers"`
	// Paths maps the execution-root paths in specs and arguments to
	// paths relative to the runfiles root (the working directory).
	Paths map[string]string `json:"paths"`
	// Skipped lists layers that cannot be rebuilt here, and why.
	Skipped []string `json:"skipped"`
}

type rebuildLayer struct {
	Label      string   `json:"label"`
	Descriptor string   `json:"descriptor"`
	Blob       string   `json:"blob"`
	Spec       string   `json:"spec"`
	Args       []string `json:"args"`
}

// rebuildEnv is the environment the layers are rebuilt in: unlike the
// build's in working directory, umask, time zone and locale.
type rebuildEnv struct {
	dir, tz, locale string
	umask           int
}

func (e rebuildEnv) String() string {
	return fmt.Sprintf("in %s, umask %03o, TZ=%s, LC_ALL=%s", e.dir, e.umask, e.tz, e.locale)
}

func otherEnv(dir string) rebuildEnv {
	e := rebuildEnv{dir: dir, tz: "Pacific/Chatham", locale: "de_DE.UTF-8", umask: 0o077}
	if os.Getenv("TZ") == e.tz {
		e.tz = "America/St_Johns"
	}
	if strings.HasPrefix(os.Getenv("LC_ALL"), "de_DE") {
		e.locale = "C"
	}
	if currentUmask() == 0o077 {
		e.umask = 0o022
	}
	return e
}

// rebuildLayers runs each layer's `repro layer` again in another
// environment and compares the result with the built layer. It returns
// whether all were identical.
func rebuildLayers(planPath string, w io.Writer) (bool, error) {
	data, err := os.ReadFile(planPath)
	if err != nil {
		return false, err
	}
	var plan rebuildPlan
	if err := safejson.Unmarshal(data, &plan); err != nil {
		return false, fmt.Errorf("%s: %w", planPath, err)
	}
	self, err := os.Executable()
	if err != nil {
		return false, err
	}
	tmp, err := os.MkdirTemp("", "repro-rebuild-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	abs := func(p string) string {
		if r, ok := plan.Paths[p]; ok {
			p = r
		}
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		return a
	}
	env := otherEnv(filepath.Join(tmp, "elsewhere", "deeper"))
	if err := os.MkdirAll(env.dir, 0o755); err != nil {
		return false, err
	}
	old := setUmask(env.umask)
	defer setUmask(old)
	ok := true
	for i, l := range plan.Layers {
		spec, err := layer.ReadSpec(abs(l.Spec))
		if err != nil {
			return false, err
		}
		for k := range spec.Entries {
			if s := spec.Entries[k].Source; s != "" {
				spec.Entries[k].Source = abs(s)
			}
		}
		specData, err := json.Marshal(spec)
		if err != nil {
			return false, err
		}
		out := filepath.Join(tmp, fmt.Sprintf("layer%d", i))
		specPath := out + ".spec.json"
		if err := os.WriteFile(specPath, specData, 0o644); err != nil {
			return false, err
		}
		blobPath := out + ".blob"
		descPath := out + ".json"
		argv := []string{"layer", "--spec", specPath, "--output", blobPath, "--descriptor", descPath}
		for _, a := range l.Args {
			parts := strings.Split(a, "=")
			for j, p := range parts {
				if _, known := plan.Paths[p]; known {
					parts[j] = abs(p)
				}
			}
			argv = append(argv, strings.Join(parts, "="))
		}
		cmd := exec.Command(self, argv...)
		cmd.Dir = env.dir
		cmd.Env = append(os.Environ(), "TZ="+env.tz, "LANG="+env.locale, "LC_ALL="+env.locale,
			fmt.Sprintf("REPRO_REBUILD_NOISE=%d", rand.Int()))
		if b, err := cmd.CombinedOutput(); err != nil {
			return false, fmt.Errorf("rebuilding %s: %v\n%s", l.Label, err, b)
		}
		orig, err := oci.ReadLayerDescriptor(abs(l.Descriptor))
		if err != nil {
			return false, err
		}
		again, err := oci.ReadLayerDescriptor(descPath)
		if err != nil {
			return false, err
		}
		if orig.Digest == again.Digest {
			fmt.Fprintf(w, "PASS: %s rebuilt %s: the same layer %s\n", l.Label, env, orig.Digest)
			continue
		}
		ok = false
		fmt.Fprintf(w, "FAIL: %s rebuilt %s is %s, but the build made %s: the layer depends on where and how it is built.\n", l.Label, env, again.Digest, orig.Digest)
		rep, err := runDiff(abs(l.Blob), blobPath, diff.Options{}, diff.OpenOptions{})
		if err != nil {
			fmt.Fprintf(w, "Could not compare them: %v\n", err)
			continue
		}
		fmt.Fprintf(w, "Why: repro diff (A is the build's layer, B the rebuilt one):\n")
		diff.WriteText(w, rep)
		fmt.Fprintln(w)
	}
	for _, s := range plan.Skipped {
		fmt.Fprintf(w, "not rebuilt: %s\n", s)
	}
	return ok, nil
}
