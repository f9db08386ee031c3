// Package publish pushes images and indexes to registries and loads images
// into docker or podman: the operations behind `repro push` and
// `repro load` (and so behind the repro_push and repro_load rules).
//
// Push sends blobs first (skipping those the registry has; mounting those
// a source repository on the same registry has; streaming those that only
// another registry has, registry to registry, without touching the disk),
// then manifests (an index's children before the index), then tags, and
// reads the result back by digest and by tag. A tag therefore never points
// at something incomplete: a push that fails leaves the tags as they were.
// The wire protocol, authentication, retries and verification are
// tools/registry's.
//
// Load streams a `docker load` archive (tools/oci WriteArchive) into the
// engine and checks the image ID it reports against the config digest.
package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/registry"
)

// PushOptions say what to push where.
type PushOptions struct {
	// Client talks to the registries.
	Client *registry.Client
	// Repository is the destination, "registry[:port]/path" (stamp
	// variables already expanded).
	Repository string
	// Tags are set last; none means a push by digest only.
	Tags []string
	// Root is the image manifest or index to push.
	Root specs.Descriptor
	// Blobs holds the manifests, configs and the layers the build has.
	Blobs *oci.BlobSet
	// Sources are repositories holding the blobs the build does not have
	// (base layers of a shallow pinned base).
	Sources []string
	// DryRun prints the plan and sends only read-only requests.
	DryRun bool
	// Jobs is how many blobs are transferred at once. The default is 4.
	Jobs int
	// Progress receives what happens; nil discards it.
	Progress *Progress
	// MonolithicMax is the largest blob sent with a single PUT; the
	// default is registry.MonolithicMax.
	MonolithicMax int64
}

// PushResult says what Push did.
type PushResult struct {
	// Repository is the destination's full name.
	Repository string
	// Digest is the pushed manifest or index.
	Digest digest.Digest
	// Refs are REPO@DIGEST and REPO:TAG for each tag.
	Refs []string
	// Blobs counts the distinct blobs; Pushed, Existed, Mounted, Copied
	// and Skipped (foreign layers) say what happened to them.
	Blobs, Pushed, Existed, Mounted, Copied, Skipped int
	// PushedBytes were uploaded from the build; CopiedBytes streamed from
	// a source registry to the destination.
	PushedBytes, CopiedBytes int64
	Manifests, Tags          int
	// Retries counts requests, uploads and downloads tried again.
	Retries int64
	Elapsed time.Duration
}

var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// CheckTag checks a tag's syntax (the distribution spec's).
func CheckTag(t string) error {
	if !tagRE.MatchString(t) {
		return fmt.Errorf("invalid tag %q: want up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'", t)
	}
	return nil
}

// pusher holds one push's state.
type pusher struct {
	o       PushOptions
	prog    *Progress
	dst     *registry.Repo
	sameReg []string // sources on the destination's registry (mountable)
	others  []string // sources elsewhere

	srcMu sync.Mutex
	srcs  map[string]*registry.Repo

	mu  sync.Mutex
	res PushResult
}

