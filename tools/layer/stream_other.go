//go:build !linux

package layer

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
)

func statOfPlatform(fs.FileInfo) (fileStat, bool) { return fileStat{}, false }

// rootSource is a file read relative to an open directory.
type rootSource struct {
	root *os.Root
	rel  string
}

func (s rootSource) open() (io.ReadCloser, error) { return s.root.Open(s.rel) }
func (s rootSource) describe() string             { return s.rel }

// walk visits the tree through an os.Root: lookups relative to the directory.
func (s *streamer) walk() error {
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return fmt.Errorf("--dir %s: %w", s.dir, err)
	}
	defer root.Close()
	var walk func(rel string) error
	walk = func(rel string) error {
		name := rel
		if name == "" {
			name = "."
		}
		f, err := root.Open(name)
		if err != nil {
			return fmt.Errorf("--dir %s: %w", s.dir, err)
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return fmt.Errorf("--dir %s: reading %s: %w", s.dir, name, err)
		}
		sort.Strings(names)
		for _, base := range names {
			r := base
			if rel != "" {
				r = rel + "/" + base
			}
			fi, err := root.Lstat(r)
			if err != nil {
				return fmt.Errorf("--dir %s: %w", s.dir, err)
			}
			if err := s.entry(r, fi, root.Readlink, rootSource{root, r}); err != nil {
				return err
			}
			if fi.IsDir() {
				if err := walk(r); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk("")
}

type streamPlatform struct{}

func openFile(path string) (io.ReadCloser, error) { return os.Open(path) }
