package publish

// The push plan: what is pushed (the blobs and manifests under the root,
// walked once), and for each blob the one decision tree that says how it
// gets into the destination. Both the push and its dry run ask decide; the
// dry run prints the steps, the push carries them out.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/registry"
)

// blobItem is one distinct blob of the push.
type blobItem struct {
	desc  specs.Descriptor
	role  string // "config of linux/amd64", "layer 2 of linux/amd64"
	local bool
	where string // the local path, or "memory"
	step  step   // how it gets into the destination (decide)
}

// manifestItem is one manifest or index, in push order.
type manifestItem struct {
	desc  specs.Descriptor
	data  []byte
	label string // "linux/amd64", "index"
}

type plan struct {
	blobs     []*blobItem
	manifests []manifestItem
	bytes     int64
}

// makePlan walks root: blobs in first-seen order, manifests children first.
func makePlan(root specs.Descriptor, set *oci.BlobSet) (*plan, error) {
	p := &plan{}
	seen := map[digest.Digest]bool{}
	addBlob := func(d specs.Descriptor, role string) {
		if seen[d.Digest] {
			return
		}
		seen[d.Digest] = true
		b := &blobItem{desc: d, role: role, local: set.Has(d.Digest)}
		if b.local {
			if r, where, err := set.Open(d.Digest); err == nil {
				r.Close()
				b.where = where
			}
		}
		p.blobs = append(p.blobs, b)
		p.bytes += d.Size
	}
	var visit func(d specs.Descriptor, label string, depth int) error
	visit = func(d specs.Descriptor, label string, depth int) error {
		if seen[d.Digest] {
			return nil
		}
		if depth > 4 {
			return fmt.Errorf("index %s: indexes nested too deeply", d.Digest)
		}
		if d.Digest.Validate() != nil || d.Digest.Algorithm() != digest.SHA256 {
			return fmt.Errorf("%s: unsupported digest %q (only sha256)", label, d.Digest)
		}
		switch {
		case oci.IsIndex(d.MediaType):
			data, err := set.Bytes(d.Digest)
			if err != nil {
				return fmt.Errorf("index %s: %w", d.Digest, err)
			}
			idx, err := oci.ParseIndex(data)
			if err != nil {
				return fmt.Errorf("index %s: %w", d.Digest, err)
			}
			for _, m := range idx.Manifests {
				l := "image"
				if m.Platform != nil {
					l = oci.PlatformString(m.Platform)
				}
				if oci.IsIndex(m.MediaType) {
					l = "index"
				}
				if err := visit(m, l, depth+1); err != nil {
					return err
				}
			}
			seen[d.Digest] = true
			p.manifests = append(p.manifests, manifestItem{desc: d, data: data, label: "index"})
		case oci.IsManifest(d.MediaType):
			data, err := set.Bytes(d.Digest)
			if err != nil {
				return fmt.Errorf("manifest %s (%s): %w", d.Digest, label, err)
			}
			m, err := oci.ParseManifest(data)
			if err != nil {
				return fmt.Errorf("manifest %s: %w", d.Digest, err)
			}
			addBlob(m.Config, "config of "+label)
			for i, l := range m.Layers {
				addBlob(l, fmt.Sprintf("layer %d of %s", i+1, label))
			}
			seen[d.Digest] = true
			p.manifests = append(p.manifests, manifestItem{desc: d, data: data, label: label})
		default:
			addBlob(d, "blob of "+label)
		}
		return nil
	}
	label := "image"
	if root.Platform != nil {
		label = oci.PlatformString(root.Platform)
	}
	if err := visit(root, label, 0); err != nil {
		return nil, err
	}
	for _, b := range p.blobs {
		if b.desc.Digest.Validate() != nil || b.desc.Digest.Algorithm() != digest.SHA256 || b.desc.Size < 0 {
			return nil, fmt.Errorf("%s: unsupported digest %q or size %d", b.role, b.desc.Digest, b.desc.Size)
		}
	}
	return p, nil
}

// foreign reports whether a layer is not meant to be pushed (docker's
// foreign layers, OCI non-distributable layers): it is fetched from its
// URLs instead.
func foreign(d specs.Descriptor) bool {
	return d.MediaType == oci.DockerForeignLayer || strings.Contains(d.MediaType, ".nondistributable.")
}

// action is how one blob gets into the destination.
type action int

const (
	actSkip    action = iota // a foreign layer the build does not have: not pushed
	actExists                // the destination has it
	actMount                 // a source repository on the same registry has it
	actUpload                // the build has it
	actCopy                  // only a source repository on any registry has it
	actMissing               // nowhere to be found
)

// verbs are what the progress view says of a blob in transfer (upload,
// copy) and when it is done.
var verbs = [...]struct{ doing, done string }{
	actSkip:   {"", "skipped"},
	actExists: {"", "exists"},
	actMount:  {"", "mounted"},
	actUpload: {"push", "pushed"},
	actCopy:   {"copy", "copied"},
}