// Push pushes o.Root and everything it references to o.Repository, then
// o.Tags, and verifies the result. See the package doc for the order.
func Push(ctx context.Context, o PushOptions) (*PushResult, error) {
	start := time.Now()
	if o.Jobs <= 0 {
		o.Jobs = 4
	}
	prog := o.Progress
	if prog == nil {
		prog = NewProgress(io.Discard, false)
	}
	repoName, err := o.Client.ParseRepository(o.Repository)
	if err != nil {
		return nil, err
	}
	for _, t := range o.Tags {
		if err := CheckTag(t); err != nil {
			return nil, err
		}
	}
	if !oci.IsIndex(o.Root.MediaType) && !oci.IsManifest(o.Root.MediaType) {
		return nil, fmt.Errorf("%s has media type %q: want an image manifest or index", o.Root.Digest, o.Root.MediaType)
	}
	pl, err := makePlan(o.Root, o.Blobs)
	if err != nil {
		return nil, err
	}
	ps := &pusher{o: o, prog: prog, srcs: map[string]*registry.Repo{}}
	seenSrc := map[string]bool{}
	for _, s := range o.Sources {
		full, err := o.Client.ParseRepository(s)
		if err != nil {
			return nil, fmt.Errorf("--source-repository: %w", err)
		}
		if seenSrc[full] || full == repoName {
			continue
		}
		seenSrc[full] = true
		if o.Client.SameRegistry(full, repoName) {
			ps.sameReg = append(ps.sameReg, full)
		} else {
			ps.others = append(ps.others, full)
		}
	}
	ps.res = PushResult{Repository: repoName, Digest: o.Root.Digest, Blobs: len(pl.blobs)}
	if o.DryRun {
		return ps.dryRun(ctx, pl, start)
	}
	if ps.dst, err = o.Client.OpenRepo(ctx, repoName, registry.RepoOptions{Push: true, MountFrom: ps.sameReg}); err != nil {
		return nil, err
	}
	prog.Printf("pushing %s to %s: %s (%s), %s, %s", ShortDigest(o.Root.Digest), repoName, Plural(len(pl.blobs), "blob"), FormatBytes(pl.bytes), Plural(len(pl.manifests), "manifest"), Plural(len(o.Tags), "tag"))

	// 1. Blobs.
	prog.Start(len(pl.blobs), pl.bytes)
	err = ps.parallel(ctx, pl.blobs, ps.pushBlob)
	prog.Close()
	if err != nil {
		return ps.failed(err)
	}
	// 2. Manifests, children first, by digest.
	for _, m := range pl.manifests {
		if err := ps.dst.PutManifest(ctx, m.desc.Digest.String(), m.desc.MediaType, m.data); err != nil {
			return ps.failed(err)
		}
		ps.res.Manifests++
		prog.Printf("manifest %s %s", ShortDigest(m.desc.Digest), m.label)
	}
	// 3. Read back by digest, before any tag points at it.
	if err := ps.verifyDigests(ctx, pl); err != nil {
		return ps.failed(err)
	}
	// 4. Tags, last, each read back.
	rootData := pl.manifests[len(pl.manifests)-1].data
	for _, t := range o.Tags {
		if err := ps.dst.PutManifest(ctx, t, o.Root.MediaType, rootData); err != nil {
			return ps.failed(err)
		}
		ps.res.Tags++
		prog.Printf("tagged %s:%s", repoName, t)
	}
	if err := ps.verifyTags(ctx); err != nil {
		return ps.failed(err)
	}
	ps.res.Refs = append(ps.res.Refs, repoName+"@"+o.Root.Digest.String())
	for _, t := range o.Tags {
		ps.res.Refs = append(ps.res.Refs, repoName+":"+t)
	}
	ps.res.Retries = ps.retries()
	ps.res.Elapsed = time.Since(start)
	return &ps.res, nil
}

// failed explains a push that stopped before its tags.
func (ps *pusher) failed(err error) (*PushResult, error) {
	if errors.Is(err, context.Canceled) {
		return nil, err
	}
	what := "no tag was set or moved"
	if ps.res.Tags > 0 {
		what = fmt.Sprintf("%d of %d tags were set, each to the complete, verified image", ps.res.Tags, len(ps.o.Tags))
	}
	return nil, &PushError{Err: err, Note: what + "; blobs already uploaded stay in the registry and are reused by the next push", Retries: ps.retries()}
}

// PushError is a failed push: the cause and what state the registry was
// left in.
type PushError struct {
	Err     error
	Note    string
	Retries int64
}

func (e *PushError) Error() string {
	retries := ""
	switch {
	case e.Retries == 1:
		retries = "after 1 retry; "
	case e.Retries > 1:
		retries = fmt.Sprintf("after %d retries; ", e.Retries)
	}
	return e.Err.Error() + " (" + retries + e.Note + ")"
}
func (e *PushError) Unwrap() error { return e.Err }

func (ps *pusher) retries() int64 {
	var n int64
	if ps.dst != nil {
		n += ps.dst.Retries()
	}
	ps.srcMu.Lock()
	for _, s := range ps.srcs {
		n += s.Retries()
	}
	ps.srcMu.Unlock()
	return n
}

