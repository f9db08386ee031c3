package layer

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rules-repro/rules_repro/tools/blob"
)

// TestProfileBuild builds the layer of the directory REPRO_PROFILE_DIR
// (skipped without it) with REPRO_PROFILE_COMP (gzip, zstd or none),
// REPRO_PROFILE_RUNS times, so that the layer writer can be profiled:
//
//	REPRO_PROFILE_DIR=/tmp/rules_repro_bench/corpus/full/tiny REPRO_PROFILE_COMP=zstd \
//	  go test ./tools/layer -run TestProfileBuild -count 1 -cpuprofile cpu.out
//
// (e2e/bench/README.md, "Profiling").
func TestProfileBuild(t *testing.T) {
	dir := os.Getenv("REPRO_PROFILE_DIR")
	if dir == "" {
		t.Skip("REPRO_PROFILE_DIR not set")
	}
	comp := blob.Compression(os.Getenv("REPRO_PROFILE_COMP"))
	if comp == "" {
		comp = blob.Gzip
	}
	runs := 1
	if s := os.Getenv("REPRO_PROFILE_RUNS"); s != "" {
		var err error
		if runs, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "layer")
	for i := 0; i < runs; i++ {
		tree := NewTree(Options{})
		if err := tree.SetStreamDir(dir); err != nil {
			t.Fatal(err)
		}
		d, err := Build(tree, out, "", BuildOptions{Encoding: blob.Encoding{Compression: comp}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s, %d bytes, %d entries", comp, d.Digest, d.Size, d.Entries)
	}
}
