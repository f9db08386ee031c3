package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/atomicfile"
	"github.com/rules-repro/rules_repro/tools/oci"
)

// Files written by PullManifest.
const (
	ManifestFile = "manifest.json"
	ConfigFile   = "config.json"
	LayersFile   = "layers.json"
)

// Layer is one entry of layers.json: the manifest's layer descriptor and
// the layer's diff_id from the config.
type Layer struct {
	MediaType   string            `json:"mediaType"`
	Digest      digest.Digest     `json:"digest"`
	Size        int64             `json:"size"`
	DiffID      digest.Digest     `json:"diff_id"`
	URLs        []string          `json:"urls,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// LayersJSON returns the layers.json content for an image: a JSON array of
// Layer, two-space indented, with a trailing newline.
func LayersJSON(img *oci.Image) ([]byte, error) {
	layers := make([]Layer, 0, len(img.Manifest.Layers))
	for i, l := range img.Manifest.Layers {
		layers = append(layers, Layer{
			MediaType: l.MediaType, Digest: l.Digest, Size: l.Size,
			DiffID: img.Config.RootFS.DiffIDs[i], URLs: l.URLs, Annotations: l.Annotations,
		})
	}
	data, err := json.MarshalIndent(layers, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// PullManifestOptions say what PullManifest fetches and expects.
type PullManifestOptions struct {
	// Ref must be pinned by digest: "repo@sha256:…" or "repo:tag@sha256:…".
	Ref string
	// Platform ("linux/amd64") picks the image of an index; with a single
	// manifest it is checked against the config. Required for an index.
	Platform string
	// Dir receives manifest.json, config.json and layers.json.
	Dir string
	// ExpectManifest and ExpectConfig, when set, are the digests the
	// platform's manifest and config must have (from the lockfile).
	ExpectManifest, ExpectConfig digest.Digest
}

// PullManifestResult says what PullManifest did.
type PullManifestResult struct {
	Manifest, Config digest.Digest
	Layers           int
	// Reused is set when Dir already held the verified files and nothing
	// was fetched.
	Reused bool
}

// PullManifest fetches the index or manifest by digest (never by tag),
// picks the platform's manifest, verifies the index, manifest and config
// digests and the expected ones, and writes Dir/manifest.json and
// Dir/config.json (the exact bytes) and Dir/layers.json. Each file is
// written atomically, manifest.json last.
//
// When Dir already holds a manifest with the expected digest (ExpectManifest,
// or Ref's digest when that is the manifest itself) whose config and layers
// files match it and the platform, nothing is fetched: a second pull works
// offline.
func (c *Client) PullManifest(ctx context.Context, o PullManifestOptions) (*PullManifestResult, error) {
	parsed, err := c.parseReference(o.Ref)
	if err != nil {
		return nil, err
	}
	d, ok := parsed.(name.Digest)
	if !ok {
		return nil, &Error{msg: fmt.Sprintf("%s: pull needs a reference pinned by digest (REPO@sha256:…); a tag can move, so pulling by tag is not reproducible", o.Ref)}
	}
	subject := parsed.String()
	var want *specs.Platform
	if o.Platform != "" {
		if want, err = oci.ParsePlatform(o.Platform); err != nil {
			return nil, c.fail(nil, subject, "%v", err)
		}
	}
	for _, e := range []digest.Digest{o.ExpectManifest, o.ExpectConfig} {
		if e != "" && (e.Validate() != nil || e.Algorithm() != digest.SHA256) {
			return nil, c.fail(nil, subject, "expected digest %q is not a sha256 digest", e)
		}
	}
	expect := o.ExpectManifest
	if expect == "" {
		expect = digest.Digest(d.DigestStr())
	}
	if res := reuseManifest(o.Dir, expect, o.ExpectConfig, want); res != nil {
		return res, nil
	}

	var platforms []string
	if o.Platform != "" {
		platforms = []string{o.Platform}
	}
	res, err := c.Resolve(ctx, o.Ref, platforms)
	if err != nil {
		return nil, err
	}
	if oci.IsIndex(res.MediaType) && o.Platform == "" {
		return nil, c.fail(nil, subject, "%s is an index; give --platform to pick an image", res.Digest)
	}
	pi := res.Images[0]
	where := pi.Platform
	if o.ExpectManifest != "" && pi.ManifestDigest() != o.ExpectManifest {
		return nil, c.fail(ErrVerify, subject, "%s: the index lists manifest %s, but the lockfile pins %s: the lockfile was edited or the index changed; run repro lock update to re-pin; nothing was written", where, pi.ManifestDigest(), o.ExpectManifest)
	}
	if o.ExpectConfig != "" && pi.ConfigDigest() != o.ExpectConfig {
		return nil, c.fail(ErrVerify, subject, "%s: manifest %s has config %s, but the lockfile pins %s: the lockfile was edited; run repro lock update to re-pin; nothing was written", where, pi.ManifestDigest(), pi.ConfigDigest(), o.ExpectConfig)
	}
	layers, err := LayersJSON(pi.Image)
	if err != nil {
		return nil, err
	}
	if err := writeAll(o.Dir, []namedBytes{
		{LayersFile, layers},
		{ConfigFile, pi.Image.ConfigBytes},
		{ManifestFile, pi.Image.ManifestBytes},
	}); err != nil {
		return nil, c.fail(nil, subject, "%v", err)
	}
	return &PullManifestResult{Manifest: pi.ManifestDigest(), Config: pi.ConfigDigest(), Layers: len(pi.Image.Manifest.Layers)}, nil
}

// reuseManifest returns a result when dir already holds a verified pull of
// manifest want (and config wantConfig, when set) for platform.
func reuseManifest(dir string, want, wantConfig digest.Digest, platform *specs.Platform) *PullManifestResult {
	m, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil || digest.FromBytes(m) != want {
		return nil
	}
	cfg, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil
	}
	mt, err := oci.ParseManifest(m)
	if err != nil {
		return nil
	}
	img, err := oci.ParseImage(specs.Descriptor{MediaType: mt.MediaType, Digest: want, Size: int64(len(m))}, m, cfg)
	if err != nil || wantConfig != "" && img.Manifest.Config.Digest != wantConfig {
		return nil
	}
	if platform != nil && !oci.PlatformMatches(platform, img.Platform()) {
		return nil
	}
	layers, err := LayersJSON(img)
	if err != nil {
		return nil
	}
	if have, err := os.ReadFile(filepath.Join(dir, LayersFile)); err != nil || string(have) != string(layers) {
		return nil
	}
	return &PullManifestResult{Manifest: want, Config: img.Manifest.Config.Digest, Layers: len(img.Manifest.Layers), Reused: true}
}

type namedBytes struct {
	name string
	data []byte
}

// writeAll writes each file atomically, in order, after all are staged.
func writeAll(dir string, files []namedBytes) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var g atomicfile.Group
	defer g.Abort()
	for _, nb := range files {
		if err := g.WriteFile(filepath.Join(dir, nb.name), nb.data); err != nil {
			return err
		}
	}
	return g.Commit()
}

// PullBlobsOptions say which blobs PullBlobs fetches.
type PullBlobsOptions struct {
	// Ref names the repository (a tag or digest in it is ignored).
	Ref string
	// Manifest is the image manifest whose layers to fetch (exact bytes,
	// as PullManifest writes them).
	Manifest []byte
	// Dir is the blob directory: blobs go to Dir/sha256/<hex>.
	Dir string
	// Jobs is how many blobs download at once. The default is 4.
	Jobs int
	// Log receives one line per blob; nil discards them.
	Log io.Writer
}

// PullBlobsResult says what PullBlobs did.
type PullBlobsResult struct {
	Fetched, Reused int
	// Bytes counts the bytes downloaded.
	Bytes int64
}

// PullBlobs downloads every layer of a manifest by digest into
// Dir/sha256/<hex>, streaming each to a temporary file while checking its
// digest and size, and renaming it into place only when both match. A blob
// already present with the right digest and size is not fetched again; one
// present with wrong content is replaced.
func (c *Client) PullBlobs(ctx context.Context, o PullBlobsOptions) (*PullBlobsResult, error) {
	parsed, err := c.parseReference(o.Ref)
	if err != nil {
		return nil, err
	}
	subject := parsed.Context().String()
	man, err := oci.ParseManifest(o.Manifest)
	if err != nil {
		return nil, c.fail(nil, subject, "the manifest (%s) is not an image manifest: %v", digest.FromBytes(o.Manifest), err)
	}
	if man.MediaType != "" && !oci.IsManifest(man.MediaType) || man.Config.Digest == "" {
		return nil, c.fail(nil, subject, "the manifest (%s) is not an image manifest", digest.FromBytes(o.Manifest))
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	var logMu sync.Mutex
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(log, format, args...)
	}
	// One download per digest.
	seen := map[digest.Digest]bool{}
	var blobs []specs.Descriptor
	for i, l := range man.Layers {
		if l.Digest.Validate() != nil || l.Digest.Algorithm() != digest.SHA256 || l.Size < 0 {
			return nil, c.fail(nil, subject, "layer %d: unsupported digest %q or size %d", i, l.Digest, l.Size)
		}
		if !seen[l.Digest] {
			seen[l.Digest] = true
			blobs = append(blobs, l)
		}
	}
	dir := filepath.Join(o.Dir, string(digest.SHA256))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, c.fail(nil, subject, "%v", err)
	}
	res := &PullBlobsResult{}
	var pending []specs.Descriptor
	for _, b := range blobs {
		path := filepath.Join(dir, b.Digest.Encoded())
		switch ok, err := verifyFile(path, b.Digest, b.Size); {
		case ok:
			res.Reused++
			logf("%s: present\n", b.Digest)
		case err == nil:
			logf("%s: present but corrupt; fetching it again\n", b.Digest)
			pending = append(pending, b)
		default:
			pending = append(pending, b)
		}
	}
	if len(pending) == 0 {
		return res, nil
	}
	r, err := c.repository(ctx, parsed.Context(), subject)
	if err != nil {
		return nil, err
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
		sem   = make(chan struct{}, jobs)
		total int64
	)
	for _, b := range pending {
		wg.Add(1)
		go func(b specs.Descriptor) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			err := c.fetchBlobFile(ctx, r, b, filepath.Join(dir, b.Digest.Encoded()), subject)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				cancel()
				return
			}
			total += b.Size
			res.Fetched++
			logf("%s: fetched (%d bytes)\n", b.Digest, b.Size)
		}(b)
	}
	wg.Wait()
	if len(errs) > 0 {
		// The first real failure, not the cancellations it caused.
		sort.SliceStable(errs, func(i, j int) bool {
			return !errors.Is(errs[i], context.Canceled) && errors.Is(errs[j], context.Canceled)
		})
		return nil, errs[0]
	}
	res.Bytes = total
	return res, nil
}

// fetchBlobFile downloads blob b to path through a temporary file in the
// same directory, renamed into place only when verified.
func (c *Client) fetchBlobFile(ctx context.Context, r *repository, b specs.Descriptor, path, subject string) error {
	f, err := atomicfile.Create(path)
	if err != nil {
		return c.fail(nil, subject, "%v", err)
	}
	defer f.Abort()
	err = c.fetchBlob(ctx, r, b.Digest, b.Size, b.Size, subject, "layer "+b.Digest.String(), func() (io.Writer, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return f, f.Truncate(0)
	})
	if err != nil {
		return err
	}
	if err := f.Commit(); err != nil {
		return c.fail(nil, subject, "%v", err)
	}
	return nil
}

// verifyFile reports whether path holds exactly size bytes with digest d.
// The error is nil when the file exists (whatever its content).
func verifyFile(path string, d digest.Digest, size int64) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() != size {
		return false, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, nil
	}
	return hex.EncodeToString(h.Sum(nil)) == d.Encoded(), nil
}
