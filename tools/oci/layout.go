package oci

import (
	"fmt"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// BlobPath returns the path of a blob inside an OCI layout directory. A
// digest that is not sha256:<64 hex digits> is refused (CheckDigest), so
// that no digest can name a path outside the layout.
func BlobPath(layout string, d digest.Digest) (string, error) {
	if err := CheckDigest(d); err != nil {
		return "", fmt.Errorf("layout %s: %w", layout, err)
	}
	return filepath.Join(layout, "blobs", "sha256", d.Encoded()), nil
}

// ReadBlob reads a blob of at most max bytes from a layout directory and
// verifies its digest.
func ReadBlob(layout string, d digest.Digest, max int64) ([]byte, error) {
	p, err := BlobPath(layout, d)
	if err != nil {
		return nil, err
	}
	data, err := readFile(p, max)
	if err != nil {
		return nil, fmt.Errorf("layout %s: blob %s: %w", layout, d, err)
	}
	if got := digest.FromBytes(data); got != d {
		return nil, fmt.Errorf("layout %s: blob %s has digest %s: the layout is corrupt", layout, d, got)
	}
	return data, nil
}

// Image is an image manifest and its config, with the raw bytes kept
// exactly as stored.
type Image struct {
	Descriptor    specs.Descriptor // of the manifest
	ManifestBytes []byte
	Manifest      specs.Manifest
	ConfigBytes   []byte
	Config        specs.Image
}

// ParseImage parses manifest and config bytes and checks that they match.
func ParseImage(desc specs.Descriptor, manifest, config []byte) (*Image, error) {
	if err := ValidateDescriptor(desc); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	img := &Image{Descriptor: desc, ManifestBytes: manifest, ConfigBytes: config}
	m, err := ParseManifest(manifest)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	img.Manifest = *m
	mt := img.Manifest.MediaType
	if mt == "" {
		mt = desc.MediaType
	}
	if !IsManifest(mt) {
		return nil, fmt.Errorf("manifest %s: media type %q is not an image manifest", desc.Digest, mt)
	}
	if got := digest.FromBytes(config); got != img.Manifest.Config.Digest {
		return nil, fmt.Errorf("manifest %s: config has digest %s, the manifest says %s", desc.Digest, got, img.Manifest.Config.Digest)
	}
	c, err := ParseConfig(config)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", img.Manifest.Config.Digest, err)
	}
	img.Config = *c
	if len(img.Config.RootFS.DiffIDs) != len(img.Manifest.Layers) {
		return nil, fmt.Errorf("image %s: config has %d diff_ids but the manifest has %d layers", desc.Digest, len(img.Config.RootFS.DiffIDs), len(img.Manifest.Layers))
	}
	return img, nil
}

// Platform returns the image's platform from its config.
func (img *Image) Platform() *specs.Platform {
	return &specs.Platform{OS: img.Config.OS, Architecture: img.Config.Architecture, Variant: img.Config.Variant}
}

// ReadLayoutImage reads one image from an OCI layout. When the layout holds
// several images or an index, platform (and ref, the
// org.opencontainers.image.ref.name annotation, when not empty) select it.
func ReadLayoutImage(layout string, platform *specs.Platform, ref string) (*Image, error) {
	data, err := readFile(filepath.Join(layout, "index.json"), MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("%s is not an OCI image layout: %w", layout, err)
	}
	index, err := ParseIndex(data)
	if err != nil {
		return nil, fmt.Errorf("layout %s: index.json: %w", layout, err)
	}
	cands := index.Manifests
	if ref != "" {
		cands = nil
		for _, m := range index.Manifests {
			if m.Annotations[AnnotationRefName] == ref {
				cands = append(cands, m)
			}
		}
		if len(cands) == 0 {
			return nil, fmt.Errorf("layout %s has no image named %q", layout, ref)
		}
	}
	return resolveImage(layout, cands, platform, 0)
}

func resolveImage(layout string, cands []specs.Descriptor, platform *specs.Platform, depth int) (*Image, error) {
	if depth > 4 {
		return nil, fmt.Errorf("layout %s: indexes nested too deeply", layout)
	}
	var found []*Image
	var seen []string
	for _, d := range cands {
		switch {
		case IsIndex(d.MediaType):
			data, err := ReadBlob(layout, d.Digest, MaxManifestSize)
			if err != nil {
				return nil, err
			}
			idx, err := ParseIndex(data)
			if err != nil {
				return nil, fmt.Errorf("layout %s: index %s: %w", layout, d.Digest, err)
			}
			img, err := resolveImage(layout, idx.Manifests, platform, depth+1)
			if err != nil {
				return nil, err
			}
			found = append(found, img)
		case IsManifest(d.MediaType):
			if platform != nil && d.Platform != nil && !PlatformMatches(platform, d.Platform) {
				seen = append(seen, PlatformString(d.Platform))
				continue
			}
			m, err := ReadBlob(layout, d.Digest, MaxManifestSize)
			if err != nil {
				return nil, err
			}
			man, err := ParseManifest(m)
			if err != nil {
				return nil, fmt.Errorf("layout %s: manifest %s: %w", layout, d.Digest, err)
			}
			if man.Config.MediaType != "" && man.Config.MediaType != MediaTypeImageConfig && man.Config.MediaType != DockerConfig {
				continue // an attestation or another artifact, not an image
			}
			c, err := ReadBlob(layout, man.Config.Digest, MaxConfigSize)
			if err != nil {
				return nil, err
			}
			img, err := ParseImage(d, m, c)
			if err != nil {
				return nil, fmt.Errorf("layout %s: %w", layout, err)
			}
			if platform != nil && !PlatformMatches(platform, img.Platform()) {
				seen = append(seen, PlatformString(img.Platform()))
				continue
			}
			found = append(found, img)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) == 0 && platform != nil:
		return nil, fmt.Errorf("layout %s has no image for platform %s (it has: %v)", layout, PlatformString(platform), seen)
	case len(found) == 0:
		return nil, fmt.Errorf("layout %s holds no image", layout)
	}
	var ps []string
	var plats []*specs.Platform
	for _, f := range found {
		ps = append(ps, PlatformString(f.Platform()))
		plats = append(plats, f.Platform())
	}
	if platform != nil {
		// Several images match: the same rule as an index's (SelectPlatform).
		i, err := PickPlatform(platform, plats, ps)
		if err != nil {
			return nil, fmt.Errorf("layout %s: %w", layout, err)
		}
		return found[i], nil
	}
	return nil, fmt.Errorf("layout %s holds %d images (%v); choose one by platform", layout, len(found), ps)
}
