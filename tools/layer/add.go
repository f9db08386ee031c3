package layer

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// AddSpec adds every entry of s. specName is used in error messages.
func (t *Tree) AddSpec(s *Spec, specName string) error {
	if len(s.Entries) == 0 && !s.AllowEmpty {
		return fmt.Errorf("layer spec %s declares no entries; an empty layer adds nothing to an image (set \"allow_empty\": true if you really want one)", specName)
	}
	for i := range s.Entries {
		if err := t.addEntry(&s.Entries[i], fmt.Sprintf("%s: entries[%d]", specName, i)); err != nil {
			return err
		}
	}
	for i := range s.Overrides {
		if err := t.override(&s.Overrides[i], fmt.Sprintf("%s: overrides[%d]", specName, i)); err != nil {
			return err
		}
	}
	return nil
}

// override applies o to the node at its path (see Override).
func (t *Tree) override(o *Override, where string) error {
	p, err := CleanPath(o.Path)
	if err != nil {
		return fmt.Errorf("%s (%q): %v", where, o.Path, err)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s (%q): %s", where, "/"+p, fmt.Sprintf(format, args...))
	}
	if p == "" {
		return fail("the image root cannot be overridden")
	}
	mode := int64(-1)
	if o.Mode != "" {
		if mode, err = parseMode(o.Mode); err != nil {
			return fail("%v", err)
		}
	}
	if (o.UID == nil) != (o.GID == nil) {
		return fail("give uid and gid together")
	}
	if o.UID == nil && (o.Uname != "" || o.Gname != "") {
		return fail("uname and gname need uid and gid")
	}
	if o.UID != nil && (*o.UID < 0 || *o.GID < 0) {
		return fail("invalid owner %d:%d", *o.UID, *o.GID)
	}
	if mode < 0 && o.UID == nil {
		return fail("nothing to override: give a mode, or uid and gid")
	}
	n, ok := t.nodes[p]
	if !ok {
		if !t.hasBelow(p) {
			return fail("no entry of the layer (declared, or a member of an input tar) has this path, nor is below it")
		}
		n = &node{path: p, kind: kindDir, mode: t.opts.Version.Tar.DirMode, mtime: t.opts.Epoch, origin: where}
		t.nodes[p] = n
	}
	switch n.kind {
	case kindWhiteout:
		return fail("a whiteout (%s) has no mode or owner", n.where())
	case kindHardlink:
		return fail("a hard link (%s) shares the metadata of its target %q; override that path", n.where(), "/"+n.linkname)
	}
	if mode >= 0 {
		n.mode, n.contentMode = mode, false
	}
	if o.UID != nil {
		n.uid, n.gid, n.uname, n.gname = *o.UID, *o.GID, o.Uname, o.Gname
	}
	return nil
}

