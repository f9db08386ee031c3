package main

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// tarStats describes a decompressed layer stream.
type tarStats struct {
	entries int
	sha256  string // hex digest of the whole uncompressed stream
	size    int64
	blobSHA string // hex digest of the compressed bytes as read
}

// readLayer decompresses r with the given compression ("gzip", "zstd" or
// "none"), counts its tar entries and hashes both streams.
func readLayer(r io.Reader, compression string) (tarStats, error) {
	blobHash := sha256.New()
	r = io.TeeReader(r, blobHash)
	var plain io.Reader
	switch compression {
	case "gzip":
		zr, err := gzip.NewReader(bufio.NewReaderSize(r, 1<<20))
		if err != nil {
			return tarStats{}, fmt.Errorf("not gzip: %w", err)
		}
		defer zr.Close()
		plain = zr
	case "zstd":
		zr, err := zstd.NewReader(bufio.NewReaderSize(r, 1<<20))
		if err != nil {
			return tarStats{}, err
		}
		defer zr.Close()
		plain = zr
	case "none":
		plain = r
	default:
		return tarStats{}, fmt.Errorf("unknown compression %q", compression)
	}
	h := &countingHash{h: sha256.New()}
	tee := io.TeeReader(plain, h)
	tr := tar.NewReader(tee)
	var st tarStats
	for {
		_, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return tarStats{}, fmt.Errorf("reading tar entry %d: %w", st.entries+1, err)
		}
		st.entries++
	}
	// Whatever follows the end-of-archive marker belongs to the stream too.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return tarStats{}, fmt.Errorf("decompressing: %w", err)
	}
	// The compressed stream may have trailing bytes the decoder did not need.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return tarStats{}, err
	}
	st.sha256 = hex.EncodeToString(h.h.Sum(nil))
	st.size = h.n
	st.blobSHA = hex.EncodeToString(blobHash.Sum(nil))
	return st, nil
}

type countingHash struct {
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

func readLayerFile(path, compression string) (tarStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return tarStats{}, err
	}
	defer f.Close()
	st, err := readLayer(f, compression)
	if err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// checkEntries checks a tool's output holds the corpus' entries, and, when
// wantSHA is set (the tool compressed the prepared tar), exactly that tar.
func checkEntries(path, compression string, wantEntries int, wantSHA string) error {
	st, err := readLayerFile(path, compression)
	if err != nil {
		return err
	}
	if st.entries != wantEntries {
		return fmt.Errorf("%s: %d tar entries, want %d", path, st.entries, wantEntries)
	}
	if wantSHA != "" && st.sha256 != wantSHA {
		return fmt.Errorf("%s: decompresses to sha256:%s, want the prepared tar sha256:%s", path, st.sha256, wantSHA)
	}
	return nil
}

// checkRepro checks a repro layer and its descriptor: the blob's digest and
// size, the diff_id against the decompressed tar, the entry count.
func checkRepro(blob, descPath, compression string, wantEntries int) (tarStats, error) {
	var desc struct {
		Digest           string `json:"digest"`
		Size             int64  `json:"size"`
		DiffID           string `json:"diff_id"`
		UncompressedSize int64  `json:"uncompressed_size"`
		Entries          int    `json:"entries"`
	}
	b, err := os.ReadFile(descPath)
	if err != nil {
		return tarStats{}, err
	}
	if err := json.Unmarshal(b, &desc); err != nil {
		return tarStats{}, fmt.Errorf("%s: %w", descPath, err)
	}
	st, err := readLayerFile(blob, compression)
	if err != nil {
		return st, err
	}
	fi, err := os.Stat(blob)
	if err != nil {
		return st, err
	}
	var problems []string
	if desc.Digest != "sha256:"+st.blobSHA {
		problems = append(problems, fmt.Sprintf("digest %s, blob hashes to sha256:%s", desc.Digest, st.blobSHA))
	}
	if desc.Size != fi.Size() {
		problems = append(problems, fmt.Sprintf("size %d, blob has %d bytes", desc.Size, fi.Size()))
	}
	if desc.DiffID != "sha256:"+st.sha256 {
		problems = append(problems, fmt.Sprintf("diff_id %s, decompressed tar hashes to sha256:%s", desc.DiffID, st.sha256))
	}
	if desc.UncompressedSize != st.size {
		problems = append(problems, fmt.Sprintf("uncompressed_size %d, decompressed tar has %d bytes", desc.UncompressedSize, st.size))
	}
	if desc.Entries != wantEntries || st.entries != wantEntries {
		problems = append(problems, fmt.Sprintf("entries %d in the descriptor and %d in the tar, want %d", desc.Entries, st.entries, wantEntries))
	}
	if len(problems) > 0 {
		return st, fmt.Errorf("repro layer %s: %s", blob, strings.Join(problems, "; "))
	}
	return st, nil
}

// checkCraneTarball checks the image tarball written by `crane append -o`:
// its one layer (named by manifest.json) must hash to its name and
// decompress to the prepared tar.
func checkCraneTarball(path string, wantEntries int, wantSHA string) error {
	var manifest []struct{ Layers []string }
	if err := scanTar(path, func(name string, r io.Reader) error {
		if name == "manifest.json" {
			return json.NewDecoder(r).Decode(&manifest)
		}
		return nil
	}); err != nil {
		return err
	}
	if len(manifest) != 1 || len(manifest[0].Layers) != 1 {
		return fmt.Errorf("%s: want one image with one layer in manifest.json, got %+v", path, manifest)
	}
	layerName := manifest[0].Layers[0]
	found := false
	err := scanTar(path, func(name string, r io.Reader) error {
		if name != layerName {
			return nil
		}
		found = true
		st, err := readLayer(r, "gzip")
		if err != nil {
			return fmt.Errorf("layer %s: %w", name, err)
		}
		if want := strings.TrimSuffix(strings.TrimPrefix(name, "sha256:"), ".tar.gz"); st.blobSHA != want {
			return fmt.Errorf("layer %s hashes to %s", name, st.blobSHA)
		}
		if st.entries != wantEntries || st.sha256 != wantSHA {
			return fmt.Errorf("layer %s: %d entries, sha256:%s; want %d entries, the prepared tar sha256:%s", name, st.entries, st.sha256, wantEntries, wantSHA)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !found {
		return fmt.Errorf("%s: layer %s named in manifest.json is missing", path, layerName)
	}
	return nil
}

func scanTar(path string, fn func(name string, r io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReaderSize(f, 1<<20))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := fn(h.Name, tr); err != nil {
			return err
		}
	}
}

// checkSHA256Sum checks the output of `sha256sum FILE`.
func checkSHA256Sum(path, wantSHA string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if got, _, _ := strings.Cut(string(b), " "); got != wantSHA {
		return fmt.Errorf("%s: sha256sum printed %q, want %s", path, strings.TrimSpace(string(b)), wantSHA)
	}
	return nil
}
