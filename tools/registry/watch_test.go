package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// watchServer is a TLS server whose handler the test gives, and the
// watchTransport over its client's transport.
// The handler's done channel is closed when the test ends.
func watchServer(t *testing.T, timeout time.Duration, h func(w http.ResponseWriter, r *http.Request, done <-chan struct{})) (*httptest.Server, http.RoundTripper) {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(w, r, done) }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) })
	return srv, &watchTransport{next: srv.Client().Transport, timeout: timeout}
}

func TestWatchStallBeforeHeaders(t *testing.T) {
	srv, rt := watchServer(t, 300*time.Millisecond, func(w http.ResponseWriter, r *http.Request, done <-chan struct{}) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	})
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2/x/manifests/1?token=secret", nil)
	_, err := rt.RoundTrip(req)
	var se *stallError
	if !errors.As(err, &se) || !errors.Is(err, errStalled) || !transientNetError(err) {
		t.Fatalf("want a transient stall error, got %v", err)
	}
	if want := "stalled: no progress for 300ms while waiting for the answer to GET " + srv.URL + "/v2/x/manifests/1"; err.Error() != want {
		t.Errorf("%q, want %q (no query)", err, want)
	}
}

func TestWatchStallWhileSending(t *testing.T) {
	srv, rt := watchServer(t, 300*time.Millisecond, func(w http.ResponseWriter, r *http.Request, done <-chan struct{}) {
		// Read nothing: the client's writes block once the buffers fill.
		select {
		case <-r.Context().Done():
		case <-done:
		}
	})
	body := bytes.NewReader(make([]byte, 256<<20))
	req, _ := http.NewRequest(http.MethodPatch, srv.URL+"/v2/x/blobs/uploads/1", io.NopCloser(body))
	req.ContentLength = int64(body.Len())
	_, err := rt.RoundTrip(req)
	if err == nil || !strings.Contains(err.Error(), "stalled: no progress for 300ms while sending the body of PATCH "+srv.URL+"/v2/x/blobs/uploads/1") {
		t.Fatalf("got %v", err)
	}
}

// A caller that takes its time between reads is not a stalled registry:
// the watchdog runs only while a read waits for the network.
func TestWatchSlowReaderIsNotAStall(t *testing.T) {
	srv, rt := watchServer(t, time.Second, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		w.Write(bytes.Repeat([]byte("x"), 1000))
	})
	req, _ := http.NewRequestWithContext(contentRequest(context.Background()), http.MethodGet, srv.URL+"/blob", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	one := make([]byte, 1)
	if _, err := resp.Body.Read(one); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || len(rest) != 999 {
		t.Errorf("after a pause of the reader: %d bytes, %v", len(rest), err)
	}
}

// Bodies that are not content are bounded by MaxSmallBody; content (2xx
// of a request marked with contentRequest) is not.
func TestWatchSmallBodyBound(t *testing.T) {
	srv, rt := watchServer(t, 10*time.Second, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		n := MaxSmallBody
		if strings.HasSuffix(r.URL.Path, "/more") {
			n++
		}
		if strings.HasPrefix(r.URL.Path, "/error") {
			w.WriteHeader(http.StatusInternalServerError)
		}
		w.Write(bytes.Repeat([]byte("x"), n))
	})
	for _, c := range []struct {
		path    string
		content bool
		ok      bool
	}{
		{"/ping/exact", false, true},
		{"/ping/more", false, false},
		{"/error/exact", true, true},
		{"/error/more", true, false}, // an error body is never content
		{"/blob/more", true, true},
	} {
		ctx := context.Background()
		if c.content {
			ctx = contentRequest(ctx)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+c.path, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		var large *bodyTooLargeError
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: %v", c.path, err)
		case !c.ok && !errors.As(err, &large):
			t.Errorf("%s: %d bytes, %v; want a body-too-large error", c.path, len(data), err)
		case !c.ok && len(data) != MaxSmallBody:
			t.Errorf("%s: %d bytes before the error, want %d", c.path, len(data), MaxSmallBody)
		}
	}
}

func TestDescribeRedirects(t *testing.T) {
	for _, c := range []struct {
		chain []string
		want  string
	}{
		{[]string{"a", "b", "a", "b"}, "redirect loop: a → b → a (stopped after 10 redirects)"},
		{[]string{"x", "a", "a"}, "redirect loop: x → a → a (stopped after 10 redirects)"},
		{[]string{"a", "b", "c"}, "too many redirects (more than 10): a → b → c"},
		{nil, "too many redirects (more than 10)"},
	} {
		if got := describeRedirects(c.chain); got != c.want {
			t.Errorf("%q: %q, want %q", c.chain, got, c.want)
		}
	}
}

func TestScrubTokens(t *testing.T) {
	var s secrets
	tok := "tok-ABC.def_123>>?"
	s.addToken(tok)
	n := len(s.list)
	s.addToken(tok)
	if len(s.list) != n {
		t.Errorf("a token added twice is recorded twice")
	}
	for _, form := range []string{tok, "dG9rLUFCQy5kZWZfMTIzPj4/", "dG9rLUFCQy5kZWZfMTIzPj4_"} {
		if msg := s.scrub("denied: " + form + "!"); msg != "denied: [REDACTED]!" {
			t.Errorf("%q", msg)
		}
	}
}

// A 401 names the host that answered: a redirect target is not blamed on
// the Docker config; the token service (a realm on another host, which
// gets the credentials) is.
func TestExplainWhoAnswered(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.anonymous["reg.example"] = false
	mk := func(status int, u string, redirected bool) error {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if redirected {
			req.Response = &http.Response{StatusCode: http.StatusTemporaryRedirect}
		}
		return &transport.Error{StatusCode: status, Request: req}
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{mk(401, "https://cdn.example/blob?sig=x", true), "x: cdn.example answered HTTP 401 for https://cdn.example/blob: it is a redirect target (registry reg.example sent the request there), and no credentials are sent to a redirect target"},
		{mk(401, "https://auth.example/token", false), "x: authentication failed: the registry rejected the credentials for reg.example"},
		{mk(401, "https://reg.example/v2/", false), "x: authentication failed: the registry rejected the credentials for reg.example"},
		{mk(503, "https://cdn.example/blob", true), "x: cdn.example (a redirect target of registry reg.example) failed with HTTP 503"},
		{mk(500, "https://auth.example/token", false), "x: auth.example (the token service of registry reg.example) failed with HTTP 500"},
	} {
		if got := c.explain("x", "reg.example", tc.err, nil).Error(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q, want it to start with %q", got, tc.want)
		}
	}
}