// hasBelow reports whether a node lies below dir.
func (t *Tree) hasBelow(dir string) bool {
	prefix := dir + "/"
	for p := range t.nodes {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

func (t *Tree) addEntry(e *Entry, where string) error {
	origin := fmt.Sprintf("%s (%s %q)", where, e.Type, e.Path)
	if e.Source != "" {
		origin = fmt.Sprintf("%s (%s %q from %s)", where, e.Type, e.Path, e.Source)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", origin, fmt.Sprintf(format, args...))
	}
	var p string
	if e.Path != "" || (e.Type != "tar" && e.Type != "tree") {
		var err error
		if p, err = CleanPath(e.Path); err != nil {
			return fail("%v", err)
		}
	}
	if base := p[strings.LastIndexByte(p, '/')+1:]; strings.HasPrefix(base, whiteoutPrefix) {
		return fail("name %q starts with %q, which marks a deletion in OCI layers; declare a whiteout entry instead", base, whiteoutPrefix)
	}
	if el := whiteoutElement(p); el != "" {
		return fail("%q in the path starts with %q, which marks a deletion in OCI layers; it cannot be a directory", el, whiteoutPrefix)
	}
	n := &node{path: p, mtime: t.opts.Epoch, origin: origin}
	if e.UID != nil {
		if *e.UID < 0 {
			return fail("invalid uid %d", *e.UID)
		}
		n.uid = *e.UID
	}
	if e.GID != nil {
		if *e.GID < 0 {
			return fail("invalid gid %d", *e.GID)
		}
		n.gid = *e.GID
	}
	n.uname, n.gname = e.Uname, e.Gname
	x, err := e.xattrs()
	if err != nil {
		return fail("%v", err)
	}
	n.xattrs = x
	mode := int64(-1)
	if e.Mode != "" {
		if mode, err = parseMode(e.Mode); err != nil {
			return fail("%v", err)
		}
	}
	allow := func(fields ...string) error {
		set := map[string]bool{}
		for _, f := range fields {
			set[f] = true
		}
		check := []struct {
			name string
			used bool
		}{
			{"source", e.Source != ""}, {"content", e.Content != nil}, {"target", e.Target != ""},
			{"mode", e.Mode != ""}, {"uid", e.UID != nil}, {"gid", e.GID != nil},
			{"uname", e.Uname != ""}, {"gname", e.Gname != ""},
			{"xattrs", len(e.Xattrs)+len(e.XattrsBase64) > 0},
			{"strip_prefix", e.StripPrefix != ""},
		}
		for _, c := range check {
			if c.used && !set[c.name] {
				return fail("field %q is not allowed on a %s entry", c.name, e.Type)
			}
		}
		return nil
	}
	owner := []string{"mode", "uid", "gid", "uname", "gname", "xattrs"}
	switch e.Type {
	case "file":
		if err := allow(append(owner, "source", "content")...); err != nil {
			return err
		}
		n.kind = kindFile
		switch {
		case e.Source != "" && e.Content != nil:
			return fail("a file has either a source or content, not both")
		case e.Content != nil:
			n.src, n.size = inlineSource{*e.Content}, int64(len(*e.Content))
			n.mode = t.opts.Version.Tar.FileMode
		case e.Source != "":
			fi, err := os.Stat(e.Source)
			if err != nil {
				return fail("%v", err)
			}
			if fi.IsDir() {
				return fail("source %s is a directory; use a \"tree\" entry to add a directory's contents", e.Source)
			}
			if !fi.Mode().IsRegular() {
				return fail("source %s is not a regular file", e.Source)
			}
			f, err := openFile(e.Source)
			if err != nil {
				return fail("%v", err)
			}
			rules := &t.opts.Version.Tar
			n.src, n.size, n.mode = fileSource{e.Source}, fi.Size(), rules.DiskMode(fi.Mode().Perm())
			if rules.ModeFromContent {
				// The file is open anyway (to fail early when it cannot be
				// read): its first bytes choose the mode.
				var head [4]byte
				k, err := io.ReadFull(f, head[:])
				if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
					f.Close()
					return fail("reading %s: %v", e.Source, err)
				}
				n.mode = rules.ContentMode(head[:k])
			}
			f.Close()
		default:
			return fail("a file needs a source or content")
		}
	case "dir":
		if err := allow(owner...); err != nil {
			return err
		}
		n.kind, n.mode = kindDir, t.opts.Version.Tar.DirMode
	case "symlink":
		if err := allow(append(owner, "target")...); err != nil {
			return err
		}
		if e.Target == "" {
			return fail("a symlink needs a target")
		}
		n.kind, n.mode, n.linkname = kindSymlink, t.opts.Version.Tar.SymlinkMode, e.Target
	case "hardlink":
		if err := allow("target"); err != nil {
			return err
		}
		target, err := CleanPath(e.Target)
		if err != nil || target == "" {
			return fail("invalid hard link target %q", e.Target)
		}
		n.kind, n.linkname = kindHardlink, target
	case "whiteout":
		if err := allow(); err != nil {
			return err
		}
		n.kind = kindWhiteout
	case "opaque":
		if err := allow(owner...); err != nil {
			return err
		}
		n.kind, n.mode = kindDir, t.opts.Version.Tar.DirMode
		if mode < 0 && t.opts.Lower != nil {
			if m, ok := t.opts.Lower.entries[p]; ok && m.kind == kindDir && e.UID == nil && e.GID == nil && e.Uname == "" && e.Gname == "" {
				n.mode, n.uid, n.gid, n.uname, n.gname = m.mode, m.uid, m.gid, m.uname, m.gname
			}
		}
		t.opaque[p] = origin
	case "tar":
		if err := allow("source", "strip_prefix"); err != nil {
			return err
		}
		if e.Source == "" {
			return fail("a tar entry needs a source")
		}
		strip := ""
		if e.StripPrefix != "" {
			var err error
			if strip, err = CleanPath(e.StripPrefix); err != nil {
				return fail("strip_prefix: %v", err)
			}
		}
		return t.addTar(e.Source, p, strip, origin)
	case "tree":
		if err := allow("source", "uid", "gid", "uname", "gname"); err != nil {
			return err
		}
		if e.Source == "" {
			return fail("a tree entry needs a source directory")
		}
		return t.addTree(e.Source, p, n, origin)
	case "":
		return fail("missing \"type\" (one of file, dir, symlink, hardlink, whiteout, opaque, tar, tree)")
	default:
		return fail("unknown type %q (want one of file, dir, symlink, hardlink, whiteout, opaque, tar, tree)", e.Type)
	}
	if mode >= 0 {
		n.mode, n.contentMode = mode, false
	}
	return t.insert(n)
}

// addTree adds the contents of a directory declared in a spec. Declared
// content has no meaningful time of its own, so every entry gets the epoch;
// modes are normalized to 0755 for directories and executables, 0644 for
// other files, so that a checkout's umask or a build tool's read-only
// outputs do not leak into the layer. Under a version with
// TarRules.ModeFromContent a file's mode comes from its first bytes, read
// when the layer is written (see writeRegular), not from its x bits.
//
// Symlinks are followed: in Bazel's sandbox every file of an input
// directory is a symlink to the real file, so a link stands for its target.
func (t *Tree) addTree(dir, prefix string, tmpl *node, origin string) error {
	return walkDir(dir, true, func(rel string, fi fs.FileInfo) error {
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Stat(filepath.Join(dir, rel))
			if err != nil {
				return fmt.Errorf("%s: %s: %w", origin, rel, err)
			}
			fi = target
		}
		if name := filepath.Base(rel); strings.HasPrefix(name, whiteoutPrefix) {
			return fmt.Errorf("%s: %s: the name starts with %q, which marks a deletion in OCI layers; a tree cannot hold it (declare a whiteout entry to delete a file)", origin, rel, whiteoutPrefix)
		}
		p := rel
		if prefix != "" {
			p = prefix + "/" + rel
		}
		n := &node{path: p, mtime: t.opts.Epoch, uid: tmpl.uid, gid: tmpl.gid, uname: tmpl.uname, gname: tmpl.gname,
			origin: fmt.Sprintf("%s: %s", origin, rel)}
		full := filepath.Join(dir, rel)
		switch m := fi.Mode(); {
		case m.IsDir():
			n.kind, n.mode = kindDir, t.opts.Version.Tar.DirMode
		case m.IsRegular():
			rules := &t.opts.Version.Tar
			n.kind, n.size, n.src, n.mode = kindFile, fi.Size(), fileSource{full}, rules.DiskMode(m.Perm())
			if rules.ModeFromContent {
				n.mode, n.contentMode = rules.FileMode, true
			}
		default:
			return fmt.Errorf("%s: %s is a %s; a tree may only hold files and directories", origin, full, m.Type())
		}
		return t.insert(n)
	})
}

