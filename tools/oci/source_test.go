package oci

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// mapSource is a BlobSource over a map, counting what it is asked.
type mapSource struct {
	name  string
	blobs map[digest.Digest][]byte
	fail  error
	asked int
}

func (m *mapSource) OpenBlob(d digest.Digest) (io.ReadCloser, string, error) {
	m.asked++
	if m.fail != nil {
		return nil, m.name, m.fail
	}
	b, ok := m.blobs[d]
	if !ok {
		return nil, m.name, fmt.Errorf("%w: %s", ErrBlobNotFound, d)
	}
	return io.NopCloser(bytes.NewReader(b)), m.name, nil
}

func TestBlobSetSources(t *testing.T) {
	local, remote, wrong := []byte("local"), []byte("remote"), []byte("wrong")
	set := NewBlobSet()
	set.AddBytes(local)
	first := &mapSource{name: "first", blobs: map[digest.Digest][]byte{}}
	second := &mapSource{name: "second", blobs: map[digest.Digest][]byte{digest.FromBytes(remote): remote, digest.FromBytes(local): wrong}}
	set.AddSource(first)
	set.AddSource(second)

	if !set.Has(digest.FromBytes(local)) || set.Has(digest.FromBytes(remote)) {
		t.Error("Has must see the set's own blobs only")
	}
	// The set's own copy wins; sources are not asked.
	var buf bytes.Buffer
	if err := set.copyVerified(&buf, digest.FromBytes(local), int64(len(local))); err != nil || buf.String() != "local" || first.asked+second.asked != 0 {
		t.Errorf("local: %q %v (asked %d, %d)", buf.String(), err, first.asked, second.asked)
	}
	// A blob found nowhere else comes from the first source that has it.
	buf.Reset()
	if err := set.copyVerified(&buf, digest.FromBytes(remote), int64(len(remote))); err != nil || buf.String() != "remote" || first.asked != 1 || second.asked != 1 {
		t.Errorf("remote: %q %v (asked %d, %d)", buf.String(), err, first.asked, second.asked)
	}
	// Wrong bytes from a source are caught.
	lie := NewBlobSet()
	lie.AddSource(&mapSource{name: "liar", blobs: map[digest.Digest][]byte{digest.FromBytes(local): wrong}})
	if err := lie.copyVerified(io.Discard, digest.FromBytes(local), int64(len(local))); err == nil || !strings.Contains(err.Error(), "from liar") {
		t.Errorf("a lying source: %v", err)
	}
	// Nobody has it: the error lists who was asked.
	absent := digest.FromString("absent")
	if _, _, err := set.Open(absent); err == nil || !strings.Contains(err.Error(), "not in first, second") {
		t.Errorf("absent: %v", err)
	}
	// Any other failure stops the search.
	broken := NewBlobSet()
	boom := errors.New("registry unreachable")
	broken.AddSource(&mapSource{name: "down", fail: boom})
	broken.AddSource(second)
	before := second.asked
	if _, _, err := broken.Open(digest.FromBytes(remote)); !errors.Is(err, boom) || second.asked != before {
		t.Errorf("a failing source: %v (second asked %d)", err, second.asked)
	}
}
