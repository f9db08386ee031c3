// Package lock reads, checks, updates and converts repro.lock.json, the
// lockfile that pins every external source of a build: base images by
// digest (per platform) and HTTP files by sha256, together with the BuildKit
// source policy that applies to them.
//
// # Format
//
// The Bazel repository rules read the file with json.decode, so its shape is
// a contract:
//
//	{
//	  "files": {
//	    "tool": {"sha256": "<64 hex>", "url": "https://example.com/tool.tar.gz"}
//	  },
//	  "images": {
//	    "base": {
//	      "digest": "sha256:…",                                     // the index, or the single manifest
//	      "identifier": "docker-image://gcr.io/distroless/static:nonroot",
//	      "image": "gcr.io/distroless/static:nonroot",
//	      "media_type": "application/vnd.oci.image.index.v1+json",
//	      "platforms": {
//	        "linux/amd64": {"config": "sha256:…", "digest": "sha256:…"}
//	      }
//	    }
//	  },
//	  "policy": [ BuildKit source policy rules, as in --source-policy-file "rules" ],
//	  "version": 1
//	}
//
// The canonical form, which every command writes and `lock check` requires,
// is that JSON with object keys sorted, two-space indentation, a trailing
// newline, all four top-level keys present, and the policy rules as
// tools/policy writes them (action and match_type spelled out). It is
// json.MarshalIndent's output except that '<', '>' and '&' are not escaped,
// so that URLs with query strings stay readable. Fields without a value yet
// (identifier, digest, media_type, sha256, and the digest and config of a
// platform) are omitted, so a requested platform is the empty object {}.
//
// # Validation
//
// Parse rejects a file that is not in this format or has malformed values,
// listing every problem (Problem, *ProblemsError):
//
//   - JSON is strict: unknown fields, keys in another case, a key given
//     twice and data after the object are errors; "version" must be 1.
//   - Names (the keys of "images" and "files") are Bazel repository names,
//     [A-Za-z][A-Za-z0-9_]*, unique across images and files, since each
//     becomes a repository.
//   - "image" is a Docker reference with a tag or with neither tag nor
//     digest (":latest" is implied, as in BuildKit); a digest there is an
//     error, because pinning is the lockfile's job. Two entries that
//     normalize to the same identifier are an error.
//   - "identifier", when present, is a normalized image identifier
//     (policy.NormalizeImageIdentifier) without digest.
//   - Digests are "sha256:" and 64 lower-case hex digits; "sha256" of a
//     file is the 64 hex digits alone. Other algorithms are rejected.
//   - "media_type" is an OCI or Docker image index or manifest type.
//   - Platform keys are "os/arch" or "os/arch/variant" (oci.ParsePlatform).
//   - "url" is an absolute http or https URL; two files with the same URL
//     are an error.
//   - "policy" parses as BuildKit rules (policy.Parse, which is stricter
//     than BuildKit). Its first rule must not have the shape of a pin (see
//     Export) for a source without an entry: that pin belongs in "images" or
//     "files", and keeping it out of "policy" is what makes export and import
//     exact inverses.
//
// A well-formed file may still be incomplete or inconsistent; Check (the
// `repro lock check` command) reports that without network access:
// identifiers that do not match their image, missing digests, media types
// and configs, requested platforms not pinned, an image without platforms,
// a single-manifest image whose one platform is not the manifest itself,
// files without sha256, sources the policy denies or does not convert to
// their pins, and a file not in canonical form. Policy Lint warnings are
// reported as warnings, not problems.
//
// # Update
//
// Update resolves every image tag (or only the entries named in
// UpdateOptions.Names: `repro lock update --name NAME`, repeatable) and
// fills in identifier, digest, media_type and the
// digest and config of every requested platform; a file without sha256 is
// downloaded to compute it (a file with one is never fetched: its checksum
// is the pin). A tag that moved is re-pinned, and the change is reported as
// "old → new" for the index and each platform; entries that did not change
// are reported as unchanged. An image with no platforms pins every platform
// the tag offers (except the "unknown/unknown" entries BuildKit uses for
// attestations); an image with platforms pins exactly those and fails when
// the tag lacks one. A requested "linux/arm64" matches an index entry
// "linux/arm64/v8" (oci.PlatformMatches) but stays "linux/arm64" in the
// file; a request that matches several entries must give the variant. A
// pin edited by hand is put right, and reported as old → new too. With UpdateOptions.KeepDigests an entry that already
// has a digest is resolved by that digest instead of its tag, which fills
// in platforms after `policy import` without moving anything.
//
// Before any network access Update evaluates, for every selected source,
// the policy BuildKit would see (the source's pin followed by "policy") on
// the source as the build names it; a source without a pin yet is pinned to
// the all-zero digest for this check. After resolving, it evaluates again
// with the real pin. A denied source, or one the policy does not leave at
// its pin, fails the update with the source, the rule index and its
// selector. Update changes nothing unless every entry succeeds.
//
// # Export and import
//
// Export writes the lockfile as a BuildKit source policy: first one CONVERT
// rule per image, in identifier order, with an EXACT selector on the
// normalized tag identifier and the update identifier
// "docker-image://NAME:TAG@sha256:DIGEST"; then one CONVERT rule per file, in
// URL order, with an EXACT selector on the URL and updates
// {"attrs": {"http.checksum": "sha256:HEX"}, "identifier": ""}; then the
// "policy" rules in order. Pins are sorted by what they pin, not by entry
// name, because names are not expressible in a policy.
//
// Import is the inverse: the leading run of rules that have exactly one of
// those two shapes (and pin distinct sources) become entries; every rule
// from the first other one on goes to "policy" verbatim, because moving a
// rule across others can change what BuildKit does, while reordering
// distinct EXACT pins cannot. Imported images have no platform pins and no
// media type (a policy cannot express them) until `lock update
// --keep-digests`. Names come from an existing lockfile's entry for the same
// source when one is given (which also keeps its "image" and, when the
// digest is unchanged, its platforms and media type), else from the last
// path element of the repository or URL, made unique with "_2", "_3", ....
// Export followed by Import and Export gives the same bytes.
package lock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/rules-repro/rules_repro/tools/safejson"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/rules-repro/rules_repro/tools/atomicfile"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/policy"
)

