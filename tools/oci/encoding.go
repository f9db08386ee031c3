package oci

import (
	"archive/tar"
	"errors"
)

// Encoding is how a layout and an archive are written: the bytes of
// index.json, oci-layout and docker's manifest.json, and the tar headers of
// an archive. They are outputs of the build (an oci-archive's sha256 is
// what a user may record or sign), so the compatibility version chooses
// them (compat.Version.Archive); this package only applies them. There is
// no default: a zero Encoding is refused.
//
// What is not a field is the same for every version: an archive's entries
// are blobs/, blobs/sha256/, the blobs by digest, then the other files by
// name; every entry is owned by 0:0 with no user or group name; blob bytes
// are copied as they are.
type Encoding struct {
	// IndexJSON encodes a layout's index.json.
	IndexJSON func(any) ([]byte, error)
	// LayoutFile is the content of the oci-layout file.
	LayoutFile []byte
	// DockerManifestJSON encodes the manifest.json of a `docker load`
	// archive.
	DockerManifestJSON func(any) ([]byte, error)
	// Tar holds the header rules of an archive's entries.
	Tar ArchiveTarRules
}

// ArchiveTarRules are the tar header fields of an archive's entries.
type ArchiveTarRules struct {
	// DirMode of the blobs/ and blobs/sha256/ entries, FileMode of every file.
	DirMode, FileMode int64
	// MTime of every entry, seconds since the Unix epoch.
	MTime int64
	// Format of every header.
	Format tar.Format
}

// check refuses an Encoding with a missing piece, so that no caller writes
// bytes nobody chose.
func (e Encoding) check() error {
	if e.IndexJSON == nil || e.DockerManifestJSON == nil || len(e.LayoutFile) == 0 || e.Tar.Format == tar.FormatUnknown || e.Tar.DirMode == 0 || e.Tar.FileMode == 0 {
		return errors.New("oci: incomplete layout/archive encoding (take it from the compatibility version: compat.Version.Archive)")
	}
	return nil
}
