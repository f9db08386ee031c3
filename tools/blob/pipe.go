package blob

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync/atomic"

	digest "github.com/opencontainers/go-digest"
)

// The pipeline of Encode. A chunkWriter cuts a stream into buffers taken
// from a fixed pool and hands each full buffer, in order, to every stage that
// reads it (the hash and the compressor for the tar; the hash and the file
// for the compressed blob). Stages only read a buffer, so they read it at the
// same time; the last one to finish returns it to the pool. A full pool
// blocks the writer: that is the back pressure that keeps memory bounded and
// makes the wall time that of the slowest stage.
//
//	produce ─▶ tar chunks ─┬▶ sha256 (diff_id)
//	                        └▶ compressor ─▶ blob chunks ─┬▶ sha256 (digest)
//	                                                       └▶ dst
//
// With compression none the tar chunks go to the hash and to dst directly.
// The bytes written to dst are exactly the compressor's output, in order:
// the pipeline changes when work is done, never what is written.
var (
	// Variables so that the fuzz test can make chunks small.
	tarChunkSize  = 512 << 10
	blobChunkSize = 512 << 10
)

const (
	tarChunks  = 8
	blobChunks = 4
	// stageDepth is how many chunks may wait at one stage.
	stageDepth = 4
)

// errAborted is returned to a writer once a later stage has failed.
var errAborted = errors.New("aborted: a later stage of the layer pipeline failed")

type chunk struct {
	b    []byte
	refs atomic.Int32
	free chan *chunk
}

func (c *chunk) release() {
	if c.refs.Add(-1) == 0 {
		c.b = c.b[:0]
		c.free <- c
	}
}

// pipeline holds the first error of any stage.
type pipeline struct {
	failed atomic.Bool
	first  atomic.Pointer[error]
}

func (p *pipeline) fail(err error) {
	if p.first.CompareAndSwap(nil, &err) {
		p.failed.Store(true)
	}
}

func (p *pipeline) err() error {
	if e := p.first.Load(); e != nil {
		return *e
	}
	return nil
}

// stage applies fn to each chunk in order on its own goroutine. After an
// error it keeps releasing chunks so that nothing upstream blocks.
type stage struct {
	in   chan *chunk
	done chan struct{}
}

func (p *pipeline) stage(fn func([]byte) error) *stage {
	s := &stage{in: make(chan *chunk, stageDepth), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		ok := true
		for c := range s.in {
			if ok && !p.failed.Load() {
				if err := fn(c.b); err != nil {
					p.fail(err)
					ok = false
				}
			}
			c.release()
		}
	}()
	return s
}

// chunkWriter fills chunks from its pool and sends each full one to its
// stages. It is used by one goroutine at a time.
type chunkWriter struct {
	p      *pipeline
	free   chan *chunk
	stages []*stage
	cur    *chunk
}

func (p *pipeline) writer(size, count int, stages ...*stage) *chunkWriter {
	w := &chunkWriter{p: p, free: make(chan *chunk, count), stages: stages}
	for i := 0; i < count; i++ {
		w.free <- &chunk{b: make([]byte, 0, size), free: w.free}
	}
	return w
}

func (w *chunkWriter) Write(b []byte) (int, error) {
	if w.p.failed.Load() {
		return 0, errAborted
	}
	n := len(b)
	for len(b) > 0 {
		if w.cur == nil {
			w.cur = <-w.free
		}
		c := w.cur
		k := copy(c.b[len(c.b):cap(c.b)], b)
		c.b = c.b[:len(c.b)+k]
		b = b[k:]
		if len(c.b) == cap(c.b) {
			w.flush()
		}
	}
	return n, nil
}

func (w *chunkWriter) flush() {
	c := w.cur
	if c == nil || len(c.b) == 0 {
		return
	}
	w.cur = nil
	c.refs.Store(int32(len(w.stages)))
	for _, s := range w.stages {
		s.in <- c
	}
}

// close sends the last chunk and waits until every stage has finished.
func (w *chunkWriter) close() {
	w.flush()
	for _, s := range w.stages {
		close(s.in)
	}
	for _, s := range w.stages {
		<-s.done
	}
}

type counter struct {
	h hash.Hash
	n int64
}

func (c *counter) write(p []byte) error {
	c.h.Write(p)
	c.n += int64(len(p))
	return nil
}

func (c *counter) digest() digest.Digest { return digest.NewDigest(digest.SHA256, c.h) }

// Encode calls produce with a writer for the uncompressed stream, compresses
// what it writes with e into dst, and returns the digests and sizes of both
// streams. produce runs on the calling goroutine; the hashes, the
// compressor and the writes to dst on others.
func Encode(dst io.Writer, e Encoding, produce func(io.Writer) error) (Result, error) {
	p := &pipeline{}
	write := func(b []byte) error {
		_, err := dst.Write(b)
		return err
	}
	tarSum := &counter{h: sha256.New()}
	if e.Compression == None {
		// The blob is the tar: its digest is the diff_id, hashed once.
		tw := p.writer(tarChunkSize, tarChunks, p.stage(tarSum.write), p.stage(write))
		err := produce(tw)
		tw.close()
		if err := p.result(err); err != nil {
			return Result{}, err
		}
		d := tarSum.digest()
		return Result{Digest: d, Size: tarSum.n, DiffID: d, UncompressedSize: tarSum.n}, nil
	}
	blobSum := &counter{h: sha256.New()}
	bw := p.writer(blobChunkSize, blobChunks, p.stage(blobSum.write), p.stage(write))
	comp, err := NewCompressor(bw, e)
	if err != nil {
		return Result{}, err
	}
	compress := p.stage(func(b []byte) error {
		if _, err := comp.Write(b); err != nil {
			return fmt.Errorf("compressing: %w", err)
		}
		return nil
	})
	tw := p.writer(tarChunkSize, tarChunks, p.stage(tarSum.write), compress)
	perr := produce(tw)
	tw.close()
	// The compressor's stage has ended: close it on this goroutine, then
	// drain the compressed side.
	if perr == nil && !p.failed.Load() {
		if err := comp.Close(); err != nil && !errors.Is(err, errAborted) {
			p.fail(fmt.Errorf("compressing: %w", err))
		}
	} else if z, ok := comp.(interface{ Reset(io.Writer) }); ok {
		z.Reset(io.Discard) // release the encoder's goroutines
	}
	bw.close()
	if err := p.result(perr); err != nil {
		return Result{}, err
	}
	return Result{Digest: blobSum.digest(), Size: blobSum.n, DiffID: tarSum.digest(), UncompressedSize: tarSum.n}, nil
}

// result is the error of a run: a stage's error when the producer stopped
// because of it, else the producer's own.
func (p *pipeline) result(perr error) error {
	if perr != nil && !errors.Is(perr, errAborted) {
		return perr
	}
	if err := p.err(); err != nil {
		return err
	}
	return perr
}