// FormatVersion is the lockfile "version" this package reads and writes.
const FormatVersion = 1

// DefaultPath is the lockfile's default file name.
const DefaultPath = "repro.lock.json"

// Lockfile is a parsed repro.lock.json.
type Lockfile struct {
	// Images maps entry names to pinned images; never nil after Parse.
	Images map[string]*Image
	// Files maps entry names to pinned HTTP files; never nil after Parse.
	Files map[string]*File
	// Policy is the source policy's rules, applied after the pins.
	Policy []policy.Rule
}

// Image is one entry of "images".
type Image struct {
	// Image is the reference the user asked for, a tag (kept for humans).
	Image string
	// Identifier is Image normalized as BuildKit does, e.g.
	// "docker-image://docker.io/library/alpine:3.20"; "" until filled in.
	Identifier string
	// Digest is what the tag points at ("sha256:…"): an index, or a single
	// manifest; "" until pinned.
	Digest string
	// MediaType is Digest's media type; "" until pinned.
	MediaType string
	// Platforms are the requested platforms ("linux/arm64") and their pins.
	// Never nil after Parse.
	Platforms map[string]*Platform
}

// Platform is the pin of one platform of an image.
type Platform struct {
	// Digest is the platform's image manifest; "" until pinned.
	Digest string
	// Config is that manifest's config blob; "" until pinned.
	Config string
}

// File is one entry of "files": an HTTP source pinned by checksum (what
// BuildKit calls http.checksum).
type File struct {
	URL string
	// SHA256 is 64 lower-case hex digits; "" until pinned.
	SHA256 string
}

// New returns an empty lockfile.
func New() *Lockfile {
	return &Lockfile{Images: map[string]*Image{}, Files: map[string]*File{}}
}

// Clone returns a deep copy.
func (l *Lockfile) Clone() *Lockfile {
	c := New()
	for n, img := range l.Images {
		ci := *img
		ci.Platforms = make(map[string]*Platform, len(img.Platforms))
		for k, p := range img.Platforms {
			cp := *p
			ci.Platforms[k] = &cp
		}
		c.Images[n] = &ci
	}
	for n, f := range l.Files {
		cf := *f
		c.Files[n] = &cf
	}
	c.Policy = cloneRules(l.Policy)
	return c
}

