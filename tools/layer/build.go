package layer

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/rules-repro/rules_repro/tools/atomicfile"
	"github.com/rules-repro/rules_repro/tools/blob"
	"github.com/rules-repro/rules_repro/tools/oci"
)

// BuildOptions say how a tree is encoded. The media type, the recorded
// compatibility version and the descriptor's annotations come from the
// tree's Options.Version.
type BuildOptions struct {
	Encoding blob.Encoding
	// CreatedBy is recorded in the descriptor as the layer's history text.
	CreatedBy string
}

// Build encodes the tree into blobPath and writes its descriptor to
// descPath (when not empty). Everything is validated before anything is
// written, and both files appear only when both are complete.
func Build(t *Tree, blobPath, descPath string, o BuildOptions) (*oci.LayerDescriptor, error) {
	v := t.opts.Version
	ann, err := v.LayerAnnotations(t.opts.FileMTime)
	if err != nil {
		return nil, err
	}
	entries := 0
	var produce func(io.Writer) error
	if t.stream != "" {
		produce = func(w io.Writer) (err error) {
			entries, err = t.streamDir(t.stream, w)
			return err
		}
	} else {
		nodes, err := t.finish()
		if err != nil {
			return nil, err
		}
		entries = len(nodes)
		produce = func(w io.Writer) error { return writeNodes(w, nodes, &v.Tar) }
	}
	var outs atomicfile.Group
	defer outs.Abort()
	out, err := outs.Create(blobPath)
	if err != nil {
		return nil, err
	}
	// Encode writes the blob in chunks of hundreds of KiB: no buffering.
	res, err := blob.Encode(pathWriter{out, blobPath}, o.Encoding, produce)
	if err != nil {
		return nil, err
	}
	desc := &oci.LayerDescriptor{
		MediaType:            v.LayerMediaType(o.Encoding.Compression),
		Digest:               res.Digest,
		Size:                 res.Size,
		DiffID:               res.DiffID,
		UncompressedSize:     res.UncompressedSize,
		Entries:              entries,
		CreatedBy:            o.CreatedBy,
		CompatibilityVersion: v.Number,
		Annotations:          ann,
	}
	if descPath != "" {
		data, err := json.MarshalIndent(desc, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := outs.WriteFile(descPath, append(data, '\n')); err != nil {
			return nil, err
		}
	}
	if err := outs.Commit(); err != nil {
		return nil, err
	}
	return desc, nil
}

// pathWriter names the output in write errors.
type pathWriter struct {
	w    io.Writer
	path string
}

func (p pathWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if err != nil {
		err = fmt.Errorf("writing %s: %w", p.path, err)
	}
	return n, err
}
