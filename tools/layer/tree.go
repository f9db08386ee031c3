package layer

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"

	"github.com/rules-repro/rules_repro/tools/compat"
)

type kind int

const (
	kindFile kind = iota
	kindDir
	kindSymlink
	kindHardlink // unresolved: linkname is the target path in the image
	kindChar
	kindBlock
	kindFifo
	kindWhiteout // deletes path from lower layers
)

func (k kind) String() string {
	return [...]string{"file", "directory", "symlink", "hardlink", "character device", "block device", "fifo", "whiteout"}[k]
}

// node is one path of the layer with its normalized metadata.
type node struct {
	path         string // cleaned, relative, no trailing slash
	key          string // sortKey(path), computed once
	kind         kind
	mode         int64
	uid, gid     int
	uname, gname string
	mtime        int64 // seconds since the epoch
	linkname     string
	size         int64
	src          source
	// contentMode: mode is a placeholder until the content's first bytes
	// are read (TarRules.ModeFromContent); see resolveMode.
	contentMode bool
	xattrs      map[string]string
	devmajor    int64
	devminor    int64
	origin      string // who declared it, for error messages (see where)
	dirRoot     string // for entries of a directory on disk: the directory
	implicit    bool   // a parent directory nobody declared
	group       *linkGroup
}

// where says who declared n, for error messages. For the entries of a
// directory on disk it is built only when needed.
func (n *node) where() string {
	if n.origin == "" && n.dirRoot != "" {
		return "--dir " + n.dirRoot + ": " + n.path
	}
	return n.origin
}

// linkGroup is a set of paths that are hard links to the same file. In the
// tar, the member that comes first in walk order carries the content and the
// others are TypeLink entries pointing at it.
type linkGroup struct {
	data    *node // the node whose content and metadata the group shares
	members []*node
	first   *node // the member first in walk order, once known
}

// source provides the content of a regular file.
type source interface {
	open() (io.ReadCloser, error)
	describe() string
}

type fileSource struct{ path string }

func (s fileSource) open() (io.ReadCloser, error) { return openFile(s.path) }
func (s fileSource) describe() string             { return s.path }

type inlineSource struct{ data string }

func (s inlineSource) open() (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(s.data)), nil
}
func (s inlineSource) describe() string { return "inline content" }

// Options control how a tree is turned into a layer.
type Options struct {
	// Epoch is SOURCE_DATE_EPOCH: the mtime of every declared entry and the
	// upper bound of every time copied from a tar or a directory.
	Epoch int64
	// Lower is the merged view of the layers below this one (optional). It
	// gives implicit parent directories the metadata they have in the base
	// image, lets opaque directories expand into whiteouts, and drops
	// whiteouts of paths the base does not have.
	Lower *Lower
	// Version is the compatibility version whose tar rules (default modes)
	// the layer follows, and under which Build records it. Nil: version 1.
	Version *compat.Version
	// FileMTime, when set, replaces Epoch as the time of every entry (and
	// the bound of times copied from tars and directories), so that the
	// layer does not change when only SOURCE_DATE_EPOCH does. Build records
	// it as a descriptor annotation; only versions with FileMTime accept it.
	FileMTime *int64
}

// Tree collects the declared entries of a layer.
type Tree struct {
	opts    Options
	nodes   map[string]*node
	opaque  map[string]string // opaque directory path -> origin
	stream  string            // a directory written while walked (SetStreamDir)
	cleanup []func()
}

// NewTree returns an empty tree.
func NewTree(opts Options) *Tree {
	if opts.Version == nil {
		opts.Version = compat.V1()
	}
	if opts.FileMTime != nil {
		opts.Epoch = *opts.FileMTime
	}
	return &Tree{opts: opts, nodes: map[string]*node{}, opaque: map[string]string{}}
}

// Close releases temporary files (decompressed input tars).
func (t *Tree) Close() {
	for _, f := range t.cleanup {
		f()
	}
	t.cleanup = nil
}

func (t *Tree) clamp(sec int64) int64 {
	if sec > t.opts.Epoch {
		return t.opts.Epoch
	}
	return sec
}

// insert adds n, collapsing an identical duplicate and rejecting a
// conflicting one with a message that names both declarations.
func (t *Tree) insert(n *node) error {
	if n.path == "" {
		return fmt.Errorf("%s: the image root cannot be declared", n.where())
	}
	old, ok := t.nodes[n.path]
	if !ok {
		t.nodes[n.path] = n
		return nil
	}
	// A duplicate is rare: read the modes that wait for the content now.
	for _, m := range []*node{old, n} {
		if err := t.resolveMode(m); err != nil {
			return err
		}
	}
	why, err := difference(old, n)
	if err != nil {
		return err
	}
	if why == "" {
		return nil
	}
	return fmt.Errorf("path %q is declared twice with different %s: %s and %s", "/"+n.path, why, old.where(), n.where())
}

