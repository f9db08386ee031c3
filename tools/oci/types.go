// Package oci holds the OCI plumbing of rules_repro: descriptor files
// exchanged between commands, platforms, reading images from OCI layouts,
// and writing layouts and archives from a set of blobs.
package oci

import (
	"fmt"
	"regexp"
	"strings"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/safejson"
)

// Media types.
const (
	MediaTypeImageIndex    = specs.MediaTypeImageIndex
	MediaTypeImageManifest = specs.MediaTypeImageManifest
	MediaTypeImageConfig   = specs.MediaTypeImageConfig
	MediaTypeLayer         = specs.MediaTypeImageLayer
	MediaTypeLayerGzip     = specs.MediaTypeImageLayerGzip
	MediaTypeLayerZstd     = specs.MediaTypeImageLayerZstd

	DockerManifestList   = "application/vnd.docker.distribution.manifest.list.v2+json"
	DockerManifest       = "application/vnd.docker.distribution.manifest.v2+json"
	DockerConfig         = "application/vnd.docker.container.image.v1+json"
	DockerLayerGzip      = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	DockerLayerZstd      = "application/vnd.docker.image.rootfs.diff.tar.zstd"
	DockerLayer          = "application/vnd.docker.image.rootfs.diff.tar"
	DockerForeignLayer   = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
	AnnotationCreated    = specs.AnnotationCreated
	AnnotationRefName    = specs.AnnotationRefName
	AnnotationBaseDigest = specs.AnnotationBaseImageDigest
	AnnotationBaseName   = specs.AnnotationBaseImageName
)

// IsIndex reports whether mt is an image index or docker manifest list.
func IsIndex(mt string) bool { return mt == MediaTypeImageIndex || mt == DockerManifestList }

// IsManifest reports whether mt is an image manifest (OCI or docker).
func IsManifest(mt string) bool { return mt == MediaTypeImageManifest || mt == DockerManifest }

// LayerDescriptor is the JSON file written next to a layer blob by
// `repro layer`. Downstream commands (image, layout, push) read it instead
// of the layer bytes.
type LayerDescriptor struct {
	MediaType string        `json:"mediaType"`
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
	// DiffID is the sha256 of the uncompressed tar.
	DiffID digest.Digest `json:"diff_id"`
	// UncompressedSize is the size of the uncompressed tar.
	UncompressedSize int64 `json:"uncompressed_size"`
	// Entries is the number of tar entries.
	Entries int `json:"entries"`
	// CreatedBy is the history text of the layer, if one was given.
	CreatedBy string `json:"created_by,omitempty"`
	// CompatibilityVersion is the version the layer was encoded under.
	CompatibilityVersion int `json:"compatibility_version"`
	// Annotations go into the layer's descriptor in the image manifest
	// (for example the fixed file time of compatibility version 2).
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ImageDescriptor is the JSON file written by `repro image` and
// `repro index`: what an index, a layout or a push needs to know about an
// image or index without reading its blobs.
type ImageDescriptor struct {
	MediaType string        `json:"mediaType"`
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
	// Platform of an image (absent for an index).
	Platform *specs.Platform `json:"platform,omitempty"`
	// Config is the config descriptor of an image (absent for an index).
	Config *specs.Descriptor `json:"config,omitempty"`
	// Layers are the layer descriptors of an image.
	Layers []specs.Descriptor `json:"layers,omitempty"`
	// Manifests are the descriptors of an index's images.
	Manifests []specs.Descriptor `json:"manifests,omitempty"`
	// CompatibilityVersion the image or index was assembled under.
	CompatibilityVersion int `json:"compatibility_version"`
}

// Descriptor returns the plain OCI descriptor.
func (d *ImageDescriptor) Descriptor() specs.Descriptor {
	return specs.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, Platform: d.Platform}
}

// ReadJSON reads a JSON file of at most MaxManifestSize bytes into v after
// the depth check (safejson), naming the file in errors.
func ReadJSON(path string, v any) error {
	data, err := readFile(path, MaxManifestSize)
	if err != nil {
		return err
	}
	if err := safejson.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: invalid JSON: %w", path, err)
	}
	return nil
}