func cloneRules(rules []policy.Rule) []policy.Rule {
	if rules == nil {
		return nil
	}
	out := make([]policy.Rule, len(rules))
	for i, r := range rules {
		out[i] = r
		out[i].Selector.Constraints = append([]policy.Constraint(nil), r.Selector.Constraints...)
		if r.Updates != nil {
			u := *r.Updates
			if r.Updates.Attrs != nil {
				u.Attrs = make(map[string]string, len(r.Updates.Attrs))
				for k, v := range r.Updates.Attrs {
					u.Attrs[k] = v
				}
			}
			out[i].Updates = &u
		}
	}
	return out
}

// Problem is one thing wrong with a lockfile.
type Problem struct {
	// Path is where: "images.base.platforms.linux/amd64.digest",
	// "files.tool", "policy[2]", or "" for the whole file.
	Path string
	// Message says what is wrong and, where it helps, how to fix it.
	Message string
}

// pathKey is how an entry name is written in a path: ".base", or
// `["a\nb"]` for a name that is not plain.
func pathKey(key string) string { return safejson.PathKey(key) }

// entryPath is the path of an entry: "images.base", `files["a\nb"]`.
func entryPath(kind, name string) string { return kind + pathKey(name) }

// show returns s for a message: as it is when it is printable ASCII without
// spaces, quotes or backslashes (digests, URLs, identifiers), else quoted.
func show(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ProblemsError lists every problem found.
type ProblemsError struct {
	Problems []Problem
}

func (e *ProblemsError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

var (
	nameRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	digestRE  = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	sha256RE  = regexp.MustCompile(`^[a-f0-9]{64}$`)
	zeroSHA   = strings.Repeat("0", 64)
	zeroPin   = "sha256:" + zeroSHA
	knownType = map[string]bool{
		oci.MediaTypeImageIndex:    true,
		oci.DockerManifestList:     true,
		oci.MediaTypeImageManifest: true,
		oci.DockerManifest:         true,
	}
)

// ValidName reports whether name can name an entry (a Bazel repository).
func ValidName(name string) bool { return nameRE.MatchString(name) }

// ValidDigest reports whether d is "sha256:" and 64 lower-case hex digits.
func ValidDigest(d string) bool { return digestRE.MatchString(d) }

// ImageIdentifier returns the normalized identifier of a tag reference, or
// an error saying why ref cannot be an entry's "image".
func ImageIdentifier(ref string) (string, error) {
	if ref == "" {
		return "", errors.New("empty image reference")
	}
	id, err := policy.NormalizeImageIdentifier(ref)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(id, policy.ImageScheme) {
		return "", fmt.Errorf("%q is not an image reference", ref)
	}
	if strings.Contains(id, "@") {
		return "", fmt.Errorf("image %q has a digest; give the tag only: the lockfile pins the digest (repro lock update)", ref)
	}
	return id, nil
}

// CheckURL returns an error unless u can be a file entry's URL: an absolute
// http or https URL with a host.
func CheckURL(u string) error {
	parsed, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("invalid URL %q: %v", u, err)
	}
	if parsed.Scheme != "http" && parsed.Scheme != "https" || parsed.Host == "" || parsed.Opaque != "" {
		return fmt.Errorf("URL %q: want an absolute http:// or https:// URL", u)
	}
	if parsed.User != nil {
		return fmt.Errorf("URL %q has credentials in it; a lockfile is shared, use a .netrc or a credential helper instead", parsed.Redacted())
	}
	if strings.ContainsAny(u, " \t\r\n") {
		return fmt.Errorf("URL %q contains whitespace", u)
	}
	return nil
}

// Read reads and parses a lockfile; errors name the file.
func Read(path string) (*Lockfile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	l, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// Write writes the lockfile in canonical form, atomically.
func (l *Lockfile) Write(path string) error {
	data, err := l.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data)
}

// Parse reads a lockfile and checks its format (see the package
// documentation). Incomplete entries are accepted; see Check.
func Parse(data []byte) (*Lockfile, error) {
	l, err := parseStructure(data)
	if err != nil {
		return nil, err
	}
	if ps := l.formatProblems(); len(ps) > 0 {
		return nil, &ProblemsError{Problems: ps}
	}
	return l, nil
}

// parseStructure decodes the JSON into a Lockfile, failing on the first
// structural error (syntax, unknown fields, wrong types, version).
func parseStructure(data []byte) (*Lockfile, error) {
	tree, err := decodeStrict(data)
	if err != nil {
		return nil, fmt.Errorf("lockfile: %w", err)
	}
	top, err := fields(tree, "", "version", "images", "files", "policy")
	if err != nil {
		return nil, fmt.Errorf("lockfile: %w", err)
	}
	v, ok := top["version"]
	if !ok {
		return nil, fmt.Errorf("lockfile: no \"version\" (want %d)", FormatVersion)
	}
	if n, ok := v.(json.Number); !ok || string(n) != fmt.Sprint(FormatVersion) {
		return nil, fmt.Errorf("lockfile: version: want %d, found %s (a newer repro may be needed)", FormatVersion, describe(v))
	}
	l := New()
	if v, ok := top["images"]; ok {
		obj, err := object(v, "images")
		if err != nil {
			return nil, fmt.Errorf("lockfile: %w", err)
		}
		for _, name := range sortedKeys(obj) {
			img, err := parseImage(obj[name], entryPath("images", name))
			if err != nil {
				return nil, fmt.Errorf("lockfile: %w", err)
			}
			l.Images[name] = img
		}
	}
	if v, ok := top["files"]; ok {
		obj, err := object(v, "files")
		if err != nil {
			return nil, fmt.Errorf("lockfile: %w", err)
		}
		for _, name := range sortedKeys(obj) {
			path := entryPath("files", name)
			f, err := fields(obj[name], path, "url", "sha256")
			if err != nil {
				return nil, fmt.Errorf("lockfile: %w", err)
			}
			file := &File{}
			if file.URL, err = str(f, "url", path); err != nil {
				return nil, fmt.Errorf("lockfile: %w", err)
			}
			if file.SHA256, err = str(f, "sha256", path); err != nil {
				return nil, fmt.Errorf("lockfile: %w", err)
			}
			l.Files[name] = file
		}
	}
	if v, ok := top["policy"]; ok {
		if _, isArr := v.([]any); !isArr {
			return nil, fmt.Errorf("lockfile: policy: want an array of rules, found %s", describe(v))
		}
		raw, err := json.Marshal(map[string]any{"rules": v})
		if err != nil {
			return nil, fmt.Errorf("lockfile: policy: %w", err)
		}
		p, err := policy.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("lockfile: %s", policyPath(err))
		}
		l.Policy = p.Rules
	}
	return l, nil
}