// difference returns "" when a and b declare the same thing, else what differs.
func difference(a, b *node) (string, error) {
	switch {
	case a.kind != b.kind:
		return fmt.Sprintf("types (%s, %s)", a.kind, b.kind), nil
	case a.kind != kindWhiteout && a.mode != b.mode:
		return fmt.Sprintf("modes (%04o, %04o)", a.mode, b.mode), nil
	case a.uid != b.uid || a.gid != b.gid:
		return fmt.Sprintf("owners (%d:%d, %d:%d)", a.uid, a.gid, b.uid, b.gid), nil
	case a.uname != b.uname || a.gname != b.gname:
		return fmt.Sprintf("owner names (%q:%q, %q:%q)", a.uname, a.gname, b.uname, b.gname), nil
	case a.kind != kindWhiteout && a.mtime != b.mtime: // a whiteout's mtime is the version's (header)
		return fmt.Sprintf("modification times (%d, %d)", a.mtime, b.mtime), nil
	case a.linkname != b.linkname:
		return fmt.Sprintf("link targets (%q, %q)", a.linkname, b.linkname), nil
	case a.devmajor != b.devmajor || a.devminor != b.devminor:
		return "device numbers", nil
	case !maps.Equal(a.xattrs, b.xattrs):
		return "xattrs", nil
	case a.kind == kindFile:
		if a.size != b.size {
			return fmt.Sprintf("contents (%d and %d bytes)", a.size, b.size), nil
		}
		ha, err := hashSource(a)
		if err != nil {
			return "", err
		}
		hb, err := hashSource(b)
		if err != nil {
			return "", err
		}
		if !bytes.Equal(ha, hb) {
			return "contents", nil
		}
	}
	return "", nil
}

// resolveMode sets the mode of a node whose mode comes from its content by
// reading its first bytes (a separate open; the writer does it on the open
// it needs anyway, see writeRegular).
func (t *Tree) resolveMode(n *node) error {
	if !n.contentMode {
		return nil
	}
	var head [4]byte
	k := 0
	if n.size > 0 {
		r, err := n.src.open()
		if err != nil {
			return fmt.Errorf("%s: %w", n.where(), err)
		}
		k, err = io.ReadFull(r, head[:])
		r.Close()
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return fmt.Errorf("%s: reading %s: %w", n.where(), n.src.describe(), err)
		}
	}
	n.mode, n.contentMode = t.opts.Version.Tar.ContentMode(head[:k]), false
	return nil
}

func hashSource(n *node) ([]byte, error) {
	r, err := n.src.open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.where(), err)
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return nil, fmt.Errorf("%s: reading %s: %w", n.where(), n.src.describe(), err)
	}
	return h.Sum(nil), nil
}

