package layer

import (
	"archive/tar"
	"fmt"
	"io"
	"time"
)

// WriteTar writes the layer tar for the tree to w, in walk order, with the
// header normalization of SPEC §1: numeric owners, permission bits only,
// whole-second mtimes, no atime/ctime, USTAR unless PAX is needed, two zero
// blocks at the end and nothing after them.
func (t *Tree) WriteTar(w io.Writer) (entries int, err error) {
	nodes, err := t.finish()
	if err != nil {
		return 0, err
	}
	return len(nodes), writeNodes(w, nodes)
}

func writeNodes(w io.Writer, nodes []*node) error {
	tw := tar.NewWriter(w)
	buf := make([]byte, 256*1024)
	for _, n := range nodes {
		hdr := header(n)
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: writing tar header: %w", n.where(), err)
		}
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			if err := copyContent(tw, n, buf); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// header builds the tar header of n. A member of a hard link group that is
// not the first in walk order becomes a TypeLink to the first.
func header(n *node) *tar.Header {
	if n.kind == kindWhiteout {
		// As containerd's ChangeWriter: a regular empty file, mode 0, owner
		// 0:0, mtime 1970-01-01 (not clamped: it is already the minimum).
		return &tar.Header{Typeflag: tar.TypeReg, Name: whiteoutName(n.path), ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
	}
	data := n
	if n.group != nil {
		data = n.group.data
	}
	hdr := &tar.Header{
		Name:     n.path,
		Mode:     data.mode,
		Uid:      data.uid,
		Gid:      data.gid,
		Uname:    data.uname,
		Gname:    data.gname,
		ModTime:  time.Unix(data.mtime, 0),
		Devmajor: data.devmajor,
		Devminor: data.devminor,
		// PAX is only used when USTAR cannot hold the header; never GNU.
		Format: tar.FormatPAX,
	}
	for k, v := range data.xattrs {
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+k] = v
	}
	if n.group != nil {
		if leader := n.group.leader(); leader != n {
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, leader.path
			return hdr
		}
	}
	switch data.kind {
	case kindFile:
		hdr.Typeflag, hdr.Size = tar.TypeReg, data.size
	case kindDir:
		hdr.Typeflag, hdr.Name = tar.TypeDir, n.path+"/"
	case kindSymlink:
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, data.linkname
	case kindChar:
		hdr.Typeflag = tar.TypeChar
	case kindBlock:
		hdr.Typeflag = tar.TypeBlock
	case kindFifo:
		hdr.Typeflag = tar.TypeFifo
	}
	return hdr
}

// leader is the member of the group that comes first in walk order.
func (g *linkGroup) leader() *node {
	if g.first != nil {
		return g.first
	}
	best := g.members[0]
	for _, m := range g.members[1:] {
		if sortKey(m.path) < sortKey(best.path) {
			best = m
		}
	}
	g.first = best
	return best
}

// copyContent writes the content of n's source: exactly its recorded size,
// or an error naming the source when it is shorter or longer. Each read asks
// for one byte more than what is left, so a file that has not grown ends
// with a short read and needs no extra read to find its end: a small file
// costs one read.
func copyContent(w io.Writer, n *node, buf []byte) error {
	data := n
	if n.group != nil {
		data = n.group.data
	}
	r, err := data.src.open()
	if err != nil {
		return fmt.Errorf("%s: %w", data.where(), err)
	}
	defer r.Close()
	var written int64
	for {
		want := int64(len(buf))
		if left := data.size - written; left < want {
			want = left + 1
		}
		k, err := r.Read(buf[:want])
		if written+int64(k) > data.size {
			return fmt.Errorf("%s: %s grew while the layer was written", data.where(), data.src.describe())
		}
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return fmt.Errorf("%s: reading %s: %w", data.where(), data.src.describe(), werr)
			}
			written += int64(k)
		}
		if err == io.EOF || (err == nil && written == data.size && int64(k) < want) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: reading %s: %w", data.where(), data.src.describe(), err)
		}
	}
	if written != data.size {
		return fmt.Errorf("%s: %s has %d bytes, expected %d (did it change while the layer was written?)", data.where(), data.src.describe(), written, data.size)
	}
	return nil
}
