package diff

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/blob"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/registry"
	"github.com/rules-repro/rules_repro/tools/safejson"
)

// Kind says what an input is.
type Kind string

// The kinds of input Open understands.
const (
	KindLayout          Kind = "OCI layout"
	KindOCIArchive      Kind = "OCI archive"
	KindDockerArchive   Kind = "docker archive"
	KindRegistry        Kind = "registry"
	KindLayer           Kind = "layer blob"
	KindLayerDescriptor Kind = "layer descriptor"
	KindImageDescriptor Kind = "image descriptor"
	KindManifest        Kind = "manifest file"
)

// errNotFound is what a store returns for a blob it does not have.
var errNotFound = errors.New("blob not available")

// store supplies blobs by descriptor.
type store interface {
	open(ctx context.Context, d specs.Descriptor) (io.ReadCloser, error)
}

// BlobLookup supplies blobs that neither input holds itself, such as the
// files given with --blob, --layer and --blobs-from. *oci.BlobSet is one.
type BlobLookup interface {
	Has(d digest.Digest) bool
	Open(d digest.Digest) (io.ReadCloser, string, error)
}

// OpenOptions say where Open finds what an input refers to.
type OpenOptions struct {
	// Registry returns the client for registry references; it is called
	// only when an input is one. Nil makes registry references an error.
	Registry func() (*registry.Client, error)
	// Blobs are asked for blobs an input does not hold (may be nil).
	Blobs BlobLookup
}

// Source is one side of a comparison: what its root is and where its blobs
// come from. Close it when done.
type Source struct {
	// Name is the input as given.
	Name string
	Kind Kind
	// Root is the descriptor of what the input holds: an index, an image
	// manifest or a layer.
	Root specs.Descriptor

	stores []store
	// known are manifests and indexes described by descriptor files, for
	// when their blobs are not available: digest → JSON text of a
	// manifest or index without the fields the descriptor lacks.
	known map[digest.Digest][]byte
	// synthetic marks manifests made up for a docker archive (it has none).
	synthetic map[digest.Digest]bool
	// diffIDs are layer digest → diff_id from layer descriptor files.
	diffIDs map[digest.Digest]digest.Digest
	// compat are layer digest → compatibility version from layer descriptors.
	compat  map[digest.Digest]int
	closers []io.Closer

	mu    sync.Mutex
	small map[digest.Digest][]byte
}

// Close releases open files.
func (s *Source) Close() error {
	var first error
	for _, c := range s.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func newSource(arg string, kind Kind) *Source {
	return &Source{
		Name: arg, Kind: kind,
		known: map[digest.Digest][]byte{}, synthetic: map[digest.Digest]bool{},
		diffIDs: map[digest.Digest]digest.Digest{}, compat: map[digest.Digest]int{},
		small: map[digest.Digest][]byte{},
	}
}

// prefixes force a kind of input, as skopeo's transports do.
var prefixes = []struct {
	prefix string
	kind   Kind
}{
	{"oci:", KindLayout},
	{"oci-archive:", KindOCIArchive},
	{"docker-archive:", KindDockerArchive},
	{"docker://", KindRegistry},
	{"registry:", KindRegistry},
	{"layer:", KindLayer},
}

// Open opens an input: an OCI layout directory, an OCI or docker archive
// (a tar file), a registry reference (by tag or digest), a layer blob (tar,
// tar+gzip or tar+zstd), a descriptor file written by `repro layer`,
// `repro image` or `repro index`, or a raw manifest or index file. The kind
// is detected from the content; a prefix (oci:, oci-archive:,
// docker-archive:, docker://, layer:) forces it. An argument that is not an
// existing path is a registry reference.
func Open(ctx context.Context, arg string, o OpenOptions) (*Source, error) {
	s, err := open(ctx, arg, o)
	if err != nil {
		return nil, err
	}
	if o.Blobs != nil {
		s.stores = append(s.stores, lookupStore{o.Blobs})
	}
	return s, nil
}

func open(ctx context.Context, arg string, o OpenOptions) (*Source, error) {
	path, forced := arg, Kind("")
	for _, p := range prefixes {
		if strings.HasPrefix(arg, p.prefix) {
			path, forced = strings.TrimPrefix(arg, p.prefix), p.kind
			break
		}
	}
	if forced == KindRegistry {
		return openRegistry(ctx, arg, path, o)
	}
	st, err := os.Stat(path)
	if err != nil {
		if forced != "" || !os.IsNotExist(err) {
			return nil, fmt.Errorf("%s: %w", arg, err)
		}
		if !looksLikeReference(path) {
			return nil, fmt.Errorf("%s: no such file or directory (for an image in a registry, write docker://%s)", arg, path)
		}
		if _, perr := name.ParseReference(path); perr != nil {
			return nil, fmt.Errorf("%s: no such file or directory, and not an image reference (%v)", arg, perr)
		}
		return openRegistry(ctx, arg, path, o)
	}
	if st.IsDir() {
		if forced != "" && forced != KindLayout {
			return nil, fmt.Errorf("%s: is a directory, not a %s", arg, forced)
		}
		return openLayout(arg, path)
	}
	switch forced {
	case KindOCIArchive, KindDockerArchive:
		return openArchive(arg, path, forced)
	case KindLayer:
		return openLayerBlob(arg, path)
	}
	head, err := readHead(path, 1024)
	if err != nil {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte("{")):
		return openJSON(arg, path)
	case isTar(head):
		// A plain tar is an archive of an image or a layer: its member
		// names tell.
		return openArchive(arg, path, "")
	case blob.Sniff(head).Name != blob.None:
		return openLayerBlob(arg, path)
	}
	return nil, fmt.Errorf("%s: not an OCI layout, an archive, a layer (tar, gzip, zstd) or a JSON descriptor", arg)
}

