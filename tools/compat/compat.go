// Package compat defines the compatibility versions of rules_repro.
//
// A compatibility version pins every behaviour that affects a digest: tar
// header rules and default modes, compression implementation, levels and
// media types, the JSON encoding of config, manifest and index, media-type
// rewrites of base layers, annotations and history text, and how layouts
// and archives are written. A Version is a
// value that carries these behaviours: the layer, image and index code ask
// it instead of hard-coding a rule or switching on a number, so a new
// version is one table entry (see versions). A released version's outputs
// never change; the golden matrix in tools/compat/testdata/golden.json
// guards this in CI for every version.
//
// Version 1 (the first release) pins:
//
//   - Layers: the BuildKit-equivalent tar encoding of SPEC §1 (walk order,
//     implicit parents 0755, whiteouts at mtime 0, USTAR unless PAX is
//     needed, no padding), as written by Go's archive/tar.
//   - Compression: gzip by Go's compress/gzip (default level when none is
//     given, levels 0-9); zstd by github.com/klauspost/compress/zstd at the
//     version in go.mod, levels 1-22 mapped as BuildKit maps them; none.
//   - Media types: OCI (application/vnd.oci.image.*); docker layer media
//     types of base images are rewritten to their OCI equivalents (the blobs
//     are unchanged).
//   - JSON: config, manifest and index are canonical JSON: object keys
//     sorted, no insignificant whitespace, Go's encoding/json string escaping.
//   - Timestamps: RFC 3339 in UTC with whole seconds, from SOURCE_DATE_EPOCH.
//   - Annotations: org.opencontainers.image.created on manifest and index,
//     and dev.rules-repro.compatibility-version = "1".
//   - History: one entry per added layer, created = epoch, created_by as
//     given (the rules give the layer's Bazel label), comment "rules_repro";
//     base history is kept as is.
//   - Layouts and archives: index.json in canonical JSON, oci-layout
//     {"imageLayoutVersion":"1.0.0"}, docker's manifest.json by Go's
//     encoding/json; archive entries PAX, directories 0755, files 0644,
//     owner 0:0, mtime 0, in the order of oci.Encoding.
//
// Version 2 is version 1 with four changes (docs/compatibility.md):
// created_by never carries text the rules give (no Bazel label, so renaming
// or moving a target keeps the digest); a regular file read from disk gets
// 0755 when its content starts with "#!" or "\x7fELF", else 0644, whatever
// its permission bits (remote execution marks every input executable); a
// layer may keep its file times at a fixed value, recorded as a layer
// descriptor annotation; labels, annotations and env expand {KEY} stamp
// variables.
package compat

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/rules-repro/rules_repro/tools/blob"
	"github.com/rules-repro/rules_repro/tools/canonjson"
	"github.com/rules-repro/rules_repro/tools/oci"
)

// Compression is one row of a version's compression table.
type Compression struct {
	Codec blob.Compression
	// MediaType of a layer encoded with Codec.
	MediaType string
	// Levels accepted: MinLevel..MaxLevel; HasLevels false refuses any level.
	HasLevels          bool
	MinLevel, MaxLevel int
	// LevelNote is added to the out-of-range message.
	LevelNote string
	// Writer is the compressor (library, its version in go.mod, level
	// mapping, header fields).
	Writer blob.Writer
}

// TarRules are the header rules and defaults of layer tars that are not
// fixed by the tar format itself.
type TarRules struct {
	// DirMode of declared and implicit directories.
	DirMode int64
	// FileMode of a file without executable bits, ExecMode of one with any.
	FileMode, ExecMode int64
	// SymlinkMode of symlinks.
	SymlinkMode int64
	// WhiteoutMTime of .wh. entries (containerd writes the Unix epoch).
	WhiteoutMTime int64
	// ModeFromContent chooses the mode of a regular file read from disk
	// (declared files, files of tree inputs and of --dir) from its first
	// bytes (ContentMode) instead of its permission bits (DiskMode), so
	// that the layer does not depend on the x bits of the machine that
	// builds it: remote execution marks every input executable
	// (bazelbuild/bazel#12818). Explicit modes and the modes of input tars
	// are kept either way.
	ModeFromContent bool
}

// DiskMode is the mode of a regular file read from disk with permission
// bits perm under a version without ModeFromContent: ExecMode when any
// executable bit is set, else FileMode.
func (r *TarRules) DiskMode(perm fs.FileMode) int64 {
	if perm&0o111 != 0 {
		return r.ExecMode
	}
	return r.FileMode
}

