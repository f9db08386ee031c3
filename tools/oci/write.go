package oci

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/atomicfile"
)

// BlobSet says where the bytes of each blob are: in memory, in a file, or
// in a layout directory. Every blob is verified against its digest when it
// is copied out.
type BlobSet struct {
	mem     map[digest.Digest][]byte
	files   map[digest.Digest]string
	layouts []string
	// sources supply blobs found nowhere else (see AddSource).
	sources []BlobSource
}

// NewBlobSet returns an empty set.
func NewBlobSet() *BlobSet {
	return &BlobSet{mem: map[digest.Digest][]byte{}, files: map[digest.Digest]string{}}
}

// AddBytes adds an in-memory blob and returns its digest.
func (b *BlobSet) AddBytes(data []byte) digest.Digest {
	d := digest.FromBytes(data)
	b.mem[d] = data
	return d
}

// AddFile adds a file that should hold blob d.
func (b *BlobSet) AddFile(d digest.Digest, path string) { b.files[d] = path }

// AddLayout adds every blob of an OCI layout directory (looked up lazily).
func (b *BlobSet) AddLayout(dir string) { b.layouts = append(b.layouts, dir) }

// Bytes returns a small blob's content (manifests, configs, indexes), at
// most MaxConfigSize bytes.
func (b *BlobSet) Bytes(d digest.Digest) ([]byte, error) {
	data, _, err := b.bytes(d)
	return data, err
}

// Manifest reads and parses image manifest d.
func (b *BlobSet) Manifest(d digest.Digest) (*specs.Manifest, error) {
	data, err := b.Bytes(d)
	if err != nil {
		return nil, err
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d, err)
	}
	return m, nil
}

// bytes is Bytes, also saying where the blob came from.
func (b *BlobSet) bytes(d digest.Digest) ([]byte, string, error) {
	if data, ok := b.mem[d]; ok {
		return data, "memory", nil
	}
	r, where, err := b.open(d)
	if err != nil {
		return nil, where, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, MaxConfigSize+1))
	if err != nil {
		return nil, where, fmt.Errorf("reading blob %s from %s: %w", d, where, err)
	}
	if len(data) > MaxConfigSize {
		return nil, where, fmt.Errorf("blob %s from %s is larger than %d bytes", d, where, MaxConfigSize)
	}
	if got := digest.FromBytes(data); got != d {
		return nil, where, fmt.Errorf("blob %s from %s has digest %s", d, where, got)
	}
	b.mem[d] = data
	return data, where, nil
}

// Open returns a reader of blob d and where it comes from. The caller
// verifies the digest if it needs to.
func (b *BlobSet) Open(d digest.Digest) (io.ReadCloser, string, error) { return b.open(d) }

func (b *BlobSet) open(d digest.Digest) (io.ReadCloser, string, error) {
	if err := CheckDigest(d); err != nil {
		return nil, "", err
	}
	if data, ok := b.mem[d]; ok {
		return io.NopCloser(bytes.NewReader(data)), "memory", nil
	}
	if p, ok := b.files[d]; ok {
		f, err := os.Open(p)
		return f, p, err
	}
	for _, l := range b.layouts {
		p, err := BlobPath(l, d)
		if err != nil {
			return nil, l, err
		}
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
			continue
		}
		if f, err := os.Open(p); err == nil {
			return f, p, nil
		}
	}
	if len(b.sources) > 0 {
		return b.openFromSources(d)
	}
	return nil, "", fmt.Errorf("blob %s is not available (not built, and not in any base layout given)", d)
}

// copyVerified copies blob d of the given size to w and checks both.
func (b *BlobSet) copyVerified(w io.Writer, d digest.Digest, size int64) error {
	if err := CheckSize(size); err != nil {
		return fmt.Errorf("blob %s: %w", d, err)
	}
	r, where, err := b.open(d)
	if err != nil {
		return err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(r, size+1))
	if err != nil {
		return fmt.Errorf("copying blob %s from %s: %w", d, where, err)
	}
	if n != size {
		return fmt.Errorf("blob %s from %s has %d bytes, its descriptor says %d", d, where, n, size)
	}
	if got := digest.NewDigest(digest.SHA256, h); got != d {
		return fmt.Errorf("blob from %s has digest %s, expected %s", where, got, d)
	}
	return nil
}

