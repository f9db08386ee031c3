package diff

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/blob"
)

// sampleTar is a tar of compressible text (words in random order) and
// some random bytes, about size bytes.
func sampleTar(t *testing.T, size int) []byte {
	rng := rand.New(rand.NewSource(1))
	words := make([]string, 5000)
	for i := range words {
		b := make([]byte, 3+rng.Intn(8))
		for j := range b {
			b[j] = byte('a' + rng.Intn(26))
		}
		words[i] = string(b)
	}
	var text bytes.Buffer
	for text.Len() < size {
		text.WriteString(words[rng.Intn(len(words))])
		text.WriteByte(' ')
	}
	noise := make([]byte, 64<<10)
	rng.Read(noise)
	l := testLayer{entries: []tent{
		{hdr: mkReg("noise", 0o644), body: string(noise)},
		{hdr: mkReg("text", 0o644), body: text.String()},
	}}
	return writeTar(t, l)
}

func TestDetectEncoders(t *testing.T) {
	dir := t.TempDir()
	small := sampleTar(t, 100<<10)
	large := sampleTar(t, 6<<20) // compresses to more than decideAfter
	type tc struct {
		name string
		tar  []byte
		enc  blob.Encoding
		want string
	}
	var cases []tc
	for l := 0; l <= 9; l++ {
		cases = append(cases, tc{fmt.Sprintf("gzip %d", l), small, blob.Encoding{Compression: blob.Gzip, Level: l, HasLevel: true}, fmt.Sprintf("Go compress/gzip level %d", l)})
	}
	cases = append(cases,
		tc{"gzip default", small, blob.Encoding{Compression: blob.Gzip}, "Go compress/gzip level 6 (the default"},
		tc{"gzip 9, large", large, blob.Encoding{Compression: blob.Gzip, Level: 9, HasLevel: true}, "Go compress/gzip level 9"},
		tc{"gzip 1, large", large, blob.Encoding{Compression: blob.Gzip, Level: 1, HasLevel: true}, "Go compress/gzip level 1"},
		tc{"zstd default", small, blob.Encoding{Compression: blob.Zstd}, "SpeedDefault"},
		tc{"zstd 1", small, blob.Encoding{Compression: blob.Zstd, Level: 1, HasLevel: true}, "SpeedFastest"},
		tc{"zstd 7", small, blob.Encoding{Compression: blob.Zstd, Level: 7, HasLevel: true}, "SpeedBetterCompression"},
		tc{"zstd 19, large", large, blob.Encoding{Compression: blob.Zstd, Level: 19, HasLevel: true}, "SpeedBestCompression"},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			w, err := blob.NewCompressor(&out, c.enc)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(c.tar)
			w.Close()
			names := detect(t, dir, out.Bytes(), string(c.enc.Compression))
			found := false
			for _, n := range names {
				found = found || strings.Contains(n, c.want)
			}
			if !found || len(names) > 2 {
				t.Errorf("got %q, want %q", names, c.want)
			}
		})
	}
	if gz, err := exec.LookPath("gzip"); err == nil {
		t.Run("GNU gzip", func(t *testing.T) {
			cmd := exec.Command(gz, "-n", "-6")
			cmd.Stdin = bytes.NewReader(small)
			data, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			if names := detect(t, dir, data, "gzip"); len(names) != 0 {
				t.Errorf("GNU gzip output taken for %q", names)
			}
		})
	}
}

func detect(t *testing.T, dir string, data []byte, compression string) []string {
	t.Helper()
	p := filepath.Join(dir, digest.FromBytes(data).Encoded())
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := Open(context.Background(), p, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	w := &walker{ctx: context.Background(), a: src, b: src}
	names, sure, err := w.detectEncoders(src, specs.Descriptor{Digest: src.Root.Digest, Size: src.Root.Size, MediaType: src.Root.MediaType}, compression)
	if err != nil {
		t.Fatal(err)
	}
	if !sure {
		t.Errorf("not sure: %q", names)
	}
	return names
}

func TestParseHeaders(t *testing.T) {
	gz := []byte{0x1f, 0x8b, 8, 0x08 | 0x10, 0x00, 0xf1, 0x53, 0x65, 2, 3, 'a', '.', 't', 'a', 'r', 0, 'h', 'i', 0}
	h, err := parseGzipHeader(gz)
	if err != nil {
		t.Fatal(err)
	}
	if h.name != "a.tar" || h.comment != "hi" || h.mtime != 1700000000 || h.xfl != 2 || h.os != 3 || h.length != len(gz) {
		t.Errorf("got %+v", h)
	}
	if _, err := parseGzipHeader(gz[:12]); err == nil {
		t.Error("a truncated name was accepted")
	}
	// Frame header: single segment, checksum, 1-byte content size 200.
	z := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x20 | 0x04, 200}
	zh, err := parseZstdHeader(z)
	if err != nil {
		t.Fatal(err)
	}
	if !zh.singleSegment || !zh.checksum || zh.contentSize != 200 || zh.windowSize != 200 {
		t.Errorf("got %+v", zh)
	}
	// Window descriptor: exponent 2, mantissa 1 → 4 KiB + 512.
	z = []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 2<<3 | 1}
	if zh, err = parseZstdHeader(z); err != nil || zh.windowSize != 4096+512 || zh.contentSize != -1 {
		t.Errorf("got %+v, %v", zh, err)
	}
}