// ContentMode is the mode of a regular file whose content starts with head
// (its first 4 bytes are enough) under a version with ModeFromContent:
// ExecMode for a script ("#!") or an ELF executable ("\x7fELF"), the files
// a container can execute, else FileMode.
func (r *TarRules) ContentMode(head []byte) int64 {
	if bytes.HasPrefix(head, []byte("#!")) || bytes.HasPrefix(head, []byte("\x7fELF")) {
		return r.ExecMode
	}
	return r.FileMode
}

// Version is one compatibility version.
type Version struct {
	Number int
	// Summary says in one line what the version is.
	Summary string
	// Compressions is the compression table: codec, media type, levels.
	Compressions []Compression
	// Tar holds the layer tar rules.
	Tar TarRules
	// HistoryComment is the comment of every history entry the image adds.
	HistoryComment string
	// HistoryFromLayer makes created_by depend only on the layer (its
	// digest), never on text the rules give (a Bazel label).
	HistoryFromLayer bool
	// FileMTime allows layers whose file times are a fixed value rather
	// than SOURCE_DATE_EPOCH; the value is recorded as the layer descriptor
	// annotation FileMTimeAnnotation.
	FileMTime bool
	// StampConfig expands {KEY} stamp variables in labels, annotations and
	// env when a workspace status is given.
	StampConfig bool
	// Marshal is the JSON encoder of config, manifest and index.
	Marshal func(any) ([]byte, error)
	// BaseLayerMediaType maps a base layer's media type to the one written
	// in our manifest.
	BaseLayerMediaType func(string) string
	// Archive is how layouts, OCI archives and docker archives are
	// written: index.json, oci-layout, docker's manifest.json, tar headers.
	Archive oci.Encoding
}

// AnnotationKey records the compatibility version in manifests and indexes.
const AnnotationKey = "dev.rules-repro.compatibility-version"

// FileMTimeAnnotation, on a layer descriptor, records the fixed file time
// (seconds since the Unix epoch) a layer was built with.
const FileMTimeAnnotation = "dev.rules-repro.file-mtime"

