package oci

import (
	"fmt"
	"io"
	"os"
	"strings"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/safejson"
)

// Bounds on what is read into memory and on what a descriptor may declare.
const (
	// MaxManifestSize bounds an index, a manifest, a layout's index.json
	// and a descriptor file. Registries reject manifests over 4 MiB; twice
	// that leaves room and still refuses a document meant to exhaust
	// memory.
	MaxManifestSize = 8 << 20
	// MaxConfigSize bounds an image config.
	MaxConfigSize = 32 << 20
	// MaxBlobSize is the largest size a descriptor may declare (1 TiB):
	// far above any real layer, far below the int64 overflows a hostile
	// size could cause.
	MaxBlobSize = 1 << 40
)

// CheckDigest is the one check every digest rules_repro parses passes
// through (descriptors in manifests, indexes, index.json, descriptor files;
// config diff_ids): "sha256:" and 64 lower-case hex digits. No compatibility
// version accepts another algorithm today. A digest that passes is safe to
// use as a file name.
func CheckDigest(d digest.Digest) error {
	s := string(d)
	alg, hex, ok := strings.Cut(s, ":")
	switch {
	case !ok || !isAlgorithm(alg):
		return fmt.Errorf("invalid digest %s: want sha256:<64 hex digits>", quote(s))
	case alg != "sha256":
		return fmt.Errorf("unsupported digest %s: only sha256 digests are supported", quote(s))
	case len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "":
		return fmt.Errorf("invalid digest %s: want sha256:<64 lower-case hex digits>", quote(s))
	}
	return nil
}

// CheckSize checks a size a descriptor declares.
func CheckSize(n int64) error {
	if n < 0 || n > MaxBlobSize {
		return fmt.Errorf("invalid size %d (want 0 to %d)", n, int64(MaxBlobSize))
	}
	return nil
}

// ValidateDescriptor checks a descriptor's digest and size; a manifest,
// an index or a config may not declare more than is ever read of it.
func ValidateDescriptor(d specs.Descriptor) error {
	if err := CheckDigest(d.Digest); err != nil {
		return err
	}
	if err := CheckSize(d.Size); err != nil {
		return fmt.Errorf("%s: %w", d.Digest, err)
	}
	switch {
	case (IsIndex(d.MediaType) || IsManifest(d.MediaType)) && d.Size > MaxManifestSize:
		return fmt.Errorf("%s: invalid size %d for a manifest or index (at most %d)", d.Digest, d.Size, MaxManifestSize)
	case (d.MediaType == MediaTypeImageConfig || d.MediaType == DockerConfig) && d.Size > MaxConfigSize:
		return fmt.Errorf("%s: invalid size %d for an image config (at most %d)", d.Digest, d.Size, MaxConfigSize)
	}
	return nil
}

// ParseManifest parses an image manifest (OCI or docker) after the depth
// check and validates every descriptor in it: config, layers, subject.
func ParseManifest(data []byte) (*specs.Manifest, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("manifest of %d bytes is larger than %d bytes", len(data), MaxManifestSize)
	}
	var m specs.Manifest
	if err := safejson.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	if err := ValidateDescriptor(m.Config); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	for i, l := range m.Layers {
		if err := ValidateDescriptor(l); err != nil {
			return nil, fmt.Errorf("layers[%d]: %w", i, err)
		}
	}
	if m.Subject != nil {
		if err := ValidateDescriptor(*m.Subject); err != nil {
			return nil, fmt.Errorf("subject: %w", err)
		}
	}
	return &m, nil
}

// ParseIndex parses an image index (OCI or docker manifest list, or a
// layout's index.json) after the depth check and validates every entry.
func ParseIndex(data []byte) (*specs.Index, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("index of %d bytes is larger than %d bytes", len(data), MaxManifestSize)
	}
	var idx specs.Index
	if err := safejson.Unmarshal(data, &idx); err != nil {
		return nil, err
	}
	for i, m := range idx.Manifests {
		if err := ValidateDescriptor(m); err != nil {
			return nil, fmt.Errorf("manifests[%d]: %w", i, err)
		}
	}
	if idx.Subject != nil {
		if err := ValidateDescriptor(*idx.Subject); err != nil {
			return nil, fmt.Errorf("subject: %w", err)
		}
	}
	return &idx, nil
}

// ParseConfig parses an image config after the depth check and validates
// its diff_ids.
func ParseConfig(data []byte) (*specs.Image, error) {
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("config of %d bytes is larger than %d bytes", len(data), MaxConfigSize)
	}
	var c specs.Image
	if err := safejson.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	for i, d := range c.RootFS.DiffIDs {
		if err := CheckDigest(d); err != nil {
			return nil, fmt.Errorf("rootfs.diff_ids[%d]: %w", i, err)
		}
	}
	return &c, nil
}

// readFile is how layouts and descriptor files are read: ReadFileLimited,
// or an in-memory stand-in that lets the fuzz targets run without disk
// I/O and check every path asked for.
var readFile = ReadFileLimited

// ReadFileLimited reads a regular file of at most max bytes, naming it in
// errors. It does not wait on a FIFO or read a device.
func ReadFileLimited(path string, max int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%s is larger than %d bytes (%d)", path, max, st.Size())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return data, nil
}

// ReadManifestFile reads and parses an image manifest file (for example a
// base image's manifest given to `repro layer --lower-manifest`).
func ReadManifestFile(path string) (*specs.Manifest, error) {
	data, err := readFile(path, MaxManifestSize)
	if err != nil {
		return nil, err
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// isAlgorithm reports whether s looks like an algorithm name (sha512,
// blake3), so that a message can say "unsupported" rather than "invalid".
func isAlgorithm(s string) bool {
	return s != "" && len(s) <= 32 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789+._-") == ""
}

// quote quotes a digest for a message, shortening a hostile long one.
func quote(s string) string {
	if len(s) > 100 {
		return fmt.Sprintf("%q… (%d bytes)", s[:100], len(s))
	}
	return fmt.Sprintf("%q", s)
}
