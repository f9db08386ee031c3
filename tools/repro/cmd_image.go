package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/rules-repro/rules_repro/tools/atomicfile"
	"github.com/rules-repro/rules_repro/tools/image"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/publish"
)

func init() {
	register(command{"image", "assemble an image config and manifest from layer descriptors (no layer bytes needed)", cmdImage})
	register(command{"index", "assemble a multi-platform image index from image descriptors", cmdIndex})
}

// writeResult writes the blobs (path -> bytes; empty paths are skipped) and
// the descriptor and digest files of an assembled image or index, all or
// none, and prints the digest when no file receives it.
func writeResult(stdout io.Writer, d *oci.ImageDescriptor, descOut, digestOut string, blobs map[string][]byte) error {
	desc, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	var out atomicfile.Group
	defer out.Abort()
	files := map[string][]byte{descOut: append(desc, '\n'), digestOut: []byte(d.Digest.String() + "\n")}
	for path, data := range blobs {
		files[path] = data
	}
	for path, data := range files {
		if path == "" {
			continue
		}
		if err := out.WriteFile(path, data); err != nil {
			return err
		}
	}
	if err := out.Commit(); err != nil {
		return err
	}
	if descOut == "" && digestOut == "" {
		fmt.Fprintln(stdout, d.Digest)
	}
	return nil
}

func cmdImage(args []string, stdout io.Writer) error {
	fs := newFlags("image", "image [--spec IMAGE.json] [flags] --descriptor-out DESC.json", stdout)
	var (
		specPath, configOut, manifestOut, descOut string
		digestOut                                 string
		base                                      image.BaseSpec
		layers, entrypoint, cmd, env, labels      stringList
		expose, volumes, annotations              stringList
		workdir, user, stopSignal                 optString
		platform                                  string
		ep                                        epochFlags
		ver                                       versionFlag
	)
	fs.StringVar(&specPath, "spec", "", "image spec JSON (what the Bazel rules write); flags below add to it")
	fs.StringVar(&base.Layout, "base", "", "base image: an OCI layout directory")
	fs.StringVar(&base.Platform, "base-platform", "", "platform to pick from a multi-platform base, os/arch[/variant]")
	fs.StringVar(&base.Manifest, "base-manifest", "", "base image manifest file (with --base-config; layer bytes are not needed)")
	fs.StringVar(&base.Config, "base-config", "", "base image config file")
	fs.StringVar(&base.Name, "base-name", "", "base reference, recorded as org.opencontainers.image.base.name")
	fs.Var(&layers, "layer", "layer descriptor JSON from 'repro layer' (repeatable, bottom first)")
	fs.Var(&entrypoint, "entrypoint", "one element of the entrypoint (repeatable)")
	fs.Var(&cmd, "cmd", "one element of the command (repeatable)")
	fs.Var(&env, "env", "KEY=VALUE, merged with the base's environment ($KEY expands; repeatable)")
	fs.Var(&workdir, "workdir", "working directory")
	fs.Var(&user, "user", "user (name, uid or uid:gid)")
	fs.Var(&labels, "label", "KEY=VALUE config label (repeatable)")
	fs.Var(&expose, "expose", "exposed port, PORT[/tcp|udp|sctp] (repeatable)")
	fs.Var(&volumes, "volume", "volume path (repeatable)")
	fs.Var(&stopSignal, "stop-signal", "stop signal, for example SIGTERM")
	fs.Var(&annotations, "annotation", "KEY=VALUE manifest annotation (repeatable)")
	fs.StringVar(&platform, "platform", "", "os/arch[/variant]; required without a base")
	fs.StringVar(&configOut, "config-out", "", "write the config blob here")
	fs.StringVar(&manifestOut, "manifest-out", "", "write the manifest blob here")
	fs.StringVar(&descOut, "descriptor-out", "", "write the image descriptor JSON here (digest, size, platform, layers)")
	fs.StringVar(&digestOut, "digest-out", "", "write the manifest digest (sha256:...) here")
	ep.register(fs)
	ver.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	spec := &image.Spec{}
	if specPath != "" {
		s, err := image.ReadSpec(specPath)
		if err != nil {
			return err
		}
		spec = s
	}
	if base != (image.BaseSpec{}) {
		if spec.Base != nil {
			return usagef("the base is given both in --spec and by flags")
		}
		spec.Base = &base
	}
	for _, l := range layers {
		spec.Layers = append(spec.Layers, image.LayerSpec{Descriptor: l})
	}
	if len(entrypoint) > 0 {
		e := []string(entrypoint)
		spec.Entrypoint = &e
	}
	if len(cmd) > 0 {
		c := []string(cmd)
		spec.Cmd = &c
	}
	spec.Env = append(spec.Env, env...)
	for _, f := range []struct {
		flag *optString
		dst  **string
	}{{&workdir, &spec.Workdir}, {&user, &spec.User}, {&stopSignal, &spec.StopSignal}} {
		if f.flag.set {
			v := f.flag.v
			*f.dst = &v
		}
	}
	lm, err := keyValues("label", labels)
	if err != nil {
		return err
	}
	spec.Labels = merge(spec.Labels, lm)
	am, err := keyValues("annotation", annotations)
	if err != nil {
		return err
	}
	spec.Annotations = merge(spec.Annotations, am)
	spec.ExposedPorts = append(spec.ExposedPorts, expose...)
	spec.Volumes = append(spec.Volumes, volumes...)
	if platform != "" {
		spec.Platform = platform
	}
	v, err := ver.get()
	if err != nil {
		return err
	}
	e, err := ep.get()
	if err != nil {
		return err
	}
	if v.StampConfig && ep.statusFile != "" {
		vars, err := publish.ReadStatus(ep.statusFile)
		if err != nil {
			return err
		}
		if err := stampSpec(spec, vars); err != nil {
			return err
		}
	}
	opts, err := spec.Options()
	if err != nil {
		return err
	}
	opts.Version, opts.Epoch = v, e
	res, err := image.Build(opts)
	if err != nil {
		return err
	}
	return writeResult(stdout, &res.Descriptor, descOut, digestOut, map[string][]byte{configOut: res.Config, manifestOut: res.Manifest})
}

