package registry

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/oci"
)

// Resolution is a verified index or single manifest and the images of the
// requested platforms.
type Resolution struct {
	// Ref is the reference resolved, as given.
	Ref string
	// Digest, MediaType and Bytes are the index or single manifest.
	Digest    digest.Digest
	MediaType string
	Bytes     []byte
	// Images are the platform images, sorted by Platform.
	Images []*PlatformImage
}

// PlatformImage is one platform's verified manifest and config.
type PlatformImage struct {
	// Platform is the key it was requested as ("linux/arm64"), or, when
	// all platforms were asked for, the platform the index gives it.
	Platform string
	// Image holds the manifest's descriptor and exact bytes and the
	// config's exact bytes.
	Image *oci.Image
}

// ManifestDigest returns the digest of the platform's manifest.
func (p *PlatformImage) ManifestDigest() digest.Digest { return p.Image.Descriptor.Digest }

// ConfigDigest returns the digest of the platform's config.
func (p *PlatformImage) ConfigDigest() digest.Digest { return p.Image.Manifest.Config.Digest }

// Resolve fetches what ref (a tag, a digest, or both) points at and the
// manifest and config of each requested platform ("os/arch[/variant]"),
// verifying each against its digest. No platforms means every platform of
// an index (except "unknown/unknown" attestation entries), or the one
// platform of a single manifest.
func (c *Client) Resolve(ctx context.Context, ref string, platforms []string) (*Resolution, error) {
	parsed, err := c.parseReference(ref)
	if err != nil {
		return nil, err
	}
	subject := parsed.String()
	r, err := c.repository(ctx, parsed.Context(), subject)
	if err != nil {
		return nil, err
	}
	var want digest.Digest
	if d, ok := parsed.(name.Digest); ok {
		if want, err = digest.Parse(d.DigestStr()); err != nil || want.Algorithm() != digest.SHA256 {
			return nil, c.fail(nil, subject, "unsupported digest %q (only sha256)", d.DigestStr())
		}
	}
	root, err := c.fetchManifest(ctx, r, parsed.Identifier(), want, -1, "", subject)
	if err != nil {
		if errors.Is(err, ErrNotFound) && want != "" {
			return nil, c.fail(ErrNotFound, subject, "the registry has no manifest %s in %s: the digest is wrong (was the lockfile edited?) or the image was deleted", want, r.repo.Name())
		}
		return nil, err
	}
	res := &Resolution{Ref: ref, Digest: root.Digest, MediaType: root.MediaType, Bytes: root.Bytes}
	type pick struct {
		key  string
		want *specs.Platform
		desc specs.Descriptor
	}
	var picks []pick
	if oci.IsIndex(root.MediaType) {
		ix, err := oci.ParseIndex(root.Bytes)
		if err != nil {
			return nil, c.fail(ErrVerify, subject, "index %s: %v", root.Digest, err)
		}
		idx := *ix
		if len(platforms) == 0 {
			all, err := allPlatforms(idx)
			if err != nil {
				return nil, c.fail(nil, subject, "index %s: %v", root.Digest, err)
			}
			for _, key := range sortedKeys(all) {
				picks = append(picks, pick{key: key, want: all[key].Platform, desc: all[key]})
			}
		}
		for _, key := range platforms {
			p, err := oci.ParsePlatform(key)
			if err != nil {
				return nil, c.fail(nil, subject, "%v", err)
			}
			desc, err := oci.SelectPlatform(idx.Manifests, p)
			if err != nil {
				return nil, c.fail(ErrNotFound, subject, "index %s: %v", root.Digest, err)
			}
			picks = append(picks, pick{key: key, want: p, desc: desc})
		}
	} else {
		if len(platforms) > 1 {
			return nil, c.fail(nil, subject, "%s is a single image manifest, not an index, so it has one platform; %d were requested (%s)", root.Digest, len(platforms), strings.Join(platforms, ", "))
		}
		pk := pick{desc: specs.Descriptor{MediaType: root.MediaType, Digest: root.Digest, Size: int64(len(root.Bytes))}}
		if len(platforms) == 1 {
			p, err := oci.ParsePlatform(platforms[0])
			if err != nil {
				return nil, c.fail(nil, subject, "%v", err)
			}
			pk.key, pk.want = platforms[0], p
		}
		picks = append(picks, pk)
	}
	for _, pk := range picks {
		var img *oci.Image
		var err error
		if pk.desc.Digest == root.Digest {
			img, err = c.image(ctx, r, root, subject, pk.key)
		} else {
			img, err = c.platformImage(ctx, r, pk.desc, subject, pk.key)
		}
		if err != nil {
			return nil, err
		}
		have := img.Platform()
		key := pk.key
		if key == "" {
			key = oci.PlatformString(have)
		}
		if pk.want != nil && !oci.PlatformMatches(pk.want, have) {
			return nil, c.fail(ErrVerify, subject, "%s: the config of manifest %s is for platform %s", key, img.Descriptor.Digest, oci.PlatformString(have))
		}
		res.Images = append(res.Images, &PlatformImage{Platform: key, Image: img})
	}
	sort.Slice(res.Images, func(i, j int) bool { return res.Images[i].Platform < res.Images[j].Platform })
	return res, nil
}

