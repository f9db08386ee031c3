package lock

import (
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/rules-repro/rules_repro/tools/policy"
)

// ChecksumAttr is the BuildKit source attribute that pins an HTTP source.
const ChecksumAttr = "http.checksum"

// imagePinRule is the CONVERT rule that pins image identifier id (a
// normalized tag identifier) to digest.
func imagePinRule(id, digest string) policy.Rule {
	return policy.Rule{
		Action:   policy.Convert,
		Selector: policy.Selector{Identifier: id, MatchType: policy.Exact},
		Updates:  &policy.Update{Identifier: id + "@" + digest},
	}
}

// filePinRule is the CONVERT rule that pins an HTTP source to its sha256.
func filePinRule(u, sha string) policy.Rule {
	return policy.Rule{
		Action:   policy.Convert,
		Selector: policy.Selector{Identifier: u, MatchType: policy.Exact},
		Updates:  &policy.Update{Attrs: map[string]string{ChecksumAttr: "sha256:" + sha}},
	}
}

// imagePin reports whether r has exactly the shape of imagePinRule, and
// returns its identifier and digest.
func imagePin(r policy.Rule) (id, digest string, ok bool) {
	if r.Action != policy.Convert || r.Selector.MatchType != policy.Exact || len(r.Selector.Constraints) > 0 ||
		r.Updates == nil || r.Updates.Attrs != nil {
		return "", "", false
	}
	id = r.Selector.Identifier
	if norm, err := ImageIdentifier(id); err != nil || norm != id {
		return "", "", false
	}
	digest, found := strings.CutPrefix(r.Updates.Identifier, id+"@")
	if !found || !ValidDigest(digest) {
		return "", "", false
	}
	return id, digest, true
}

// filePin reports whether r has exactly the shape of filePinRule, and
// returns its URL and sha256 (hex).
func filePin(r policy.Rule) (u, sha string, ok bool) {
	if r.Action != policy.Convert || r.Selector.MatchType != policy.Exact || len(r.Selector.Constraints) > 0 ||
		r.Updates == nil || r.Updates.Identifier != "" || len(r.Updates.Attrs) != 1 {
		return "", "", false
	}
	u = r.Selector.Identifier
	if CheckURL(u) != nil {
		return "", "", false
	}
	sha, found := strings.CutPrefix(r.Updates.Attrs[ChecksumAttr], "sha256:")
	if !found || !sha256RE.MatchString(sha) {
		return "", "", false
	}
	return u, sha, true
}

// ExportPolicy returns the lockfile as a BuildKit source policy (see the
// package documentation). Every image needs its digest and every file its
// sha256; the error lists the entries that lack them.
func (l *Lockfile) ExportPolicy() (*policy.Policy, error) {
	var missing []Problem
	for _, name := range sortedKeys(l.Images) {
		if l.Images[name].Digest == "" {
			missing = append(missing, Problem{entryPath("images", name), "no digest; run repro lock update"})
		}
	}
	for _, name := range sortedKeys(l.Files) {
		if l.Files[name].SHA256 == "" {
			missing = append(missing, Problem{entryPath("files", name), "no sha256; run repro lock update"})
		}
	}
	if len(missing) > 0 {
		return nil, &ProblemsError{Problems: missing}
	}
	p, _ := l.policyWith(func(name string) string { return l.Images[name].Digest },
		func(name string) string { return l.Files[name].SHA256 })
	return p, nil
}

// policyWith builds pins + policy with the digests and checksums given by
// the two functions (an entry whose pin is "" gets none), and returns the
// number of pins.
func (l *Lockfile) policyWith(imageDigest, fileSHA func(name string) string) (*policy.Policy, int) {
	var rules []policy.Rule
	ids := make(map[string]string, len(l.Images)) // name -> identifier, "" when invalid
	for name, img := range l.Images {
		ids[name], _ = ImageIdentifier(img.Image)
	}
	for _, name := range sortedNames(ids, func(id string) string { return id }) {
		if d := imageDigest(name); ids[name] != "" && d != "" {
			rules = append(rules, imagePinRule(ids[name], d))
		}
	}
	for _, name := range sortedNames(l.Files, func(f *File) string { return f.URL }) {
		if sha := fileSHA(name); sha != "" {
			rules = append(rules, filePinRule(l.Files[name].URL, sha))
		}
	}
	pins := len(rules)
	return &policy.Policy{Rules: append(rules, cloneRules(l.Policy)...)}, pins
}

