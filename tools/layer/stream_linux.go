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

// The walk of a directory on Linux is two stages connected by a bounded
// queue: a walker goroutine does the system calls (reading directories,
// opening and stat'ing entries, reading small files whole) and the calling
// goroutine turns its items into tar entries, in order. On layers of many
// small files the system calls are most of the work; this way they overlap
// with building and hashing the tar.
//
// The walker uses one open descriptor per directory level and as few calls
// per entry as the kernel allows: a directory is read with getdents64 into
// one reusable buffer, whose entry types let a regular file be opened first
// (openat) and stat'ed on its descriptor (fstat), so that it is looked up
// once and read from the descriptor that was stat'ed; other entries get one
// fstatat. Paths are resolved relative to the directory being walked, which
// saves the path lookups that dominate layers of many small files.
const (
	walkBatch   = 64       // items per hand-over: a channel operation per item costs futex calls
	walkQueue   = 4        // batches between the walker and the tar encoder
	prefetchMax = 32 << 10 // regular files up to this size are read by the walker
	prefetchBuf = 96       // buffers for them: at most 3 MiB in flight
)

// walkItem is one entry in walk order, or the error that ends the walk.
type walkItem struct {
	rel  string
	fi   statInfo
	file int    // an open regular file for the encoder to read and close, or -1
	data []byte // the content of a small regular file, read by the walker
	// readErr is the error of opening or reading the content.
	readErr error
	err     error
}

type walker struct {
	dir    string
	dirbuf []byte // getdents64 buffer, reused for every directory
	items  chan []walkItem
	batch  []walkItem // being filled
	free   chan []byte
	done   chan struct{}
}

var errWalkStopped = fmt.Errorf("walk stopped")

func (s *streamer) walk() error {
	fd, err := unix.Open(s.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("--dir %s: %w", s.dir, err)
	}
	w := &walker{dir: s.dir, dirbuf: make([]byte, 64<<10), items: make(chan []walkItem, walkQueue),
		free: make(chan []byte, prefetchBuf), done: make(chan struct{})}
	for i := 0; i < prefetchBuf; i++ {
		w.free <- make([]byte, 0, prefetchMax+1)
	}
	go func() {
		defer close(w.items)
		err := w.walkFD(fd, "")
		if err != nil && err != errWalkStopped {
			w.batch = append(w.batch, walkItem{err: err, file: -1})
		}
		if err != errWalkStopped {
			err = w.flush()
		}
		if err == errWalkStopped {
			for _, it := range w.batch {
				if it.file >= 0 {
					unix.Close(it.file)
				}
			}
		}
	}()
	err = s.encode(w)
	close(w.done)
	for b := range w.items { // let the walker stop; close what it opened
		for _, it := range b {
			if it.file >= 0 {
				unix.Close(it.file)
			}
		}
	}
	return err
}

// encode writes the walker's items as tar entries.
func (s *streamer) encode(w *walker) error {
	readlink := func(r string) (string, error) { return os.Readlink(s.dir + "/" + r) }
	for b := range w.items {
		for i := range b {
			if err := s.encodeItem(w, &b[i], readlink); err != nil {
				for _, rest := range b[i+1:] {
					if rest.file >= 0 {
						unix.Close(rest.file)
					}
				}
				return err
			}
		}
	}
	return nil
}

// encodeItem writes one item's entry and releases its descriptor and buffer.
func (s *streamer) encodeItem(w *walker, it *walkItem, readlink func(string) (string, error)) error {
	if it.err != nil {
		return it.err
	}
	s.open = itemSource{rel: it.rel, file: it.file, data: it.data, err: it.readErr, prefetched: it.data != nil}
	err := s.entry(it.rel, &it.fi, readlink, &s.open)
	if it.file >= 0 {
		unix.Close(it.file)
	}
	if cap(it.data) == prefetchMax+1 { // a buffer of the pool
		w.free <- it.data[:0]
	}
	return err
}

// send queues an item, handing over a full batch.
func (w *walker) send(it walkItem) error {
	select {
	case <-w.done:
		if it.file >= 0 {
			unix.Close(it.file)
		}
		return errWalkStopped
	default:
	}
	w.batch = append(w.batch, it)
	if len(w.batch) < walkBatch {
		return nil
	}
	return w.flush()
}

func (w *walker) flush() error {
	if len(w.batch) == 0 {
		return nil
	}
	b := w.batch
	w.batch = make([]walkItem, 0, walkBatch)
	select {
	case w.items <- b:
		return nil
	case <-w.done:
		for _, it := range b {
			if it.file >= 0 {
				unix.Close(it.file)
			}
		}
		return errWalkStopped
	}
}