// looksLikeReference tells a registry reference from a mistyped path: it
// has a tag, a digest or a registry host, and its first component is not
// a directory here (bazel-bin/app/imag is a typo, not an image on Docker
// Hub).
func looksLikeReference(s string) bool {
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") || !strings.ContainsAny(s, ":@/") {
		return false
	}
	first, _, _ := strings.Cut(s, "/")
	if st, err := os.Stat(first); err == nil && st.IsDir() && first != s {
		return false
	}
	return true
}

func readHead(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	k, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return buf[:k], nil
}

func isTar(head []byte) bool {
	return len(head) >= 262 && (bytes.Equal(head[257:262], []byte("ustar")))
}

// readIndexJSON reads a layout's index.json and returns the root: its only
// entry, or the index itself (kept in memory) when it has several.
func rootOfIndexJSON(s *Source, data []byte, where string) error {
	var idx specs.Index
	if err := safejson.Unmarshal(data, &idx); err != nil {
		return fmt.Errorf("%s: index.json: %w", where, err)
	}
	if len(idx.Manifests) == 1 {
		s.Root = idx.Manifests[0]
		s.Root.Annotations = nil
		return nil
	}
	if len(idx.Manifests) == 0 {
		return fmt.Errorf("%s: index.json lists no image", where)
	}
	d := digest.FromBytes(data)
	s.small[d] = data
	s.Root = specs.Descriptor{MediaType: oci.MediaTypeImageIndex, Digest: d, Size: int64(len(data))}
	return nil
}

func openLayout(arg, dir string) (*Source, error) {
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, fmt.Errorf("%s is a directory but not an OCI layout: %w", arg, err)
	}
	s := newSource(arg, KindLayout)
	if err := rootOfIndexJSON(s, data, arg); err != nil {
		return nil, err
	}
	s.stores = append(s.stores, layoutStore(dir))
	return s, nil
}

func openRegistry(ctx context.Context, arg, ref string, o OpenOptions) (*Source, error) {
	if o.Registry == nil {
		return nil, fmt.Errorf("%s: registry references are not supported here", arg)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid image reference: %v", arg, err)
	}
	client, err := o.Registry()
	if err != nil {
		return nil, err
	}
	repo, err := client.OpenRepo(ctx, r.Context().Name(), registry.RepoOptions{})
	if err != nil {
		return nil, err
	}
	var want digest.Digest
	if d, ok := r.(name.Digest); ok {
		want = digest.Digest(d.DigestStr())
	}
	data, d, mt, err := repo.GetManifest(ctx, r.Identifier(), want)
	if err != nil {
		return nil, err
	}
	s := newSource(arg, KindRegistry)
	s.Root = specs.Descriptor{MediaType: mt, Digest: d, Size: int64(len(data))}
	s.small[d] = data
	s.stores = append(s.stores, registryStore{repo})
	return s, nil
}

func openLayerBlob(arg, path string) (*Source, error) {
	d, size, err := hashFile(path)
	if err != nil {
		return nil, err
	}
	head, err := readHead(path, 8)
	if err != nil {
		return nil, err
	}
	s := newSource(arg, KindLayer)
	s.Root = specs.Descriptor{MediaType: blob.Sniff(head).OCIMediaType, Digest: d, Size: size}
	s.stores = append(s.stores, fileStore{d: path})
	return s, nil
}

func hashFile(path string) (digest.Digest, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return digest.NewDigest(digest.SHA256, h), n, nil
}

