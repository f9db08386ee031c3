package oci

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// The one rule for choosing an image by platform, used wherever an index or
// a layout is narrowed to one image (registry resolve, repro layout/load,
// layouts read as bases) and mirrored by rules/private/platform_select.bzl
// for pinned bases (TestPlatformSelectBzlAgrees checks they agree):
//
//  1. an image matches when PlatformMatches(want, its platform): same os and
//     architecture, and want's variant (if any) equal to the image's, where
//     arm64 without a variant counts as arm64/v8;
//  2. if exactly one matches, it is chosen;
//  3. if several match, the one whose platform string equals want's
//     exactly is chosen; otherwise the choice is ambiguous (an error naming
//     the candidates).
//
// Entries without a platform or that are not image manifests (attestations,
// nested indexes) are never chosen by SelectPlatform.

// PlatformError says why no image was chosen for Want.
type PlatformError struct {
	// Want is the platform asked for.
	Want string
	// Have lists every platform there is (including entries that are
	// never chosen, such as attestations' unknown/unknown).
	Have []string
	// Matches lists the platforms that matched when the choice was
	// ambiguous; empty when nothing matched.
	Matches []string
}

func (e *PlatformError) Error() string {
	if len(e.Matches) == 0 {
		return fmt.Sprintf("no image for platform %s (the index has: %s)", e.Want, e.HaveList())
	}
	return fmt.Sprintf("platform %s is ambiguous: %d images match (%s); ask for one with its variant", e.Want, len(e.Matches), strings.Join(e.Matches, ", "))
}

// HaveList is Have joined with ", ", or "none".
func (e *PlatformError) HaveList() string {
	if len(e.Have) == 0 {
		return "none"
	}
	return strings.Join(e.Have, ", ")
}

// PickPlatform applies the rule to the platforms of candidates (nil where a
// candidate can never be chosen) and returns the chosen index, or a
// *PlatformError. seen lists, for the error, every platform there is.
func PickPlatform(want *specs.Platform, candidates []*specs.Platform, seen []string) (int, error) {
	var matches []int
	for i, p := range candidates {
		if p != nil && PlatformMatches(want, p) {
			matches = append(matches, i)
		}
	}
	ws := PlatformString(want)
	switch len(matches) {
	case 0:
		return -1, &PlatformError{Want: ws, Have: seen}
	case 1:
		return matches[0], nil
	}
	exact, nexact := -1, 0
	var names []string
	for _, i := range matches {
		names = append(names, PlatformString(candidates[i]))
		if PlatformString(candidates[i]) == ws {
			exact, nexact = i, nexact+1
		}
	}
	if nexact == 1 {
		return exact, nil
	}
	return -1, &PlatformError{Want: ws, Have: seen, Matches: names}
}

// SelectPlatform chooses the image manifest for want among the entries of
// an index, or returns a *PlatformError.
func SelectPlatform(manifests []specs.Descriptor, want *specs.Platform) (specs.Descriptor, error) {
	candidates := make([]*specs.Platform, len(manifests))
	var seen []string
	for i, d := range manifests {
		if d.Platform == nil {
			continue
		}
		seen = append(seen, PlatformString(d.Platform))
		if IsManifest(d.MediaType) {
			candidates[i] = d.Platform
		}
	}
	i, err := PickPlatform(want, candidates, seen)
	if err != nil {
		return specs.Descriptor{}, err
	}
	return manifests[i], nil
}
