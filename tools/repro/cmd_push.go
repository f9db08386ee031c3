package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/publish"
	"github.com/rules-repro/rules_repro/tools/registry"
)

func init() {
	register(command{"push", "push an image or index to a registry: blobs, manifests, then tags; verified", cmdPush})
}

// Test seams: how long a transfer may stall, and the largest monolithic
// upload.
var (
	registryStallTimeout time.Duration
	pushMonolithicMax    int64
)

// registryClient is pullFlags.client with the push/load settings.
func (r *pullFlags) registryClient() (*registry.Client, error) {
	if r.insecure {
		fmt.Fprintln(pullWarnings, "repro: warning: --insecure: plain HTTP is allowed and TLS certificates are not verified; what is sent and fetched is still checked against its digest, but tags and credentials are not protected")
	}
	return registry.New(registry.Options{CAFiles: r.cas(), Insecure: r.insecure, Retry: pullRetry, StallTimeout: r.stall.get()})
}

func cmdPush(args []string, stdout io.Writer) error {
	fs := newFlags("push", "push --repository REGISTRY/REPO [--tag T]... --descriptor DESC.json [--blob FILE]... [--layer DESC=BLOB]... [--blobs-from DIR]... [--source-repository REGISTRY/REPO]... [--stamp-file stable-status.txt] [--ca-file PEM]... [--insecure] [--stall-timeout D] [--dry-run] [--jobs N] [--progress auto|tty|plain]", stdout)
	var (
		repository, descPath, stampFile, progress string
		tags, sources                             stringList
		dryRun                                    bool
		jobs                                      int
		b                                         blobFlags
		rf                                        pullFlags
	)
	fs.StringVar(&repository, "repository", "", "destination repository, registry[:port]/path; may use {KEY} stamp variables (required)")
	fs.Var(&tags, "tag", "tag to set after everything is pushed; may use {KEY} stamp variables (repeatable; none: push by digest only)")
	fs.StringVar(&descPath, "descriptor", "", "descriptor JSON of the image or index (from 'repro image' or 'repro index') (required)")
	fs.Var(&sources, "source-repository", "repository holding blobs the build does not have (base layers): mounted when on the destination's registry, else streamed registry to registry (repeatable)")
	fs.StringVar(&stampFile, "stamp-file", "", "Bazel workspace status file (stable-status.txt) whose KEY VALUE lines expand {KEY}")
	fs.BoolVar(&dryRun, "dry-run", false, "print what would be sent (blobs and what happens to each, manifests, tags); send only read-only requests")
	fs.IntVar(&jobs, "jobs", 4, "how many blobs to transfer at once")
	fs.StringVar(&progress, "progress", "auto", "auto (live on a terminal, else one line per blob), tty or plain")
	b.register(fs)
	rf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if repository == "" || descPath == "" {
		return usagef("--repository and --descriptor are required")
	}
	if jobs < 1 {
		return usagef("--jobs %d: want at least 1", jobs)
	}
	tty, err := progressMode(progress, stdout)
	if err != nil {
		return err
	}
	var vars map[string]string
	if stampFile != "" {
		if vars, err = publish.ReadStatus(stampFile); err != nil {
			return err
		}
	}
	if repository, err = publish.Expand(repository, "--repository", vars); err != nil {
		return err
	}
	var expanded []string
	for _, t := range tags {
		e, err := publish.Expand(t, "--tag", vars)
		if err != nil {
			return err
		}
		if err := publish.CheckTag(e); err != nil {
			return usagef("--tag: %v", err)
		}
		expanded = append(expanded, e)
	}
	d, err := oci.ReadImageDescriptor(descPath)
	if err != nil {
		return err
	}
	set, err := b.set()
	if err != nil {
		return err
	}
	client, err := rf.registryClient()
	if err != nil {
		return err
	}
	ctx, cancel := interruptContext()
	defer cancel()
	prog := publish.NewProgress(stdout, tty)
	res, err := publish.Push(ctx, publish.PushOptions{
		Client:        client,
		Repository:    repository,
		Tags:          expanded,
		Root:          specs.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, Platform: d.Platform},
		Blobs:         set,
		Sources:       sources,
		DryRun:        dryRun,
		Jobs:          jobs,
		Progress:      prog,
		MonolithicMax: pushMonolithicMax,
	})
	prog.Close()
	if err != nil {
		return err
	}
	if dryRun {
		return nil
	}
	fmt.Fprintln(stdout, pushSummary(res))
	for _, r := range res.Refs {
		fmt.Fprintln(stdout, r)
	}
	return nil
}

// pushSummary is the last line of a push.
func pushSummary(r *publish.PushResult) string {
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(r.Pushed, "pushed: "+publish.FormatBytes(r.PushedBytes))
	add(r.Existed, "existed")
	add(r.Mounted, "mounted")
	add(r.Copied, "copied registry-to-registry: "+publish.FormatBytes(r.CopiedBytes))
	add(r.Skipped, "foreign, skipped")
	return fmt.Sprintf("pushed %s@%s: %s (%s), %s, %s, %s, in %s",
		r.Repository, r.Digest, publish.Plural(r.Blobs, "blob"), strings.Join(parts, ", "), publish.Plural(r.Manifests, "manifest"),
		publish.Plural(r.Tags, "tag"), retriesText(r.Retries), publish.FormatDuration(r.Elapsed))
}

func retriesText(n int64) string {
	if n == 0 {
		return "no retries"
	}
	return publish.Plural(int(n), "retry")
}

// progressMode decides between the live view and plain lines.
func progressMode(mode string, stdout io.Writer) (bool, error) {
	switch mode {
	case "auto":
		return publish.IsTerminal(stdout) && stdout == io.Writer(os.Stdout), nil
	case "tty":
		return true, nil
	case "plain":
		return false, nil
	}
	return false, usagef("--progress %q: want auto, tty or plain", mode)
}
