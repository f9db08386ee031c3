package main

import (
	"fmt"
	"io"
	"os"

	digest "github.com/opencontainers/go-digest"
	"github.com/rules-repro/rules_repro/tools/registry"
)

func init() {
	register(command{"pull", "fetch a pinned base image's manifest and config, or its layers, verified (repro pull help)", cmdPull})
}

var pullSubcommands = []lockVerb{
	{"manifest", "fetch one platform's manifest and config by digest into a directory (a shallow base: no layers)", cmdPullManifest},
	{"blobs", "download the layers of a manifest into a blob directory, verifying each", cmdPullBlobs},
}

func cmdPull(args []string, stdout io.Writer) error {
	return runVerb("pull", pullSubcommands, args, stdout)
}

func cmdPullManifest(args []string, stdout io.Writer) error {
	fs := newFlags("pull manifest", "pull manifest --image REF@sha256:DIGEST --platform os/arch --out DIR [--expect-manifest sha256:...] [--expect-config sha256:...] [--ca-file PEM]... [--insecure] [--stall-timeout D]", stdout)
	var (
		o              registry.PullManifestOptions
		expectManifest = fs.String("expect-manifest", "", "digest the platform's manifest must have (from the lockfile)")
		expectConfig   = fs.String("expect-config", "", "digest the platform's config must have (from the lockfile)")
	)
	fs.StringVar(&o.Ref, "image", "", "the image pinned by digest: REPO@sha256:... or REPO:TAG@sha256:... (required)")
	fs.StringVar(&o.Platform, "platform", "", "platform to pick from an index, os/arch[/variant] (required for an index)")
	fs.StringVar(&o.Dir, "out", "", "directory to write manifest.json, config.json and layers.json to (required)")
	var rf pullFlags
	rf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.Ref == "" || o.Dir == "" {
		return usagef("--image and --out are required")
	}
	for flagName, v := range map[string]string{"expect-manifest": *expectManifest, "expect-config": *expectConfig} {
		if v == "" {
			continue
		}
		d, err := digest.Parse(v)
		if err != nil || d.Algorithm() != digest.SHA256 {
			return usagef("--%s %q: want sha256:<64 hex digits>", flagName, v)
		}
	}
	o.ExpectManifest, o.ExpectConfig = digest.Digest(*expectManifest), digest.Digest(*expectConfig)
	client, err := rf.client()
	if err != nil {
		return err
	}
	ctx, cancel := interruptContext()
	defer cancel()
	res, err := client.PullManifest(ctx, o)
	if err != nil {
		return err
	}
	if res.Reused {
		fmt.Fprintf(stdout, "%s: up to date (manifest %s, config %s)\n", o.Dir, res.Manifest, res.Config)
		return nil
	}
	fmt.Fprintf(stdout, "%s: wrote manifest %s, config %s, %d layer descriptors\n", o.Dir, res.Manifest, res.Config, res.Layers)
	return nil
}

func cmdPullBlobs(args []string, stdout io.Writer) error {
	fs := newFlags("pull blobs", "pull blobs --image REF --manifest DIR/manifest.json --out BLOBDIR [--jobs N] [--ca-file PEM]... [--insecure] [--stall-timeout D]", stdout)
	var o registry.PullBlobsOptions
	fs.StringVar(&o.Ref, "image", "", "the image's repository, as a reference (a tag or digest in it is ignored) (required)")
	manifest := fs.String("manifest", "", "the manifest whose layers to fetch, as written by 'repro pull manifest' (required)")
	fs.StringVar(&o.Dir, "out", "", "blob directory: layers go to BLOBDIR/sha256/<hex> (required)")
	fs.IntVar(&o.Jobs, "jobs", 4, "how many layers to download at once")
	var rf pullFlags
	rf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.Ref == "" || *manifest == "" || o.Dir == "" {
		return usagef("--image, --manifest and --out are required")
	}
	data, err := os.ReadFile(*manifest)
	if err != nil {
		return err
	}
	o.Manifest = data
	o.Log = stdout
	client, err := rf.client()
	if err != nil {
		return err
	}
	ctx, cancel := interruptContext()
	defer cancel()
	res, err := client.PullBlobs(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d layers fetched (%d bytes), %d already present\n", o.Dir, res.Fetched, res.Bytes, res.Reused)
	return nil
}
