package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Every request the Client sends goes through watchTransport, just above
// the network: one stall watchdog for every transfer (the /v2/ ping, token
// requests, manifests, blobs, uploads, read-backs), and one bound on every
// response body that is not content read under its own bound.

// MaxSmallBody bounds the body of every response that is not content the
// caller asked for with its own bound: the /v2/ ping, token answers,
// answers to uploads and HEADs, and every error. Registries answer those
// with a few hundred bytes of JSON. A longer body fails the read with an
// error that says so, and its connection is closed.
const MaxSmallBody = 64 << 10

// errStalled matches (errors.Is) every error of a stalled transfer.
var errStalled = errors.New("transfer stalled")

// stallError is a request or response that made no progress for timeout.
// It is a net.Error whose Timeout is true, so that it is retried like a
// dropped connection.
type stallError struct {
	timeout    time.Duration
	what       string // "waiting for the answer to GET https://host/v2/…"
	host       string // the host that stalled
	redirected bool   // the request followed a redirect to it
}

func (e *stallError) Error() string {
	return fmt.Sprintf("stalled: no progress for %v while %s", e.timeout, e.what)
}
func (e *stallError) Is(target error) bool { return target == errStalled }
func (e *stallError) Timeout() bool        { return true }
func (e *stallError) Temporary() bool      { return true }

// bodyTooLargeError is a response body longer than MaxSmallBody where a
// small one belongs.
type bodyTooLargeError struct {
	status     int
	what       string // "GET https://host/v2/"
	host       string
	redirected bool
}

func (e *bodyTooLargeError) Error() string {
	return fmt.Sprintf("the answer to %s (HTTP %d) has a body of more than %d bytes; a registry's answer there is a small JSON document, so the rest was not read", e.what, e.status, MaxSmallBody)
}

// contentKey marks a request whose successful (2xx) response body the
// caller reads with a bound of its own: a manifest (MaxManifestSize), a
// blob (its descriptor's size), a file being hashed.
type contentKey struct{}

func contentRequest(ctx context.Context) context.Context {
	return context.WithValue(ctx, contentKey{}, true)
}

// shortURL is u without userinfo and query (which may hold signatures or
// tokens): what messages name.
func shortURL(u *url.URL) string {
	s := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return s.String()
}

// watchTransport runs a stall watchdog over each request and its response
// and bounds small response bodies.
type watchTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (t *watchTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	w := newWatchdog(t.timeout, cancel)
	out := req.WithContext(ctx)
	var sent *sentBody
	if req.Body != nil && req.Body != http.NoBody {
		sent = &sentBody{rc: req.Body, w: w}
		out.Body = sent
	}
	w.arm()
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		fired := w.disarm()
		cancel(context.Canceled)
		if fired {
			what := "waiting for the answer to "
			if sent != nil && !sent.done() {
				what = "sending the body of "
			}
			return nil, &stallError{timeout: t.timeout, what: what + req.Method + " " + shortURL(req.URL), host: req.URL.Host, redirected: req.Response != nil}
		}
		return nil, err
	}
	w.disarm()
	resp.Request = req
	limit := int64(-1)
	if resp.StatusCode < 200 || resp.StatusCode > 299 || req.Context().Value(contentKey{}) == nil {
		limit = MaxSmallBody
	}
	resp.Body = &watchedBody{rc: resp.Body, w: w, cancel: cancel, limit: limit, req: req, status: resp.StatusCode}
	return resp, nil
}

// watchdog cancels a transfer that, while armed, is not kicked for
// timeout. It is armed while the request is under way and while a read
// of the response body waits for the network, not while the caller does
// something else with what it read.
type watchdog struct {
	timeout time.Duration
	cancel  context.CancelCauseFunc
	timer   *time.Timer

	mu    sync.Mutex
	armed bool
	last  time.Time
	fired bool
}

func newWatchdog(timeout time.Duration, cancel context.CancelCauseFunc) *watchdog {
	w := &watchdog{timeout: timeout, cancel: cancel}
	w.timer = time.AfterFunc(time.Hour, w.fire)
	w.timer.Stop()
	return w
}

func (w *watchdog) fire() {
	w.mu.Lock()
	if !w.armed || w.fired || time.Since(w.last) < w.timeout {
		w.mu.Unlock()
		return
	}
	w.fired = true
	w.mu.Unlock()
	w.cancel(errStalled)
}

// arm starts (or restarts) the clock.
func (w *watchdog) arm() {
	w.mu.Lock()
	w.armed, w.last = true, time.Now()
	w.timer.Reset(w.timeout)
	w.mu.Unlock()
}

// kick restarts the clock if it runs: progress was made.
func (w *watchdog) kick() {
	w.mu.Lock()
	if w.armed {
		w.last = time.Now()
		w.timer.Reset(w.timeout)
	}
	w.mu.Unlock()
}

// disarm stops the clock and reports whether the watchdog had fired.
func (w *watchdog) disarm() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	w.timer.Stop()
	return w.fired
}

// sentBody is a request body whose reads (by the transport, as the network
// takes the bytes) are progress.
type sentBody struct {
	rc io.ReadCloser
	w  *watchdog

	mu  sync.Mutex
	eof bool
}

func (b *sentBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.w.kick()
	}
	if err == io.EOF {
		b.mu.Lock()
		b.eof = true
		b.mu.Unlock()
	}
	return n, err
}

func (b *sentBody) Close() error { return b.rc.Close() }

func (b *sentBody) done() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.eof
}

// watchedBody is a response body read under the watchdog and, unless it
// is content, bounded by MaxSmallBody.
type watchedBody struct {
	rc     io.ReadCloser
	w      *watchdog
	cancel context.CancelCauseFunc
	limit  int64 // negative: none
	req    *http.Request
	status int
	n      int64
	err    error // sticky
}

func (b *watchedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.limit >= 0 {
		// Read one byte past the limit to tell "exactly the limit" from
		// "more".
		if rest := b.limit + 1 - b.n; int64(len(p)) > rest {
			p = p[:rest]
		}
	}
	b.w.arm()
	n, err := b.rc.Read(p)
	fired := b.w.disarm()
	b.n += int64(n)
	if b.limit >= 0 && b.n > b.limit {
		n -= int(b.n - b.limit)
		b.err = &bodyTooLargeError{status: b.status, what: b.req.Method + " " + shortURL(b.req.URL), host: b.req.URL.Host, redirected: b.req.Response != nil}
		b.close()
		return n, b.err
	}
	if err != nil && fired {
		// Once the request is cancelled, the transport may end the body
		// with io.EOF: that is not the end of the answer.
		b.err = &stallError{timeout: b.w.timeout, what: "reading the answer to " + b.req.Method + " " + shortURL(b.req.URL), host: b.req.URL.Host, redirected: b.req.Response != nil}
		return n, b.err
	}
	return n, err
}

func (b *watchedBody) close() error {
	b.w.disarm()
	err := b.rc.Close()
	b.cancel(context.Canceled)
	return err
}

func (b *watchedBody) Close() error { return b.close() }
