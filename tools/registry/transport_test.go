package registry

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// script is a RoundTripper that plays back answers: an error, or a status
// with headers.
type script struct {
	steps []any // error or *http.Response
	n     int
}

func (s *script) RoundTrip(req *http.Request) (*http.Response, error) {
	step := s.steps[s.n]
	s.n++
	if err, ok := step.(error); ok {
		return nil, err
	}
	resp := step.(*http.Response)
	resp.Request = req
	resp.Body = io.NopCloser(strings.NewReader("body"))
	return resp, nil
}

func status(code int, header ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return &http.Response{StatusCode: code, Header: h}
}

func TestRetryTransport(t *testing.T) {
	reset := fmt.Errorf("read: %w", syscall.ECONNRESET)
	refused := fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name     string
		steps    []any
		method   string
		status   int    // final status, 0 for an error
		err      string // substring of the final error
		tries    int
		waits    []time.Duration // exact waits; nil: check count only
		minWaits []time.Duration // lower bounds (jittered backoff)
	}{
		{"success", []any{status(200)}, "GET", 200, "", 1, []time.Duration{}, nil},
		{"503 then success", []any{status(503), status(200)}, "GET", 200, "", 2, nil, []time.Duration{80 * time.Millisecond}},
		{"reset, refused, then success", []any{reset, refused, status(200)}, "GET", 200, "", 3, nil, []time.Duration{80 * time.Millisecond, 160 * time.Millisecond}},
		{"429 with Retry-After seconds", []any{status(429, "Retry-After", "7"), status(200)}, "GET", 200, "", 2, []time.Duration{7 * time.Second}, nil},
		{"429 with Retry-After date", []any{status(429, "Retry-After", date), status(200)}, "GET", 200, "", 2, nil, []time.Duration{80 * time.Second}},
		{"Retry-After too long", []any{status(503, "Retry-After", "3600")}, "GET", 503, "", 1, []time.Duration{}, nil},
		{"gives up", []any{status(500), status(502), status(504), status(503)}, "GET", 503, "", 4, nil, nil},
		{"gives up on errors", []any{reset, reset, reset, reset}, "GET", 0, "connection reset", 4, nil, nil},
		{"404 is final", []any{status(404)}, "GET", 404, "", 1, []time.Duration{}, nil},
		{"401 is final", []any{status(401)}, "GET", 401, "", 1, []time.Duration{}, nil},
		{"TLS errors are final", []any{x509.UnknownAuthorityError{}}, "GET", 0, "unknown authority", 1, []time.Duration{}, nil},
		{"POST without GetBody is not replayed", []any{status(503)}, "POST-stream", 503, "", 1, []time.Duration{}, nil},
		{"POST with GetBody is", []any{status(503), status(200)}, "POST", 200, "", 2, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &script{steps: tc.steps}
			var waits []time.Duration
			rt := &retryTransport{next: s, retry: Retry{Attempts: 4, Initial: 100 * time.Millisecond, Max: time.Second, MaxRetryAfter: 2 * time.Minute},
				sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
			ctx, counter := withAttempts(context.Background())
			var req *http.Request
			switch tc.method {
			case "GET":
				req, _ = http.NewRequestWithContext(ctx, http.MethodGet, "https://r.example/v2/", nil)
			case "POST":
				req, _ = http.NewRequestWithContext(ctx, http.MethodPost, "https://r.example/token", strings.NewReader("grant_type=password"))
			case "POST-stream":
				req, _ = http.NewRequestWithContext(ctx, http.MethodPost, "https://r.example/token", io.NopCloser(strings.NewReader("x")))
			}
			resp, err := rt.RoundTrip(req)
			switch {
			case tc.status != 0 && (err != nil || resp.StatusCode != tc.status):
				t.Fatalf("got %v %v, want status %d", resp, err, tc.status)
			case tc.status == 0 && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("got %v %v, want error %q", resp, err, tc.err)
			}
			if s.n != tc.tries || counter.n.Load() != int64(tc.tries) {
				t.Errorf("%d tries (counted %d), want %d", s.n, counter.n.Load(), tc.tries)
			}
			if len(waits) != tc.tries-1 {
				t.Errorf("%d waits, want %d", len(waits), tc.tries-1)
			}
			if tc.waits != nil && fmt.Sprint(waits) != fmt.Sprint(tc.waits) {
				t.Errorf("waits %v, want %v", waits, tc.waits)
			}
			for i, min := range tc.minWaits {
				if i >= len(waits) || waits[i] < min || waits[i] > 3*min {
					t.Errorf("waits %v, want about %v", waits, tc.minWaits)
				}
			}
		})
	}
}

func TestRetryStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &script{steps: []any{status(503), status(503)}}
	rt := &retryTransport{next: s, retry: DefaultRetry, sleep: sleepCtx}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://r.example/v2/", nil)
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	start := time.Now()
	_, err := rt.RoundTrip(req)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Errorf("err %v after %v", err, time.Since(start))
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"0":                             0,
		"12":                            12 * time.Second,
		"Fri, 02 Jan 2026 03:05:05 GMT": time.Minute,
		"Fri, 02 Jan 2026 03:00:00 GMT": 0,
	} {
		if got, ok := parseRetryAfter(in, now); !ok || got != want {
			t.Errorf("%q: %v %t, want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "soon", "1.5"} {
		if _, ok := parseRetryAfter(in, now); ok {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestScrub(t *testing.T) {
	var s secrets
	s.addAuth(nil)
	s.addAuth(&authn.AuthConfig{Username: "alice", Password: "p@ss:word"})
	for in, want := range map[string]string{
		"bad password p@ss:word here":                           "bad password [REDACTED] here",
		"basic YWxpY2U6cEBzczp3b3Jk":                            "basic [REDACTED]",
		"GET https://bob:pw@host/x?access_token=abc&scope=pull": "GET https://[REDACTED]@host/x?access_token=[REDACTED]&scope=pull",
		"Authorization: Bearer eyJhbGciOi.payload.sig":          "Authorization: Bearer [REDACTED]",
		"no secrets here":                                       "no secrets here",
	} {
		if got := s.scrub(in); got != want {
			t.Errorf("scrub(%q) = %q, want %q", in, got, want)
		}
	}
}
