package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FaultProxyOptions configures StartFaultProxy. The zero value is a plain
// HTTP proxy in front of an upstream whose certificate (if any) chains to the
// system roots.
type FaultProxyOptions struct {
	// TLS terminates HTTPS at the proxy with a certificate for
	// 127.0.0.1/localhost from CA. The default is plain HTTP.
	TLS bool
	// CA issues the proxy's certificate with TLS; nil creates a new CA.
	// Pass the registry's CA so one CertPool trusts both.
	CA *CA
	// UpstreamRootCAs are the roots trusted for an https upstream, such as
	// Registry.CertPool(). nil means the system roots.
	UpstreamRootCAs *x509.CertPool
}

// FaultProxy is an HTTP(S) reverse proxy on 127.0.0.1 that forwards to one
// upstream and injects faults chosen by the test. It speaks HTTP/1.1 to both
// sides, streams request and response bodies (chunked or not) without
// buffering them, rewrites Location headers that point at the upstream to
// point at itself, and records every request.
//
// Rules are tried in the order they were added; the first one that matches a
// request and has not used up its Times fires, and only that one.
type FaultProxy struct {
	upstream  *url.URL
	scheme    string
	addr      string
	ca        *CA
	server    *http.Server
	transport *http.Transport
	client    *http.Client

	mu       sync.Mutex
	rules    []*Rule
	records  []RequestRecord
	seq      int
	inflight int // handlers that have not recorded their request yet
}

// Fault is one rule: which requests it matches, how many times it fires, and
// what it does.
type Fault struct {
	// Method matches the request method exactly; "" matches any.
	Method string
	// Path is a regular expression searched for in the URL path (not the
	// query); "" matches any. It must compile (AddFault panics otherwise, as
	// regexp.MustCompile does).
	Path string
	// MinBodySize, when positive, matches only requests whose declared
	// Content-Length is at least this many bytes. A streamed body of
	// unknown length (chunked) matches too, because its size cannot be
	// known in advance.
	MinBodySize int64
	// Times is how many matching requests the rule fires on before it
	// stops matching. 0 means it never stops.
	Times int
	// Action is what happens to a matching request.
	Action Action
}

// Action is what a Fault does; build one with RespondStatus,
// RespondRetryAfter, DropRequestAfter, TruncateResponseAfter, StallBefore,
// StallRequestAfter, StallResponseAfter, ReplaceResponseBody,
// RewriteResponseBody or PassThrough.
type Action struct {
	kind       actionKind
	status     int
	retryAfter string
	bytes      int64
	delay      time.Duration
	rewrite    func([]byte) []byte
}

type actionKind int

const (
	actPass actionKind = iota
	actStatus
	actDropRequest
	actTruncateResponse
	actStallBefore
	actStallRequest
	actStallResponse
	actReplaceResponse
)

// RespondStatus answers with status code (500, 502, 503, ...) and a short
// JSON error body without forwarding the request. The request body is read
// and discarded first, so the client always sees the status and not a write
// error.
func RespondStatus(code int) Action { return Action{kind: actStatus, status: code} }

// RespondRetryAfter is RespondStatus with a Retry-After header, such as
// RespondRetryAfter(429, "1").
func RespondRetryAfter(code int, retryAfter string) Action {
	return Action{kind: actStatus, status: code, retryAfter: retryAfter}
}

// DropRequestAfter forwards the first n bytes of the request body upstream
// and then closes both connections without a response, as a network failure
// in the middle of an upload would. When the body is shorter than n, the
// whole request reaches the upstream and its response is lost.
func DropRequestAfter(n int64) Action { return Action{kind: actDropRequest, bytes: n} }

// TruncateResponseAfter forwards the request, sends the upstream's status and
// headers (including the full Content-Length) and the first n bytes of its
// body, and then closes the connection. A body of n bytes or fewer goes
// through whole (the rule still counts as fired).
func TruncateResponseAfter(n int64) Action { return Action{kind: actTruncateResponse, bytes: n} }