// platformImage fetches and verifies the manifest desc names, and its config.
func (c *Client) platformImage(ctx context.Context, r *repository, desc specs.Descriptor, subject, key string) (*oci.Image, error) {
	if !oci.IsManifest(desc.MediaType) {
		return nil, c.fail(nil, subject, "%s: the index entry %s has media type %s; nested indexes are not supported", key, desc.Digest, desc.MediaType)
	}
	if desc.Digest.Validate() != nil || desc.Digest.Algorithm() != digest.SHA256 {
		return nil, c.fail(nil, subject, "%s: unsupported digest %q in the index (only sha256)", key, desc.Digest)
	}
	m, err := c.fetchManifest(ctx, r, desc.Digest.String(), desc.Digest, desc.Size, desc.MediaType, subject+" ("+key+")")
	if err != nil {
		return nil, err
	}
	return c.image(ctx, r, m, subject, key)
}

// image fetches and verifies the config of a verified manifest.
func (c *Client) image(ctx context.Context, r *repository, m *manifest, subject, key string) (*oci.Image, error) {
	man, err := oci.ParseManifest(m.Bytes)
	if err != nil {
		return nil, c.fail(ErrVerify, subject, "manifest %s: %v", m.Digest, err)
	}
	what := "config " + man.Config.Digest.String()
	if key != "" {
		what += " of " + key
	}
	cfg, err := c.fetchBlobBytes(ctx, r, man.Config.Digest, man.Config.Size, MaxConfigSize, subject, what)
	if err != nil {
		return nil, err
	}
	desc := specs.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Bytes))}
	img, err := oci.ParseImage(desc, m.Bytes, cfg)
	if err != nil {
		return nil, c.fail(ErrVerify, subject, "%v", err)
	}
	return img, nil
}

// allPlatforms returns the image manifests of an index by platform string,
// leaving out attestation entries ("unknown/unknown").
func allPlatforms(idx specs.Index) (map[string]specs.Descriptor, error) {
	out := map[string]specs.Descriptor{}
	for _, d := range idx.Manifests {
		if d.Platform == nil || !oci.IsManifest(d.MediaType) || d.Platform.OS == "unknown" || d.Platform.Architecture == "unknown" {
			continue
		}
		key := oci.PlatformString(d.Platform)
		if _, err := oci.ParsePlatform(key); err != nil {
			return nil, fmt.Errorf("entry %s: %v", d.Digest, err)
		}
		if prev, dup := out[key]; dup {
			return nil, fmt.Errorf("two images for platform %s (%s and %s); request the platforms explicitly", key, prev.Digest, d.Digest)
		}
		out[key] = d
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no image manifests with a platform")
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