// openJSON reads a descriptor file (`repro layer`, `repro image`,
// `repro index`) or a raw manifest or index.
func openJSON(arg, path string) (*Source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var probe struct {
		MediaType     string          `json:"mediaType"`
		Digest        digest.Digest   `json:"digest"`
		DiffID        digest.Digest   `json:"diff_id"`
		SchemaVersion int             `json:"schemaVersion"`
		Manifests     json.RawMessage `json:"manifests"`
		Config        json.RawMessage `json:"config"`
	}
	if err := safejson.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %w", arg, err)
	}
	nb := newNeighbours(filepath.Dir(path))
	switch {
	case probe.DiffID != "":
		d, err := oci.ReadLayerDescriptor(path)
		if err != nil {
			return nil, err
		}
		s := newSource(arg, KindLayerDescriptor)
		s.Root = specs.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
		s.diffIDs[d.Digest] = d.DiffID
		s.compat[d.Digest] = d.CompatibilityVersion
		// Bazel writes NAME.json next to NAME.tar.gz (or .tar.zst, .tar).
		stem := strings.TrimSuffix(path, ".json")
		files := fileStore{}
		for _, ext := range []string{".tar.gz", ".tgz", ".tar.zst", ".tar", ""} {
			if st, err := os.Stat(stem + ext); err == nil && st.Mode().IsRegular() && st.Size() == d.Size && stem+ext != path {
				files[d.Digest] = stem + ext
				break
			}
		}
		s.stores = append(s.stores, files, nb)
		return s, nil
	case probe.Digest != "" && (oci.IsManifest(probe.MediaType) || oci.IsIndex(probe.MediaType)):
		d, err := oci.ReadImageDescriptor(path)
		if err != nil {
			return nil, err
		}
		s := newSource(arg, KindImageDescriptor)
		s.Root = d.Descriptor()
		// What the descriptor says stands in for the manifest or index when
		// its blob is not around.
		var pseudo any
		if oci.IsIndex(d.MediaType) {
			pseudo = map[string]any{"schemaVersion": 2, "mediaType": d.MediaType, "manifests": d.Manifests}
		} else if d.Config != nil {
			pseudo = map[string]any{"schemaVersion": 2, "mediaType": d.MediaType, "config": d.Config, "layers": d.Layers}
		}
		if pseudo != nil {
			if s.known[d.Digest], err = json.Marshal(pseudo); err != nil {
				return nil, err
			}
		}
		for _, l := range d.Layers {
			if d.CompatibilityVersion != 0 {
				s.compat[l.Digest] = d.CompatibilityVersion
			}
		}
		s.stores = append(s.stores, nb)
		return s, nil
	case probe.SchemaVersion == 2 && (len(probe.Manifests) > 0 || len(probe.Config) > 0):
		mt := probe.MediaType
		if mt == "" {
			mt = oci.MediaTypeImageManifest
			if len(probe.Manifests) > 0 {
				mt = oci.MediaTypeImageIndex
			}
		}
		s := newSource(arg, KindManifest)
		d := digest.FromBytes(data)
		s.Root = specs.Descriptor{MediaType: mt, Digest: d, Size: int64(len(data))}
		s.small[d] = data
		s.stores = append(s.stores, nb)
		return s, nil
	}
	return nil, fmt.Errorf("%s: a JSON file, but neither a descriptor from repro layer, image or index, nor a manifest or index", arg)
}

// --- stores ---

type layoutStore string

func (l layoutStore) open(_ context.Context, d specs.Descriptor) (io.ReadCloser, error) {
	p, err := oci.BlobPath(string(l), d.Digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return nil, errNotFound
	}
	return f, err
}

// fileStore maps digests to files.
type fileStore map[digest.Digest]string

func (f fileStore) open(_ context.Context, d specs.Descriptor) (io.ReadCloser, error) {
	p, ok := f[d.Digest]
	if !ok {
		return nil, errNotFound
	}
	return os.Open(p)
}

type registryStore struct{ repo *registry.Repo }

