package policy

import (
	_ "crypto/sha256" // digests in references: sha256
	_ "crypto/sha512" // and sha384, sha512, as BuildKit accepts them
	"fmt"
	"regexp"
	"strings"

	digest "github.com/opencontainers/go-digest"
)

// ImageScheme is the scheme of image source identifiers.
const ImageScheme = "docker-image://"

// The reference grammar of github.com/distribution/reference, which BuildKit
// uses to normalize image names (llb.Image).
const (
	refAlnum      = `[a-z0-9]+`
	refSeparator  = `(?:[._]|__|[-]+)`
	refPathComp   = refAlnum + `(?:` + refSeparator + refAlnum + `)*`
	refRemoteName = refPathComp + `(?:/` + refPathComp + `)*`
	refDomainComp = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	refDomainName = refDomainComp + `(?:\.` + refDomainComp + `)*`
	refIPv6       = `\[(?:[a-fA-F0-9:]+)\]`
	refDomainPort = `(?:` + refDomainName + `|` + refIPv6 + `)(?::[0-9]+)?`
	refTag        = `[\w][\w.-]{0,127}`
	refDigest     = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}`
	refName       = `(?:` + refDomainPort + `/)?` + refRemoteName

	// maxRepoPath is the longest repository path (the name without its
	// domain) a reference may have.
	maxRepoPath = 255

	// defaultTag is added to a reference with neither tag nor digest.
	defaultTag = ":latest"
)

var (
	referenceRE = regexp.MustCompile(`^(` + refName + `)(?::(` + refTag + `))?(?:@(` + refDigest + `))?$`)
	nameRE      = regexp.MustCompile(`^(?:(` + refDomainPort + `)/)?(` + refRemoteName + `)$`)
	hexIDRE     = regexp.MustCompile(`^[a-f0-9]{64}$`)
	schemeRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)
)

// NormalizeImageIdentifier returns the canonical form of an image source
// identifier, the one BuildKit evaluates policies against: the reference is
// normalized as by distribution's ParseNormalizedNamed and TagNameOnly
// (Docker Hub domain and "library/" added, ":latest" added when there is
// neither tag nor digest; a tag and a digest are both kept), and prefixed
// with "docker-image://".
//
//	alpine                                 → docker-image://docker.io/library/alpine:latest
//	docker-image://ghcr.io/a/b@sha256:…    → docker-image://ghcr.io/a/b@sha256:…
//	index.docker.io/user/app:1.0@sha256:…  → docker-image://docker.io/user/app:1.0@sha256:…
//
// id may carry the docker-image:// scheme or none; identifiers with another
// scheme (https://, git://, ...) are returned unchanged. An invalid reference
// is an error (BuildKit would leave it as it is and fail later, when
// resolving it).
func NormalizeImageIdentifier(id string) (string, error) {
	ref, ok := strings.CutPrefix(id, ImageScheme)
	if !ok && schemeRE.MatchString(id) {
		return id, nil
	}
	norm, err := normalizeReference(ref)
	if err != nil {
		return "", fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	return ImageScheme + norm, nil
}

func normalizeReference(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty reference")
	}
	if hexIDRE.MatchString(s) {
		return "", fmt.Errorf("a 64-character hexadecimal string is an image ID, not a repository name")
	}
	domain, rest := splitDomain(s)
	repo := rest
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		repo = rest[:i]
	}
	if strings.ToLower(repo) != repo {
		return "", fmt.Errorf("repository name %q must be lowercase", repo)
	}
	full := domain + "/" + rest
	m := referenceRE.FindStringSubmatch(full)
	if m == nil {
		if referenceRE.MatchString(strings.ToLower(full)) {
			return "", fmt.Errorf("repository name must be lowercase")
		}
		return "", fmt.Errorf("invalid reference format (want [DOMAIN/]PATH[:TAG][@DIGEST])")
	}
	name, tag, dgst := m[1], m[2], m[3]
	if nm := nameRE.FindStringSubmatch(name); nm != nil && len(nm[2]) > maxRepoPath {
		return "", fmt.Errorf("repository name %q is longer than %d characters", nm[2], maxRepoPath)
	}
	if dgst != "" {
		if _, err := digest.Parse(dgst); err != nil {
			return "", fmt.Errorf("digest %q: %w", dgst, err)
		}
	}
	out := name
	if tag != "" {
		out += ":" + tag
	}
	if dgst != "" {
		out += "@" + dgst
	}
	if tag == "" && dgst == "" {
		out += defaultTag
	}
	return out, nil
}

// splitDomain splits a familiar name into registry domain and the rest, the
// way the Docker CLI and BuildKit do: the first path element is a domain
// when it contains "." or ":", is "localhost", or has upper-case letters;
// otherwise the domain is docker.io. Official Docker Hub images get
// "library/".
func splitDomain(name string) (domain, rest string) {
	first, after, ok := strings.Cut(name, "/")
	switch {
	case !ok:
		return "docker.io", "library/" + name
	case first == "localhost":
		domain, rest = first, after
	case first == "index.docker.io":
		domain, rest = "docker.io", after
	case strings.ContainsAny(first, ".:"), strings.ToLower(first) != first:
		domain, rest = first, after
	default:
		domain, rest = "docker.io", name
	}
	if domain == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	return domain, rest
}