// policyPath rewrites tools/policy's "policy: rules[2].x" into "policy[2].x".
func policyPath(err error) string {
	msg := err.Error()
	msg = strings.Replace(msg, "policy: rules[", "policy[", 1)
	return strings.Replace(msg, "policy: rules:", "policy:", 1)
}

func parseImage(v any, path string) (*Image, error) {
	obj, err := fields(v, path, "image", "identifier", "digest", "media_type", "platforms")
	if err != nil {
		return nil, err
	}
	img := &Image{Platforms: map[string]*Platform{}}
	for key, dst := range map[string]*string{"image": &img.Image, "identifier": &img.Identifier, "digest": &img.Digest, "media_type": &img.MediaType} {
		if *dst, err = str(obj, key, path); err != nil {
			return nil, err
		}
	}
	if pv, ok := obj["platforms"]; ok {
		ppath := path + ".platforms"
		pobj, err := object(pv, ppath)
		if err != nil {
			return nil, err
		}
		for _, key := range sortedKeys(pobj) {
			kpath := ppath + pathKey(key)
			e, err := fields(pobj[key], kpath, "digest", "config")
			if err != nil {
				return nil, err
			}
			p := &Platform{}
			if p.Digest, err = str(e, "digest", kpath); err != nil {
				return nil, err
			}
			if p.Config, err = str(e, "config", kpath); err != nil {
				return nil, err
			}
			img.Platforms[key] = p
		}
	}
	return img, nil
}

