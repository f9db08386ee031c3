package layer

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"

	"github.com/rules-repro/rules_repro/tools/blob"
)

// randomTree writes a random directory tree: files of sizes around the
// pipeline's chunk and read-buffer boundaries (0, 1, 511, 512, 256 KiB ± 1,
// 512 KiB ± 1, a few MiB), text and random content, modes with setuid and
// sticky bits, symlinks, hard links, fifos, empty and deep directories, and
// names that sort differently as bytes and as paths ("a-b", "a/b").
func randomTree(t *testing.T, seed uint64) string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	root := t.TempDir()
	dirs := []string{root}
	sizes := []int{0, 1, 511, 512, 513, 256<<10 - 1, 256 << 10, 256<<10 + 1, 512<<10 - 1, 512 << 10, 512<<10 + 1, 1<<20 + 7}
	var files []string
	n := 20 + r.IntN(40)
	for i := 0; i < n; i++ {
		parent := dirs[r.IntN(len(dirs))]
		name := fmt.Sprintf("%c%d", "ab-._zA"[r.IntN(7)], r.IntN(50))
		p := filepath.Join(parent, name)
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		switch k := r.IntN(10); {
		case k < 2:
			if err := os.Mkdir(p, []os.FileMode{0o755, 0o700, 0o1777}[r.IntN(3)]); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, []os.FileMode{0o755, 0o700, 0o755 | os.ModeSticky}[r.IntN(3)])
			dirs = append(dirs, p)
		case k < 7:
			size := sizes[r.IntN(len(sizes))]
			if r.IntN(3) == 0 {
				size = r.IntN(5000)
			}
			data := make([]byte, size)
			if r.IntN(2) == 0 {
				for j := range data {
					data[j] = "abcdefgh \n"[r.IntN(10)]
				}
			} else {
				for j := range data {
					data[j] = byte(r.Uint32())
				}
			}
			mode := []os.FileMode{0o644, 0o755, 0o600, 0o444}[r.IntN(4)]
			if err := os.WriteFile(p, data, mode); err != nil {
				t.Fatal(err)
			}
			if r.IntN(8) == 0 {
				os.Chmod(p, mode|os.ModeSetuid)
			}
			files = append(files, p)
		case k < 8:
			if err := os.Symlink([]string{"../x", "a0", "/etc/passwd", "dangling"}[r.IntN(4)], p); err != nil {
				t.Fatal(err)
			}
		case k < 9:
			if len(files) > 0 {
				if err := os.Link(files[r.IntN(len(files))], p); err != nil {
					t.Fatal(err)
				}
			}
		default:
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	mtime := int64(r.IntN(2_000_000_000))
	filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error {
		os.Chtimes(p, unixTime(mtime), unixTime(mtime+int64(r.IntN(1000))))
		return nil
	})
	return root
}

// TestPipelinedWriterSameBytes: the pipelined layer writer (the streaming
// walk into blob.Encode, where walking and reading, tar encoding, hashing,
// compression and writing run concurrently) writes exactly the bytes of
// the sequential one (AddDir, WriteTar into memory, then the compressor and
// sha256 one after the other), and its descriptor holds their digests.
func TestPipelinedWriterSameBytes(t *testing.T) {
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		dir := randomTree(t, seed)
		epoch := int64(1_000_000_000 + seed*100_000_000)
		seq := NewTree(Options{Epoch: epoch})
		if err := seq.AddDir(dir); err != nil {
			t.Fatal(err)
		}
		var tarBytes bytes.Buffer
		entries, err := seq.WriteTar(&tarBytes)
		if err != nil {
			t.Fatal(err)
		}
		for _, enc := range []blob.Encoding{{Compression: blob.None}, {Compression: blob.Gzip}, {Compression: blob.Zstd}, {Compression: blob.Zstd, Level: 9, HasLevel: true}} {
			want := sequentialCompress(t, tarBytes.Bytes(), enc)
			out := filepath.Join(t.TempDir(), "blob")
			tree := NewTree(Options{Epoch: epoch})
			if err := tree.SetStreamDir(dir); err != nil {
				t.Fatal(err)
			}
			d, err := Build(tree, out, "", BuildOptions{Encoding: enc})
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("seed %d, %s: pipelined blob (%d bytes) differs from the sequential one (%d bytes)", seed, enc, len(got), len(want))
			}
			if d.Digest != digest.FromBytes(want) || d.Size != int64(len(want)) ||
				d.DiffID != digest.FromBytes(tarBytes.Bytes()) || d.UncompressedSize != int64(tarBytes.Len()) || d.Entries != entries {
				t.Fatalf("seed %d, %s: descriptor %+v does not describe the sequential blob (%s, %d bytes; tar %s, %d bytes, %d entries)",
					seed, enc, d, digest.FromBytes(want), len(want), digest.FromBytes(tarBytes.Bytes()), tarBytes.Len(), entries)
			}
		}
	}
}

// sequentialCompress is the reference: one compressor, one goroutine.
func sequentialCompress(t *testing.T, tarBytes []byte, e blob.Encoding) []byte {
	t.Helper()
	var b bytes.Buffer
	switch e.Compression {
	case blob.None:
		return tarBytes
	case blob.Gzip:
		w, _ := gzip.NewWriterLevel(&b, gzip.DefaultCompression)
		w.Write(tarBytes)
		w.Close()
	case blob.Zstd:
		var opts []zstd.EOption
		if e.HasLevel {
			opts = append(opts, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(e.Level)))
		}
		w, err := zstd.NewWriter(&b, append(opts, zstd.WithEncoderConcurrency(1))...)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(tarBytes)
		w.Close()
	}
	return b.Bytes()
}

func unixTime(sec int64) time.Time { return time.Unix(sec, 0) }
