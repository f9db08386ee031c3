package testenv

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// recordsWith returns the records for which keep is true.
func recordsWith(p *FaultProxy, keep func(RequestRecord) bool) []RequestRecord {
	var out []RequestRecord
	for _, r := range p.Requests() {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

func faulted(r RequestRecord) bool { return r.Fault != "" }

// TestFaultProxyFaults pushes and pulls an image through the proxy with each
// kind of fault, and checks that the fault fired, that the records show it,
// that a retrying client gets through, and that the registry ends up with
// exactly the pushed bytes.
func TestFaultProxyFaults(t *testing.T) {
	reg := StartRegistry(t, RegistryOptions{})
	img := newTestImage(t, 64<<10) // a layer of ~64 KiB, the config is a few hundred bytes
	layer := digestOf(img.layer)

	cases := []struct {
		name     string
		faults   []Fault
		streamed bool // push with streamed PATCH instead of monolithic PUT
		// pushTries/pullTries are the minimum attempts the retrying client
		// must have needed.
		pushTries, pullTries int
		check                func(t *testing.T, p *FaultProxy, rules []*Rule, elapsed time.Duration)
	}{
		{
			name:      "500 on blob PUT",
			faults:    []Fault{{Method: "PUT", Path: `/blobs/uploads/`, Times: 1, Action: RespondStatus(500)}},
			pushTries: 2,
			check: func(t *testing.T, p *FaultProxy, rules []*Rule, _ time.Duration) {
				f := recordsWith(p, faulted)
				if len(f) != 1 || f[0].Status != 500 || f[0].BytesIn == 0 {
					t.Errorf("faulted records: %v", f)
				}
			},
		},
		{
			name:      "502 on upload POST",
			faults:    []Fault{{Method: "POST", Path: `/blobs/uploads/$`, Times: 2, Action: RespondStatus(502)}},
			pushTries: 3,
		},
		{
			name:      "503 on manifest PUT",
			faults:    []Fault{{Method: "PUT", Path: `/manifests/`, Times: 1, Action: RespondStatus(503)}},
			pushTries: 2,
		},
		{
			name:      "429 with Retry-After on manifest GET",
			faults:    []Fault{{Method: "GET", Path: `/manifests/`, Times: 1, Action: RespondRetryAfter(429, "1")}},
			pullTries: 2,
		},
		{
			name: "drop mid-upload of a large monolithic PUT",
			// MinBodySize spares the small config blob.
			faults:    []Fault{{Method: "PUT", Path: `/blobs/uploads/`, MinBodySize: 8 << 10, Times: 1, Action: DropRequestAfter(5000)}},
			pushTries: 2,
			check: func(t *testing.T, p *FaultProxy, rules []*Rule, _ time.Duration) {
				f := recordsWith(p, faulted)
				if len(f) != 1 || f[0].Status != 0 || f[0].BytesIn != 5000 || f[0].Err == "" {
					t.Errorf("faulted records: %v", f)
				}
			},
		},
		{
			name: "drop mid-stream of a chunked PATCH",
			// A streamed body has no Content-Length, so MinBodySize cannot
			// tell the config from the layer: let the first PATCH (the
			// config) through and cut the second.
			faults: []Fault{
				{Method: "PATCH", Times: 1, Action: PassThrough()},
				{Method: "PATCH", MinBodySize: 1, Times: 1, Action: DropRequestAfter(3000)},
			},
			streamed:  true,
			pushTries: 2,
			check: func(t *testing.T, p *FaultProxy, rules []*Rule, _ time.Duration) {
				f := recordsWith(p, faulted)
				if len(f) != 1 || f[0].Method != "PATCH" || f[0].BytesIn != 3000 {
					t.Errorf("faulted records: %v", f)
				}
			},
		},
		{
			name:      "truncated blob GET",
			faults:    []Fault{{Method: "GET", Path: `/blobs/` + layer, Times: 1, Action: TruncateResponseAfter(1000)}},
			pullTries: 2,
			check: func(t *testing.T, p *FaultProxy, rules []*Rule, _ time.Duration) {
				f := recordsWith(p, faulted)
				if len(f) != 1 || f[0].Status != 200 || f[0].BytesOut != 1000 || !strings.Contains(f[0].Err, "truncated") {
					t.Errorf("faulted records: %v", f)
				}
			},
		},
		{
			name:   "stall before forwarding",
			faults: []Fault{{Method: "PUT", Path: `/manifests/`, Times: 1, Action: StallBefore(300 * time.Millisecond)}},
			check: func(t *testing.T, p *FaultProxy, rules []*Rule, elapsed time.Duration) {
				f := recordsWith(p, faulted)
				if len(f) != 1 || f[0].End.Sub(f[0].Start) < 300*time.Millisecond || f[0].Status != 201 || f[0].Failed() {
					t.Errorf("faulted records: %v", f)
				}
			},
		},
		{
			name:   "stall mid request body",
			faults: []Fault{{Method: "PUT", Path: `/blobs/uploads/`, MinBodySize: 8 << 10, Times: 1, Action: StallRequestAfter(4000, 300*time.Millisecond)}},
			check: func(t *testing.T, p *FaultProxy, rules []*Rule, elapsed time.Duration) {
				f := recordsWith(p, faulted)
				if len(f) != 1 || f[0].End.Sub(f[0].Start) < 300*time.Millisecond || f[0].Status != 201 {
					t.Errorf("faulted records: %v", f)
				}
			},
		},
		{
			name:   "stall mid response body",
			faults: []Fault{{Method: "GET", Path: `/blobs/` + layer, Times: 1, Action: StallResponseAfter(2000, 300*time.Millisecond)}},
			check: func(t *testing.T, p *FaultProxy, rules []*Rule, elapsed time.Duration) {
				f := recordsWith(p, faulted)
				if len(f) != 1 || f[0].End.Sub(f[0].Start) < 300*time.Millisecond || f[0].BytesOut != int64(len(img.layer)) {
					t.Errorf("faulted records: %v", f)
				}
			},
		},
		{
			name: "pass through once, then fail once",
			faults: []Fault{
				{Method: "PUT", Path: `/blobs/uploads/`, Times: 1, Action: PassThrough()},
				{Method: "PUT", Path: `/blobs/uploads/`, Times: 1, Action: RespondStatus(500)},
			},
			pushTries: 2,
			check: func(t *testing.T, p *FaultProxy, rules []*Rule, _ time.Duration) {
				var puts []RequestRecord
				for _, r := range p.Requests() {
					if r.Method == "PUT" && strings.Contains(r.Path, "/blobs/uploads/") {
						puts = append(puts, r)
					}
				}
				// The config PUT passes (rule 0), the layer PUT fails (rule
				// 1); the retried push sends the config again (not a retry:
				// it had not failed) and the layer (a retry), no rule left.
				if len(puts) != 4 || puts[0].Rule != 0 || puts[0].Status != 201 || puts[1].Rule != 1 || puts[1].Status != 500 ||
					puts[2].Rule != -1 || puts[2].Retry || puts[3].Rule != -1 || !puts[3].Retry || puts[3].Status != 201 {
					t.Errorf("blob PUTs: %v", puts)
				}
			},
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := StartFaultProxy(t, reg.URL(), FaultProxyOptions{})
			var rules []*Rule
			for _, f := range tc.faults {
				rules = append(rules, p.AddFault(f))
			}
			d := distClient{base: p.URL(), client: p.Client()}
			repo := "faults/case" + strconv.Itoa(i)
			var retryAfters []string
			start := time.Now()
			pushTries, err := retry(5, &retryAfters, func() error {
				_, err := d.pushImage(repo, "v1", img, tc.streamed)
				return err
			})
			if err != nil {
				t.Fatalf("push: %v", err)
			}
			pullTries, err := retry(5, &retryAfters, func() error { return d.pullAndCheck(repo, "v1", img) })
			if err != nil {
				t.Fatalf("pull: %v", err)
			}
			elapsed := time.Since(start)
			if pushTries < tc.pushTries || pullTries < tc.pullTries {
				t.Errorf("push took %d tries (want >= %d), pull %d (want >= %d)", pushTries, tc.pushTries, pullTries, tc.pullTries)
			}
			for _, r := range rules {
				want := r.Times
				if r.Fired() != want {
					t.Errorf("%v fired %d times, want %d", r, r.Fired(), want)
				}
			}
			stats := p.Stats()
			wantFaults := 0
			for _, r := range rules {
				if r.Action.IsFault() {
					wantFaults += r.Fired()
				}
			}
			if stats.Faults != wantFaults {
				t.Errorf("stats %v: want %d faults", stats, wantFaults)
			}
			if stats.Failed > 0 && stats.Retries == 0 {
				t.Errorf("stats %v: failures without retries", stats)
			}
			if strings.Contains(tc.name, "Retry-After") && (len(retryAfters) != 1 || retryAfters[0] != "1") {
				t.Errorf("client saw Retry-After values %q, want [1]", retryAfters)
			}
			// Never corrupt: straight from the registry, every blob has
			// exactly the pushed bytes.
			direct := distClient{base: reg.URL(), client: reg.Client()}
			if err := direct.pullAndCheck(repo, "v1", img); err != nil {
				t.Errorf("registry content after faults: %v", err)
			}
			if tc.check != nil {
				tc.check(t, p, rules, elapsed)
			}
			t.Logf("%s: %s", tc.name, stats)
			if testing.Verbose() {
				t.Logf("requests:\n%s", p.Dump())
			}
		})
	}
}

// TestFaultProxyDropLeavesNoBlob shows that a monolithic upload cut off
// midway commits nothing, and the error is a transport error, not a status.
func TestFaultProxyDropLeavesNoBlob(t *testing.T) {
	reg := StartRegistry(t, RegistryOptions{})
	p := StartFaultProxy(t, reg.URL(), FaultProxyOptions{})
	rule := p.AddFault(Fault{Method: "PUT", Action: DropRequestAfter(1024)})
	data := bytes.Repeat([]byte("0123456789abcdef"), 1024)
	d := distClient{base: p.URL(), client: p.Client()}
	err := d.pushBlob("drop/test", data)
	var se *httpStatusError
	if err == nil || errors.As(err, &se) {
		t.Fatalf("push through a dropping proxy: %v, want a connection error", err)
	}
	t.Logf("client saw: %v", err)
	status, _, err := distClient{base: reg.URL(), client: reg.Client()}.headBlob("drop/test", digestOf(data))
	if err != nil || status != http.StatusNotFound {
		t.Fatalf("HEAD after a dropped upload: %d, %v; want 404", status, err)
	}
	if rule.Fired() != 1 {
		t.Errorf("rule fired %d times", rule.Fired())
	}
	// Times 0: the rule keeps firing.
	if err := d.pushBlob("drop/test", data); err == nil || rule.Fired() != 2 {
		t.Errorf("second push: %v, fired %d", err, rule.Fired())
	}
	p.ClearFaults()
	if err := d.pushBlob("drop/test", data); err != nil {
		t.Fatalf("push after ClearFaults: %v", err)
	}
	if s := p.Stats(); s.Faults != 2 || s.Retries != 2 {
		t.Errorf("stats %v: want 2 faults, 2 retries", s)
	}
	p.Reset()
	if s := p.Stats(); s.Requests != 0 {
		t.Errorf("after Reset: %v", s)
	}
}

// TestFaultProxyProtocol checks Location rewriting, HEAD and Range requests,
// and what the proxy does while the upstream is down.
func TestFaultProxyProtocol(t *testing.T) {
	reg := StartRegistry(t, RegistryOptions{})
	p := StartFaultProxy(t, reg.URL(), FaultProxyOptions{})
	d := distClient{base: p.URL(), client: p.Client()}
	data := make([]byte, 10000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	digest := digestOf(data)

	// The registry answers POST with an absolute Location on its own host;
	// through the proxy it must point at the proxy.
	loc, err := d.startUpload("proto/test")
	if err != nil {
		t.Fatal(err)
	}
	if loc.Scheme+"://"+loc.Host != p.URL() || !strings.Contains(loc.Path, "/v2/proto/test/blobs/uploads/") {
		t.Fatalf("upload Location %s does not point at the proxy %s", loc, p.URL())
	}
	resp, err := d.do("put", http.MethodPut, withDigest(loc, digest), bytes.NewReader(data), int64(len(data)), nil, http.StatusCreated)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Location"); !strings.HasPrefix(got, p.URL()+"/v2/proto/test/blobs/") {
		t.Errorf("blob Location %q does not point at the proxy", got)
	}

	status, size, err := d.headBlob("proto/test", digest)
	if err != nil || status != http.StatusOK || size != int64(len(data)) {
		t.Fatalf("HEAD: %d, Content-Length %d, %v", status, size, err)
	}
	part, resp, err := d.get("range", p.URL()+"/v2/proto/test/blobs/"+digest, map[string]string{"Range": "bytes=100-199"}, http.StatusPartialContent)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(part, data[100:200]) || resp.Header.Get("Content-Range") != "bytes 100-199/10000" {
		t.Fatalf("range GET: %d bytes, Content-Range %q", len(part), resp.Header.Get("Content-Range"))
	}
	for _, r := range p.Requests() {
		if r.Method == "HEAD" && (r.Status != 200 || r.BytesOut != 0) {
			t.Errorf("HEAD record %v", r)
		}
	}

	// Upstream down: the proxy answers 502 and records why; back up, fine.
	if err := reg.Stop(); err != nil {
		t.Fatal(err)
	}
	_, _, err = d.headBlob("proto/test", digest)
	var se *httpStatusError
	if !errors.As(err, &se) || se.status != http.StatusBadGateway {
		t.Fatalf("HEAD with the registry down: %v, want 502", err)
	}
	last := p.Requests()[len(p.Requests())-1]
	if last.Status != 502 || !strings.Contains(last.Err, "connection refused") {
		t.Errorf("record while down: %v", last)
	}
	if err := reg.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.getBlob("proto/test", digest); err != nil {
		t.Fatalf("GET after restart: %v", err)
	}
}

// TestFaultProxyTLSAuth runs a TLS proxy in front of a TLS registry with
// htpasswd auth, sharing one CA, and pushes through a fault.
func TestFaultProxyTLSAuth(t *testing.T) {
	reg := StartRegistry(t, RegistryOptions{TLS: true, Htpasswd: true})
	p := StartFaultProxy(t, reg.URL(), FaultProxyOptions{TLS: true, CA: reg.CA, UpstreamRootCAs: reg.CertPool()})
	if !strings.HasPrefix(p.URL(), "https://127.0.0.1:") || p.CA() != reg.CA {
		t.Fatalf("proxy URL %s", p.URL())
	}
	p.AddFault(Fault{Method: "PUT", Path: `/blobs/uploads/`, Times: 1, Action: RespondStatus(503)})
	// reg.AuthClient trusts reg.CA, which also issued the proxy's certificate.
	d := distClient{base: p.URL(), client: reg.AuthClient()}
	img := newTestImage(t, 1024)
	if _, err := retry(3, nil, func() error {
		_, err := d.pushImage("tls/test", "v1", img, false)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.pullAndCheck("tls/test", "v1", img); err != nil {
		t.Fatal(err)
	}
	// Without credentials the registry's 401 comes through the proxy.
	resp, err := p.Client().Get(p.URL() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Www-Authenticate") == "" {
		t.Errorf("GET /v2/ without credentials through the proxy: %s", resp.Status)
	}
	if s := p.Stats(); s.Faults != 1 || s.Retries != 1 {
		t.Errorf("stats %v", s)
	}
	t.Log(p.Stats())
}
