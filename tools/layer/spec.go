package layer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/rules-repro/rules_repro/tools/safejson"
)

// Spec declares the contents of a layer. It is usually written by the Bazel
// rules with json.encode, or by hand for the CLI:
//
//	{
//	  "entries": [
//	    {"type": "file", "path": "/app/server", "source": "bazel-out/k8-fastbuild/bin/app/server"},
//	    {"type": "file", "path": "/etc/motd", "content": "hello\n", "mode": "0444"},
//	    {"type": "dir", "path": "/var/lib/app", "mode": "0700", "uid": 1000, "gid": 1000},
//	    {"type": "symlink", "path": "/usr/bin/server", "target": "/app/server"},
//	    {"type": "hardlink", "path": "/app/server-copy", "target": "/app/server"},
//	    {"type": "whiteout", "path": "/etc/apt/sources.list"},
//	    {"type": "opaque", "path": "/var/cache"},
//	    {"type": "tar", "source": "third_party/rootfs.tar.gz", "path": "/opt"},
//	    {"type": "tar", "source": "bazel-out/k8-fastbuild/bin/dist.tar", "path": "/srv", "strip_prefix": "dist"},
//	    {"type": "tree", "source": "bazel-out/k8-fastbuild/bin/app/assets", "path": "/app/assets"}
//	  ],
//	  "overrides": [
//	    {"path": "/opt/bin/tool", "mode": "0750", "uid": 1000, "gid": 1000}
//	  ]
//	}
//
// Paths are normalized (leading "/" or "./" dropped, "." and ".." resolved
// without escaping the root).
type Spec struct {
	Entries []Entry `json:"entries"`
	// AllowEmpty accepts a spec without entries. An empty layer adds nothing
	// to an image, so by default it is reported as a mistake.
	AllowEmpty bool `json:"allow_empty,omitempty"`
	// Overrides set the mode or owner of paths after every entry is added,
	// whichever entry brought them: the way to change a member of an input
	// tar.
	Overrides []Override `json:"overrides,omitempty"`
}

// Override changes the metadata of one path of the layer. The path must be
// in the layer (declared, or a member of an input tar) or be a parent
// directory of such a path, which then becomes a declared directory (0755,
// 0:0, the epoch) before the override applies. Whiteouts and hard links
// have no metadata of their own and cannot be overridden.
type Override struct {
	Path string `json:"path"`
	// Mode is an octal string such as "0755".
	Mode string `json:"mode,omitempty"`
	// UID and GID come together; they replace the owner, and Uname and
	// Gname replace the owner's names (cleared when not given).
	UID   *int   `json:"uid,omitempty"`
	GID   *int   `json:"gid,omitempty"`
	Uname string `json:"uname,omitempty"`
	Gname string `json:"gname,omitempty"`
}

// Entry is one declaration in a Spec.
type Entry struct {
	// Type is one of: file, dir, symlink, hardlink, whiteout, opaque, tar, tree.
	Type string `json:"type"`
	// Path is the path in the image. For tar and tree it is the directory
	// the contents are placed under (default: the root).
	Path string `json:"path,omitempty"`
	// StripPrefix (tar only) is removed from the name of every member before
	// it is placed under Path: "dist" puts member "dist/bin/app" at
	// PATH/bin/app. Members that are parent directories of the prefix (and
	// the prefix itself) are dropped; any other member outside it is an
	// error.
	StripPrefix string `json:"strip_prefix,omitempty"`
	// Source is a host path: the file (file), the tar archive, plain, gzip or
	// zstd (tar) or the directory (tree) to read.
	Source string `json:"source,omitempty"`
	// Content is the inline content of a file without source.
	Content *string `json:"content,omitempty"`
	// Target is the symlink target (kept verbatim) or, for hardlink, the path
	// in the image of the file to link to.
	Target string `json:"target,omitempty"`
	// Mode is an octal string such as "0755": permission bits plus setuid,
	// setgid and sticky. Defaults: directories 0755; files 0644, or 0755 when
	// the source is executable; symlinks 0777.
	Mode  string `json:"mode,omitempty"`
	UID   *int   `json:"uid,omitempty"`
	GID   *int   `json:"gid,omitempty"`
	Uname string `json:"uname,omitempty"`
	Gname string `json:"gname,omitempty"`
	// Xattrs are extended attributes stored as PAX SCHILY.xattr records.
	// XattrsBase64 holds values that are not text, base64-encoded.
	Xattrs       map[string]string `json:"xattrs,omitempty"`
	XattrsBase64 map[string]string `json:"xattrs_base64,omitempty"`
}

// MaxSpecSize bounds a layer spec. A spec declares entries one by one (a
// directory is one "tree" entry, an archive one "tar" entry), so 256 MiB
// holds over a million entries; a larger file is refused before it is read.
const MaxSpecSize = 256 << 20

// ReadSpec reads and validates the syntax of a spec file. Semantic checks
// (conflicts, missing sources) happen when the layer is built.
func ReadSpec(path string) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading layer spec: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxSpecSize {
		return nil, fmt.Errorf("layer spec %s is larger than %d bytes (%d bytes)", path, MaxSpecSize, fi.Size())
	}
	return readSpecFrom(f, path, MaxSpecSize)
}

// readSpecFrom reads at most max bytes of a spec from r (a pipe has no size
// to check first).
func readSpecFrom(r io.Reader, name string, max int64) (*Spec, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading layer spec %s: %w", name, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("layer spec %s is larger than %d bytes", name, max)
	}
	return ParseSpec(data, name)
}

// ParseSpec parses a spec; name is used in error messages. The nesting
// depth is checked first (safejson.CheckDepth), in one linear pass.
func ParseSpec(data []byte, name string) (*Spec, error) {
	if len(data) > MaxSpecSize {
		return nil, fmt.Errorf("layer spec %s is larger than %d bytes", name, MaxSpecSize)
	}
	if err := safejson.CheckDepth(data); err != nil {
		return nil, fmt.Errorf("layer spec %s: %w", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("layer spec %s: %w", name, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("layer spec %s: unexpected data after the JSON object", name)
	}
	return &s, nil
}

// parseMode parses an octal mode string.
func parseMode(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty mode")
	}
	for _, c := range s {
		if c < '0' || c > '7' {
			return 0, fmt.Errorf("invalid mode %q: want an octal string such as \"0755\"", s)
		}
	}
	m, err := strconv.ParseInt(s, 8, 64)
	if err != nil || m > 0o7777 {
		return 0, fmt.Errorf("invalid mode %q: only permission, setuid, setgid and sticky bits (at most 07777) are allowed", s)
	}
	return m, nil
}

// xattrs merges the text and base64 attribute maps of an entry.
func (e *Entry) xattrs() (map[string]string, error) {
	if len(e.Xattrs) == 0 && len(e.XattrsBase64) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(e.Xattrs)+len(e.XattrsBase64))
	for k, v := range e.Xattrs {
		if k == "" {
			return nil, fmt.Errorf("empty xattr name")
		}
		out[k] = v
	}
	for k, v := range e.XattrsBase64 {
		if k == "" {
			return nil, fmt.Errorf("empty xattr name")
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("xattr %q is given both as text and as base64", k)
		}
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("xattr %q: invalid base64: %v", k, err)
		}
		out[k] = string(b)
	}
	return out, nil
}