// formatProblems checks every value's format (see the package doc).
func (l *Lockfile) formatProblems() []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	idOwner := map[string]string{}
	for _, name := range sortedKeys(l.Images) {
		img := l.Images[name]
		path := entryPath("images", name)
		if !ValidName(name) {
			add(path, "invalid name: want a Bazel repository name, a letter followed by letters, digits and underscores")
		}
		if id, err := ImageIdentifier(img.Image); err != nil {
			add(path+".image", "%v", err)
		} else if other, dup := idOwner[id]; dup {
			add(path+".image", "%s is also %s; pin each image once", show(id), entryPath("images", other))
		} else {
			idOwner[id] = name
		}
		if img.Identifier != "" {
			if id, err := ImageIdentifier(img.Identifier); err != nil || id != img.Identifier {
				add(path+".identifier", "%q is not a normalized image identifier such as \"docker-image://docker.io/library/alpine:3.20\"", img.Identifier)
			}
		}
		if img.Digest != "" && !ValidDigest(img.Digest) {
			add(path+".digest", "%q is not a sha256 digest (\"sha256:\" and 64 lower-case hex digits)", img.Digest)
		}
		if img.MediaType != "" && !knownType[img.MediaType] {
			add(path+".media_type", "unknown media type %q (want an OCI or Docker image index or manifest)", img.MediaType)
		}
		for _, key := range sortedKeys(img.Platforms) {
			p := img.Platforms[key]
			ppath := path + ".platforms" + pathKey(key)
			if _, err := oci.ParsePlatform(key); err != nil {
				add(ppath, "%v", err)
			}
			if p.Digest != "" && !ValidDigest(p.Digest) {
				add(ppath+".digest", "%q is not a sha256 digest", p.Digest)
			}
			if p.Config != "" && !ValidDigest(p.Config) {
				add(ppath+".config", "%q is not a sha256 digest", p.Config)
			}
		}
	}
	urlOwner := map[string]string{}
	for _, name := range sortedKeys(l.Files) {
		f := l.Files[name]
		path := entryPath("files", name)
		if !ValidName(name) {
			add(path, "invalid name: want a Bazel repository name, a letter followed by letters, digits and underscores")
		}
		if _, dup := l.Images[name]; dup {
			add(path, "the name is also used by %s; each entry becomes a repository, so names must be unique", entryPath("images", name))
		}
		if f.URL == "" {
			add(path+".url", "missing")
		} else if err := CheckURL(f.URL); err != nil {
			add(path+".url", "%v", err)
		} else if other, dup := urlOwner[f.URL]; dup {
			add(path+".url", "also %s; pin each URL once", entryPath("files", other))
		} else {
			urlOwner[f.URL] = name
		}
		if f.SHA256 != "" && !sha256RE.MatchString(f.SHA256) {
			add(path+".sha256", "%q is not 64 lower-case hex digits", f.SHA256)
		}
	}
	if len(l.Policy) > 0 {
		if id, _, ok := imagePin(l.Policy[0]); ok && idOwner[id] == "" {
			add("policy[0]", "pins %s, which has no entry in images; move the pin there (repro policy import does), so that export and import agree", show(id))
		}
		if u, _, ok := filePin(l.Policy[0]); ok && urlOwner[u] == "" {
			add("policy[0]", "pins %s, which has no entry in files; move the pin there (repro policy import does), so that export and import agree", show(u))
		}
	}
	return ps
}

// Marshal returns the canonical encoding (see the package documentation).
func (l *Lockfile) Marshal() ([]byte, error) {
	images := map[string]any{}
	for name, img := range l.Images {
		e := map[string]any{"image": img.Image}
		setIf(e, "identifier", img.Identifier)
		setIf(e, "digest", img.Digest)
		setIf(e, "media_type", img.MediaType)
		plats := map[string]any{}
		for key, p := range img.Platforms {
			pe := map[string]any{}
			setIf(pe, "digest", p.Digest)
			setIf(pe, "config", p.Config)
			plats[key] = pe
		}
		e["platforms"] = plats
		images[name] = e
	}
	files := map[string]any{}
	for name, f := range l.Files {
		e := map[string]any{"url": f.URL}
		setIf(e, "sha256", f.SHA256)
		files[name] = e
	}
	rules, err := rulesJSON(l.Policy)
	if err != nil {
		return nil, err
	}
	return encodeIndent(map[string]any{
		"version": FormatVersion,
		"images":  images,
		"files":   files,
		"policy":  rules,
	})
}

func setIf(m map[string]any, key, v string) {
	if v != "" {
		m[key] = v
	}
}

// rulesJSON returns rules as tools/policy writes them, as a JSON tree.
func rulesJSON(rules []policy.Rule) ([]any, error) {
	data, err := (&policy.Policy{Rules: rules}).MarshalJSON()
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var top struct {
		Rules []any `json:"rules"`
	}
	if err := dec.Decode(&top); err != nil {
		return nil, err
	}
	if top.Rules == nil {
		top.Rules = []any{}
	}
	return top.Rules, nil
}

func encodeIndent(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// sortedNames returns the names of m ordered by key(value), then name.
func sortedNames[V any](m map[string]V, key func(V) string) []string {
	names := sortedKeys(m)
	sort.SliceStable(names, func(i, j int) bool { return key(m[names[i]]) < key(m[names[j]]) })
	return names
}
