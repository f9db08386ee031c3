package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Retry bounds how requests are retried on transient failures: connection
// errors (reset, refused, cut off, timed out) and HTTP 408, 429, 500, 502,
// 503 and 504. The wait before retry n is Initial·2ⁿ⁻¹ (±20%), at most Max,
// or what a Retry-After header asks for when that is at most MaxRetryAfter
// (longer means giving up at once).
type Retry struct {
	// Attempts is the total number of tries of one request; 1 turns
	// retries off. The default is 5.
	Attempts int
	// Initial is the first wait. The default is 500ms.
	Initial time.Duration
	// Max caps the exponential wait. The default is 8s.
	Max time.Duration
	// MaxRetryAfter is the longest Retry-After honoured. The default is 60s.
	MaxRetryAfter time.Duration
}

// DefaultRetry is the policy used when Options.Retry is the zero value: 5
// attempts, waiting 0.5s, 1s, 2s and 4s in between (about 8s in all).
var DefaultRetry = Retry{Attempts: 5, Initial: 500 * time.Millisecond, Max: 8 * time.Second, MaxRetryAfter: 60 * time.Second}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = DefaultRetry.Attempts
	}
	if r.Initial <= 0 {
		r.Initial = DefaultRetry.Initial
	}
	if r.Max <= 0 {
		r.Max = DefaultRetry.Max
	}
	if r.MaxRetryAfter <= 0 {
		r.MaxRetryAfter = DefaultRetry.MaxRetryAfter
	}
	return r
}

// attemptsKey carries an *attempts counter in a request's context, so that
// an error message can say how often a request was tried, and which URLs
// it was sent to (the hops of its redirects).
type attemptsKey struct{}

type attempts struct {
	n atomic.Int64

	mu   sync.Mutex
	hops []string
}

// hop records a URL the request was sent to (the first few dozen).
func (a *attempts) hop(u *url.URL) {
	a.mu.Lock()
	if len(a.hops) < 4*maxRedirects {
		a.hops = append(a.hops, shortURL(u))
	}
	a.mu.Unlock()
}

func (a *attempts) urls() []string {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.hops...)
}

func withAttempts(ctx context.Context) (context.Context, *attempts) {
	a := &attempts{}
	return context.WithValue(ctx, attemptsKey{}, a), a
}

// retryTransport retries idempotent requests (and requests whose body can
// be replayed) on transient failures.
type retryTransport struct {
	next  http.RoundTripper
	retry Retry
	// sleep waits d or until ctx is done; a test seam.
	sleep func(ctx context.Context, d time.Duration) error
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	counter, _ := req.Context().Value(attemptsKey{}).(*attempts)
	for attempt := 1; ; attempt++ {
		if counter != nil {
			counter.n.Add(1)
		}
		if attempt > 1 && req.Body != nil && req.Body != http.NoBody {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
		resp, err := t.next.RoundTrip(req)
		wait, retry := t.classify(req, resp, err, attempt)
		if !retry {
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxSmallBody))
			resp.Body.Close()
		}
		if err := t.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

// classify decides whether to retry and how long to wait first.
func (t *retryTransport) classify(req *http.Request, resp *http.Response, err error, attempt int) (time.Duration, bool) {
	if attempt >= t.retry.Attempts || req.Context().Err() != nil {
		return 0, false
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return 0, false // cannot replay the body
	}
	if err != nil {
		return t.backoff(attempt), transientNetError(err)
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
	default:
		return 0, false
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if d, ok := parseRetryAfter(ra, time.Now()); ok {
			if d > t.retry.MaxRetryAfter {
				return 0, false // the caller reports the status
			}
			return d, true
		}
	}
	return t.backoff(attempt), true
}

func (t *retryTransport) backoff(attempt int) time.Duration {
	d := t.retry.Initial << (attempt - 1)
	if d > t.retry.Max || d <= 0 {
		d = t.retry.Max
	}
	// ±20% jitter, so that many clients do not retry in lockstep.
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		if d := at.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

// transientNetError reports whether a transport error is worth a retry:
// connection reset, refused, cut off or timed out. TLS and certificate
// errors, and refusals of plain HTTP, are not.
func transientNetError(err error) bool {
	var plain *plainHTTPError
	if errors.As(err, &plain) || tlsError(err) {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func tlsError(err error) bool {
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
	)
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostname) ||
		errors.As(err, &verify) || errors.As(err, &record)
}

// plainHTTPError is the refusal to talk plain HTTP without --insecure.
type plainHTTPError struct{ host string }

func (e *plainHTTPError) Error() string {
	return fmt.Sprintf("refusing plain HTTP to %s: TLS is required (pass --insecure to allow plain HTTP and unverified TLS)", e.host)
}

// httpsOnly refuses plain-HTTP requests. go-containerregistry falls back to
// plain HTTP for loopback and private addresses when HTTPS fails; with
// TLS verification on, that fallback must not happen silently.
type httpsOnly struct{ next http.RoundTripper }

func (t httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &plainHTTPError{host: req.URL.Host}
	}
	return t.next.RoundTrip(req)
}

// newBaseTransport returns the transport under authentication: TLS with the
// system roots plus caFiles (or no verification when insecure), proxies
// from the environment, bounded timeouts, retries, and under the retries
// the stall watchdog and the bound on small bodies (watchTransport).
func newBaseTransport(caFiles []string, insecure bool, retry Retry, stall time.Duration) (http.RoundTripper, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if insecure {
		tlsConfig.InsecureSkipVerify = true //nolint:gosec // --insecure, with a warning
	} else if len(caFiles) > 0 {
		// The system pool honours SSL_CERT_FILE and SSL_CERT_DIR.
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		for _, f := range caFiles {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("--ca-file: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", f)
			}
		}
		tlsConfig.RootCAs = pool
	}
	var rt http.RoundTripper = &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConfig,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ExpectContinueTimeout: time.Second,
		// No ResponseHeaderTimeout: the stall watchdog covers the wait
		// for an answer, with the timeout the user set.
	}
	rt = &watchTransport{next: rt, timeout: stall}
	rt = &retryTransport{next: rt, retry: retry.withDefaults(), sleep: sleepCtx}
	if !insecure {
		rt = httpsOnly{next: rt}
	}
	return rt, nil
}
