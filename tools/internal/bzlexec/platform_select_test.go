package bzlexec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"go.starlark.net/starlark"

	"github.com/rules-repro/rules_repro/tools/oci"
)

// TestPlatformSelectBzlAgrees runs rules/private/platform_select.bzl (what
// pinned bases use to pick the image for the target platform) on the cases
// that tools/oci's TestPickPlatform checks oci.PickPlatform against, and on
// every pair of want and have from those cases, comparing with
// oci.PickPlatform itself: the Starlark copy of the rule cannot drift.
func TestPlatformSelectBzlAgrees(t *testing.T) {
	w := newWorld(t)
	fn := w.global("rules/private/platform_select.bzl", "select_platform")
	data, err := os.ReadFile(filepath.Join(repoRoot, "tools/oci/testdata/platform_select.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []struct {
			Want   string
			Have   []string
			Chosen int
		}
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	starlarkChoice := func(want string, have []string) int {
		t.Helper()
		var list []starlark.Value
		for _, h := range have {
			list = append(list, starlark.String(h))
		}
		v, err := w.call(fn, starlark.Tuple{starlark.String(want), starlark.NewList(list)})
		if err != nil {
			t.Fatalf("select_platform(%q, %q): %s", want, have, describe(err))
		}
		tup := v.(starlark.Tuple)
		i, _ := starlark.AsInt32(tup[0])
		if i < 0 && tup[1].(*starlark.List).Len() > 0 {
			return -2
		}
		return i
	}
	goChoice := func(want string, have []string) int {
		t.Helper()
		wp, err := oci.ParsePlatform(want)
		if err != nil {
			t.Fatal(err)
		}
		var hp []*specs.Platform
		for _, h := range have {
			p, err := oci.ParsePlatform(h)
			if err != nil {
				t.Fatal(err)
			}
			hp = append(hp, p)
		}
		i, err := oci.PickPlatform(wp, hp, have)
		if perr, ok := err.(*oci.PlatformError); ok {
			if len(perr.Matches) > 0 {
				return -2
			}
			return -1
		}
		return i
	}
	var wants []string
	var haves [][]string
	for _, c := range f.Cases {
		if got := starlarkChoice(c.Want, c.Have); got != c.Chosen {
			t.Errorf("select_platform(%q, %q) = %d, want %d", c.Want, c.Have, got, c.Chosen)
		}
		wants = append(wants, c.Want)
		haves = append(haves, c.Have)
	}
	for _, want := range wants {
		for _, have := range haves {
			if s, g := starlarkChoice(want, have), goChoice(want, have); s != g {
				t.Errorf("%q in %q: Starlark chooses %d, Go %d", want, have, s, g)
			}
		}
	}
}