// step is the decision for one blob.
type step struct {
	act     action
	from    string              // actMount, actCopy: the source repository
	src     registry.BlobSource // actUpload, actCopy: where the bytes come from
	session string              // actUpload, actCopy: an upload session a mount attempt opened
	tried   []string            // actMissing: each source and why it had nothing
}

// decide walks the decision tree for one blob, in this order: a foreign
// layer the build lacks is skipped; a blob the destination has (HEAD)
// exists; one a source repository on the same registry has is mounted; one
// the build has is uploaded; one any source repository has is copied;
// anything else is missing.
//
// The dry run (dry) answers every question with HEAD requests. The push
// asks "can it be mounted?" by mounting, as docker, crane and
// go-containerregistry do: the POST …?mount=&from= either links the blob
// (no byte moves, nothing more to do) or opens an upload session, which
// the upload then uses. A HEAD on the source first would cost a request
// and still not say whether the registry mounts.
func (ps *pusher) decide(ctx context.Context, b *blobItem, dry bool) (step, error) {
	d := b.desc.Digest
	if foreign(b.desc) && !b.local {
		return step{act: actSkip}, nil
	}
	if ok, err := ps.dst.HasBlob(ctx, d); err != nil || ok {
		return step{act: actExists}, err
	}
	var st step
	lacks := map[string]string{} // why a source the dry run asked lacks it
	for _, s := range ps.sameReg {
		var mounted bool
		var err error
		if dry {
			_, mounted, err = ps.sourceHas(ctx, s, d)
			lacks[s] = s + ": not there"
			if err != nil {
				lacks[s] = err.Error()
			}
		} else {
			var session string
			mounted, session, err = ps.dst.MountBlob(ctx, d, s)
			if st.session == "" {
				st.session = session
			}
		}
		if err != nil && (errors.Is(err, registry.ErrAuth) || ctx.Err() != nil) {
			return st, err
		}
		if mounted {
			return step{act: actMount, from: s}, nil
		}
	}
	if b.local {
		st.act = actUpload
		st.src = registry.BlobSource{Where: b.where, Open: func(context.Context) (io.ReadCloser, error) {
			r, _, err := ps.o.Blobs.Open(d)
			return r, err
		}}
		return st, nil
	}
	for _, s := range append(append([]string(nil), ps.sameReg...), ps.others...) {
		why, asked := lacks[s]
		if !asked {
			repo, has, err := ps.sourceHas(ctx, s, d)
			switch {
			case err != nil && ctx.Err() != nil:
				return st, err
			case err != nil:
				why = err.Error()
			case !has:
				why = s + ": not there"
			default:
				st.act, st.from = actCopy, s
				st.src = registry.BlobSource{Where: repo.Name(), Remote: true, Open: func(ctx context.Context) (io.ReadCloser, error) {
					return repo.OpenBlob(ctx, d, b.desc.Size)
				}}
				return st, nil
			}
		}
		st.tried = append(st.tried, why)
	}
	st.act = actMissing
	return st, nil
}

// sourceHas opens source repository s (pull access) and asks it for d.
func (ps *pusher) sourceHas(ctx context.Context, s string, d digest.Digest) (*registry.Repo, bool, error) {
	repo, err := ps.source(ctx, s)
	if err != nil {
		return nil, false, err
	}
	has, err := repo.HasBlob(ctx, d)
	return repo, has, err
}

// tally counts a decided blob in the result (the push counts what it did,
// the dry run what the push would do).
func (ps *pusher) tally(b *blobItem, st step) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	r := &ps.res
	switch st.act {
	case actSkip:
		r.Skipped++
	case actExists:
		r.Existed++
	case actMount:
		r.Mounted++
	case actUpload:
		r.Pushed++
		r.PushedBytes += b.desc.Size
	case actCopy:
		r.Copied++
		r.CopiedBytes += b.desc.Size
	}
}

// describe says what the push would do with a blob, for the dry run.
func (st step) describe(size, monolithicMax int64) string {
	switch st.act {
	case actSkip:
		return "skip (foreign layer)"
	case actExists:
		return "exists"
	case actMount:
		return "mount from " + st.from
	case actUpload:
		if registry.Streamed(size, monolithicMax) {
			return "upload (streamed PATCH, then PUT)"
		}
		return "upload (one PUT)"
	case actCopy:
		return "copy from " + st.from + " (streamed, not stored locally)"
	}
	if len(st.tried) == 0 {
		return "MISSING: not in the build, and no source repository given"
	}
	return "MISSING: not in the build, and no source repository has it: " + strings.Join(st.tried, "; ")
}

// missing is the push's error for a blob that is nowhere to be found.
func (st step) missing(b *blobItem) error {
	if len(st.tried) == 0 {
		return fmt.Errorf("%s %s is not in the build, and no --source-repository was given to mount or copy it from (a shallow base needs its source repository)", b.role, b.desc.Digest)
	}
	return fmt.Errorf("%s %s is not in the build, and no source repository has it: %s", b.role, b.desc.Digest, strings.Join(st.tried, "; "))
}
