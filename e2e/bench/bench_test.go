package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestSplitmix64(t *testing.T) {
	// The reference sequence for seed 0.
	r := &splitmix64{}
	for i, want := range []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f} {
		if got := r.next(); got != want {
			t.Errorf("output %d = %#x, want %#x", i, got, want)
		}
	}
}

// TestCorpusDeterministic pins the generator's output: cached corpora are
// reused by their stamp, so a change to the generator must bump
// corpusGenVersion (and this golden).
func TestCorpusDeterministic(t *testing.T) {
	specs := []corpusSpec{
		{name: "text", top: "src", kind: "text", bytes: 200_000, files: 41, seed: 1},
		{name: "binary", top: "blobs", kind: "binary", bytes: 100_000, files: 12, seed: 2},
		{name: "tiny", top: "node_modules", kind: "tiny", files: 150, seed: 3},
		{name: "mixed", top: "data", kind: "mixed", bytes: 100_000, files: 5, seed: 4},
	}
	golden := map[string]string{
		"text":   "5aac4b0b2c3d1997435b9ba649c7d6ea562259bd609ed5a9f30d2a365584bd7c",
		"binary": "cae4a8f05496a09a08de43557f832269a67a95edbcd621adff3907817fcd22f0",
		"tiny":   "e91e2d706ea387f9dba5caf706884946e64f94ac3994e4768702f9ec607bccfa",
		"mixed":  "d070d0fa98245977f2b9cfac6873d0c5b5a5471966c109d293e8a93bc74c6943",
	}
	for _, c := range specs {
		var digests []string
		for i := 0; i < 2; i++ {
			dir := t.TempDir()
			if err := generate(dir, c); err != nil {
				t.Fatal(err)
			}
			d, err := treeDigest(dir)
			if err != nil {
				t.Fatal(err)
			}
			digests = append(digests, d)
			got, err := scanCorpus(c, dir)
			if err != nil {
				t.Fatal(err)
			}
			if c.bytes > 0 && got.size != c.bytes {
				t.Errorf("%s: %d bytes, want %d", c.name, got.size, c.bytes)
			}
		}
		if digests[0] != digests[1] {
			t.Errorf("%s: two generations differ", c.name)
		}
		if want := golden[c.name]; digests[0] != want {
			t.Errorf("%s: digest %s, want %s (bump corpusGenVersion when the generator changes)", c.name, digests[0], want)
		}
	}
}

func TestTextCompressesLikeSource(t *testing.T) {
	g := newTextGen(&splitmix64{s: 1})
	text := g.fill(make([]byte, 1<<20))
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(text)
	w.Close()
	if r := float64(len(text)) / float64(b.Len()); r < 3 || r > 6 {
		t.Errorf("gzip ratio %.2f, want between 3 and 6 (like Go sources)", r)
	}
}

func TestMedian(t *testing.T) {
	s := func(w, c int, rss int64) sample {
		return sample{wall: time.Duration(w), cpu: time.Duration(c), rss: rss}
	}
	got := median([]sample{s(3, 1, 10), s(1, 5, 30), s(2, 3, 20)})
	if want := s(2, 3, 20); got != want {
		t.Errorf("median = %+v, want %+v", got, want)
	}
	if got, want := median([]sample{s(2, 2, 2), s(4, 4, 4)}), s(3, 3, 3); got != want {
		t.Errorf("median of two = %+v, want %+v", got, want)
	}
}

func TestRunPipeline(t *testing.T) {
	timePath, err := exec.LookPath("time")
	if err != nil {
		t.Skip("GNU time is not installed")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	out := filepath.Join(dir, "out")
	os.WriteFile(in, []byte("hello\n"), 0o644)
	e := &env{work: dir, tools: map[string]string{"time": timePath}}
	s, err := e.run(command{stages: []stage{{argv: []string{"cat"}}, {argv: []string{"tr", "a-z", "A-Z"}}}, stdin: in, stdout: out})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "HELLO\n" {
		t.Errorf("output %q", b)
	}
	// cat and tr are a few hundred KiB; this program is far larger, so a
	// value below 16 MiB shows the parent's RSS did not leak in.
	if s.rss <= 0 || s.rss > 16<<20 || s.wall <= 0 {
		t.Errorf("sample %+v", s)
	}
	if _, err := e.run(command{stages: []stage{{argv: []string{"false"}}}}); err == nil {
		t.Error("a failing command did not fail")
	}
}

func TestReadLayer(t *testing.T) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, name := range []string{"a/", "a/b", "c"} {
		h := &tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg}
		if name == "a/" {
			h.Typeflag = tar.TypeDir
		}
		tw.WriteHeader(h)
	}
	tw.Close()
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(tb.Bytes())
	w.Close()
	for _, c := range []struct {
		comp string
		data []byte
	}{{"none", tb.Bytes()}, {"gzip", gz.Bytes()}} {
		st, err := readLayer(bytes.NewReader(c.data), c.comp)
		if err != nil {
			t.Fatal(err)
		}
		if st.entries != 3 || st.size != int64(tb.Len()) {
			t.Errorf("%s: %+v", c.comp, st)
		}
	}
	if _, err := readLayer(bytes.NewReader(tb.Bytes()), "gzip"); err == nil {
		t.Error("a plain tar passed as gzip")
	}
}
