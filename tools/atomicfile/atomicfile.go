// Package atomicfile writes outputs under a temporary name in the same
// directory and renames them into place only when complete, so that a failed
// command never leaves a partial output behind.
//
// Every temporary that is not yet committed or aborted is recorded in a
// process-wide set; RemoveTemporaries deletes them all, which is what the
// CLI's SIGINT/SIGTERM handler calls before exiting.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// live is the set of temporaries (files and directories) not yet committed
// or aborted. Its lock is also held while a temporary is renamed into
// place, so that RemoveTemporaries never races a commit: an output is
// either complete or gone.
var live = struct {
	sync.Mutex
	paths   map[string]bool
	stopped bool
}{paths: map[string]bool{}}

// tracked creates a temporary with create and records it, under the lock:
// a signal handler sees either no temporary or a recorded one. After
// RemoveTemporaries it refuses, so that nothing new appears while the
// process exits.
func tracked(create func() (string, error)) error {
	live.Lock()
	defer live.Unlock()
	if live.stopped {
		return errStopped
	}
	path, err := create()
	if err != nil {
		return err
	}
	live.paths[path] = true
	return nil
}

func untrack(path string) {
	live.Lock()
	delete(live.paths, path)
	live.Unlock()
}

var errStopped = errors.New("the process is exiting")

// RemoveTemporaries deletes every temporary file and directory still being
// written, and makes every later Create, CreateDir and Commit fail. It is
// meant for a signal handler that exits right after; it returns the paths
// it removed.
func RemoveTemporaries() []string {
	live.Lock()
	defer live.Unlock()
	live.stopped = true
	var removed []string
	for p := range live.paths {
		// Another goroutine may be writing into a temporary directory;
		// a file it creates there meanwhile makes one pass fail.
		for i := 0; i < 3; i++ {
			if os.RemoveAll(p) == nil {
				break
			}
		}
		removed = append(removed, p)
	}
	live.paths = map[string]bool{}
	return removed
}

// temporaries returns the temporaries currently being written (for tests).
func temporaries() []string {
	live.Lock()
	defer live.Unlock()
	var out []string
	for p := range live.paths {
		out = append(out, p)
	}
	return out
}

// renameTracked renames temporary tmp to final under the set's lock,
// unless the process is exiting.
func renameTracked(tmp, final string) error {
	live.Lock()
	defer live.Unlock()
	if live.stopped {
		return errStopped
	}
	delete(live.paths, tmp)
	return os.Rename(tmp, final)
}

// File is an output file being written. Call Commit to move it into place or
// Abort to remove it; calling Abort after Commit is a no-op, so
// `defer f.Abort()` is the usual pattern.
type File struct {
	*os.File
	final string
	done  bool
}

// Create starts writing path. The file appears at path only after Commit.
func Create(path string) (*File, error) {
	dir := filepath.Dir(path)
	var f *os.File
	err := tracked(func() (string, error) {
		var err error
		f, err = os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
		if err != nil {
			return "", err
		}
		return f.Name(), nil
	})
	if err != nil {
		return nil, fmt.Errorf("creating output %s: %w", path, err)
	}
	return &File{File: f, final: path}, nil
}

// Commit flushes, closes and renames the file into place. Output files are
// made readable by everyone (0644), independent of the umask, so that their
// metadata does not vary between machines.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("output %s: already committed or aborted", f.final)
	}
	f.done = true
	name := f.File.Name()
	fail := func(err error) error {
		os.Remove(name)
		untrack(name)
		return fmt.Errorf("output %s: %w", f.final, err)
	}
	if err := f.File.Chmod(0o644); err != nil {
		f.File.Close()
		return fail(err)
	}
	if err := f.File.Close(); err != nil {
		return fail(err)
	}
	if err := renameTracked(name, f.final); err != nil {
		return fail(err)
	}
	return nil
}

// Abort removes the temporary file unless the file was committed.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	os.Remove(f.File.Name())
	untrack(f.File.Name())
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Commit()
}

// Dir is an output directory being built under a temporary name.
type Dir struct {
	Path  string // the temporary directory to write into
	final string
	done  bool
}