// readDir returns the entries of the directory open as fd, sorted by name,
// without "." and "..". The names are cut from one string per getdents
// call.
func (w *walker) readDir(fd int, rel string) ([]dirent, error) {
	var out []dirent
	for {
		n, err := unix.Getdents(fd, w.dirbuf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("--dir %s: reading %q: %w", w.dir, rel, err)
		}
		if n <= 0 {
			break
		}
		// One string holds the whole batch; names are slices of it.
		batch := string(w.dirbuf[:n])
		for off := 0; off < n; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			reclen := int(binary.NativeEndian.Uint16(w.dirbuf[off+16:]))
			if reclen == 0 || off+reclen > n {
				return nil, fmt.Errorf("--dir %s: reading %q: malformed directory entry", w.dir, rel)
			}
			typ := w.dirbuf[off+18]
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

// dirent is one name of a directory with its getdents type.
type dirent struct {
	name string
	typ  uint8
}

// walkFD walks the directory open as fd (and closes it).
func (w *walker) walkFD(fd int, rel string) error {
	defer unix.Close(fd)
	ents, err := w.readDir(fd, rel)
	if err != nil {
		return err
	}
	for _, de := range ents {
		name := de.name
		it := walkItem{rel: name, fi: statInfo{name: name}, file: -1}
		if rel != "" {
			it.rel = rel + "/" + name
		}
		if de.typ == unix.DT_REG {
			// Open first and stat what was opened; anything unexpected
			// (a race, no permission to read an empty file) falls back to
			// fstatat and the checks of the encoder.
			if f, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
				if unix.Fstat(f, &it.fi.st) == nil && it.fi.st.Mode&unix.S_IFMT == unix.S_IFREG {
					it.file = f
				} else {
					unix.Close(f)
				}
			}
		}
		if it.file < 0 {
			if err := unix.Fstatat(fd, name, &it.fi.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return fmt.Errorf("--dir %s: %s: %w", w.dir, it.rel, err)
			}
			if it.fi.st.Mode&unix.S_IFMT == unix.S_IFREG && it.fi.st.Size > 0 {
				// The content is needed: open it now (the directory's
				// descriptor is closed when the encoder gets there).
				f, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
				if err != nil {
					it.readErr = &fs.PathError{Op: "open", Path: it.rel, Err: err}
				} else {
					it.file = f
				}
			}
		}
		if it.file >= 0 && it.fi.st.Size <= prefetchMax {
			w.prefetch(&it)
		}
		if err := w.send(it); err != nil {
			return err
		}
		if it.fi.IsDir() {
			sub, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("--dir %s: %s: %w", w.dir, it.rel, err)
			}
			if err := w.walkFD(sub, it.rel); err != nil {
				return err
			}
		}
	}
	return nil
}

// prefetch reads a small open file whole and closes it. Each read asks for
// one byte more than the size that fstat gave, so that a file that has not
// changed ends with one short read; a longer content is kept for the
// encoder to report.
func (w *walker) prefetch(it *walkItem) {
	size := int(it.fi.st.Size)
	var buf []byte
	if size > 0 {
		select {
		case buf = <-w.free:
		default:
			// The pool is empty: the buffers are in the batch being
			// filled or with the encoder. Hand the batch over first.
			if w.flush() != nil {
				return // stopped; the item is dropped with its descriptor
			}
			select {
			case buf = <-w.free:
			case <-w.done:
				return
			}
		}
	}
	for len(buf) <= size && size > 0 {
		want := size + 1 - len(buf)
		n, err := unix.Read(it.file, buf[len(buf):size+1])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			it.readErr = &fs.PathError{Op: "read", Path: it.rel, Err: err}
			break
		}
		buf = buf[:len(buf)+n]
		if n == 0 || n < want && len(buf) == size {
			break
		}
	}
	unix.Close(it.file)
	it.file = -1
	if buf == nil {
		buf = []byte{}
	}
	it.data = buf
}

// itemSource is the content of a regular file of the walk: read by the
// walker, or an open descriptor. The streamer keeps one, so it is not
// allocated per file.
type itemSource struct {
	rel        string
	file       int
	data       []byte
	prefetched bool
	err        error
}

func (s *itemSource) open() (io.ReadCloser, error) {
	if !s.prefetched && s.file < 0 {
		if s.err != nil {
			return nil, s.err
		}
		return nil, &fs.PathError{Op: "open", Path: s.rel, Err: fs.ErrNotExist}
	}
	return itemReader{s}, nil
}

func (s *itemSource) describe() string { return s.rel }

type itemReader struct{ s *itemSource }

func (r itemReader) Read(p []byte) (int, error) {
	s := r.s
	if s.prefetched {
		if len(s.data) == 0 {
			if s.err != nil {
				return 0, s.err
			}
			return 0, io.EOF
		}
		n := copy(p, s.data)
		s.data = s.data[n:]
		return n, nil
	}
	for {
		n, err := unix.Read(s.file, p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, &fs.PathError{Op: "read", Path: s.rel, Err: err}
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (itemReader) Close() error { return nil } // the encoder closes the descriptor

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

func (i *statInfo) Name() string       { return i.name }
func (i *statInfo) Size() int64        { return i.st.Size }
func (i *statInfo) ModTime() time.Time { return time.Unix(int64(i.st.Mtim.Sec), int64(i.st.Mtim.Nsec)) }
func (i *statInfo) IsDir() bool        { return i.Mode().IsDir() }
func (i *statInfo) Sys() any           { return &i.st }

func (i *statInfo) fileStat() fileStat {
	return fileStat{uint64(i.st.Dev), uint64(i.st.Ino), uint64(i.st.Nlink), uint64(i.st.Rdev)}
}

func (i *statInfo) Mode() fs.FileMode {
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
	open itemSource // the regular file being written
}

// openFile opens a declared file for reading without os.File: on a regular
// file, os.Open also tries to register the descriptor with the network
// poller (one epoll_ctl and four fcntl calls that fail or are undone); this
// is one openat.
func openFile(path string) (io.ReadCloser, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return &rawFile{itemSource{rel: path, file: fd}}, nil
	}
}

// rawFile is a file open for reading as a bare descriptor.
type rawFile struct{ s itemSource }

func (f *rawFile) Read(p []byte) (int, error) { return itemReader{&f.s}.Read(p) }

func (f *rawFile) Close() error {
	if f.s.file < 0 {
		return nil
	}
	err := unix.Close(f.s.file)
	f.s.file = -1
	return err
}
