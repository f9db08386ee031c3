// Package compat defines the compatibility versions of rules_repro.
//
// A compatibility version is a number that pins every behaviour that affects
// a digest: tar encoding, default modes, compression implementation and
// level mapping, the JSON encoding of config, manifest and index, media
// types, annotations and history. A released version's outputs never change;
// new behaviour gets a new number. The golden matrix in
// tools/compat/testdata/golden.json guards this in CI.
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
//     given, comment "rules_repro"; base history is kept as is.
package compat

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rules-repro/rules_repro/tools/blob"
)

// Version is one compatibility version.
type Version struct {
	Number int
	// Summary says in one line what the version is.
	Summary string
	// Compressions lists the layer encodings the version can produce.
	Compressions []blob.Compression
}

// AnnotationKey records the compatibility version in manifests and indexes.
const AnnotationKey = "dev.rules-repro.compatibility-version"

var versions = map[int]*Version{
	1: {
		Number:       1,
		Summary:      "BuildKit-equivalent layers (rewrite-timestamp), OCI media types, canonical JSON",
		Compressions: []blob.Compression{blob.Gzip, blob.Zstd, blob.None},
	},
}

// Latest is the default compatibility version.
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

// Lookup returns version n; 0 means the latest.
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
	ok := false
	for _, s := range v.Compressions {
		ok = ok || s == c
	}
	if !ok {
		var names []string
		for _, s := range v.Compressions {
			names = append(names, string(s))
		}
		return blob.Encoding{}, fmt.Errorf("compatibility version %d cannot produce compression %q; it supports %s", v.Number, compression, strings.Join(names, ", "))
	}
	e := blob.Encoding{Compression: c}
	if level < 0 {
		return e, nil
	}
	switch c {
	case blob.Gzip:
		if level > 9 {
			return e, fmt.Errorf("gzip compression level %d is out of range; compatibility version %d accepts 0-9", level, v.Number)
		}
	case blob.Zstd:
		if level < 1 || level > 22 {
			return e, fmt.Errorf("zstd compression level %d is out of range; compatibility version %d accepts 1-22 (0 is ambiguous: the zstd tool reads it as default, BuildKit as fastest; leave the level unset for the default)", level, v.Number)
		}
	case blob.None:
		return e, fmt.Errorf("a compression level (%d) was given but the layer is uncompressed", level)
	}
	e.Level, e.HasLevel = level, true
	return e, nil
}

// LayerMediaType returns the OCI media type of a layer with compression c.
func (v *Version) LayerMediaType(c blob.Compression) string {
	switch c {
	case blob.Gzip:
		return "application/vnd.oci.image.layer.v1.tar+gzip"
	case blob.Zstd:
		return "application/vnd.oci.image.layer.v1.tar+zstd"
	}
	return "application/vnd.oci.image.layer.v1.tar"
}
