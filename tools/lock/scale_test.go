package lock

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/policy"
)

// bigLockfile returns a complete, canonical lockfile of n images and n/10
// files, with a short policy that allows them all.
func bigLockfile(t testing.TB, n int) []byte {
	t.Helper()
	l := New()
	hex := func(kind byte, i int) string {
		s := fmt.Sprintf("%x%08x", kind, i)
		return strings.Repeat("0", 64-len(s)) + s
	}
	for i := 0; i < n; i++ {
		ref := fmt.Sprintf("registry.example.com/team%d/app%d:1.%d", i%97, i, i%7)
		id, err := ImageIdentifier(ref)
		if err != nil {
			t.Fatal(err)
		}
		l.Images[fmt.Sprintf("img%07d", i)] = &Image{
			Image: ref, Identifier: id, Digest: "sha256:" + hex(1, i), MediaType: oci.MediaTypeImageIndex,
			Platforms: map[string]*Platform{"linux/amd64": {Digest: "sha256:" + hex(2, i), Config: "sha256:" + hex(3, i)}},
		}
	}
	for i := 0; i < n/10; i++ {
		l.Files[fmt.Sprintf("file%07d", i)] = &File{URL: fmt.Sprintf("https://files.example.com/f%d.tgz", i), SHA256: hex(4, i)}
	}
	l.Policy = []policy.Rule{
		{Action: policy.Deny, Selector: policy.Selector{Identifier: "docker-image://*", MatchType: policy.Wildcard}},
		{Action: policy.Allow, Selector: policy.Selector{Identifier: "docker-image://registry.example.com/*", MatchType: policy.Wildcard}},
	}
	data, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestCheckScalesLinearly checks a lockfile of 100,000 images. Check used to
// evaluate every pin rule on every image and to compare every name with
// every other (quadratic): 20,000 images took 17 s, so 100,000 would take
// about 7 minutes. The bound is generous (these machines are shared); a
// linear Check takes a few seconds.
func TestCheckScalesLinearly(t *testing.T) {
	if testing.Short() {
		t.Skip("large input")
	}
	const n = 100_000
	data := bigLockfile(t, n)
	done := make(chan *Report, 1)
	start := time.Now()
	go func() { done <- Check(data) }()
	select {
	case rep := <-done:
		if len(rep.Problems) != 0 || len(rep.Warnings) != 0 {
			t.Fatalf("Check of a complete lockfile: problems %v, warnings %v", rep.Problems, rep.Warnings)
		}
		t.Logf("Check of %d images (%d MB): %v", n, len(data)>>20, time.Since(start))
	case <-time.After(180 * time.Second):
		t.Fatalf("Check of %d images did not finish in 180 s", n)
	}
}