func (r registryStore) open(ctx context.Context, d specs.Descriptor) (io.ReadCloser, error) {
	if oci.IsIndex(d.MediaType) || oci.IsManifest(d.MediaType) {
		data, _, _, err := r.repo.GetManifest(ctx, d.Digest.String(), d.Digest)
		if err != nil {
			if errors.Is(err, registry.ErrNotFound) {
				return nil, errNotFound
			}
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	rc, err := r.repo.OpenBlob(ctx, d.Digest, d.Size)
	if err != nil && errors.Is(err, registry.ErrNotFound) {
		return nil, errNotFound
	}
	return rc, err
}

type lookupStore struct{ b BlobLookup }

func (l lookupStore) open(_ context.Context, d specs.Descriptor) (io.ReadCloser, error) {
	if !l.b.Has(d.Digest) {
		return nil, errNotFound
	}
	r, _, err := l.b.Open(d.Digest)
	return r, err
}

// neighbours finds blobs among the files next to a descriptor, the way
// Bazel lays out outputs: NAME.manifest.json, NAME.config.json, layer blobs
// and OCI layout directories side by side. Files are matched by size, then
// by hash.
type neighbours struct {
	dir  string
	once sync.Once
	// bySize lists regular files by size; layouts are subdirectories
	// that are OCI layouts.
	bySize  map[int64][]string
	layouts []string
	hashes  sync.Map // path → digest.Digest
}

func newNeighbours(dir string) *neighbours { return &neighbours{dir: dir} }

func (n *neighbours) scan() {
	n.bySize = map[int64][]string{}
	ents, err := os.ReadDir(n.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		p := filepath.Join(n.dir, e.Name())
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if st.IsDir() {
			if _, err := os.Stat(filepath.Join(p, "oci-layout")); err == nil {
				n.layouts = append(n.layouts, p)
			}
			continue
		}
		if st.Mode().IsRegular() {
			n.bySize[st.Size()] = append(n.bySize[st.Size()], p)
		}
	}
}

func (n *neighbours) open(ctx context.Context, d specs.Descriptor) (io.ReadCloser, error) {
	n.once.Do(n.scan)
	for _, l := range n.layouts {
		if r, err := layoutStore(l).open(ctx, d); err == nil {
			return r, nil
		}
	}
	for _, p := range n.bySize[d.Size] {
		var got digest.Digest
		if v, ok := n.hashes.Load(p); ok {
			got = v.(digest.Digest)
		} else {
			h, _, err := hashFile(p)
			if err != nil {
				continue
			}
			n.hashes.Store(p, h)
			got = h
		}
		if got == d.Digest {
			return os.Open(p)
		}
	}
	return nil, errNotFound
}

// --- reading blobs ---

// maxSmallBlob bounds manifests, indexes and configs.
const maxSmallBlob = 64 << 20

// openBlob returns a verified stream of blob d: a digest or size mismatch is
// an error from Read instead of io.EOF. errNotFound when no store has it.
func (s *Source) openBlob(ctx context.Context, d specs.Descriptor) (io.ReadCloser, error) {
	if data, ok := s.cached(d.Digest); ok {
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	for _, st := range s.stores {
		r, err := st.open(ctx, d)
		if errors.Is(err, errNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: blob %s: %w", s.Name, d.Digest, err)
		}
		return &verifier{r: r, d: d, h: sha256.New(), where: s.Name}, nil
	}
	return nil, errNotFound
}

func (s *Source) cached(d digest.Digest) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.small[d]
	return data, ok
}

// bytesOf reads a small blob (manifest, index, config), verified.
func (s *Source) bytesOf(ctx context.Context, d specs.Descriptor) ([]byte, error) {
	if data, ok := s.cached(d.Digest); ok {
		return data, nil
	}
	r, err := s.openBlob(ctx, d)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxSmallBlob+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSmallBlob {
		return nil, fmt.Errorf("%s: blob %s is larger than %d bytes; it is not a manifest or config", s.Name, d.Digest, maxSmallBlob)
	}
	s.mu.Lock()
	s.small[d.Digest] = data
	s.mu.Unlock()
	return data, nil
}

type verifier struct {
	r     io.ReadCloser
	d     specs.Descriptor
	h     hash.Hash
	n     int64
	where string
	err   error
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	k, err := v.r.Read(p)
	v.h.Write(p[:k])
	v.n += int64(k)
	if v.d.Size > 0 && v.n > v.d.Size {
		v.err = fmt.Errorf("%s: blob %s has more than the %d bytes its descriptor says: it is corrupt", v.where, v.d.Digest, v.d.Size)
		return k, v.err
	}
	if err == io.EOF {
		got := digest.NewDigestFromBytes(digest.SHA256, v.h.Sum(nil))
		switch {
		case v.d.Size > 0 && v.n != v.d.Size:
			v.err = fmt.Errorf("%s: blob %s has %d bytes, its descriptor says %d: it is corrupt or truncated", v.where, v.d.Digest, v.n, v.d.Size)
		case got != v.d.Digest:
			v.err = fmt.Errorf("%s: blob %s has digest %s: it is corrupt", v.where, v.d.Digest, got)
		default:
			v.err = io.EOF
		}
		return k, v.err
	}
	if err != nil {
		v.err = err
	}
	return k, err
}

func (v *verifier) Close() error { return v.r.Close() }
