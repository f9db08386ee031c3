package main

import (
	"fmt"
	"io"
	"runtime"
	"strconv"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/compat"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/publish"
)

func init() {
	register(command{"load", "load an image (or an index's image for a platform) into docker or podman, and check its ID", cmdLoad})
}

func cmdLoad(args []string, stdout io.Writer) error {
	fs := newFlags("load", "load --descriptor DESC.json [--blob FILE]... [--layer DESC=BLOB]... [--blobs-from DIR]... [--source-repository REPO]... [--engine auto|docker|podman] [--platform os/arch] [--tag T]... [--ca-file PEM]... [--insecure] [--stall-timeout D]", stdout)
	var (
		descPath, engine, platform string
		tags, sources              stringList
		b                          blobFlags
		rf                         pullFlags
	)
	fs.StringVar(&descPath, "descriptor", "", "descriptor JSON of the image or index (from 'repro image' or 'repro index') (required)")
	fs.StringVar(&engine, "engine", "auto", "auto (docker when `docker info` succeeds, else podman), docker or podman")
	fs.StringVar(&platform, "platform", "", "for an index: the platform to load (default: this machine's, "+runtime.GOOS+"/"+runtime.GOARCH+")")
	fs.Var(&tags, "tag", "REPOSITORY[:TAG] to give the loaded image (repeatable)")
	fs.Var(&sources, "source-repository", "repository to fetch blobs the build does not have from (base layers), streamed into the engine (repeatable)")
	b.register(fs)
	rf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if descPath == "" {
		return usagef("--descriptor is required")
	}
	switch engine {
	case publish.EngineAuto, publish.EngineDocker, publish.EnginePodman:
	default:
		return usagef("--engine %q: want auto, docker or podman", engine)
	}
	for _, t := range tags {
		if _, err := publish.NormalizeTag(t); err != nil {
			return usagef("%v", err)
		}
	}
	d, err := oci.ReadImageDescriptor(descPath)
	if err != nil {
		return err
	}
	set, err := b.set()
	if err != nil {
		return err
	}
	ctx, cancel := interruptContext()
	defer cancel()
	var srcs []*publish.RegistrySource
	if len(sources) > 0 {
		client, err := rf.registryClient()
		if err != nil {
			return err
		}
		for _, s := range sources {
			src, err := publish.NewRegistrySource(ctx, client, s)
			if err != nil {
				return usagef("--source-repository: %v", err)
			}
			set.AddSource(src)
			srcs = append(srcs, src)
		}
	}
	root := specs.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, Platform: d.Platform}
	if oci.IsIndex(root.MediaType) {
		if root, err = selectPlatform(set, root, platform); err != nil {
			return err
		}
	} else if platform != "" {
		p, err := oci.ParsePlatform(platform)
		if err != nil {
			return usagef("--platform: %v", err)
		}
		if d.Platform != nil && !oci.PlatformMatches(p, d.Platform) {
			return fmt.Errorf("--platform %s: %s is a single image for %s", platform, d.Digest, oci.PlatformString(d.Platform))
		}
	}
	v, err := imageVersion(set, root)
	if err != nil {
		return err
	}
	res, err := publish.Load(ctx, publish.LoadOptions{Image: root, Blobs: set, Encoding: v.Archive, Engine: engine, Tags: tags, Log: stdout})
	if err != nil {
		return err
	}
	var fetched int64
	for _, s := range srcs {
		fetched += s.Fetched
	}
	if fetched > 0 {
		fmt.Fprintf(stdout, "fetched %s of base layers from the source repositories while streaming\n", publish.FormatBytes(fetched))
	}
	platformNote := ""
	if root.Platform != nil {
		platformNote = " for " + oci.PlatformString(root.Platform)
	}
	fmt.Fprintf(stdout, "loaded %s%s into %s in %s: image ID %s\n", res.Manifest, platformNote, res.Engine, publish.FormatDuration(res.Elapsed), res.ID)
	for _, t := range res.Tags {
		fmt.Fprintf(stdout, "tagged %s\n", t)
	}
	return nil
}

// imageVersion is the compatibility version an image was built under, as
// its manifest records it (compat.AnnotationKey); the default version for
// an image without the annotation. The streamed archive is then written as
// that version's docker-archive output is.
func imageVersion(set *oci.BlobSet, image specs.Descriptor) (*compat.Version, error) {
	m, err := set.Manifest(image.Digest)
	if err != nil {
		return nil, err
	}
	s, ok := m.Annotations[compat.AnnotationKey]
	if !ok {
		return compat.Lookup(0)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return nil, fmt.Errorf("image %s records %s=%q, which is not a compatibility version", image.Digest, compat.AnnotationKey, s)
	}
	v, err := compat.Lookup(n)
	if err != nil {
		return nil, fmt.Errorf("image %s was built under compatibility version %d: %v", image.Digest, n, err)
	}
	return v, nil
}
