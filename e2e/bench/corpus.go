package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// splitmix64 is the PRNG of the corpora: tiny, fast, and the same sequence
// on every machine and Go version (math/rand's streams are not promised).
type splitmix64 struct{ s uint64 }

func (r *splitmix64) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a number in [0, n). The modulo bias is irrelevant here.
func (r *splitmix64) intn(n int) int { return int(r.next() % uint64(n)) }

// fill fills b with pseudo-random bytes: the stand-in for already
// compressed data (no compressor finds anything in it).
func (r *splitmix64) fill(b []byte) {
	for len(b) >= 8 {
		v := r.next()
		b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		b[4], b[5], b[6], b[7] = byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56)
		b = b[8:]
	}
	for i := range b {
		b[i] = byte(r.next())
	}
}

// corpusSpec describes one generated input tree. Every file lives below a
// single top directory (top), so that `tar -C root top` and `repro layer
// --dir root` archive exactly the same entries.
type corpusSpec struct {
	name  string
	title string // for the report
	top   string
	bytes int64 // total file bytes (approximately, for the tiny corpus)
	files int
	kind  string // "text", "binary", "tiny" or "mixed"
	seed  uint64
}

// corpusGenVersion changes whenever the generator's output changes, so
// that cached corpora from an older generator are regenerated.
const corpusGenVersion = "1"

func (c corpusSpec) stamp() string {
	return fmt.Sprintf("gen=%s name=%s kind=%s top=%s bytes=%d files=%d seed=%d\n",
		corpusGenVersion, c.name, c.kind, c.top, c.bytes, c.files, c.seed)
}

// corpus is a generated tree on disk.
type corpus struct {
	corpusSpec
	root    string // directory containing top
	entries int    // files and directories below root (what a layer holds)
	size    int64  // total bytes of regular files
}

// fixedMtime is the modification time of every generated file, so that
// tools that keep mtimes (bsdtar) produce the same bytes on every run.
var fixedMtime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// ensureCorpus generates c under dir unless an identical one (same stamp)
// is already there. It generates into a temporary directory and renames it,
// so an interrupted run never leaves a partial corpus behind a valid stamp.
func ensureCorpus(dir string, c corpusSpec, logf func(string, ...any)) (*corpus, error) {
	root := filepath.Join(dir, c.name)
	stampFile := root + ".stamp"
	if b, err := os.ReadFile(stampFile); err == nil && string(b) == c.stamp() {
		return scanCorpus(c, root)
	}
	os.Remove(stampFile)
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	tmp := root + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	start := time.Now()
	logf("generating corpus %s (%s)", c.name, c.title)
	if err := generate(tmp, c); err != nil {
		return nil, fmt.Errorf("generating corpus %s: %w", c.name, err)
	}
	if err := os.Rename(tmp, root); err != nil {
		return nil, err
	}
	if err := os.WriteFile(stampFile, []byte(c.stamp()), 0o644); err != nil {
		return nil, err
	}
	logf("generated corpus %s in %s", c.name, time.Since(start).Round(100*time.Millisecond))
	return scanCorpus(c, root)
}

// scanCorpus counts what is on disk (independently of the generator): the
// expected number of tar entries for every tool's output.
func scanCorpus(c corpusSpec, root string) (*corpus, error) {
	out := &corpus{corpusSpec: c, root: root}
	err := filepath.WalkDir(filepath.Join(root, c.top), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		out.entries++
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			out.size += fi.Size()
		}
		return nil
	})
	return out, err
}

// fileSizes splits total into n sizes between 1/4 and 7/4 of the mean
// (1/4 to 1 in steps for tiny files), summing exactly to total.
func fileSizes(r *splitmix64, n int, total int64) []int64 {
	w := make([]int64, n)
	var sum int64
	for i := range w {
		w[i] = 1 + int64(r.intn(1000))
		w[i] += 166 // 167..1166: max/min ≈ 7
		sum += w[i]
	}
	sizes := make([]int64, n)
	var got int64
	for i := range w {
		sizes[i] = total * w[i] / sum
		got += sizes[i]
	}
	sizes[n-1] += total - got
	return sizes
}