// Closure returns every descriptor reachable from root (root first, then
// depth-first: manifests, configs, layers), without duplicates.
func (b *BlobSet) Closure(root specs.Descriptor) ([]specs.Descriptor, error) {
	var out []specs.Descriptor
	seen := map[digest.Digest]bool{}
	var visit func(d specs.Descriptor) error
	visit = func(d specs.Descriptor) error {
		if err := ValidateDescriptor(d); err != nil {
			return err
		}
		if seen[d.Digest] {
			return nil
		}
		seen[d.Digest] = true
		out = append(out, d)
		switch {
		case IsIndex(d.MediaType):
			data, where, err := b.bytes(d.Digest)
			if err != nil {
				return err
			}
			idx, err := ParseIndex(data)
			if err != nil {
				return fmt.Errorf("index %s (from %s): %w", d.Digest, where, err)
			}
			for _, m := range idx.Manifests {
				if err := visit(m); err != nil {
					return err
				}
			}
		case IsManifest(d.MediaType):
			data, where, err := b.bytes(d.Digest)
			if err != nil {
				return err
			}
			m, err := ParseManifest(data)
			if err != nil {
				return fmt.Errorf("manifest %s (from %s): %w", d.Digest, where, err)
			}
			if err := visit(m.Config); err != nil {
				return err
			}
			for _, l := range m.Layers {
				if err := visit(l); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := visit(root); err != nil {
		return nil, err
	}
	return out, nil
}

// layoutIndex is the index.json of a layout whose only entry is root,
// encoded by enc.
func layoutIndex(enc Encoding, root specs.Descriptor, refName string) ([]byte, error) {
	d := specs.Descriptor{MediaType: root.MediaType, Digest: root.Digest, Size: root.Size, Platform: root.Platform}
	if refName != "" {
		d.Annotations = map[string]string{AnnotationRefName: refName}
	}
	return enc.IndexJSON(map[string]any{
		"schemaVersion": 2,
		"mediaType":     MediaTypeImageIndex,
		"manifests":     []specs.Descriptor{d},
	})
}

// WriteLayout writes an OCI image layout directory holding root and all it
// references. refName, if not empty, is recorded as the
// org.opencontainers.image.ref.name annotation. The directory appears only
// when complete. enc gives the bytes of index.json and oci-layout.
func WriteLayout(dir string, root specs.Descriptor, blobs *BlobSet, enc Encoding, refName string) error {
	if err := enc.check(); err != nil {
		return err
	}
	descs, err := blobs.Closure(root)
	if err != nil {
		return err
	}
	index, err := layoutIndex(enc, root, refName)
	if err != nil {
		return err
	}
	out, err := atomicfile.CreateDir(dir)
	if err != nil {
		return err
	}
	defer out.Abort()
	// Mkdir, not MkdirAll: if a signal handler removed the temporary
	// directory, nothing recreates it.
	for _, d := range []string{"blobs", "blobs/sha256"} {
		if err := os.Mkdir(filepath.Join(out.Path, d), 0o755); err != nil {
			return err
		}
	}
	for _, d := range descs {
		if err := writeBlob(out.Path, d, blobs); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(out.Path, "index.json"), index, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out.Path, "oci-layout"), enc.LayoutFile, 0o644); err != nil {
		return err
	}
	return out.Commit()
}

// writeBlob writes blob d into layout dir under a temporary name and
// renames it into place only once its digest and size are verified.
func writeBlob(dir string, d specs.Descriptor, blobs *BlobSet) error {
	p, err := BlobPath(dir, d.Digest)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(p), "."+d.Digest.Encoded()+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = blobs.copyVerified(f, d.Digest, d.Size)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// ArchiveOptions select what goes into an archive.
type ArchiveOptions struct {
	// RefName is recorded in index.json (org.opencontainers.image.ref.name).
	RefName string
	// RepoTags, when set, makes a `docker load` archive (as Docker does)
	// that loads under these tags. root must then be an image manifest.
	RepoTags []string
	// Docker makes a `docker load` archive even without RepoTags.
	Docker bool
}

// WriteArchive writes a tar of an OCI layout holding root (an OCI archive),
// or a `docker load` archive: docker's manifest.json and the blobs, and no
// index.json or oci-layout, which would make `podman load` read it as an
// OCI archive and drop its tags. The entries are in a fixed order with the
// metadata and JSON encoding enc gives (see Encoding), so the archive is
// reproducible.
func WriteArchive(w io.Writer, root specs.Descriptor, blobs *BlobSet, enc Encoding, opts ArchiveOptions) error {
	if err := enc.check(); err != nil {
		return err
	}
	descs, err := blobs.Closure(root)
	if err != nil {
		return err
	}
	index, err := layoutIndex(enc, root, opts.RefName)
	if err != nil {
		return err
	}
	files := map[string][]byte{"index.json": index, "oci-layout": enc.LayoutFile}
	if opts.Docker || len(opts.RepoTags) > 0 {
		files = map[string][]byte{}
		if !IsManifest(root.MediaType) {
			return fmt.Errorf("a docker load archive holds one image; %s is an index (choose a platform)", root.Digest)
		}
		m, err := blobs.Manifest(root.Digest)
		if err != nil {
			return err
		}
		entry := dockerManifestEntry{Config: blobName(m.Config.Digest), RepoTags: opts.RepoTags, Layers: []string{}}
		if entry.RepoTags == nil {
			entry.RepoTags = []string{}
		}
		for _, l := range m.Layers {
			entry.Layers = append(entry.Layers, blobName(l.Digest))
		}
		dm, err := enc.DockerManifestJSON([]dockerManifestEntry{entry})
		if err != nil {
			return err
		}
		files["manifest.json"] = dm
	}
	sort.Slice(descs, func(i, j int) bool { return descs[i].Digest < descs[j].Digest })
	tw := tar.NewWriter(w)
	rules := enc.Tar
	dir := func(name string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: rules.DirMode, ModTime: time.Unix(rules.MTime, 0), Format: rules.Format})
	}
	file := func(name string, size int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: rules.FileMode, ModTime: time.Unix(rules.MTime, 0), Format: rules.Format})
	}
	if err := dir("blobs/"); err != nil {
		return err
	}
	if err := dir("blobs/sha256/"); err != nil {
		return err
	}
	for _, d := range descs {
		if err := ValidateDescriptor(d); err != nil {
			return err
		}
		if err := file(blobName(d.Digest), d.Size); err != nil {
			return err
		}
		if err := blobs.copyVerified(tw, d.Digest, d.Size); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := file(n, int64(len(files[n]))); err != nil {
			return err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return err
		}
	}
	return tw.Close()
}

type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// blobName is the archive member name of a validated (sha256) digest.
func blobName(d digest.Digest) string {
	return "blobs/sha256/" + strings.TrimPrefix(string(d), "sha256:")
}