// ReadLayerDescriptor reads and checks a layer descriptor file: digest and
// diff_id are sha256 digests (CheckDigest), the size is positive and sane.
func ReadLayerDescriptor(path string) (*LayerDescriptor, error) {
	var d LayerDescriptor
	if err := ReadJSON(path, &d); err != nil {
		return nil, fmt.Errorf("layer descriptor: %w", err)
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("layer descriptor %s: %w", path, err)
	}
	return &d, nil
}

// Validate checks what a layer descriptor says.
func (d *LayerDescriptor) Validate() error {
	if err := CheckDigest(d.Digest); err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	if err := CheckDigest(d.DiffID); err != nil {
		return fmt.Errorf("diff_id: %w", err)
	}
	if d.MediaType == "" {
		return fmt.Errorf("missing mediaType")
	}
	if d.Size <= 0 {
		return fmt.Errorf("missing size")
	}
	if err := CheckSize(d.Size); err != nil {
		return fmt.Errorf("size: %w", err)
	}
	if err := CheckSize(d.UncompressedSize); err != nil {
		return fmt.Errorf("uncompressed_size: %w", err)
	}
	return nil
}

// ReadImageDescriptor reads and checks an image or index descriptor file:
// its own digest and size and those of its config, layers and manifests.
func ReadImageDescriptor(path string) (*ImageDescriptor, error) {
	var d ImageDescriptor
	if err := ReadJSON(path, &d); err != nil {
		return nil, fmt.Errorf("image descriptor: %w", err)
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("image descriptor %s: %w", path, err)
	}
	return &d, nil
}

// Validate checks what an image or index descriptor says.
func (d *ImageDescriptor) Validate() error {
	if err := CheckDigest(d.Digest); err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	if !IsIndex(d.MediaType) && !IsManifest(d.MediaType) {
		return fmt.Errorf("media type %q is neither an image manifest nor an index", d.MediaType)
	}
	if err := ValidateDescriptor(d.Descriptor()); err != nil {
		return err
	}
	if d.Config != nil {
		if err := ValidateDescriptor(*d.Config); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	for i, l := range d.Layers {
		if err := ValidateDescriptor(l); err != nil {
			return fmt.Errorf("layers[%d]: %w", i, err)
		}
	}
	for i, m := range d.Manifests {
		if err := ValidateDescriptor(m); err != nil {
			return fmt.Errorf("manifests[%d]: %w", i, err)
		}
	}
	return nil
}

var platformRE = regexp.MustCompile(`^[a-z0-9_]+/[a-z0-9_]+(/[a-z0-9_.]+)?$`)

// ParsePlatform parses "os/arch[/variant]", for example "linux/arm64/v8".
func ParsePlatform(s string) (*specs.Platform, error) {
	if !platformRE.MatchString(s) {
		return nil, fmt.Errorf("invalid platform %q: want os/architecture[/variant], for example linux/amd64 or linux/arm64/v8", s)
	}
	parts := strings.Split(s, "/")
	p := &specs.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// PlatformString formats a platform as os/arch[/variant].
func PlatformString(p *specs.Platform) string {
	if p == nil {
		return "unknown"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// PlatformMatches reports whether an image of platform have satisfies want.
// An empty variant in want matches any variant; arm64 without variant and
// arm64/v8 are the same platform.
func PlatformMatches(want, have *specs.Platform) bool {
	if want == nil || have == nil {
		return want == have
	}
	if want.OS != have.OS || want.Architecture != have.Architecture {
		return false
	}
	if want.Variant == "" {
		return true
	}
	hv := have.Variant
	if have.Architecture == "arm64" && hv == "" {
		hv = "v8"
	}
	return want.Variant == hv
}

// OCILayerMediaType maps docker layer media types to their OCI equivalents
// (the blob formats are the same). Other media types are returned as is.
func OCILayerMediaType(mt string) string {
	switch mt {
	case DockerLayerGzip:
		return MediaTypeLayerGzip
	case DockerLayerZstd:
		return MediaTypeLayerZstd
	case DockerLayer:
		return MediaTypeLayer
	}
	return mt
}
