package main

import (
	"flag"
	"io"

	"github.com/rules-repro/rules_repro/tools/diff"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/registry"
)

func init() {
	register(command{"diff", "explain why two images, indexes or layers have different digests (exit 0 equal, 1 different, 2 error)", cmdDiff})
}

// parseInterleaved parses flags that may come before, between or after
// positional arguments, and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, errHelp
			}
			return nil, usagef("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// diffFlags are the flags of repro diff that check-digest shares.
type diffFlags struct {
	format   string
	semantic bool
	platform string
	blobs    blobFlags
	pull     pullFlags
}

func (f *diffFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.format, "format", "text", "output format: text or json")
	fs.BoolVar(&f.semantic, "semantic", false, "ignore timestamps, history, entry order, tar format and compression; report differences of content only")
	fs.StringVar(&f.platform, "platform", "", "compare only this platform of indexes (os/arch[/variant])")
	f.blobs.register(fs)
	f.pull.register(fs)
}

func (f *diffFlags) options() (diff.Options, diff.OpenOptions, error) {
	var o diff.Options
	var oo diff.OpenOptions
	if f.format != "text" && f.format != "json" {
		return o, oo, usagef("--format %q: want text or json", f.format)
	}
	o.Semantic = f.semantic
	if f.platform != "" {
		p, err := oci.ParsePlatform(f.platform)
		if err != nil {
			return o, oo, usagef("%v", err)
		}
		o.Platform = p
	}
	set, err := f.blobs.set()
	if err != nil {
		return o, oo, err
	}
	oo.Blobs = set
	var client *registry.Client
	oo.Registry = func() (*registry.Client, error) {
		if client == nil {
			c, err := f.pull.client()
			if err != nil {
				return nil, err
			}
			client = c
		}
		return client, nil
	}
	return o, oo, nil
}

func cmdDiff(args []string, stdout io.Writer) error {
	fs := newFlags("diff", "diff [flags] A B\n\n"+
		"A and B are each an OCI layout directory, an OCI or docker archive, a registry\n"+
		"reference (REPO:TAG or REPO@sha256:...), a layer blob (tar, tar+gzip, tar+zstd),\n"+
		"a descriptor file from 'repro layer', 'repro image' or 'repro index', or a\n"+
		"manifest or index file. Prefixes force a kind: oci:, oci-archive:,\n"+
		"docker-archive:, docker://, layer:. Exit status: 0 equal, 1 different, 2 error.", stdout)
	var f diffFlags
	f.register(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("want two inputs to compare, A and B; got %d", len(pos))
	}
	o, oo, err := f.options()
	if err != nil {
		return err
	}
	rep, err := runDiff(pos[0], pos[1], o, oo)
	if err != nil {
		return exitError{2, err}
	}
	if f.format == "json" {
		err = diff.WriteJSON(stdout, rep)
	} else {
		err = diff.WriteText(stdout, rep)
	}
	if err != nil {
		return exitError{2, err}
	}
	if !rep.Equal {
		return exitError{code: 1}
	}
	return nil
}

// runDiff opens both inputs and compares them.
func runDiff(a, b string, o diff.Options, oo diff.OpenOptions) (*diff.Report, error) {
	ctx, cancel := interruptContext()
	defer cancel()
	sa, err := diff.Open(ctx, a, oo)
	if err != nil {
		return nil, err
	}
	defer sa.Close()
	sb, err := diff.Open(ctx, b, oo)
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	return diff.Compare(ctx, sa, sb, o)
}
