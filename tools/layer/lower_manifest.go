package layer

import (
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/rules-repro/rules_repro/tools/oci"
)

// LowerFromManifest applies the layers of a base image's manifest file, in
// order, taking each blob from set and verifying it against its digest.
// Errors name the manifest file and the layer.
func LowerFromManifest(manifestPath string, set *oci.BlobSet) (*Lower, error) {
	m, err := oci.ReadManifestFile(manifestPath)
	if err != nil {
		return nil, err
	}
	lower := NewLower()
	for i, l := range m.Layers {
		rc, where, err := set.Open(l.Digest)
		if err != nil {
			return nil, fmt.Errorf("%s: layer %d: %w", manifestPath, i, err)
		}
		h := sha256.New()
		err = lower.Apply(io.TeeReader(rc, h), where)
		if err == nil {
			_, err = io.Copy(h, rc) // the rest after the tar's end
		}
		rc.Close()
		if err != nil {
			return nil, err
		}
		if got := digest.NewDigest(digest.SHA256, h); got != l.Digest {
			return nil, fmt.Errorf("%s: layer %d from %s has digest %s, expected %s", manifestPath, i, where, got, l.Digest)
		}
	}
	return lower, nil
}
