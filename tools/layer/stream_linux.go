package layer

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// walk visits the tree with one open descriptor per directory level:
// children are stat'ed and opened relative to their directory (fstatat,
// openat), which saves the path lookups that dominate layers of many small
// files.
func (s *streamer) walk() error {
	fd, err := syscall.Open(s.dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("--dir %s: %w", s.dir, err)
	}
	return s.walkFD(fd, "")
}

// walkFD walks the directory open as fd (and closes it).
func (s *streamer) walkFD(fd int, rel string) error {
	d := os.NewFile(uintptr(fd), rel)
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("--dir %s: reading %q: %w", s.dir, rel, err)
	}
	sort.Strings(names)
	readlink := func(r string) (string, error) { return os.Readlink(s.dir + "/" + r) }
	for _, name := range names {
		r := name
		if rel != "" {
			r = rel + "/" + name
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("--dir %s: %s: %w", s.dir, r, err)
		}
		fi := statInfo{name: name, st: st}
		if err := s.entry(r, fi, readlink, atSource{dirfd: fd, name: name, rel: r}); err != nil {
			return err
		}
		if fi.IsDir() {
			sub, err := syscall.Openat(fd, name, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("--dir %s: %s: %w", s.dir, r, err)
			}
			if err := s.walkFD(sub, r); err != nil {
				return err
			}
		}
	}
	return nil
}

func statOfPlatform(fi fs.FileInfo) (fileStat, bool) {
	if st, ok := fi.Sys().(*unix.Stat_t); ok {
		return fileStat{uint64(st.Dev), uint64(st.Ino), uint64(st.Nlink), uint64(st.Rdev)}, true
	}
	return fileStat{}, false
}

// atSource is a regular file opened relative to its directory's descriptor.
type atSource struct {
	dirfd     int
	name, rel string
}

func (a atSource) open() (io.ReadCloser, error) {
	fd, err := syscall.Openat(a.dirfd, a.name, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: a.rel, Err: err}
	}
	return os.NewFile(uintptr(fd), a.rel), nil
}

func (a atSource) describe() string { return a.rel }

// statInfo is an fs.FileInfo built from a stat result.
type statInfo struct {
	name string
	st   unix.Stat_t
}

func (i statInfo) Name() string       { return i.name }
func (i statInfo) Size() int64        { return i.st.Size }
func (i statInfo) ModTime() time.Time { return time.Unix(int64(i.st.Mtim.Sec), int64(i.st.Mtim.Nsec)) }
func (i statInfo) IsDir() bool        { return i.Mode().IsDir() }
func (i statInfo) Sys() any           { return &i.st }

func (i statInfo) Mode() fs.FileMode {
	m := fs.FileMode(uint32(i.st.Mode) & 0o777)
	switch i.st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	}
	if i.st.Mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if i.st.Mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if i.st.Mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
