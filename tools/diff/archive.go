package diff

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/blob"
	"github.com/rules-repro/rules_repro/tools/canonjson"
	"github.com/rules-repro/rules_repro/tools/layer"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/safejson"
)

// member is a regular file inside a plain tar file.
type member struct{ off, size int64 }

// archiveStore reads blobs out of an OCI archive (blobs/ALG/HEX members)
// or a docker archive (members named in manifest.json), by offset: the
// archive is indexed once and never held in memory.
type archiveStore struct {
	f       *os.File
	members map[string]member
	byHash  map[digest.Digest]string // docker archives: digest → member
}

func (a *archiveStore) open(_ context.Context, d specs.Descriptor) (io.ReadCloser, error) {
	name := "blobs/" + d.Digest.Algorithm().String() + "/" + d.Digest.Encoded()
	m, ok := a.members[name]
	if !ok {
		if n, ok2 := a.byHash[d.Digest]; ok2 {
			m, ok = a.members[n], true
		}
	}
	if !ok {
		return nil, errNotFound
	}
	return io.NopCloser(io.NewSectionReader(a.f, m.off, m.size)), nil
}

func (a *archiveStore) read(name string) ([]byte, error) {
	m, ok := a.members[name]
	if !ok {
		return nil, fmt.Errorf("no member %s", name)
	}
	if m.size > maxSmallBlob {
		return nil, fmt.Errorf("member %s is too large (%d bytes)", name, m.size)
	}
	data := make([]byte, m.size)
	_, err := a.f.ReadAt(data, m.off)
	return data, err
}

// offsetReader counts the offset in a file, so that the data offset of a
// tar member is known after tar.Reader.Next (which reads headers block by
// block and skips data with Seek).
type offsetReader struct {
	f   *os.File
	pos int64
}

func (c *offsetReader) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	c.pos += int64(n)
	return n, err
}

func (c *offsetReader) Seek(off int64, whence int) (int64, error) {
	p, err := c.f.Seek(off, whence)
	if err == nil {
		c.pos = p
	}
	return p, err
}

func indexTar(f *os.File) (map[string]member, error) {
	cr := &offsetReader{f: f}
	tr := tar.NewReader(cr)
	members := map[string]member{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return members, nil
		}
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag == tar.TypeReg {
			members[path.Clean(strings.TrimPrefix(hdr.Name, "./"))] = member{off: cr.pos, size: hdr.Size}
		}
	}
}

// spool decompresses a compressed archive into a temporary file.
func spool(p string) (*os.File, error) {
	r, err := layer.OpenArchive(p)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	f, err := os.CreateTemp("", "repro-diff-*.tar")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return nil, fmt.Errorf("decompressing %s: %w", p, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// openArchive opens a tar file: an OCI archive (index.json and
// oci-layout), a docker archive (manifest.json), or, when want is empty and
// it is neither, a plain layer.
func openArchive(arg, p string, want Kind) (*Source, error) {
	head, err := readHead(p, 8)
	if err != nil {
		return nil, err
	}
	var f *os.File
	if blob.Sniff(head).Name != blob.None {
		f, err = spool(p)
	} else {
		f, err = os.Open(p)
	}
	if err != nil {
		return nil, err
	}
	members, err := indexTar(f)
	if err != nil {
		f.Close()
		if want == "" {
			return openLayerBlob(arg, p)
		}
		return nil, fmt.Errorf("%s: not a valid tar archive: %w", arg, err)
	}
	a := &archiveStore{f: f, members: members}
	_, hasIndex := members["index.json"]
	_, hasManifest := members["manifest.json"]
	switch {
	case hasIndex && want != KindDockerArchive:
		data, err := a.read("index.json")
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", arg, err)
		}
		kind := KindOCIArchive
		if hasManifest {
			kind = KindDockerArchive
		}
		s := newSource(arg, kind)
		s.closers = append(s.closers, f)
		if err := rootOfIndexJSON(s, data, arg); err != nil {
			f.Close()
			return nil, err
		}
		s.stores = append(s.stores, a)
		return s, nil
	case hasManifest:
		s, err := openDockerArchive(arg, a)
		if err != nil {
			f.Close()
			return nil, err
		}
		return s, nil
	case want == "":
		f.Close()
		return openLayerBlob(arg, p)
	}
	f.Close()
	return nil, fmt.Errorf("%s: a tar file without index.json or manifest.json: not an %s", arg, want)
}

// openDockerArchive reads the manifest.json of `docker save` and makes up
// an image manifest for its config and layers (a docker archive has none):
// the comparison then covers config and layers, not the manifest.
func openDockerArchive(arg string, a *archiveStore) (*Source, error) {
	data, err := a.read("manifest.json")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arg, err)
	}
	var entries []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := safejson.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("%s: manifest.json: %w", arg, err)
	}
	if len(entries) != 1 {
		return nil, fmt.Errorf("%s: manifest.json lists %d images; compare archives of one image", arg, len(entries))
	}
	e := entries[0]
	cfg, err := a.read(path.Clean(e.Config))
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", arg, err)
	}
	a.byHash = map[digest.Digest]string{}
	cd := digest.FromBytes(cfg)
	a.byHash[cd] = path.Clean(e.Config)
	var layers []map[string]any
	for _, l := range e.Layers {
		name := path.Clean(l)
		m, ok := a.members[name]
		if !ok {
			return nil, fmt.Errorf("%s: layer %s named in manifest.json is not in the archive", arg, l)
		}
		sec := io.NewSectionReader(a.f, m.off, m.size)
		head := make([]byte, 8)
		k, _ := sec.ReadAt(head, 0)
		d, err := digest.SHA256.FromReader(sec)
		if err != nil {
			return nil, fmt.Errorf("%s: reading %s: %w", arg, l, err)
		}
		a.byHash[d] = name
		layers = append(layers, map[string]any{"mediaType": blob.Sniff(head[:k]).DockerMediaType, "digest": d.String(), "size": m.size})
	}
	man, err := canonjson.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     oci.DockerManifest,
		"config":        map[string]any{"mediaType": oci.DockerConfig, "digest": cd.String(), "size": len(cfg)},
		"layers":        layers,
	})
	if err != nil {
		return nil, err
	}
	s := newSource(arg, KindDockerArchive)
	s.closers = append(s.closers, a.f)
	md := digest.FromBytes(man)
	s.small[md] = man
	s.synthetic[md] = true
	s.Root = specs.Descriptor{MediaType: oci.DockerManifest, Digest: md, Size: int64(len(man))}
	s.stores = append(s.stores, a)
	return s, nil
}
