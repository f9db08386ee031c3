package layer

import (
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// walk visits the tree with one open descriptor per directory level and
// as few system calls per entry as the kernel allows: a directory is read
// with getdents64 into one reusable buffer, whose entry types let a regular
// file be opened first (openat) and stat'ed on its descriptor (fstat), so
// that it is looked up once and read from the descriptor that was stat'ed;
// other entries get one fstatat. Paths are resolved relative to the
// directory being walked, which saves the path lookups that dominate layers
// of many small files.
func (s *streamer) walk() error {
	fd, err := unix.Open(s.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("--dir %s: %w", s.dir, err)
	}
	s.dirbuf = make([]byte, 64<<10)
	return s.walkFD(fd, "")
}

// dirent is one name of a directory with its getdents type.
type dirent struct {
	name string
	typ  uint8
}

// readDir returns the entries of the directory open as fd, sorted by name,
// without "." and "..". The names are cut from one string per getdents
// call.
func (s *streamer) readDir(fd int, rel string) ([]dirent, error) {
	var out []dirent
	for {
		n, err := unix.Getdents(fd, s.dirbuf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("--dir %s: reading %q: %w", s.dir, rel, err)
		}
		if n <= 0 {
			break
		}
		// One string holds the whole batch; names are slices of it.
		batch := string(s.dirbuf[:n])
		for off := 0; off < n; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			reclen := int(binary.NativeEndian.Uint16(s.dirbuf[off+16:]))
			if reclen == 0 || off+reclen > n {
				return nil, fmt.Errorf("--dir %s: reading %q: malformed directory entry", s.dir, rel)
			}
			typ := s.dirbuf[off+18]
			name := batch[off+19 : off+reclen]
			if i := strings.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			off += reclen
			if name == "." || name == ".." {
				continue
			}
			out = append(out, dirent{name, typ})
		}
	}
	slices.SortFunc(out, func(a, b dirent) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// walkFD walks the directory open as fd (and closes it).
func (s *streamer) walkFD(fd int, rel string) error {
	defer unix.Close(fd)
	ents, err := s.readDir(fd, rel)
	if err != nil {
		return err
	}
	readlink := func(r string) (string, error) { return os.Readlink(s.dir + "/" + r) }
	for _, de := range ents {
		name := de.name
		r := name
		if rel != "" {
			r = rel + "/" + name
		}
		fi := statInfo{name: name}
		file := -1
		if de.typ == unix.DT_REG {
			// Open first and stat what was opened; anything unexpected
			// (a race, no permission to read an empty file) falls back to
			// fstatat and the checks below.
			if f, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
				if unix.Fstat(f, &fi.st) == nil && fi.st.Mode&unix.S_IFMT == unix.S_IFREG {
					file = f
				} else {
					unix.Close(f)
				}
			}
		}
		if file < 0 {
			if err := unix.Fstatat(fd, name, &fi.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return fmt.Errorf("--dir %s: %s: %w", s.dir, r, err)
			}
		}
		var src source = atSource{dirfd: fd, name: name, rel: r}
		if file >= 0 {
			src = &s.open
			s.open = fdSource{fd: file, rel: r}
		}
		err := s.entry(r, fi, readlink, src)
		if file >= 0 {
			unix.Close(file)
		}
		if err != nil {
			return err
		}
		if fi.IsDir() {
			sub, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
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

// fdSource is a regular file the walk has already opened (and closes after
// the entry is written); the streamer keeps one, so it is not allocated per
// file.
type fdSource struct {
	fd  int
	rel string
}

func (f *fdSource) open() (io.ReadCloser, error) { return fdReader{f}, nil }
func (f *fdSource) describe() string             { return f.rel }

type fdReader struct{ f *fdSource }

func (r fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(r.f.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, &fs.PathError{Op: "read", Path: r.f.rel, Err: err}
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (fdReader) Close() error { return nil } // the walk closes the descriptor

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

// streamPlatform is the streamer's state of the Linux walk.
type streamPlatform struct {
	dirbuf []byte   // getdents64 buffer, reused for every directory
	open   fdSource // the regular file being written
}