type inode struct{ dev, ino uint64 }

// AddDir adds a directory tree from disk the way BuildKit's COPY and
// rewrite-timestamp see it: modes as on disk, owner 0:0, times truncated to
// whole seconds and clamped to the epoch, hard links detected by inode.
// Under a version with TarRules.ModeFromContent, regular files take their
// mode from their content instead (directories keep theirs).
func (t *Tree) AddDir(dir string) error {
	first := map[inode]*node{}
	origin := "--dir " + dir
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", origin, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", origin)
	}
	return walkDir(dir, false, func(rel string, fi fs.FileInfo) error {
		n, err := t.dirNode(dir, rel, fi, first, func(rel string) (string, error) { return os.Readlink(filepath.Join(dir, rel)) }, nil)
		if err != nil || n == nil {
			return err
		}
		if n.kind == kindFile {
			n.src = fileSource{filepath.Join(dir, rel)}
		}
		return t.insert(n)
	})
}

// dirNode is the node of one entry of an on-disk tree (nil for a socket,
// which a layer cannot hold). A second path to an inode already seen
// becomes a hard link to the first. With scratch, the node is written there
// unless it must outlive the call (a regular file with more than one link,
// kept in first), so that a streaming walk allocates no node per entry.
func (t *Tree) dirNode(dir, rel string, fi fs.FileInfo, first map[inode]*node, readlink func(string) (string, error), scratch *node) (*node, error) {
	st, ok := statOf(fi)
	if !ok {
		return nil, fmt.Errorf("--dir %s: cannot read metadata of %s", dir, rel)
	}
	m := fi.Mode()
	n := scratch
	if n == nil || (m.IsRegular() && st.nlink > 1) {
		n = new(node)
	}
	*n = node{path: rel, mode: int64(m.Perm()), mtime: t.clamp(fi.ModTime().Unix()), dirRoot: dir}
	if m&fs.ModeSetuid != 0 {
		n.mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		n.mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		n.mode |= 0o1000
	}
	switch {
	case m.IsDir():
		n.kind = kindDir
	case m.IsRegular():
		n.kind, n.size = kindFile, fi.Size()
		if t.opts.Version.Tar.ModeFromContent {
			// Not the disk's bits (nor setuid, setgid, sticky): the mode
			// comes from the content when the layer is written.
			n.mode, n.contentMode = t.opts.Version.Tar.FileMode, true
		}
		if st.nlink > 1 {
			key := inode{st.dev, st.ino}
			if f, ok := first[key]; ok {
				n.kind, n.linkname, n.src, n.size = kindHardlink, f.path, nil, 0
			} else {
				first[key] = n
			}
		}
	case m&fs.ModeSymlink != 0:
		target, err := readlink(rel)
		if err != nil {
			return nil, fmt.Errorf("--dir %s: %w", dir, err)
		}
		n.kind, n.linkname = kindSymlink, target
	case m&fs.ModeNamedPipe != 0:
		n.kind = kindFifo
	case m&fs.ModeDevice != 0:
		n.kind = kindBlock
		if m&fs.ModeCharDevice != 0 {
			n.kind = kindChar
		}
		rdev := st.rdev
		n.devmajor = int64((rdev>>8)&0xfff | (rdev>>32)&^0xfff)
		n.devminor = int64(rdev&0xff | (rdev>>12)&^0xff)
	case m&fs.ModeSocket != 0:
		return nil, nil // sockets cannot be stored in a layer; BuildKit skips them too
	default:
		return nil, fmt.Errorf("--dir %s: %s has unsupported file type %s", dir, rel, m.Type())
	}
	return n, nil
}

// walkDir calls fn for every entry below root (not root itself) in walk
// order, with paths relative to root using "/". With follow, it also
// descends into symlinks to directories.
func walkDir(root string, follow bool, fn func(rel string, fi fs.FileInfo) error) error {
	var walk func(rel string) error
	walk = func(rel string) error {
		full := root
		if rel != "" {
			full = filepath.Join(root, rel)
		}
		f, err := os.Open(full)
		if err != nil {
			return err
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return fmt.Errorf("reading directory %s: %w", full, err)
		}
		sort.Strings(names)
		for _, name := range names {
			r := name
			if rel != "" {
				r = rel + "/" + name
			}
			fi, err := os.Lstat(filepath.Join(root, r))
			if err != nil {
				return err
			}
			if err := fn(r, fi); err != nil {
				return err
			}
			if fi.IsDir() || (follow && fi.Mode()&fs.ModeSymlink != 0 && isDir(filepath.Join(root, r))) {
				if err := walk(r); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk("")
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
