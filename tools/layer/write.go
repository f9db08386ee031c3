package layer

import (
	"archive/tar"
	"fmt"
	"io"
	"time"

	"github.com/rules-repro/rules_repro/tools/compat"
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
	return len(nodes), writeNodes(w, nodes, &t.opts.Version.Tar)
}

func writeNodes(w io.Writer, nodes []*node, rules *compat.TarRules) error {
	tw := tar.NewWriter(w)
	buf := make([]byte, 256*1024)
	for _, n := range nodes {
		if err := writeEntry(tw, n, header(n, rules), rules, buf); err != nil {
			return err
		}
	}
	return tw.Close()
}

// writeEntry writes hdr, the header of n, and for a regular file its content.
func writeEntry(tw *tar.Writer, n *node, hdr *tar.Header, rules *compat.TarRules, buf []byte) error {
	if hdr.Typeflag == tar.TypeReg && n.kind != kindWhiteout {
		return writeRegular(tw, n, hdr, rules, buf)
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: writing tar header: %w", n.where(), err)
	}
	return nil
}

// header builds the tar header of n. A member of a hard link group that is
// not the first in walk order becomes a TypeLink to the first.
func header(n *node, rules *compat.TarRules) *tar.Header {
	hdr := new(tar.Header)
	fillHeader(hdr, n, rules)
	return hdr
}

// fillHeader writes the tar header of n (see header) over *hdr.
func fillHeader(hdr *tar.Header, n *node, rules *compat.TarRules) {
	if n.kind == kindWhiteout {
		// As containerd's ChangeWriter: a regular empty file, mode 0, owner
		// 0:0, the version's whiteout mtime (not clamped), whether the
		// whiteout was declared, came from an input tar or was expanded.
		*hdr = tar.Header{Typeflag: tar.TypeReg, Name: whiteoutName(n.path), ModTime: time.Unix(rules.WhiteoutMTime, 0), Format: tar.FormatPAX}
		return
	}
	data := n
	if n.group != nil {
		data = n.group.data
	}
	*hdr = tar.Header{
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
			return
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

// writeRegular writes hdr and the content of the regular file n: exactly
// its recorded size, or an error naming the source when it is shorter or
// longer. Each read asks for one byte more than what is left, so a file that
// has not grown ends with a short read and needs no extra read to find its
// end: a small file costs one read.
//
// When the file's mode comes from its content (TarRules.ModeFromContent),
// the first read happens before the header is written, and the mode is
// chosen from the bytes it returned: the content is opened once, as for
// any other file.
func writeRegular(tw *tar.Writer, n *node, hdr *tar.Header, rules *compat.TarRules, buf []byte) error {
	data := n
	if n.group != nil {
		data = n.group.data
	}
	if hdr.Size == 0 {
		if data.contentMode {
			data.mode, data.contentMode = rules.ContentMode(nil), false
			hdr.Mode = data.mode
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: writing tar header: %w", n.where(), err)
		}
		return nil
	}
	r, err := data.src.open()
	if err != nil {
		return fmt.Errorf("%s: %w", data.where(), err)
	}
	defer r.Close()
	// head: bytes read into buf before the header was written, with the
	// error of that read.
	head, headErr, peeked := 0, error(nil), false
	if data.contentMode {
		want := min(int64(len(buf)), data.size+1)
		need := min(4, data.size)
		for int64(head) < need && headErr == nil {
			k, err := r.Read(buf[head:want])
			head, headErr = head+k, err
			if k == 0 && err == nil {
				break
			}
		}
		data.mode, data.contentMode, peeked = rules.ContentMode(buf[:head]), false, true
		hdr.Mode = data.mode
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: writing tar header: %w", n.where(), err)
	}
	var written int64
	for {
		want := int64(len(buf))
		if left := data.size - written; left < want {
			want = left + 1
		}
		var k int
		var err error
		if peeked {
			k, err, peeked = head, headErr, false
		} else {
			k, err = r.Read(buf[:want])
		}
		if written+int64(k) > data.size {
			return fmt.Errorf("%s: %s grew while the layer was written", data.where(), data.src.describe())
		}
		if k > 0 {
			if _, werr := tw.Write(buf[:k]); werr != nil {
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
