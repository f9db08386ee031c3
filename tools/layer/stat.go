package layer

import (
	"io/fs"
	"syscall"
)

// fileStat is what a layer needs from stat beyond fs.FileInfo: the device
// and inode (hard links), the link count, and a device's numbers.
type fileStat struct{ dev, ino, nlink, rdev uint64 }

// statOf reads fileStat from an fs.FileInfo of os.Lstat or of the streaming
// walk. The field types of the stat structs vary by architecture.
func statOf(fi fs.FileInfo) (fileStat, bool) {
	// The streaming walk's FileInfo answers directly: Sys() would copy its
	// stat struct to the heap, twice per entry.
	if s, ok := fi.(interface{ fileStat() fileStat }); ok {
		return s.fileStat(), true
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileStat{uint64(st.Dev), uint64(st.Ino), uint64(st.Nlink), uint64(st.Rdev)}, true
	}
	return statOfPlatform(fi)
}
