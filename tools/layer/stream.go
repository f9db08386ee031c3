package layer

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// SetStreamDir makes the tree a directory on disk that is written while it
// is walked (see streamDir), instead of collected and sorted first. The tree
// must hold nothing else: a directory alone needs no conflict checks,
// implicit parents or sorting, because a walk with siblings sorted by name
// visits entries in exactly the layer's order.
func (t *Tree) SetStreamDir(dir string) error {
	if len(t.nodes) > 0 || len(t.opaque) > 0 || t.stream != "" {
		return fmt.Errorf("--dir %s: a streamed directory must be the layer's only content", dir)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("--dir %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--dir %s: not a directory", dir)
	}
	t.stream = dir
	return nil
}

// streamer writes the entries of a directory walk to a tar as they come.
type streamer struct {
	t       *Tree
	dir     string
	tw      *tar.Writer
	buf     []byte
	first   map[inode]*node
	leaders map[string]*node
	count   int
	// node and hdr are reused for every entry (tar.Writer copies the
	// header), so the walk allocates neither per entry.
	node node
	hdr  tar.Header
	streamPlatform
}

func newStreamer(t *Tree, dir string, w io.Writer) *streamer {
	return &streamer{t: t, dir: dir, tw: tar.NewWriter(w), buf: make([]byte, 256*1024),
		first: map[inode]*node{}, leaders: map[string]*node{}}
}

// entry writes one entry; src opens a regular file's content. It returns
// false for entries a layer cannot hold (sockets), which are skipped.
func (s *streamer) entry(rel string, fi fs.FileInfo, readlink func(string) (string, error), src source) error {
	n, err := s.t.dirNode(s.dir, rel, fi, s.first, readlink, &s.node)
	if err != nil || n == nil {
		return err
	}
	hdr := &s.hdr
	if n.kind == kindHardlink {
		leader := s.leaders[n.linkname]
		fillHeader(hdr, leader, &s.t.opts.Version.Tar)
		hdr.Name, hdr.Typeflag, hdr.Linkname, hdr.Size = n.path, tar.TypeLink, leader.path, 0
	} else {
		if n.kind == kindFile {
			n.src = src
			if st, ok := statOf(fi); ok && st.nlink > 1 {
				s.leaders[n.path] = n // later paths to this inode link to it (dirNode allocated n)
			}
		}
		fillHeader(hdr, n, &s.t.opts.Version.Tar)
	}
	if err := writeEntry(s.tw, n, hdr, &s.t.opts.Version.Tar, s.buf); err != nil {
		return err
	}
	s.count++
	return nil
}

// streamDir writes the layer tar of directory dir to w during the walk, so
// that reading files overlaps compression and memory does not grow with the
// number of entries. The bytes are those of AddDir followed by WriteTar
// (tested). Paths are resolved relative to the directory being walked, not
// from the root of the file system (see walkStream).
func (t *Tree) streamDir(dir string, w io.Writer) (int, error) {
	s := newStreamer(t, dir, w)
	if err := s.walk(); err != nil {
		return 0, err
	}
	return s.count, s.tw.Close()
}
