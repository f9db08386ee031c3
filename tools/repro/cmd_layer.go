package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/rules-repro/rules_repro/tools/compat"
	"github.com/rules-repro/rules_repro/tools/layer"
)

func init() {
	register(command{"layer", "build a layer blob and its descriptor from a spec or a directory", cmdLayer})
}

func cmdLayer(args []string, stdout io.Writer) error {
	fs := newFlags("layer", "layer (--spec SPEC.json | --dir DIR) --output BLOB --descriptor DESC.json [flags]", stdout)
	var (
		spec, dir, output, descriptor, createdBy string
		lowerManifest                            string
		lowerBlobs                               blobFlags
		compression, fileMTime                   string
		level                                    int
		lower                                    stringList
		ep                                       epochFlags
		ver                                      versionFlag
	)
	fs.StringVar(&spec, "spec", "", "layer spec (JSON) declaring the entries")
	fs.StringVar(&dir, "dir", "", "build the layer from this directory: modes from the files (under compatibility version 2 a regular file's mode comes from its content: 0755 for #! or ELF, else 0644), owner 0:0, times clamped to the epoch")
	fs.StringVar(&output, "output", "", "where to write the layer blob")
	fs.StringVar(&descriptor, "descriptor", "", "where to write the descriptor JSON (mediaType, digest, size, diff_id)")
	fs.StringVar(&compression, "compression", "gzip", "gzip, zstd or none")
	fs.IntVar(&level, "compression-level", -1, "compression level (gzip 0-9, zstd 1-22; default: the library default)")
	fs.Var(&lower, "lower", "a layer blob of the base image, bottom first (repeatable): implicit parent directories take the base's metadata, opaque directories expand into whiteouts")
	fs.StringVar(&lowerManifest, "lower-manifest", "", "the base image's manifest: its layers, in order, are the lower layers, found with --blob, --layer and --blobs-from")
	lowerBlobs.register(fs)
	fs.StringVar(&fileMTime, "file-mtime", "", "keep every file time at this value (seconds since 1970) instead of SOURCE_DATE_EPOCH, recorded as the layer annotation "+compat.FileMTimeAnnotation+"; compatibility version 2 or later")
	fs.StringVar(&createdBy, "created-by", "", "history text recorded in the descriptor for the image's history entry (images of compatibility version 2 record the layer digest instead)")
	ep.register(fs)
	ver.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if (spec == "") == (dir == "") {
		return usagef("give exactly one of --spec or --dir")
	}
	if output == "" {
		return usagef("--output is required")
	}
	v, err := ver.get()
	if err != nil {
		return err
	}
	enc, err := v.Encoding(compression, level)
	if err != nil {
		return err
	}
	opts := layer.Options{Version: v}
	if fileMTime != "" {
		// The layer then needs no SOURCE_DATE_EPOCH: none of its bytes
		// depends on it.
		t, err := strconv.ParseInt(fileMTime, 10, 64)
		if err != nil {
			return usagef("--file-mtime %q: want seconds since 1970-01-01, for example 0", fileMTime)
		}
		opts.FileMTime = &t
		if _, err := v.LayerAnnotations(opts.FileMTime); err != nil {
			return err
		}
	} else if opts.Epoch, err = ep.get(); err != nil {
		return err
	}
	switch {
	case len(lower) > 0 && lowerManifest != "":
		return usagef("give --lower or --lower-manifest, not both")
	case len(lower) > 0:
		if opts.Lower, err = layer.ReadLower(lower); err != nil {
			return err
		}
	case lowerManifest != "":
		if opts.Lower, err = readLowerManifest(lowerManifest, &lowerBlobs); err != nil {
			return err
		}
	}
	tree := layer.NewTree(opts)
	defer tree.Close()
	if spec != "" {
		s, err := layer.ReadSpec(spec)
		if err != nil {
			return err
		}
		if err := tree.AddSpec(s, spec); err != nil {
			return err
		}
	} else if err := tree.SetStreamDir(dir); err != nil {
		return err
	}
	d, err := layer.Build(tree, output, descriptor, layer.BuildOptions{Encoding: enc, CreatedBy: createdBy})
	if err != nil {
		return err
	}
	if descriptor == "" {
		fmt.Fprintf(stdout, "%s %d %s\n", d.Digest, d.Size, d.DiffID)
	}
	return nil
}

// readLowerManifest is layer.LowerFromManifest with the blobs the flags name.
func readLowerManifest(path string, b *blobFlags) (*layer.Lower, error) {
	set, err := b.set()
	if err != nil {
		return nil, err
	}
	lower, err := layer.LowerFromManifest(path, set)
	if err != nil {
		return nil, fmt.Errorf("--lower-manifest: %w", err)
	}
	return lower, nil
}
