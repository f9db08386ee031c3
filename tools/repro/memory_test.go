package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// peakRSS runs the binary and returns its peak resident set size in MB.
func peakRSS(t *testing.T, args ...string) float64 {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("repro %v: %v\n%s", args, err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return float64(ru.Maxrss) / 1024 // Linux reports KB
}

// TestMemoryFlatForLargeLayers checks the streaming bar: a 2 GB layer is
// built in one pass with bounded memory (at most about 100 MB of RSS), and
// memory does not grow with the layer. The input is a sparse file so that
// the test needs no 2 GB of disk for its input.
func TestMemoryFlatForLargeLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 2 GB layer")
	}
	dir := t.TempDir()
	mk := func(name string, size int64) string {
		d := filepath.Join(dir, name)
		os.MkdirAll(d, 0o755)
		f, err := os.Create(filepath.Join(d, "data.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return d
	}
	small, large := mk("small", 200<<20), mk("large", 2<<30)
	rss := map[string]float64{}
	for _, c := range []struct{ name, dir, compression string }{
		{"zstd-200MB", small, "zstd"}, {"zstd-2GB", large, "zstd"}, {"gzip-200MB", small, "gzip"},
	} {
		out := filepath.Join(dir, c.name+".blob")
		rss[c.name] = peakRSS(t, "layer", "--dir", c.dir, "--output", out, "--descriptor", out+".json", "--compression", c.compression)
		os.Remove(out)
		t.Logf("%s: peak RSS %.1f MB", c.name, rss[c.name])
	}
	if rss["zstd-2GB"] > 100 {
		t.Errorf("2 GB layer needed %.1f MB of RSS, more than 100 MB", rss["zstd-2GB"])
	}
	if growth := rss["zstd-2GB"] - rss["zstd-200MB"]; growth > 20 {
		t.Errorf("RSS grew by %.1f MB from a 200 MB to a 2 GB layer; memory should stay flat", growth)
	}
	if rss["gzip-200MB"] > 100 {
		t.Errorf("gzip layer needed %.1f MB", rss["gzip-200MB"])
	}
}
