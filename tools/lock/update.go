package lock

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/policy"
)

// Resolver is what Update needs from the network; tools/registry provides
// one. Implementations verify what they fetch, and their errors name the
// reference or URL (Update adds the entry's path, "images.base: ").
type Resolver interface {
	// ResolveImage resolves ref ("registry/repo:tag", or
	// "registry/repo:tag@sha256:…" to resolve by digest) and pins the given
	// platforms ("linux/amd64"); no platforms means every platform the
	// reference offers.
	ResolveImage(ctx context.Context, ref string, platforms []string) (*Resolved, error)
	// FileSHA256 downloads url and returns the hex sha256 of its content.
	FileSHA256(ctx context.Context, url string) (string, error)
}

// Resolved is what a tag or digest points at.
type Resolved struct {
	// Digest and MediaType of the index or single manifest.
	Digest    string
	MediaType string
	// Platforms are the pins of the requested platforms, by the requested
	// key.
	Platforms map[string]Platform
}

// UpdateOptions select what Update does.
type UpdateOptions struct {
	// Names are the entries to update (images or files); empty means all.
	Names []string
	// KeepDigests resolves images that have a digest by that digest, not
	// their tag: it fills in what is missing without moving any pin.
	KeepDigests bool
	// Log receives one line per entry (and per changed platform); nil
	// discards them.
	Log io.Writer
	// VerifyFiles downloads the selected files that already have a sha256
	// and fails, naming the URL, when the content changed upstream. A
	// file's checksum is never changed by Update: re-pinning a changed file
	// is `repro lock add-file --replace`. The default (false) never
	// downloads a pinned file.
	VerifyFiles bool
}

