package layer

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"sort"
	"syscall"
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

// rootSource is a file read relative to an open directory.
type rootSource struct {
	root *os.Root
	rel  string
}

func (s rootSource) open() (io.ReadCloser, error) { return s.root.Open(s.rel) }
func (s rootSource) describe() string             { return s.rel }

// streamDir writes the layer tar of directory dir to w during the walk, so
// that reading files overlaps compression and memory does not grow with the
// number of entries. The bytes are those of AddDir followed by WriteTar
// (tested). Paths are resolved relative to the directory, not from /.
func (t *Tree) streamDir(dir string, w io.Writer) (int, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, fmt.Errorf("--dir %s: %w", dir, err)
	}
	defer root.Close()
	tw := tar.NewWriter(w)
	buf := make([]byte, 256*1024)
	first := map[inode]*node{}
	leaders := map[string]*node{}
	count := 0
	var walk func(rel string) error
	walk = func(rel string) error {
		name := rel
		if name == "" {
			name = "."
		}
		f, err := root.Open(name)
		if err != nil {
			return fmt.Errorf("--dir %s: %w", dir, err)
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return fmt.Errorf("--dir %s: reading %s: %w", dir, name, err)
		}
		sort.Strings(names)
		for _, base := range names {
			r := base
			if rel != "" {
				r = rel + "/" + base
			}
			fi, err := root.Lstat(r)
			if err != nil {
				return fmt.Errorf("--dir %s: %w", dir, err)
			}
			n, err := t.dirNode(dir, r, fi, first, root.Readlink)
			if err != nil {
				return err
			}
			if n == nil {
				continue
			}
			var hdr *tar.Header
			if n.kind == kindHardlink {
				leader := leaders[n.linkname]
				hdr = header(leader)
				hdr.Name, hdr.Typeflag, hdr.Linkname, hdr.Size = n.path, tar.TypeLink, leader.path, 0
			} else {
				if n.kind == kindFile {
					n.src = rootSource{root, r}
					if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
						leaders[n.path] = n // later paths to this inode link to it
					}
				}
				hdr = header(n)
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return fmt.Errorf("%s: writing tar header: %w", n.origin, err)
			}
			if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
				if err := copyContent(tw, n, buf); err != nil {
					return err
				}
			}
			count++
			if fi.IsDir() {
				if err := walk(r); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return 0, err
	}
	return count, tw.Close()
}