// stampSpec expands {KEY} stamp variables in the values of labels,
// annotations and env from a workspace status (as push does in tags), for
// the versions that do (compat.Version.StampConfig). A key the status does
// not hold is an error naming the label, annotation or variable.
func stampSpec(spec *image.Spec, vars map[string]string) error {
	for _, m := range []struct {
		what string
		kv   map[string]string
	}{{"label", spec.Labels}, {"annotation", spec.Annotations}} {
		for k, val := range m.kv {
			x, err := publish.Expand(val, fmt.Sprintf("%s %s: value", m.what, k), vars)
			if err != nil {
				return err
			}
			m.kv[k] = x
		}
	}
	for i, e := range spec.Env {
		k, val, _ := strings.Cut(e, "=")
		x, err := publish.Expand(val, fmt.Sprintf("env %s: value", k), vars)
		if err != nil {
			return err
		}
		spec.Env[i] = k + "=" + x
	}
	return nil
}

func merge(a, b map[string]string) map[string]string {
	if len(b) == 0 {
		return a
	}
	if a == nil {
		a = map[string]string{}
	}
	for k, v := range b {
		a[k] = v
	}
	return a
}

func cmdIndex(args []string, stdout io.Writer) error {
	fs := newFlags("index", "index --image DESC.json... [flags] --descriptor-out DESC.json", stdout)
	var (
		images, annotations stringList
		indexOut, descOut   string
		digestOut           string
		ep                  epochFlags
		ver                 versionFlag
	)
	fs.Var(&images, "image", "image descriptor JSON from 'repro image' (repeatable; order is kept)")
	fs.Var(&annotations, "annotation", "KEY=VALUE index annotation (repeatable)")
	fs.StringVar(&indexOut, "index-out", "", "write the index blob here")
	fs.StringVar(&descOut, "descriptor-out", "", "write the index descriptor JSON here")
	fs.StringVar(&digestOut, "digest-out", "", "write the index digest (sha256:...) here")
	ep.register(fs)
	ver.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if len(images) == 0 {
		return usagef("an index needs at least one --image")
	}
	v, err := ver.get()
	if err != nil {
		return err
	}
	e, err := ep.get()
	if err != nil {
		return err
	}
	am, err := keyValues("annotation", annotations)
	if err != nil {
		return err
	}
	o := image.IndexOptions{Version: v, Epoch: e, Annotations: am}
	for _, p := range images {
		d, err := oci.ReadImageDescriptor(p)
		if err != nil {
			return err
		}
		o.Images = append(o.Images, d)
	}
	res, err := image.BuildIndex(o)
	if err != nil {
		return err
	}
	return writeResult(stdout, &res.Descriptor, descOut, digestOut, map[string][]byte{indexOut: res.Index})
}
