package oci

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

type platformCase struct {
	Want   string   `json:"want"`
	Have   []string `json:"have"`
	Chosen int      `json:"chosen"`
}

func loadPlatformCases(t *testing.T) []platformCase {
	t.Helper()
	data, err := os.ReadFile("testdata/platform_select.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Cases []platformCase }
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("no cases")
	}
	return f.Cases
}

func TestPickPlatform(t *testing.T) {
	for _, c := range loadPlatformCases(t) {
		want, err := ParsePlatform(c.Want)
		if err != nil {
			t.Fatal(err)
		}
		var have []*specs.Platform
		for _, h := range c.Have {
			p, err := ParsePlatform(h)
			if err != nil {
				t.Fatal(err)
			}
			have = append(have, p)
		}
		got, err := PickPlatform(want, have, c.Have)
		var perr *PlatformError
		switch {
		case err == nil:
		case !errors.As(err, &perr):
			t.Fatalf("%v in %v: error %v is not a *PlatformError", c.Want, c.Have, err)
		case len(perr.Matches) == 0:
			got = -1
		default:
			got = -2
		}
		if got != c.Chosen {
			t.Errorf("%s in %v: got %d (%v), want %d", c.Want, c.Have, got, err, c.Chosen)
		}
	}
}

func TestSelectPlatformSkipsNonImages(t *testing.T) {
	amd := &specs.Platform{OS: "linux", Architecture: "amd64"}
	unknown := &specs.Platform{OS: "unknown", Architecture: "unknown"}
	ms := []specs.Descriptor{
		{MediaType: MediaTypeImageIndex, Platform: amd},
		{MediaType: MediaTypeImageManifest, Platform: unknown},
		{MediaType: MediaTypeImageManifest},
		{MediaType: MediaTypeImageManifest, Platform: amd, Digest: "sha256:aa"},
	}
	d, err := SelectPlatform(ms, amd)
	if err != nil || d.Digest != "sha256:aa" {
		t.Fatalf("got %v, %v", d, err)
	}
	_, err = SelectPlatform(ms, &specs.Platform{OS: "linux", Architecture: "s390x"})
	if err == nil || err.Error() != "no image for platform linux/s390x (the index has: linux/amd64, unknown/unknown, linux/amd64)" {
		t.Fatalf("got %v", err)
	}
}