// Update returns a copy of l with the selected entries resolved (see the
// package documentation); l is not modified. It fails, changing nothing,
// when any source is denied by the policy or cannot be resolved.
func (l *Lockfile) Update(ctx context.Context, r Resolver, o UpdateOptions) (*Lockfile, error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	images, files, err := l.selected(o.Names)
	if err != nil {
		return nil, err
	}
	// Policy first, with the pins as they are (or placeholders): a denied
	// source must not be contacted at all.
	preImage := func(name string) string { return orDefault(pinOrEmpty(l.Images[name].Digest), zeroPin) }
	preFile := func(name string) string { return orDefault(shaOrEmpty(l.Files[name].SHA256), zeroSHA) }
	pre := newPinned(l.policyWith(preImage, preFile))
	if err := l.evalSelected(pre, images, files, preImage, preFile); err != nil {
		return nil, err
	}

	out := l.Clone()
	var lines []string
	for _, name := range images {
		img := out.Images[name]
		path := entryPath("images", name)
		id, _ := ImageIdentifier(img.Image) // valid: Parse checked it
		ref := strings.TrimPrefix(id, policy.ImageScheme)
		byDigest := o.KeepDigests && ValidDigest(img.Digest)
		if byDigest {
			ref += "@" + img.Digest
		}
		keys := sortedKeys(img.Platforms)
		res, err := r.ResolveImage(ctx, ref, keys)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := checkResolved(res, keys, byDigest, img.Digest); err != nil {
			return nil, fmt.Errorf("%s (%s): %w", path, img.Image, err)
		}
		lines = append(lines, describeImageChange(path, id, img, res)...)
		img.Identifier = id
		img.Digest = res.Digest
		img.MediaType = res.MediaType
		img.Platforms = make(map[string]*Platform, len(res.Platforms))
		for k, p := range res.Platforms {
			cp := p
			img.Platforms[k] = &cp
		}
	}
	for _, name := range files {
		f := out.Files[name]
		path := entryPath("files", name)
		if f.SHA256 != "" && !o.VerifyFiles {
			lines = append(lines, fmt.Sprintf("%s: %s pinned to sha256 %s (not downloaded)", path, f.URL, f.SHA256))
			continue
		}
		sha, err := r.FileSHA256(ctx, f.URL)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if !sha256RE.MatchString(sha) {
			return nil, fmt.Errorf("%s (%s): resolver returned an invalid sha256 %q", path, f.URL, sha)
		}
		if f.SHA256 != "" {
			if sha != f.SHA256 {
				return nil, fmt.Errorf("%s: %s changed upstream: pinned sha256 %s, now %s; the pin is kept (if the new content is expected: repro lock add-file --replace %s %s)", path, f.URL, f.SHA256, sha, show(name), f.URL)
			}
			lines = append(lines, fmt.Sprintf("%s: %s unchanged at sha256 %s (downloaded and verified)", path, f.URL, sha))
			continue
		}
		f.SHA256 = sha
		lines = append(lines, fmt.Sprintf("%s: %s pinned to sha256 %s", path, f.URL, sha))
	}
	// Policy again with the real pins.
	post := newPinned(out.policyWith(func(name string) string { return pinOrEmpty(out.Images[name].Digest) },
		func(name string) string { return shaOrEmpty(out.Files[name].SHA256) }))
	if err := out.evalSelected(post, images, files,
		func(name string) string { return out.Images[name].Digest },
		func(name string) string { return out.Files[name].SHA256 },
	); err != nil {
		return nil, err
	}
	if ps := out.formatProblems(); len(ps) > 0 {
		return nil, &ProblemsError{Problems: ps}
	}
	for _, line := range lines {
		fmt.Fprintln(log, line)
	}
	return out, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// selected returns the image and file names to update.
func (l *Lockfile) selected(names []string) (images, files []string, err error) {
	if len(names) == 0 {
		return sortedKeys(l.Images), sortedKeys(l.Files), nil
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		switch {
		case l.Images[n] != nil:
			images = append(images, n)
		case l.Files[n] != nil:
			files = append(files, n)
		default:
			all := append(sortedKeys(l.Images), sortedKeys(l.Files)...)
			sort.Strings(all)
			return nil, nil, fmt.Errorf("no entry named %q in the lockfile%s (have: %s; to pin a new source: repro lock add NAME REF, or repro lock add-file NAME URL)", n, didYouMean(n, all), strings.Join(all, ", "))
		}
	}
	sort.Strings(images)
	sort.Strings(files)
	return images, files, nil
}

// evalSelected evaluates x on the selected sources; each must be allowed
// and end at the pin the two functions give.
func (l *Lockfile) evalSelected(x *pinned, images, files []string, imageDigest, fileSHA func(string) string) error {
	var ps []Problem
	for _, name := range images {
		id, _ := ImageIdentifier(l.Images[name].Image)
		if msg := evalImage(x, id, imageDigest(name)); msg != "" {
			ps = append(ps, Problem{Path: entryPath("images", name), Message: msg})
		}
	}
	for _, name := range files {
		if msg := evalFile(x, l.Files[name].URL, fileSHA(name)); msg != "" {
			ps = append(ps, Problem{Path: entryPath("files", name), Message: msg})
		}
	}
	if len(ps) > 0 {
		return fmt.Errorf("the lockfile's policy rejects %w", &ProblemsError{Problems: ps})
	}
	return nil
}

// checkResolved checks a resolver's answer before it goes into the file.
func checkResolved(res *Resolved, keys []string, byDigest bool, digest string) error {
	if res == nil || !ValidDigest(res.Digest) {
		return fmt.Errorf("resolver returned no valid digest")
	}
	if byDigest && res.Digest != digest {
		return fmt.Errorf("resolving by digest %s returned %s", digest, res.Digest)
	}
	if !knownType[res.MediaType] {
		return fmt.Errorf("unsupported media type %q", res.MediaType)
	}
	if len(res.Platforms) == 0 {
		return fmt.Errorf("no platforms resolved")
	}
	if len(keys) > 0 && len(res.Platforms) != len(keys) {
		return fmt.Errorf("resolved %d platforms, want %d", len(res.Platforms), len(keys))
	}
	for _, k := range keys {
		if _, ok := res.Platforms[k]; !ok {
			return fmt.Errorf("platform %s was not resolved", k)
		}
	}
	for k, p := range res.Platforms {
		if _, err := oci.ParsePlatform(k); err != nil {
			return err
		}
		if !ValidDigest(p.Digest) || !ValidDigest(p.Config) {
			return fmt.Errorf("platform %s: invalid digests %q, %q", k, p.Digest, p.Config)
		}
	}
	if oci.IsManifest(res.MediaType) && (len(res.Platforms) != 1 || res.Platforms[sortedKeys(res.Platforms)[0]].Digest != res.Digest) {
		return fmt.Errorf("a single manifest must resolve to exactly itself")
	}
	return nil
}

// describeImageChange reports what an update does to one image: a first
// pin, a move (old → new, for the index and each platform that changed),
// corrected or completed pins, or nothing.
func describeImageChange(path, id string, old *Image, res *Resolved) []string {
	kind := "index"
	if oci.IsManifest(res.MediaType) {
		kind = "single manifest"
	}
	n := len(res.Platforms)
	plural := "s"
	if n == 1 {
		plural = ""
	}
	if old.Digest == "" {
		return []string{fmt.Sprintf("%s: %s pinned to %s (%s, %d platform%s)", path, id, res.Digest, kind, n, plural)}
	}
	var platformLines []string
	for _, k := range sortedKeys(res.Platforms) {
		was := "(not pinned)"
		if p := old.Platforms[k]; p != nil && p.Digest != "" {
			was = p.Digest
		}
		now := res.Platforms[k]
		if p := old.Platforms[k]; p == nil || *p != now {
			platformLines = append(platformLines, fmt.Sprintf("    %s: %s → %s", k, was, now.Digest))
		}
	}
	if old.Digest != res.Digest {
		return append([]string{fmt.Sprintf("%s: %s moved: %s → %s", path, id, old.Digest, res.Digest)}, platformLines...)
	}
	if len(platformLines) > 0 || old.MediaType != res.MediaType || old.Identifier != id || len(old.Platforms) != n {
		return append([]string{fmt.Sprintf("%s: %s at %s: pins completed or corrected (%d platform%s)", path, id, res.Digest, n, plural)}, platformLines...)
	}
	return []string{fmt.Sprintf("%s: %s unchanged at %s", path, id, res.Digest)}
}

// AddImage adds (or with replace, replaces) an image entry requesting the
// given platforms; it does not resolve anything. No platforms means every
// platform the tag offers, decided at the first update.
func (l *Lockfile) AddImage(name, ref string, platforms []string, replace bool) error {
	if !ValidName(name) {
		return fmt.Errorf("invalid name %q: want a Bazel repository name, a letter followed by letters, digits and underscores", name)
	}
	id, err := ImageIdentifier(ref)
	if err != nil {
		return err
	}
	if err := l.nameFree(name, replace, true); err != nil {
		return err
	}
	for other, img := range l.Images {
		if oid, _ := ImageIdentifier(img.Image); oid == id && other != name {
			return fmt.Errorf("%s is already pinned as images.%s", id, other)
		}
	}
	img := &Image{Image: ref, Identifier: id, Platforms: map[string]*Platform{}}
	for _, p := range platforms {
		if _, err := oci.ParsePlatform(p); err != nil {
			return err
		}
		img.Platforms[p] = &Platform{}
	}
	l.Images[name] = img
	return nil
}

// AddFile adds (or with replace, replaces) a file entry; sha256 may be ""
// for update to compute.
func (l *Lockfile) AddFile(name, u, sha string, replace bool) error {
	if !ValidName(name) {
		return fmt.Errorf("invalid name %q: want a Bazel repository name, a letter followed by letters, digits and underscores", name)
	}
	if err := CheckURL(u); err != nil {
		return err
	}
	if sha != "" && !sha256RE.MatchString(sha) {
		return fmt.Errorf("sha256 %q: want 64 lower-case hex digits", sha)
	}
	if err := l.nameFree(name, replace, false); err != nil {
		return err
	}
	for other, f := range l.Files {
		if f.URL == u && other != name {
			return fmt.Errorf("%s is already pinned as files.%s", u, other)
		}
	}
	l.Files[name] = &File{URL: u, SHA256: sha}
	return nil
}

func (l *Lockfile) nameFree(name string, replace, image bool) error {
	_, isImage := l.Images[name]
	_, isFile := l.Files[name]
	switch {
	case isImage && !image, isFile && image:
		kind := "files"
		if isImage {
			kind = "images"
		}
		return fmt.Errorf("%s.%s already exists; names are shared by images and files", kind, name)
	case (isImage || isFile) && !replace:
		kind := "files"
		if isImage {
			kind = "images"
		}
		return fmt.Errorf("%s.%s already exists (use --replace to replace it)", kind, name)
	}
	return nil
}