// generate writes the corpus c into root.
func generate(root string, c corpusSpec) error {
	r := &splitmix64{s: c.seed}
	top := filepath.Join(root, c.top)
	var dirs []string
	mkdir := func(d string) error {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		dirs = append(dirs, d)
		return nil
	}
	if err := mkdir(top); err != nil {
		return err
	}
	text := newTextGen(r)
	buf := make([]byte, 0, 1<<20)
	w := bufio.NewWriterSize(nil, 1<<20)
	write := func(path string, size int64, binary bool) error {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		w.Reset(f)
		left := size
		if !binary {
			text.header(w, filepath.Base(filepath.Dir(path)), &left)
		}
		for left > 0 {
			n := int64(cap(buf))
			if n > left {
				n = left
			}
			b := buf[:n]
			if binary {
				r.fill(b)
			} else {
				b = text.fill(b)
			}
			w.Write(b)
			left -= int64(len(b))
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		if err := f.Chmod(0o644); err != nil { // whatever the umask
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Chtimes(path, fixedMtime, fixedMtime)
	}
	switch c.kind {
	case "text":
		// Go-like sources: 20 files per package, 50 packages per module.
		sizes := fileSizes(r, c.files, c.bytes)
		for i, sz := range sizes {
			d := filepath.Join(top, fmt.Sprintf("m%02d", i/1000), fmt.Sprintf("p%03d", (i/20)%50))
			if i%20 == 0 {
				if err := mkdir(d); err != nil {
					return err
				}
			}
			if err := write(filepath.Join(d, fmt.Sprintf("%s_%02d.go", text.word(), i%20)), sz, false); err != nil {
				return err
			}
		}
	case "binary":
		// Already compressed data (archives, images, jars): 10 per directory.
		sizes := fileSizes(r, c.files, c.bytes)
		for i, sz := range sizes {
			d := filepath.Join(top, fmt.Sprintf("d%03d", i/10))
			if i%10 == 0 {
				if err := mkdir(d); err != nil {
					return err
				}
			}
			if err := write(filepath.Join(d, fmt.Sprintf("blob%04d.bin", i)), sz, true); err != nil {
				return err
			}
		}
	case "tiny":
		// Many small files (node_modules, site-packages): 100 per directory,
		// 0 to 1023 bytes of text each.
		for i := 0; i < c.files; i++ {
			d := filepath.Join(top, fmt.Sprintf("pkg%04d", i/100))
			if i%100 == 0 {
				if err := mkdir(d); err != nil {
					return err
				}
			}
			if err := write(filepath.Join(d, fmt.Sprintf("f%05d.js", i)), int64(r.intn(1024)), false); err != nil {
				return err
			}
		}
	case "mixed":
		// The large corpus: files of about 1 MB (so the file count stays
		// modest while the bytes grow), alternately text and binary.
		sizes := fileSizes(r, c.files, c.bytes)
		for i, sz := range sizes {
			d := filepath.Join(top, fmt.Sprintf("d%03d", i/20))
			if i%20 == 0 {
				if err := mkdir(d); err != nil {
					return err
				}
			}
			ext, bin := ".txt", i%2 == 1
			if bin {
				ext = ".bin"
			}
			if err := write(filepath.Join(d, fmt.Sprintf("f%05d%s", i, ext)), sz, bin); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown corpus kind %q", c.kind)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i], 0o755); err != nil {
			return err
		}
		if err := os.Chtimes(dirs[i], fixedMtime, fixedMtime); err != nil {
			return err
		}
	}
	return nil
}

// textGen produces Go-like source text: identifiers drawn from a skewed
// vocabulary, statements from a few templates, nesting with tabs. It
// compresses about like real sources (gzip -6 reaches 4-5x on it).
type textGen struct {
	r     *splitmix64
	vocab []string
	depth int
	line  []byte // the current line
	pos   int    // how much of line fill has returned
}

var syllables = strings.Fields("get set new read write buf err ctx node tree hash lay er cache key val map list item conf path file dir name size len pos off id ref tag dig blob spec meta mode uid gid time epoch str int byte chunk pool sync lock wait done open close flush sum sort walk link dev base tar zip zstd enc dec http url req resp")

var templates = []string{
	"func ($ *$) $($ $, $ $) ($, error) {",
	"if err := $.$($, $); err != nil {",
	"return nil, fmt.Errorf(\"$ $ %q: %w\", $, err)",
	"$ := $.$($, #)",
	"for _, $ := range $.$ {",
	"// $ $ $ $ $ $ $.",
	"}",
	"}",
	"$ = append($, ${$: $, $: #})",
	"if $ == nil || len($.$) == # {",
	"return $, nil",
	"$.$ += int64(#)",
	"switch $.$ {",
	"case $, $:",
	"",
}

func newTextGen(r *splitmix64) *textGen {
	g := &textGen{r: r}
	for i := 0; i < 4096; i++ {
		n := 1 + r.intn(3)
		var b strings.Builder
		for j := 0; j < n; j++ {
			s := syllables[r.intn(len(syllables))]
			if j > 0 {
				s = strings.ToUpper(s[:1]) + s[1:]
			}
			b.WriteString(s)
		}
		g.vocab = append(g.vocab, b.String())
	}
	return g
}

// word picks an identifier, small indexes far more often than large ones.
func (g *textGen) word() string {
	n := len(g.vocab)
	return g.vocab[g.r.intn(n)*g.r.intn(n)/n]
}

func (g *textGen) header(w *bufio.Writer, pkg string, left *int64) {
	h := fmt.Sprintf("// Package %s is generated benchmark input.\npackage %s\n\nimport (\n\t\"fmt\"\n\t\"io\"\n)\n\n", pkg, pkg)
	if int64(len(h)) > *left {
		h = h[:*left]
	}
	w.WriteString(h)
	*left -= int64(len(h))
	g.depth = 0
	g.line, g.pos = g.line[:0], 0
}

// fill fills b with text and returns it.
func (g *textGen) fill(b []byte) []byte {
	out := b[:0]
	for len(out) < len(b) {
		if g.pos == len(g.line) {
			g.line, g.pos = g.nextLine(g.line[:0]), 0
		}
		k := copy(b[len(out):len(b)], g.line[g.pos:])
		out = b[:len(out)+k]
		g.pos += k
	}
	return out
}

func (g *textGen) nextLine(dst []byte) []byte {
	t := templates[g.r.intn(len(templates))]
	if t == "}" {
		if g.depth == 0 {
			t = "$.$()"
		} else {
			g.depth--
		}
	}
	for i := 0; i < g.depth; i++ {
		dst = append(dst, '\t')
	}
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case '$':
			dst = append(dst, g.word()...)
		case '#':
			dst = fmt.Appendf(dst, "%d", g.r.intn(4096))
		default:
			dst = append(dst, t[i])
		}
	}
	if strings.HasSuffix(t, "{") && g.depth < 6 {
		g.depth++
	}
	return append(dst, '\n')
}

// treeDigest hashes the names, modes, sizes and contents of a tree, to
// show (in tests) that the generator is deterministic.
func treeDigest(root string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil // made by the caller, not the generator
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %v %d\n", filepath.ToSlash(rel), fi.Mode(), fi.Size())
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}