// StallBefore waits d (or until the client gives up) before forwarding the
// request.
func StallBefore(d time.Duration) Action { return Action{kind: actStallBefore, delay: d} }

// StallRequestAfter forwards n bytes of the request body, waits d, then
// forwards the rest.
func StallRequestAfter(n int64, d time.Duration) Action {
	return Action{kind: actStallRequest, bytes: n, delay: d}
}

// StallResponseAfter sends n bytes of the response body, waits d, then sends
// the rest.
func StallResponseAfter(n int64, d time.Duration) Action {
	return Action{kind: actStallResponse, bytes: n, delay: d}
}

// ReplaceResponseBody forwards the request and answers with the upstream's
// status and headers but body instead of the upstream's body (and a
// Content-Length to match), as a tampering mirror or proxy would: headers
// such as Docker-Content-Digest still describe the original content.
func ReplaceResponseBody(body []byte) Action {
	b := append([]byte(nil), body...)
	return RewriteResponseBody(func([]byte) []byte { return b })
}

// RewriteResponseBody is ReplaceResponseBody with the new body computed
// from the upstream's whole body, for example to flip one byte. The rule
// fires (and counts) whatever the upstream status is.
func RewriteResponseBody(rewrite func(upstream []byte) []byte) Action {
	return Action{kind: actReplaceResponse, rewrite: rewrite}
}

// PassThrough forwards the request unchanged. As a rule with Times, it lets
// that many matching requests through before later rules get to fire.
func PassThrough() Action { return Action{kind: actPass} }

// IsFault reports whether the action changes the exchange (everything but
// PassThrough).
func (a Action) IsFault() bool { return a.kind != actPass }

func (a Action) String() string {
	switch a.kind {
	case actStatus:
		if a.retryAfter != "" {
			return fmt.Sprintf("respond %d (Retry-After: %s)", a.status, a.retryAfter)
		}
		return fmt.Sprintf("respond %d", a.status)
	case actDropRequest:
		return fmt.Sprintf("drop after %d request bytes", a.bytes)
	case actTruncateResponse:
		return fmt.Sprintf("truncate response after %d bytes", a.bytes)
	case actStallBefore:
		return fmt.Sprintf("stall %v before forwarding", a.delay)
	case actStallRequest:
		return fmt.Sprintf("stall %v after %d request bytes", a.delay, a.bytes)
	case actStallResponse:
		return fmt.Sprintf("stall %v after %d response bytes", a.delay, a.bytes)
	case actReplaceResponse:
		return "replace response body"
	default:
		return "pass through"
	}
}

// Rule is a Fault added to a FaultProxy.
type Rule struct {
	Fault
	index int
	re    *regexp.Regexp
	fired int // guarded by the proxy's mu
	p     *FaultProxy
}

// Fired returns how many requests the rule has fired on.
func (r *Rule) Fired() int {
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	return r.fired
}

func (r *Rule) String() string {
	m := r.Method
	if m == "" {
		m = "*"
	}
	times := "always"
	if r.Times > 0 {
		times = fmt.Sprintf("%d times", r.Times)
	}
	return fmt.Sprintf("rule %d (%s %q, %s): %s", r.index, m, r.Path, times, r.Action)
}

// RequestRecord is one request seen by a FaultProxy.
type RequestRecord struct {
	// Seq numbers requests in the order they arrived, from 1.
	Seq    int
	Method string
	// Path and Query are the request URL's path and raw query.
	Path, Query string
	// Status is the status code sent to the client, 0 when the connection
	// was closed before one was sent.
	Status int
	// BytesIn counts request body bytes read from the client; BytesOut
	// response body bytes written to it.
	BytesIn, BytesOut int64
	// Rule is the index of the rule that fired, -1 for none.
	Rule int
	// Fault describes the fault that fired ("" for none or PassThrough).
	Fault string
	// Retry is set by Requests and Stats: an earlier request with the same
	// method and path (upload session ignored, digest parameter kept)
	// failed.
	Retry bool
	// Err is what went wrong forwarding (upstream unreachable, client gone).
	Err        string
	Start, End time.Time
}