// CreateDir starts building directory path. An existing directory at
// path is replaced on Commit only if it is empty (Bazel creates
// tree-artifact outputs before running an action) or a previous OCI image
// layout (it has a regular file "oci-layout" at its root); anything else
// is refused here, before any work, and again at Commit.
func CreateDir(path string) (*Dir, error) {
	if err := replaceable(path); err != nil {
		return nil, err
	}
	parent := filepath.Dir(path)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("creating output directory %s: %w", path, err)
	}
	var tmp string
	err := tracked(func() (string, error) {
		var err error
		tmp, err = os.MkdirTemp(parent, "."+filepath.Base(path)+".tmp-*")
		return tmp, err
	})
	if err != nil {
		return nil, fmt.Errorf("creating output directory %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		untrack(tmp)
		return nil, fmt.Errorf("creating output directory %s: %w", path, err)
	}
	return &Dir{Path: tmp, final: path}, nil
}

// replaceable returns nil when nothing is at path, or an empty directory,
// or a previous OCI layout; otherwise an error naming path.
func replaceable(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("output %s: %w", path, err)
	case !fi.IsDir():
		return fmt.Errorf("output %s exists and is not a directory", path)
	}
	if st, err := os.Lstat(filepath.Join(path, "oci-layout")); err == nil && st.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("output %s: %w", path, err)
	}
	defer f.Close()
	if names, _ := f.Readdirnames(1); len(names) > 0 {
		return fmt.Errorf("output %s exists, is not empty and is not an OCI layout (no oci-layout file); refusing to replace it", path)
	}
	return nil
}

// Commit moves the directory into place, replacing an existing empty
// directory or a previous OCI layout at that path (see CreateDir).
func (d *Dir) Commit() error {
	if d.done {
		return fmt.Errorf("output %s: already committed or aborted", d.final)
	}
	d.done = true
	fail := func(err error) error {
		os.RemoveAll(d.Path)
		untrack(d.Path)
		return err
	}
	if err := replaceable(d.final); err != nil {
		return fail(err)
	}
	// An empty directory is removed with Remove, which fails rather than
	// deleting anything that appeared in it meanwhile. A previous layout
	// is moved aside and the new one moved in, under the lock of the set
	// of temporaries (a signal cannot come between the two renames); only
	// then is the old one deleted.
	var aside string
	if fi, err := os.Lstat(d.final); err == nil && fi.IsDir() && os.Remove(d.final) != nil {
		err := tracked(func() (string, error) {
			// A fresh name: os.Rename does not replace a directory.
			var err error
			if aside, err = os.MkdirTemp(filepath.Dir(d.final), "."+filepath.Base(d.final)+".old-tmp-*"); err == nil {
				err = os.Remove(aside)
			}
			return aside, err
		})
		if err != nil {
			return fail(fmt.Errorf("replacing output %s: %w", d.final, err))
		}
	}
	live.Lock()
	err := func() error {
		if live.stopped {
			return errStopped
		}
		if aside != "" {
			if err := os.Rename(d.final, aside); err != nil {
				return err
			}
		}
		if err := os.Rename(d.Path, d.final); err != nil {
			if aside != "" {
				os.Rename(aside, d.final) // put the previous output back
			}
			return err
		}
		delete(live.paths, d.Path)
		return nil
	}()
	live.Unlock()
	if err != nil {
		if aside != "" {
			os.Remove(aside)
			untrack(aside)
		}
		return fail(fmt.Errorf("output %s: %w", d.final, err))
	}
	if aside != "" {
		os.RemoveAll(aside)
		untrack(aside)
	}
	return nil
}

// Abort removes the temporary directory unless it was committed.
func (d *Dir) Abort() {
	if d.done {
		return
	}
	d.done = true
	os.RemoveAll(d.Path)
	untrack(d.Path)
}

// Group writes several output files all or none: each is staged under a
// temporary name, Commit moves them all into place, and Abort (a no-op after
// Commit, so `defer g.Abort()` is the usual pattern) removes every staged
// file. The zero value is ready to use.
type Group struct {
	files []*File
}

// Create stages path and returns it for writing.
func (g *Group) Create(path string) (*File, error) {
	f, err := Create(path)
	if err != nil {
		return nil, err
	}
	g.files = append(g.files, f)
	return f, nil
}

// WriteFile stages path with data.
func (g *Group) WriteFile(path string, data []byte) error {
	f, err := g.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Commit moves every staged file into place, in the order they were
// created. When one fails, the files not yet moved are removed and the ones
// already moved are deleted again, so no partial set of outputs is left.
func (g *Group) Commit() error {
	for i, f := range g.files {
		if err := f.Commit(); err != nil {
			for _, rest := range g.files[i+1:] {
				rest.Abort()
			}
			for _, done := range g.files[:i] {
				os.Remove(done.final)
			}
			return err
		}
	}
	return nil
}

// Abort removes every staged file that was not committed.
func (g *Group) Abort() {
	for _, f := range g.files {
		f.Abort()
	}
}
