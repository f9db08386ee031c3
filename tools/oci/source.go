package oci

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	digest "github.com/opencontainers/go-digest"
)

// ErrBlobNotFound is what a BlobSource returns (possibly wrapped) for a
// blob it does not have, so that the next source is asked.
var ErrBlobNotFound = errors.New("blob not found")

// BlobSource supplies blobs that are in none of a BlobSet's files, layouts
// or memory: for example a registry repository holding the base layers
// of an image whose build did not download them.
type BlobSource interface {
	// OpenBlob returns a reader of blob d and a name for it in messages
	// ("registry.example.com/base"). The set checks the bytes against d
	// as they are copied out.
	OpenBlob(d digest.Digest) (io.ReadCloser, string, error)
}

// AddSource adds a source asked, in order, for blobs found nowhere else.
func (b *BlobSet) AddSource(s BlobSource) { b.sources = append(b.sources, s) }

// Has reports whether blob d is in the set itself: in memory, a file or a
// layout. Sources are not asked.
func (b *BlobSet) Has(d digest.Digest) bool {
	if CheckDigest(d) != nil {
		return false
	}
	if _, ok := b.mem[d]; ok {
		return true
	}
	if p, ok := b.files[d]; ok {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return true
		}
	}
	for _, l := range b.layouts {
		if p, err := BlobPath(l, d); err == nil {
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return true
			}
		}
	}
	return false
}

func (b *BlobSet) openFromSources(d digest.Digest) (io.ReadCloser, string, error) {
	var tried []string
	for _, s := range b.sources {
		r, where, err := s.OpenBlob(d)
		if err == nil {
			return r, where, nil
		}
		if !errors.Is(err, ErrBlobNotFound) {
			return nil, where, err
		}
		tried = append(tried, where)
	}
	return nil, "", fmt.Errorf("blob %s is not available: not built, in no base layout given, and not in %s", d, strings.Join(tried, ", "))
}
