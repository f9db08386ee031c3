package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	digest "github.com/opencontainers/go-digest"
)

// OpenBlob streams blob d (of size bytes; negative when unknown) out of the
// repository. The reader checks the size and digest as the bytes go by: a
// mismatch is an ErrVerify error from Read instead of io.EOF, so a
// consumer that stops at the first error never takes wrong bytes for the
// blob. A download that breaks off or stalls is resumed where it stopped
// (HTTP Range), up to Options.Retry.Attempts times. Nothing touches the
// disk.
func (p *Repo) OpenBlob(ctx context.Context, d digest.Digest, size int64) (io.ReadCloser, error) {
	subject := p.name + "@" + d.String()
	if d.Validate() != nil || d.Algorithm() != digest.SHA256 {
		return nil, p.c.fail(nil, subject, "unsupported digest %q (only sha256)", d)
	}
	br := &blobReader{p: p, ctx: ctx, d: d, size: size, subject: subject, digester: digest.SHA256.Digester()}
	if err := br.connect(); err != nil {
		return nil, err
	}
	return br, nil
}

// blobReader is OpenBlob's reader.
type blobReader struct {
	p        *Repo
	ctx      context.Context
	d        digest.Digest
	size     int64
	subject  string
	digester digest.Digester
	n        int64
	tries    int

	body io.ReadCloser
	err  error // sticky
}

// connect GETs the blob from offset n.
func (b *blobReader) connect() error {
	b.tries++
	actx, a := withAttempts(contentRequest(b.ctx))
	req, err := http.NewRequestWithContext(actx, http.MethodGet, b.p.url("blobs", b.d.String()), nil)
	if err != nil {
		return b.p.c.fail(nil, b.subject, "%v", err)
	}
	if b.n > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", b.n))
	}
	resp, err := b.p.do(req, a, b.subject, http.StatusOK, http.StatusPartialContent)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return b.p.c.fail(ErrNotFound, b.subject, "the registry does not have blob %s", b.d)
		}
		return err
	}
	skip := int64(0)
	if b.n > 0 && resp.StatusCode == http.StatusOK {
		skip = b.n // the registry ignored Range: skip what we have
	}
	if b.size >= 0 && resp.ContentLength >= 0 && resp.ContentLength+(b.n-skip) != b.size {
		resp.Body.Close()
		return b.p.c.fail(ErrVerify, b.subject, "the registry announces %d bytes from offset %d for blob %s, but its descriptor says %d in all", resp.ContentLength, b.n-skip, b.d, b.size)
	}
	if skip > 0 {
		if _, err := io.CopyN(io.Discard, resp.Body, skip); err != nil {
			resp.Body.Close()
			return &attemptError{err: b.p.c.explain(b.subject, b.p.Registry(), err, nil)}
		}
	}
	b.body = resp.Body
	return nil
}

func (b *blobReader) Read(buf []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	for {
		if b.size >= 0 {
			if rest := b.size + 1 - b.n; int64(len(buf)) > rest {
				buf = buf[:rest]
			}
		}
		n, err := b.body.Read(buf)
		if n > 0 {
			b.digester.Hash().Write(buf[:n])
			b.n += int64(n)
			if b.size >= 0 && b.n > b.size {
				b.err = b.p.c.fail(ErrVerify, b.subject, "the registry sent more than the %d bytes the descriptor gives for blob %s: tampered or corrupt content", b.size, b.d)
				return 0, b.err
			}
		}
		switch {
		case err == nil:
			return n, nil
		case err == io.EOF:
			if b.size >= 0 && b.n != b.size {
				// Cut short without an error: resume.
				err = io.ErrUnexpectedEOF
				break
			}
			if got := b.digester.Digest(); got != b.d {
				// The last bytes are held back with the error, so the
				// stream never ends cleanly with wrong content.
				b.err = b.p.c.fail(ErrVerify, b.subject, "the registry sent %d bytes with digest %s for blob %s: tampered or corrupt content (from the registry or something between it and us)", b.n, got, b.d)
				return 0, b.err
			}
			b.err = io.EOF
			return n, io.EOF
		}
		// A broken or stalled stream: resume from b.n.
		b.body.Close()
		if b.ctx.Err() != nil {
			b.err = b.p.c.fail(nil, b.subject, "interrupted")
			return n, b.err
		}
		cause := b.p.c.explain(b.subject, b.p.Registry(), err, nil)
		var stalled *stallError
		if errors.As(err, &stalled) {
			cause = b.p.c.fail(ErrUnavailable, b.subject, "the download %v after %d bytes", stalled, b.n)
		}
		if b.tries >= b.p.c.attempts() {
			b.err = b.p.c.fail(errKind(cause), b.subject, "download broke off %d times, giving up; the last time: %v", b.tries, cause)
			return n, b.err
		}
		b.p.retries.Add(1)
		if cerr := b.connect(); cerr != nil {
			b.err = unwrapAttempt(cerr)
			return n, b.err
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (b *blobReader) Close() error {
	if b.body != nil {
		b.body.Close()
	}
	return nil
}

var _ io.ReadCloser = (*blobReader)(nil)
