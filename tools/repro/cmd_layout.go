package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"runtime"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/atomicfile"
	"github.com/rules-repro/rules_repro/tools/oci"
)

func init() {
	for _, f := range oci.OutputFormats {
		register(command{f.Name, f.Summary, func(a []string, w io.Writer) error { return cmdMaterialize(f, a, w) }})
	}
}

func cmdMaterialize(format oci.OutputFormat, args []string, stdout io.Writer) error {
	kind := format.Name
	fs := newFlags(kind, kind+" --descriptor DESC.json --output PATH [--blob FILE] [--layer DESC=BLOB] [--blobs-from LAYOUT] [flags]", stdout)
	var (
		descPath, output, refName, platform string
		tags                                stringList
		b                                   blobFlags
		ver                                 versionFlag
	)
	fs.StringVar(&descPath, "descriptor", "", "descriptor JSON of the image or index (from 'repro image' or 'repro index')")
	fs.StringVar(&output, "output", "", "output path")
	fs.StringVar(&refName, "ref-name", "", "name recorded in index.json (org.opencontainers.image.ref.name)")
	if format.Docker {
		fs.Var(&tags, "tag", "repository:tag to load the image as (repeatable)")
		fs.StringVar(&platform, "platform", "", "for an index: the platform to load (default: this machine's, "+runtime.GOOS+"/"+runtime.GOARCH+")")
	}
	b.register(fs)
	ver.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if descPath == "" || output == "" {
		return usagef("--descriptor and --output are required")
	}
	v, err := ver.get()
	if err != nil {
		return err
	}
	enc := v.Archive
	d, err := oci.ReadImageDescriptor(descPath)
	if err != nil {
		return err
	}
	set, err := b.set()
	if err != nil {
		return err
	}
	root := specs.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, Platform: d.Platform}
	switch {
	case format.Directory:
		return oci.WriteLayout(output, root, set, enc, refName)
	case format.Docker:
		if oci.IsIndex(root.MediaType) {
			if root, err = selectPlatform(set, root, platform); err != nil {
				return err
			}
		} else if platform != "" {
			return usagef("--platform only applies to an index")
		}
		return writeArchive(output, root, set, enc, oci.ArchiveOptions{RefName: refName, RepoTags: tags, Docker: true})
	default:
		return writeArchive(output, root, set, enc, oci.ArchiveOptions{RefName: refName})
	}
}

func writeArchive(output string, root specs.Descriptor, set *oci.BlobSet, enc oci.Encoding, o oci.ArchiveOptions) error {
	f, err := atomicfile.Create(output)
	if err != nil {
		return err
	}
	defer f.Abort()
	w := bufio.NewWriterSize(f, 1<<20)
	if err := oci.WriteArchive(w, root, set, enc, o); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Commit()
}

// selectPlatform picks the image of an index for platform (default: the
// machine's).
func selectPlatform(set *oci.BlobSet, index specs.Descriptor, platform string) (specs.Descriptor, error) {
	want := &specs.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	if platform != "" {
		p, err := oci.ParsePlatform(platform)
		if err != nil {
			return index, usagef("%v", err)
		}
		want = p
	}
	data, err := set.Bytes(index.Digest)
	if err != nil {
		return index, err
	}
	idx, err := oci.ParseIndex(data)
	if err != nil {
		return index, fmt.Errorf("index %s: %w", index.Digest, err)
	}
	m, err := oci.SelectPlatform(idx.Manifests, want)
	var perr *oci.PlatformError
	if errors.As(err, &perr) && len(perr.Matches) == 0 {
		return index, fmt.Errorf("index %s has no image for %s (it has %s)", index.Digest, perr.Want, perr.HaveList())
	}
	if err != nil {
		return index, fmt.Errorf("index %s: %w", index.Digest, err)
	}
	return m, nil
}
