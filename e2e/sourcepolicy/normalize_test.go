package sourcepolicy

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/rules-repro/rules_repro/tools/policy"
)

// llbImageIdentifier is what llb.Image (client/llb/source.go) makes of a
// reference: ParseNormalizedNamed, then TagNameOnly.
func llbImageIdentifier(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", err
	}
	return "docker-image://" + reference.TagNameOnly(named).String(), nil
}

// Reference parts: valid ones, and invalid or odd ones picked one time in 6.
var (
	refDomains = []string{"", "", "", "docker.io/", "index.docker.io/", "localhost/", "localhost:5000/", "ghcr.io/",
		"Registry.io/", "foo_bar.com/", "[::1]:5000/", "[fe80::1]/", "UPPER/", "a.b.c:1/", "xn--bcher-kva.example/",
		"127.0.0.1:5000/", "docker.io:443/", "Index.docker.io/", "user/"}
	badDomains = []string{"example.com:port/", "-bad.com/", "[::1/", "a.-b/", "localhost:/"}
	refPaths   = []string{"alpine", "library/alpine", "user/app", "a/b/c", "a__b", "a--b", "a---b", "a.b", "a_b", "0",
		strings.Repeat("a", 250), "library/" + strings.Repeat("b", 247), "library"}
	badPaths = []string{"Alpine", "a..b", "a___b", "-a", "a-", strings.Repeat("a", 256), "library/" + strings.Repeat("b", 248),
		"a//b", "äb", "a/", "/a", "a:b/c", "a@b", hex64, ""}
	refTags    = []string{"", "", ":latest", ":3.20", ":A_b.1", ":_", ":" + strings.Repeat("t", 128), ":0"}
	badTags    = []string{":", ":-x", ":.x", ":" + strings.Repeat("t", 129), ":a:b", ":ä"}
	refDigests = []string{"", "", "", "@sha256:" + hex64, "@sha512:" + hex64 + hex64, "@sha384:" + hex64 + hex64[:32]}
	badDigests = []string{"@sha256:" + hex64[:63], "@md5:" + hex64[:32], "@sha256:" + strings.ToUpper(hex64), "@sha256:abc",
		"@SHA256:" + hex64, "@sha256+b64:" + hex64, "@", "@sha256:" + hex64 + "0"}
)

func part(r *rand.Rand, good, bad []string) string {
	if r.IntN(6) == 0 {
		return pick(r, bad)
	}
	return pick(r, good)
}

func TestNormalizeMatchesLLBImage(t *testing.T) {
	r := rand.New(rand.NewPCG(seed, 4))
	refs := []string{"", hex64, "alpine", "docker-image://alpine", "sha256:" + hex64}
	for range 20000 {
		refs = append(refs, part(r, refDomains, badDomains)+part(r, refPaths, badPaths)+part(r, refTags, badTags)+part(r, refDigests, badDigests))
	}
	counts := map[string]int{}
	for _, ref := range refs {
		want, wantErr := llbImageIdentifier(ref)
		got, err := policy.NormalizeImageIdentifier("docker-image://" + ref)
		switch {
		case (err == nil) != (wantErr == nil) || got != want:
			t.Errorf("%q: got %q, %v; ParseNormalizedNamed+TagNameOnly: %q, %v", ref, got, err, want, wantErr)
		case err == nil:
			counts["valid, same identifier"]++
		default:
			counts["invalid for both"]++
		}
	}
	report(t, counts)
}