// source returns the (pull) connection to a source repository.
func (ps *pusher) source(ctx context.Context, name string) (*registry.Repo, error) {
	ps.srcMu.Lock()
	r := ps.srcs[name]
	ps.srcMu.Unlock()
	if r != nil {
		return r, nil
	}
	r, err := ps.o.Client.OpenRepo(ctx, name, registry.RepoOptions{})
	if err != nil {
		return nil, err
	}
	ps.srcMu.Lock()
	if prev := ps.srcs[name]; prev != nil {
		r = prev
	} else {
		ps.srcs[name] = r
	}
	ps.srcMu.Unlock()
	return r, nil
}

// parallel runs f on each blob with o.Jobs at a time; the first failure
// cancels the rest and is returned.
func (ps *pusher) parallel(ctx context.Context, blobs []*blobItem, f func(ctx context.Context, b *blobItem) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  atomic.Int64
	)
	for w := 0; w < ps.o.Jobs && w < len(blobs); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(blobs) || ctx.Err() != nil {
					return
				}
				if err := f(ctx, blobs[i]); err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel()
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// pushBlob gets one blob into the destination: decided (a mount is done
// while deciding), then carried out. Each blob is decided just before it
// is sent, so that an upload session a mount attempt opened is used at
// once.
func (ps *pusher) pushBlob(ctx context.Context, b *blobItem) error {
	st, err := ps.decide(ctx, b, false)
	if err != nil {
		return err
	}
	b.step = st
	switch st.act {
	case actMissing:
		return st.missing(b)
	case actUpload, actCopy:
		if err := ps.upload(ctx, b, st.src, st.session, verbs[st.act].doing); err != nil {
			return err
		}
	}
	ps.prog.BlobDone(b.desc.Digest, b.desc.Size, verbs[st.act].done, st.from)
	ps.tally(b, st)
	return nil
}

func (ps *pusher) upload(ctx context.Context, b *blobItem, src registry.BlobSource, session, verb string) error {
	d := b.desc.Digest
	ps.prog.BlobStart(d, b.desc.Size, verb)
	_, err := ps.dst.UploadBlob(ctx, b.desc, src, registry.UploadOptions{
		Session:       session,
		MonolithicMax: ps.o.MonolithicMax,
		Progress:      func(sent int64) { ps.prog.BlobSent(d, sent) },
		OnRetry: func(n int, wait time.Duration, err error) {
			ps.prog.Retry(ShortDigest(d), n, wait, err)
		},
	})
	if err != nil {
		ps.prog.BlobFailed(d)
	}
	return err
}

// verifyDigests reads the pushed manifests back by digest: the root's
// exact bytes, and the children's digests.
func (ps *pusher) verifyDigests(ctx context.Context, pl *plan) error {
	root := ps.o.Root.Digest
	for _, m := range pl.manifests[:len(pl.manifests)-1] {
		rm, err := ps.dst.HeadManifest(ctx, m.desc.Digest.String())
		if err != nil {
			return fmt.Errorf("reading back %s: %w", m.label, err)
		}
		if rm.Digest != "" && rm.Digest != m.desc.Digest {
			return fmt.Errorf("reading back: the registry has %s for manifest %s (%s)", rm.Digest, m.desc.Digest, m.label)
		}
	}
	if _, got, _, err := ps.dst.GetManifest(ctx, root.String(), root); err != nil {
		return fmt.Errorf("reading back %s: %w", root, err)
	} else if got != root {
		return fmt.Errorf("reading back: the registry serves %s for %s", got, root)
	}
	ps.prog.Printf("verified %s@%s", ps.res.Repository, root)
	return nil
}

// verifyTags reads each tag back: it must point at the root.
func (ps *pusher) verifyTags(ctx context.Context) error {
	root := ps.o.Root.Digest
	for _, t := range ps.o.Tags {
		rm, err := ps.dst.HeadManifest(ctx, t)
		if err != nil {
			return fmt.Errorf("reading back tag %s: %w", t, err)
		}
		got := rm.Digest
		if got == "" {
			if _, got, _, err = ps.dst.GetManifest(ctx, t, ""); err != nil {
				return fmt.Errorf("reading back tag %s: %w", t, err)
			}
		}
		if got != root {
			return fmt.Errorf("reading back tag %s: it points at %s, not at the %s we pushed (another push moved it, or the registry rewrote the manifest)", t, got, root)
		}
	}
	if len(ps.o.Tags) > 0 {
		ps.prog.Printf("verified tags %s → %s", strings.Join(ps.o.Tags, ", "), ShortDigest(root))
	}
	return nil
}