// finish resolves hard links, adds implicit parents, expands opaque
// directories and returns the nodes in walk order.
func (t *Tree) finish() ([]*node, error) {
	if err := t.opaqueDirs(); err != nil {
		return nil, err
	}
	t.dropWhiteouts()
	if err := t.resolveHardlinks(); err != nil {
		return nil, err
	}
	if err := t.addParents(); err != nil {
		return nil, err
	}
	if err := t.expandOpaque(); err != nil {
		return nil, err
	}
	out := make([]*node, 0, len(t.nodes))
	for _, n := range t.nodes {
		if n.key == "" {
			n.key = sortKey(n.path)
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}

// resolveHardlinks turns kindHardlink nodes into members of link groups.
func (t *Tree) resolveHardlinks() error {
	var links []*node
	for _, n := range t.nodes {
		if n.kind == kindHardlink {
			links = append(links, n)
		}
	}
	sort.Slice(links, func(i, j int) bool { return links[i].path < links[j].path })
	for _, l := range links {
		// Follow chains of hard links to the node that holds the data.
		target, seen := l, map[string]bool{}
		for target.kind == kindHardlink {
			if seen[target.path] {
				return fmt.Errorf("%s: hard link cycle through %q", l.where(), "/"+target.path)
			}
			seen[target.path] = true
			next, ok := t.nodes[target.linkname]
			if !ok {
				return fmt.Errorf("%s: hard link target %q is not in the layer", l.where(), "/"+target.linkname)
			}
			target = next
		}
		if target.kind != kindFile && target.kind != kindSymlink {
			return fmt.Errorf("%s: hard link target %q is a %s; only files and symlinks can be hard linked", l.where(), "/"+target.path, target.kind)
		}
		g := target.group
		if g == nil {
			g = &linkGroup{data: target, members: []*node{target}}
			target.group = g
		}
		g.members = append(g.members, l)
		l.group = g
	}
	return nil
}

// addParents declares every missing parent directory and checks that
// parents are directories.
func (t *Tree) addParents() error {
	paths := make([]string, 0, len(t.nodes))
	for p := range t.nodes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		child := t.nodes[p]
		for dir := parentOf(p); dir != ""; dir = parentOf(dir) {
			if n, ok := t.nodes[dir]; ok {
				if n.kind == kindWhiteout {
					return fmt.Errorf("%s deletes %q but %s adds %q below it in the same layer", n.where(), "/"+dir, child.where(), "/"+p)
				}
				if n.kind != kindDir {
					return fmt.Errorf("%s: %q is below %q, which is a %s (%s)", child.where(), "/"+p, "/"+dir, n.kind, n.where())
				}
				break
			}
			t.nodes[dir] = t.implicitDir(dir)
		}
	}
	return nil
}

// implicitDir is the node of a directory nobody declared: 0755, owner 0:0,
// or the base image's metadata when it has the directory.
func (t *Tree) implicitDir(dir string) *node {
	n := &node{path: dir, kind: kindDir, mode: t.opts.Version.Tar.DirMode, mtime: t.opts.Epoch, implicit: true, origin: "implicit parent directory " + dir}
	if lower := t.opts.Lower; lower != nil {
		if m, ok := lower.entries[dir]; ok && m.kind == kindDir {
			n.mode, n.uid, n.gid, n.uname, n.gname = m.mode, m.uid, m.gid, m.uname, m.gname
		}
	}
	return n
}

// opaqueDirs gives each opaque directory its node. A declared opaque entry
// is one; an opaque marker of an input tar is not, so its directory is the
// tar's directory member or else implicit, like a parent. An opaque
// directory that is something else in this layer is an error.
func (t *Tree) opaqueDirs() error {
	dirs := make([]string, 0, len(t.opaque))
	for d := range t.opaque {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		n, ok := t.nodes[d]
		switch {
		case !ok:
			t.nodes[d] = t.implicitDir(d)
		case n.kind != kindDir:
			return fmt.Errorf("%s: %q is declared opaque but is a %s (%s)", t.opaque[d], "/"+d, n.kind, n.where())
		}
	}
	return nil
}

// dropWhiteouts drops, when the lower layers are known, whiteouts of paths
// they do not have: BuildKit never emits those.
func (t *Tree) dropWhiteouts() {
	if t.opts.Lower == nil {
		return
	}
	for p, n := range t.nodes {
		if _, ok := t.opts.Lower.entries[p]; n.kind == kindWhiteout && !ok {
			delete(t.nodes, p)
		}
	}
}

// expandOpaque replaces each opaque directory by explicit whiteouts of the
// lower entries below it that this layer does not redeclare, which is what
// BuildKit's differ emits for an opaque directory.
func (t *Tree) expandOpaque() error {
	if len(t.opaque) == 0 {
		return nil
	}
	dirs := make([]string, 0, len(t.opaque))
	for d := range t.opaque {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	if t.opts.Lower == nil {
		return fmt.Errorf("%s: an opaque directory is expanded into whiteouts of the base image's entries, so the lower layers are needed (--lower, or the layer rule's base attribute)", t.opaque[dirs[0]])
	}
	for _, d := range dirs {
		origin := t.opaque[d]
		if n, ok := t.nodes[d]; !ok {
			return fmt.Errorf("%s: internal error: opaque directory %q has no node", origin, d)
		} else if n.kind != kindDir {
			return fmt.Errorf("%s: %q is declared opaque but is a %s (%s)", origin, "/"+d, n.kind, n.where())
		}
		for _, p := range t.opts.Lower.below(d) {
			// Only entries whose parent survives in this layer as a
			// directory present in both trees are visited, as in a double
			// walk: a deleted directory's children go with it.
			if !t.keptDir(parentOf(p), d) {
				continue
			}
			if _, ok := t.nodes[p]; ok {
				continue
			}
			t.nodes[p] = &node{path: p, kind: kindWhiteout, origin: origin + " (expanded)"}
		}
	}
	return nil
}

// keptDir reports whether dir (at or below the opaque directory top) is a
// directory in this layer and in the lower layers.
func (t *Tree) keptDir(dir, top string) bool {
	if dir == top {
		return true
	}
	n, ok := t.nodes[dir]
	if !ok || n.kind != kindDir {
		return false
	}
	m, ok := t.opts.Lower.entries[dir]
	return ok && m.kind == kindDir
}