// Failed reports whether the client did not get a good answer: the status
// was 5xx or 429, or the exchange broke (no status, or a cut body). A stall
// alone is not a failure.
func (r RequestRecord) Failed() bool {
	return r.Status == 0 || r.Status >= 500 || r.Status == http.StatusTooManyRequests || r.Err != ""
}

func (r RequestRecord) String() string {
	s := fmt.Sprintf("#%d %s %s -> %d (in %d B, out %d B, %v)", r.Seq, r.Method, r.Path, r.Status, r.BytesIn, r.BytesOut, r.End.Sub(r.Start).Round(time.Millisecond))
	if r.Fault != "" {
		s += " fault: " + r.Fault
	}
	if r.Retry {
		s += " [retry]"
	}
	if r.Err != "" {
		s += " error: " + r.Err
	}
	return s
}

// Stats sums up a FaultProxy's records.
type Stats struct {
	Requests, Retries, Faults, Failed int
	BytesIn, BytesOut                 int64
	// Duration is from the first request's start to the last one's end.
	Duration time.Duration
}

func (s Stats) String() string {
	return fmt.Sprintf("%d requests, %d retries, %d faults, %d failed, %d B in, %d B out, total time %v",
		s.Requests, s.Retries, s.Faults, s.Failed, s.BytesIn, s.BytesOut, s.Duration.Round(time.Millisecond))
}

// StartFaultProxy starts a proxy on a free port of 127.0.0.1 that forwards
// to upstream (a base URL such as Registry.URL()) and closes it in
// t.Cleanup. When the test has failed, the cleanup logs every recorded
// request.
func StartFaultProxy(t testing.TB, upstream string, opts FaultProxyOptions) *FaultProxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		t.Fatalf("testenv: fault proxy upstream %q is not an http(s) base URL (err: %v)", upstream, err)
	}
	p := &FaultProxy{
		upstream: u,
		scheme:   "http",
		transport: &http.Transport{
			Proxy:               nil,
			TLSClientConfig:     &tls.Config{RootCAs: opts.UpstreamRootCAs},
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			TLSHandshakeTimeout: 5 * time.Second,
			// A fresh upstream connection per request: a registry restart
			// then never leaves a stale pooled connection that would turn
			// the next upload into a spurious 502.
			DisableKeepAlives:  true,
			DisableCompression: true,
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: fault proxy: %v", err)
	}
	p.addr = ln.Addr().String()
	p.server = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		// Handshake errors from clients that do not trust the test CA are
		// expected in tests; they show up in the client's error instead.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	if opts.TLS {
		p.scheme = "https"
		p.ca = opts.CA
		if p.ca == nil {
			if p.ca, err = newCA(t.TempDir()); err != nil {
				ln.Close()
				t.Fatalf("testenv: fault proxy CA: %v", err)
			}
		}
		sc, err := p.ca.IssueServerCert("faultproxy-" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
		if err != nil {
			ln.Close()
			t.Fatalf("testenv: fault proxy certificate: %v", err)
		}
		ln = tls.NewListener(ln, &tls.Config{
			Certificates: []tls.Certificate{sc.TLS},
			NextProtos:   []string{"http/1.1"},
		})
	}
	p.client = newClient(p.CertPool())
	go func() { _ = p.server.Serve(ln) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testenv: fault proxy %s -> %s saw %s:\n%s", p.URL(), upstream, p.Stats(), p.Dump())
		}
		p.Close()
	})
	return p
}

// Addr returns "127.0.0.1:PORT".
func (p *FaultProxy) Addr() string { return p.addr }

// URL returns the proxy's base URL.
func (p *FaultProxy) URL() string { return p.scheme + "://" + p.addr }

// CA returns the CA of the proxy's certificate, nil without TLS.
func (p *FaultProxy) CA() *CA { return p.ca }

// CertPool returns a pool with the proxy's CA, nil without TLS.
func (p *FaultProxy) CertPool() *x509.CertPool {
	if p.ca == nil {
		return nil
	}
	return p.ca.Pool
}