// Export returns ExportPolicy's JSON: what `buildctl build
// --source-policy-file` reads, with a trailing newline.
func (l *Lockfile) Export() ([]byte, error) {
	p, err := l.ExportPolicy()
	if err != nil {
		return nil, err
	}
	data, err := p.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// ImportReport says what Import did.
type ImportReport struct {
	// Images and Files are the names of the entries created or kept, in
	// rule order.
	Images, Files []string
	// Repinned names entries of the previous lockfile whose digest or
	// sha256 changed.
	Repinned []string
	// Dropped names entries of the previous lockfile that the policy does
	// not pin.
	Dropped []string
	// Rules is the number of rules that went to "policy".
	Rules int
}

// Import turns a source policy into a lockfile (see the package
// documentation). prev, when not nil, is the lockfile being replaced: its
// names, image references and still-valid platform pins are kept.
func Import(p *policy.Policy, prev *Lockfile) (*Lockfile, *ImportReport, error) {
	if prev == nil {
		prev = New()
	}
	l := New()
	rep := &ImportReport{}
	used := map[string]bool{}
	prevImage := map[string]string{} // identifier -> name
	for _, name := range sortedKeys(prev.Images) {
		if id, err := ImageIdentifier(prev.Images[name].Image); err == nil {
			prevImage[id] = name
		}
	}
	prevFile := map[string]string{} // URL -> name
	for _, name := range sortedKeys(prev.Files) {
		prevFile[prev.Files[name].URL] = name
	}

	// The leading run of pins with distinct sources.
	type pin struct {
		image        bool
		source, spin string
	}
	var pins []pin
	seen := map[string]bool{}
	n := 0
	for ; n < len(p.Rules); n++ {
		r := p.Rules[n]
		if id, d, ok := imagePin(r); ok && !seen[id] {
			pins = append(pins, pin{true, id, d})
			seen[id] = true
			continue
		}
		if u, sha, ok := filePin(r); ok && !seen[u] {
			pins = append(pins, pin{false, u, sha})
			seen[u] = true
			continue
		}
		break
	}
	l.Policy = cloneRules(p.Rules[n:])
	rep.Rules = len(l.Policy)

	// Names of the previous lockfile first, so that a new entry never takes
	// the name of an old one that is still there.
	for _, pn := range pins {
		owner := prevFile[pn.source]
		if pn.image {
			owner = prevImage[pn.source]
		}
		if owner != "" {
			used[owner] = true
		}
	}
	for _, pn := range pins {
		if pn.image {
			name := prevImage[pn.source]
			img := &Image{Image: strings.TrimPrefix(pn.source, policy.ImageScheme), Identifier: pn.source, Digest: pn.spin, Platforms: map[string]*Platform{}}
			if name != "" {
				old := prev.Images[name]
				img.Image = old.Image
				for k, pp := range old.Platforms {
					cp := *pp
					if old.Digest != pn.spin {
						cp = Platform{}
					}
					img.Platforms[k] = &cp
				}
				if old.Digest == pn.spin {
					img.MediaType = old.MediaType
				} else {
					rep.Repinned = append(rep.Repinned, entryPath("images", name))
				}
			} else {
				name = uniqueName(imageBaseName(pn.source), used)
			}
			l.Images[name] = img
			rep.Images = append(rep.Images, name)
			continue
		}
		name := prevFile[pn.source]
		if name != "" {
			if prev.Files[name].SHA256 != pn.spin {
				rep.Repinned = append(rep.Repinned, entryPath("files", name))
			}
		} else {
			name = uniqueName(fileBaseName(pn.source), used)
		}
		l.Files[name] = &File{URL: pn.source, SHA256: pn.spin}
		rep.Files = append(rep.Files, name)
	}
	for _, name := range sortedKeys(prev.Images) {
		if _, ok := l.Images[name]; !ok {
			rep.Dropped = append(rep.Dropped, entryPath("images", name))
		}
	}
	for _, name := range sortedKeys(prev.Files) {
		if _, ok := l.Files[name]; !ok {
			rep.Dropped = append(rep.Dropped, entryPath("files", name))
		}
	}
	if ps := l.formatProblems(); len(ps) > 0 {
		return nil, nil, fmt.Errorf("the imported lockfile would be invalid: %w", &ProblemsError{Problems: ps})
	}
	return l, rep, nil
}

// imageBaseName is the last path element of an identifier's repository.
func imageBaseName(id string) string {
	ref := strings.TrimPrefix(id, policy.ImageScheme)
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return sanitizeName(path.Base(ref), "image")
}

// fileBaseName is a URL's file name without extensions.
func fileBaseName(u string) string {
	base := "file"
	if parsed, err := url.Parse(u); err == nil {
		if b := path.Base(parsed.Path); b != "/" && b != "." {
			base = b
		} else if parsed.Hostname() != "" {
			base = parsed.Hostname()
		}
	}
	if i := strings.IndexByte(base, '.'); i > 0 && !strings.Contains(u, "://"+base) {
		base = base[:i]
	}
	return sanitizeName(base, "file")
}

// sanitizeName turns s into a valid entry name.
func sanitizeName(s, fallback string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.Trim(b.String(), "_")
	if name == "" {
		return fallback
	}
	if c := name[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		name = fallback + "_" + name
	}
	return name
}

// uniqueName returns base, or base_2, base_3, ..., the first one not used,
// and marks it used.
func uniqueName(base string, used map[string]bool) string {
	name := base
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	used[name] = true
	return name
}