// dryRun prints what a push would do, with read-only requests: HEAD of the
// blobs and manifests in the destination, of the tags (to say whether they
// would move), and of the source repositories' blobs the build lacks (to
// say whether they can be mounted or copied).
func (ps *pusher) dryRun(ctx context.Context, pl *plan, start time.Time) (*PushResult, error) {
	var err error
	if ps.dst, err = ps.o.Client.OpenRepo(ctx, ps.res.Repository, registry.RepoOptions{}); err != nil {
		return nil, err
	}
	err = ps.parallel(ctx, pl.blobs, func(ctx context.Context, b *blobItem) error {
		var err error
		if b.step, err = ps.decide(ctx, b, true); err == nil {
			ps.tally(b, b.step)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, b := range pl.blobs {
		if b.step.act == actMissing {
			missing = append(missing, b.role+" "+b.desc.Digest.String())
		}
	}
	p := ps.prog
	p.Printf("dry run: push %s to %s (only read-only requests are sent)", ps.o.Root.Digest, ps.res.Repository)
	p.Printf("blobs (%d, %s):", len(pl.blobs), FormatBytes(pl.bytes))
	for _, b := range pl.blobs {
		p.Printf("  %s %9s  %-22s %s", ShortDigest(b.desc.Digest), FormatBytes(b.desc.Size), b.role, b.step.describe(b.desc.Size, ps.o.MonolithicMax))
	}
	p.Printf("manifests (%d, children first):", len(pl.manifests))
	for _, m := range pl.manifests {
		state := "put"
		if _, err := ps.dst.HeadManifest(ctx, m.desc.Digest.String()); err == nil {
			state = "put (already there)"
		} else if !errors.Is(err, registry.ErrNotFound) {
			return nil, err
		}
		p.Printf("  %s %9s  %-22s %s", ShortDigest(m.desc.Digest), FormatBytes(m.desc.Size), m.label, state)
	}
	if len(ps.o.Tags) == 0 {
		p.Printf("tags: none (push by digest only)")
	} else {
		p.Printf("tags (%d, set last):", len(ps.o.Tags))
	}
	for _, t := range ps.o.Tags {
		state := "new"
		rm, err := ps.dst.HeadManifest(ctx, t)
		switch {
		case err == nil && rm.Digest == ps.o.Root.Digest:
			state = "unchanged (already " + ShortDigest(rm.Digest) + ")"
		case err == nil && rm.Digest != "":
			state = "moves from " + ShortDigest(rm.Digest) + " to " + ShortDigest(ps.o.Root.Digest)
		case err == nil:
			state = "exists; would be set to " + ShortDigest(ps.o.Root.Digest)
		case !errors.Is(err, registry.ErrNotFound):
			return nil, err
		}
		p.Printf("  %s:%s %s", ps.res.Repository, t, state)
	}
	ps.res.Retries = ps.retries()
	ps.res.Elapsed = time.Since(start)
	sort.Strings(missing)
	if len(missing) > 0 {
		return nil, fmt.Errorf("dry run: %d blobs are neither in the build nor in any source repository: %s", len(missing), strings.Join(missing, "; "))
	}
	r := &ps.res
	var would []string
	if r.Pushed > 0 {
		would = append(would, fmt.Sprintf("upload %s (%s)", Plural(r.Pushed, "blob"), FormatBytes(r.PushedBytes)))
	}
	if r.Mounted > 0 {
		would = append(would, "mount "+Plural(r.Mounted, "blob"))
	}
	if r.Copied > 0 {
		would = append(would, fmt.Sprintf("copy %s (%s) registry-to-registry", Plural(r.Copied, "blob"), FormatBytes(r.CopiedBytes)))
	}
	if r.Existed > 0 {
		would = append(would, fmt.Sprintf("leave %d that exist", r.Existed))
	}
	p.Printf("dry run: would %s; put %s and %s; nothing was sent", strings.Join(would, " and "), Plural(len(pl.manifests), "manifest"), Plural(len(ps.o.Tags), "tag"))
	return r, nil
}
