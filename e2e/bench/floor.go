package main

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

// floorCommand is the hidden `bench floor ALGO IN OUT` command: the bare
// compressor that repro uses, on an already-made tar, in a child process so
// that it is measured exactly like every other tool. It is the floor for a
// single compressed stream: repro additionally walks the tree, builds the
// tar and hashes both streams.
//
//   - gzip: Go's compress/gzip at its default level (6), as repro.
//   - zstd: github.com/klauspost/compress/zstd with its defaults (level
//     "default", concurrency GOMAXPROCS), as repro.
//   - sha256: Go's crypto/sha256 (SHA-NI where the CPU has it), as repro
//     hashes each stream; prints the digest like sha256sum.
func floorCommand(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: bench floor gzip|zstd|sha256 IN OUT")
	}
	in, err := os.Open(args[1])
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(args[2])
	if err != nil {
		return err
	}
	defer out.Close()
	bw := bufio.NewWriterSize(out, 1<<20)
	var zw io.WriteCloser
	var sum hash.Hash
	switch args[0] {
	case "sha256":
		sum = sha256.New()
		zw = nopCloser{sum}
	case "gzip":
		zw = gzip.NewWriter(bw)
	case "zstd":
		if zw, err = zstd.NewWriter(bw); err != nil {
			return err
		}
	default:
		return fmt.Errorf("floor: unknown compressor %q", args[0])
	}
	// 1 MiB writes, as repro hands its compressor 1 MiB chunks.
	buf := make([]byte, 1<<20)
	for {
		n, err := io.ReadFull(in, buf)
		if n > 0 {
			if _, werr := zw.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if sum != nil {
		fmt.Fprintf(bw, "%x  %s\n", sum.Sum(nil), args[1])
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return out.Close()
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
