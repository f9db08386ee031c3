// Package atomicfile writes outputs under a temporary name in the same
// directory and renames them into place only when complete, so that a failed
// command never leaves a partial output behind.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

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
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
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
	if err := f.File.Chmod(0o644); err != nil {
		f.File.Close()
		os.Remove(name)
		return fmt.Errorf("output %s: %w", f.final, err)
	}
	if err := f.File.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("output %s: %w", f.final, err)
	}
	if err := os.Rename(name, f.final); err != nil {
		os.Remove(name)
		return fmt.Errorf("output %s: %w", f.final, err)
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

// WriteFrom writes everything from r to path atomically.
func WriteFrom(path string, r io.Reader) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := io.Copy(f, r); err != nil {
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

// CreateDir starts building directory path. If path exists as an empty
// directory (Bazel creates tree-artifact outputs before running an action),
// it is replaced on Commit.
func CreateDir(path string) (*Dir, error) {
	parent := filepath.Dir(path)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("creating output directory %s: %w", path, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("creating output directory %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("creating output directory %s: %w", path, err)
	}
	return &Dir{Path: tmp, final: path}, nil
}

// Commit moves the directory into place, replacing an existing empty
// directory or a previous output at that path.
func (d *Dir) Commit() error {
	if d.done {
		return fmt.Errorf("output %s: already committed or aborted", d.final)
	}
	d.done = true
	if fi, err := os.Lstat(d.final); err == nil {
		if !fi.IsDir() {
			os.RemoveAll(d.Path)
			return fmt.Errorf("output %s exists and is not a directory", d.final)
		}
		if err := os.RemoveAll(d.final); err != nil {
			os.RemoveAll(d.Path)
			return fmt.Errorf("replacing output %s: %w", d.final, err)
		}
	}
	if err := os.Rename(d.Path, d.final); err != nil {
		os.RemoveAll(d.Path)
		return fmt.Errorf("output %s: %w", d.final, err)
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
}
