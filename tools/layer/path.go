package layer

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// CleanPath normalizes a path inside the image: leading "/" and "./" are
// dropped, "." and ".." elements are resolved, and a trailing "/" is
// removed. It rejects empty names, NUL bytes and paths that escape the root.
// The root itself is returned as "".
func CleanPath(p string) (string, error) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("path %q contains a NUL byte", p)
	}
	if p == "" {
		return "", fmt.Errorf("empty path")
	}
	// Reject ".." before cleaning so that "a/../../b" is caught, and so that
	// "../x" is an error rather than silently becoming "x".
	depth := 0
	for _, el := range strings.Split(p, "/") {
		switch el {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", fmt.Errorf("path %q escapes the image root", p)
			}
		default:
			depth++
		}
	}
	c := path.Clean("/" + p)
	return strings.TrimPrefix(c, "/"), nil
}

// sortKey orders paths the way a depth-first walk with siblings sorted by
// name does (filepath.Walk): "a", "a/b", "a.txt". Replacing the separator by
// NUL (which a name cannot contain) makes plain byte comparison do this.
func sortKey(p string) string { return strings.ReplaceAll(p, "/", "\x00") }

// parentOf returns the parent path of p ("" for a top-level entry).
func parentOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// whiteoutName returns the tar name that deletes p from lower layers.
func whiteoutName(p string) string {
	dir, base := parentOf(p), path.Base(p)
	if dir == "" {
		return whiteoutPrefix + base
	}
	return dir + "/" + whiteoutPrefix + base
}

const whiteoutPrefix = ".wh."

// sortPaths sorts paths in walk order.
func sortPaths(ps []string) {
	sort.Slice(ps, func(i, j int) bool { return sortKey(ps[i]) < sortKey(ps[j]) })
}