// v1Compressions is version 1's table; version 2 shares it. Media types are
// written out rather than taken from image-spec's constants, so that no
// library upgrade can change them.
var v1Compressions = []Compression{
	{Codec: blob.Gzip, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", HasLevels: true, MinLevel: 0, MaxLevel: 9, Writer: blob.Standard},
	{Codec: blob.Zstd, MediaType: "application/vnd.oci.image.layer.v1.tar+zstd", HasLevels: true, MinLevel: 1, MaxLevel: 22,
		LevelNote: " (0 is ambiguous: the zstd tool reads it as default, BuildKit as fastest; leave the level unset for the default)", Writer: blob.Standard},
	{Codec: blob.None, MediaType: "application/vnd.oci.image.layer.v1.tar", Writer: blob.Standard},
}

var v1Tar = TarRules{DirMode: 0o755, FileMode: 0o644, ExecMode: 0o755, SymlinkMode: 0o777, WhiteoutMTime: 0}

// v2Tar is v1Tar with file modes from content, not from the disk's x bits.
var v2Tar = TarRules{DirMode: 0o755, FileMode: 0o644, ExecMode: 0o755, SymlinkMode: 0o777, WhiteoutMTime: 0, ModeFromContent: true}

// v1Archive is version 1's layout and archive encoding (as written before
// versions chose it); version 2 shares it. index.json is canonical JSON,
// docker's manifest.json is Go's encoding/json (fields Config, RepoTags,
// Layers in that order); archive entries are PAX headers, directories
// 0755, files 0644, mtime 0.
var v1Archive = oci.Encoding{
	IndexJSON:          canonjson.Marshal,
	LayoutFile:         []byte(`{"imageLayoutVersion":"1.0.0"}`),
	DockerManifestJSON: json.Marshal,
	Tar:                oci.ArchiveTarRules{DirMode: 0o755, FileMode: 0o644, MTime: 0, Format: tar.FormatPAX},
}

var versions = map[int]*Version{
	1: {
		Number:             1,
		Summary:            "BuildKit-equivalent layers (rewrite-timestamp), OCI media types, canonical JSON",
		Compressions:       v1Compressions,
		Tar:                v1Tar,
		HistoryComment:     "rules_repro",
		Marshal:            canonjson.Marshal,
		BaseLayerMediaType: oci.OCILayerMediaType,
		Archive:            v1Archive,
	},
	2: {
		Number:             2,
		Summary:            "version 1 without Bazel labels in history, file modes from content, optional fixed file times, {KEY} stamps in labels, annotations and env",
		Compressions:       v1Compressions,
		Tar:                v2Tar,
		HistoryComment:     "rules_repro",
		HistoryFromLayer:   true,
		FileMTime:          true,
		StampConfig:        true,
		Marshal:            canonjson.Marshal,
		BaseLayerMediaType: oci.OCILayerMediaType,
		Archive:            v1Archive,
	},
}

// Latest is the default compatibility version (of the CLI and of the
// //rules/settings:compatibility_version flag). It stays 1 so that
// upgrading rules_repro never changes a digest unless a user opts in.
const Latest = 1

// Supported returns the known version numbers in increasing order.
func Supported() []int {
	out := make([]int, 0, len(versions))
	for n := range versions {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

func supportedList() string {
	var parts []string
	for _, n := range Supported() {
		s := fmt.Sprint(n)
		if n == Latest {
			s += " (default)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// Lookup returns version n; 0 means the default (Latest).
func Lookup(n int) (*Version, error) {
	if n == 0 {
		n = Latest
	}
	v, ok := versions[n]
	if !ok {
		return nil, fmt.Errorf("unknown compatibility version %d; supported versions: %s", n, supportedList())
	}
	return v, nil
}

// V1 returns version 1, the version of code that has none to ask (tests,
// trees built without a version).
func V1() *Version { return versions[1] }

func (v *Version) compression(c blob.Compression) (Compression, bool) {
	for _, r := range v.Compressions {
		if r.Codec == c {
			return r, true
		}
	}
	return Compression{}, false
}

// Encoding validates a compression and optional level under v.
// level < 0 means "not given".
func (v *Version) Encoding(compression string, level int) (blob.Encoding, error) {
	c := blob.Compression(compression)
	if compression == "" {
		c = blob.Gzip
	}
	if compression == "uncompressed" {
		c = blob.None
	}
	row, ok := v.compression(c)
	if !ok {
		var names []string
		for _, s := range v.Compressions {
			names = append(names, string(s.Codec))
		}
		return blob.Encoding{}, fmt.Errorf("compatibility version %d cannot produce compression %q; it supports %s", v.Number, compression, strings.Join(names, ", "))
	}
	e := blob.Encoding{Compression: c, Writer: row.Writer}
	if level < 0 {
		return e, nil
	}
	if !row.HasLevels {
		return e, fmt.Errorf("a compression level (%d) was given but the layer is uncompressed", level)
	}
	if level < row.MinLevel || level > row.MaxLevel {
		return e, fmt.Errorf("%s compression level %d is out of range; compatibility version %d accepts %d-%d%s", c, level, v.Number, row.MinLevel, row.MaxLevel, row.LevelNote)
	}
	e.Level, e.HasLevel = level, true
	return e, nil
}

// LayerMediaType returns the media type of a layer with compression c.
func (v *Version) LayerMediaType(c blob.Compression) string {
	if row, ok := v.compression(c); ok {
		return row.MediaType
	}
	return "application/vnd.oci.image.layer.v1.tar"
}

// AnnotationValue is the value of AnnotationKey under v.
func (v *Version) AnnotationValue() string { return fmt.Sprint(v.Number) }

// CreatedBy is the history text of a layer: under version 1 the text the
// rules give (given, else the descriptor's), under a version with
// HistoryFromLayer only the layer's digest; with no text,
// "rules_repro layer <digest>".
func (v *Version) CreatedBy(given string, d *oci.LayerDescriptor) string {
	by := given
	if by == "" {
		by = d.CreatedBy
	}
	if by == "" || v.HistoryFromLayer {
		by = "rules_repro layer " + d.Digest.String()
	}
	return by
}

// HistoryEntry is the config history entry of an added layer.
func (v *Version) HistoryEntry(created, createdBy string) map[string]any {
	return map[string]any{"created": created, "created_by": createdBy, "comment": v.HistoryComment}
}

// LayerAnnotations are the annotations of a layer descriptor built with
// the given fixed file time (nil: file times from SOURCE_DATE_EPOCH). A
// version without FileMTime refuses a fixed time.
func (v *Version) LayerAnnotations(fileMTime *int64) (map[string]string, error) {
	if fileMTime == nil {
		return nil, nil
	}
	if !v.FileMTime {
		return nil, fmt.Errorf("a fixed file time (--file-mtime %d) needs compatibility version 2 or later; version %d keeps every declared file at SOURCE_DATE_EPOCH", *fileMTime, v.Number)
	}
	if *fileMTime < 0 {
		return nil, fmt.Errorf("--file-mtime %d: want seconds since 1970-01-01, 0 or more", *fileMTime)
	}
	return map[string]string{FileMTimeAnnotation: fmt.Sprint(*fileMTime)}, nil
}

// CheckLayerAnnotations rejects layer descriptor annotations v cannot
// write (a layer built under another version's rules).
func (v *Version) CheckLayerAnnotations(ann map[string]string) error {
	for k := range ann {
		if k != FileMTimeAnnotation || !v.FileMTime {
			return fmt.Errorf("layer annotation %s is not written under compatibility version %d", k, v.Number)
		}
	}
	return nil
}