// Client returns an HTTP client that trusts the proxy's CA and ignores proxy
// environment variables.
func (p *FaultProxy) Client() *http.Client { return p.client }

// Close stops the proxy and drops open connections.
func (p *FaultProxy) Close() {
	_ = p.server.Close()
	p.transport.CloseIdleConnections()
	p.client.Transport.(*http.Transport).CloseIdleConnections()
}

// AddFault appends a rule and returns it, to ask later how often it fired.
func (p *FaultProxy) AddFault(f Fault) *Rule {
	r := &Rule{Fault: f, p: p}
	if f.Path != "" {
		r.re = regexp.MustCompile(f.Path)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r.index = len(p.rules)
	p.rules = append(p.rules, r)
	return r
}

// ClearFaults removes all rules.
func (p *FaultProxy) ClearFaults() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// Reset forgets the recorded requests (the rules stay).
func (p *FaultProxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records = nil
}

// Requests returns the finished requests in arrival order, with Retry set.
//
// A client can read the last byte of a response before the proxy's handler
// has recorded it, so Requests first waits up to a second for requests in
// flight to finish; one still running then (a long stall in another
// goroutine) is left out.
func (p *FaultProxy) Requests() []RequestRecord {
	deadline := time.Now().Add(time.Second)
	p.mu.Lock()
	for p.inflight > 0 && time.Now().Before(deadline) {
		p.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		p.mu.Lock()
	}
	recs := append([]RequestRecord(nil), p.records...)
	p.mu.Unlock()
	sort.Slice(recs, func(i, j int) bool { return recs[i].Seq < recs[j].Seq })
	failed := map[string]bool{}
	for i := range recs {
		key := retryKey(recs[i])
		recs[i].Retry = failed[key]
		if recs[i].Failed() {
			failed[key] = true
		}
	}
	return recs
}

// uploadUUID matches the session part of a blob upload URL, so that a new
// session for the same repository counts as a retry of a failed one.
var uploadUUID = regexp.MustCompile(`/blobs/uploads/[^/]+$`)

// retryKey identifies "the same request" for retry counting: method and
// path, with the upload session collapsed and the digest of a blob upload's
// final PUT kept (so the next blob's upload is not a retry).
func retryKey(r RequestRecord) string {
	key := r.Method + " " + uploadUUID.ReplaceAllString(r.Path, "/blobs/uploads/")
	if q, err := url.ParseQuery(r.Query); err == nil && q.Get("digest") != "" {
		key += "?digest=" + q.Get("digest")
	}
	return key
}

// Stats sums up Requests.
func (p *FaultProxy) Stats() Stats {
	var s Stats
	var first, last time.Time
	for _, r := range p.Requests() {
		s.Requests++
		if r.Retry {
			s.Retries++
		}
		if r.Fault != "" {
			s.Faults++
		}
		if r.Failed() {
			s.Failed++
		}
		s.BytesIn += r.BytesIn
		s.BytesOut += r.BytesOut
		if first.IsZero() || r.Start.Before(first) {
			first = r.Start
		}
		if r.End.After(last) {
			last = r.End
		}
	}
	if !first.IsZero() {
		s.Duration = last.Sub(first)
	}
	return s
}

// Dump returns one line per recorded request.
func (p *FaultProxy) Dump() string {
	var b strings.Builder
	for _, r := range p.Requests() {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// match picks the rule that fires for req and counts it.
func (p *FaultProxy) match(req *http.Request) (*Rule, Action) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.rules {
		if r.Times > 0 && r.fired >= r.Times {
			continue
		}
		if r.Method != "" && r.Method != req.Method {
			continue
		}
		if r.re != nil && !r.re.MatchString(req.URL.Path) {
			continue
		}
		if r.MinBodySize > 0 && req.ContentLength >= 0 && req.ContentLength < r.MinBodySize {
			continue
		}
		r.fired++
		return r, r.Action
	}
	return nil, PassThrough()
}

// hopHeaders are connection-level headers a proxy must not forward.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func copyHeaders(dst, src http.Header) {
	for k, vv := range src {
		dst[k] = append([]string(nil), vv...)
	}
	for _, f := range src["Connection"] {
		for _, name := range strings.Split(f, ",") {
			dst.Del(strings.TrimSpace(name))
		}
	}
	for _, h := range hopHeaders {
		dst.Del(h)
	}
}

var errInjectedDrop = errors.New("testenv: connection dropped by fault")

// ServeHTTP forwards one request, applying the rule that fires for it.
func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p.mu.Lock()
	p.seq++
	p.inflight++
	rec := RequestRecord{Seq: p.seq, Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Rule: -1, Start: time.Now()}
	p.mu.Unlock()
	rule, act := p.match(req)
	if rule != nil {
		rec.Rule = rule.index
		if act.IsFault() {
			rec.Fault = act.String()
		}
	}
	body := &faultBody{r: req.Body, ctx: req.Context().Done()}
	cw := &countingWriter{w: w, rc: http.NewResponseController(w)}
	abort := false
	defer func() {
		rec.End = time.Now()
		rec.BytesIn = body.n
		rec.BytesOut = cw.n
		rec.Status = cw.status // 0 when aborted before any header went out
		p.mu.Lock()
		p.records = append(p.records, rec)
		p.inflight--
		p.mu.Unlock()
		if abort {
			// Closes the client connection without finishing the response.
			panic(http.ErrAbortHandler)
		}
	}()

	switch act.kind {
	case actStatus:
		_, _ = io.Copy(io.Discard, body)
		if act.retryAfter != "" {
			w.Header().Set("Retry-After", act.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Testenv-Fault", act.String())
		msg := fmt.Sprintf(`{"errors":[{"code":"UNKNOWN","message":"testenv fault proxy: %s"}]}`+"\n", act)
		w.Header().Set("Content-Length", strconv.Itoa(len(msg)))
		cw.WriteHeader(act.status)
		_, _ = cw.Write([]byte(msg))
		return
	case actStallBefore:
		if !sleepCtx(req.Context(), act.delay) {
			rec.Err = "client went away during stall"
			abort = true
			return
		}
	case actDropRequest:
		body.limit, body.limitSet = act.bytes, true
	case actStallRequest:
		body.stallAt, body.stall = act.bytes, act.delay
	}

	out, err := http.NewRequestWithContext(req.Context(), req.Method, p.upstreamURL(req.URL), nil)
	if err != nil {
		rec.Err = err.Error()
		http.Error(cw, err.Error(), http.StatusInternalServerError)
		return
	}
	copyHeaders(out.Header, req.Header)
	out.Header.Del("Expect")
	out.Host = p.upstream.Host
	if req.ContentLength != 0 {
		out.Body = body
		out.ContentLength = req.ContentLength // -1: streamed, sent chunked
	}
	resp, err := p.transport.RoundTrip(out)
	if act.kind == actDropRequest {
		if err == nil {
			resp.Body.Close()
		}
		rec.Err = "dropped by fault"
		abort = true
		return
	}
	if err != nil {
		rec.Err = err.Error()
		if req.Context().Err() != nil {
			abort = true // the client is gone; nobody to answer
			return
		}
		msg := fmt.Sprintf(`{"errors":[{"code":"UNKNOWN","message":"testenv fault proxy: upstream: %s"}]}`+"\n", strings.ReplaceAll(err.Error(), `"`, `'`))
		cw.Header().Set("Content-Type", "application/json")
		cw.WriteHeader(http.StatusBadGateway)
		_, _ = cw.Write([]byte(msg))
		return
	}
	defer resp.Body.Close()

	if act.kind == actReplaceResponse {
		upstream, err := io.ReadAll(resp.Body)
		if err != nil {
			rec.Err = err.Error()
			abort = true
			return
		}
		body := act.rewrite(upstream)
		copyHeaders(cw.Header(), resp.Header)
		if loc := resp.Header.Get("Location"); loc != "" {
			cw.Header().Set("Location", p.rewriteLocation(loc))
		}
		if req.Method != http.MethodHead {
			cw.Header().Set("Content-Length", strconv.Itoa(len(body)))
		}
		cw.WriteHeader(resp.StatusCode)
		if req.Method != http.MethodHead {
			_, _ = cw.Write(body)
		}
		return
	}

	copyHeaders(cw.Header(), resp.Header)
	if loc := resp.Header.Get("Location"); loc != "" {
		cw.Header().Set("Location", p.rewriteLocation(loc))
	}
	if resp.ContentLength >= 0 && req.Method != http.MethodHead {
		cw.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	cw.WriteHeader(resp.StatusCode)

	limit := int64(-1)
	switch act.kind {
	case actTruncateResponse:
		limit = act.bytes
	case actStallResponse:
		if _, err := copyFlush(cw, resp.Body, act.bytes); err != nil {
			rec.Err = err.Error()
			abort = true
			return
		}
		if !sleepCtx(req.Context(), act.delay) {
			rec.Err = "client went away during stall"
			abort = true
			return
		}
	}
	if _, err := copyFlush(cw, resp.Body, limit); err != nil {
		rec.Err = err.Error()
		abort = true
		return
	}
	if act.kind == actTruncateResponse {
		if resp.ContentLength < 0 || cw.n < resp.ContentLength {
			rec.Err = "response truncated by fault"
			abort = true
		}
	}
}

func (p *FaultProxy) upstreamURL(in *url.URL) string {
	u := *p.upstream
	u.Path = strings.TrimSuffix(p.upstream.Path, "/") + in.Path
	u.RawPath = ""
	if in.RawPath != "" {
		u.RawPath = strings.TrimSuffix(p.upstream.EscapedPath(), "/") + in.RawPath
	}
	u.RawQuery = in.RawQuery
	return u.String()
}

// rewriteLocation points absolute URLs on the upstream host at the proxy.
func (p *FaultProxy) rewriteLocation(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || !u.IsAbs() || u.Host != p.upstream.Host {
		return loc
	}
	u.Scheme = p.scheme
	u.Host = p.addr
	return u.String()
}

// copyFlush copies up to limit bytes (all when limit < 0) and flushes after
// every read, so that stalls and truncations happen on the wire where they
// are asked for.
func copyFlush(dst *countingWriter, src io.Reader, limit int64) (int64, error) {
	if limit >= 0 {
		src = io.LimitReader(src, limit)
	}
	buf := make([]byte, 32*1024)
	var total int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
			_ = dst.rc.Flush()
		}
		if err == io.EOF {
			_ = dst.rc.Flush()
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// faultBody counts the request body as it is forwarded and can stall or end
// it early.
type faultBody struct {
	r   io.Reader
	ctx <-chan struct{}
	n   int64

	limitSet bool // return errInjectedDrop once limit bytes are read
	limit    int64

	stallAt int64 // wait stall once stallAt bytes are read
	stall   time.Duration
	stalled bool
}

func (b *faultBody) Read(buf []byte) (int, error) {
	if b.limitSet {
		if b.n >= b.limit {
			return 0, errInjectedDrop
		}
		if rest := b.limit - b.n; int64(len(buf)) > rest {
			buf = buf[:rest]
		}
	}
	if b.stall > 0 && !b.stalled {
		if b.n >= b.stallAt {
			b.stalled = true
			t := time.NewTimer(b.stall)
			select {
			case <-t.C:
			case <-b.ctx:
				t.Stop()
				return 0, errors.New("testenv: client went away during stall")
			}
		} else if rest := b.stallAt - b.n; int64(len(buf)) > rest {
			buf = buf[:rest]
		}
	}
	n, err := b.r.Read(buf)
	b.n += int64(n)
	return n, err
}

func (b *faultBody) Close() error { return nil }

// countingWriter counts body bytes and remembers the status.
type countingWriter struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	n      int64
	status int
}

func (c *countingWriter) Header() http.Header { return c.w.Header() }

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.w.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
