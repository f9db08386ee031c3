package testenv

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
)

// TestFaultProxyReplaceResponseBody serves other bytes for a blob while
// the registry's headers (Docker-Content-Digest) still describe the real
// ones, as a tampering mirror would.
func TestFaultProxyReplaceResponseBody(t *testing.T) {
	reg := StartRegistry(t, RegistryOptions{})
	p := StartFaultProxy(t, reg.URL(), FaultProxyOptions{})
	d := distClient{base: reg.URL(), client: reg.Client()}
	img := newTestImage(t, 1024)
	if _, err := d.pushImage("tamper/test", "v1", img, false); err != nil {
		t.Fatal(err)
	}
	layer := digestOf(img.layer)
	evil := []byte("not the layer you are looking for")
	rule := p.AddFault(Fault{Method: "GET", Path: `/blobs/` + layer + `$`, Times: 1, Action: ReplaceResponseBody(evil)})
	flip := p.AddFault(Fault{Method: "GET", Path: `/blobs/` + layer + `$`, Times: 1, Action: RewriteResponseBody(func(b []byte) []byte {
		out := append([]byte(nil), b...)
		out[len(out)/2] ^= 0xff
		return out
	})})

	through := distClient{base: p.URL(), client: p.Client()}
	got, resp, err := through.get("get blob", p.URL()+"/v2/tamper/test/blobs/"+layer, nil, http.StatusOK)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, evil) {
		t.Fatalf("body %q, want the replacement", got)
	}
	if resp.Header.Get("Docker-Content-Digest") != layer {
		t.Errorf("Docker-Content-Digest %q, want the upstream's %s", resp.Header.Get("Docker-Content-Digest"), layer)
	}
	if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(evil)) {
		t.Errorf("Content-Length %q, want %d", cl, len(evil))
	}

	got, _, err = through.get("get blob", p.URL()+"/v2/tamper/test/blobs/"+layer, nil, http.StatusOK)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(img.layer) || bytes.Equal(got, img.layer) || digestOf(got) == layer {
		t.Fatalf("rewritten body: %d bytes, equal to the layer: %t", len(got), bytes.Equal(got, img.layer))
	}

	// Both rules are used up: the real bytes come through.
	got, _, err = through.get("get blob", p.URL()+"/v2/tamper/test/blobs/"+layer, nil, http.StatusOK)
	if err != nil || !bytes.Equal(got, img.layer) {
		t.Fatalf("third GET: %v, equal %t", err, bytes.Equal(got, img.layer))
	}
	if rule.Fired() != 1 || flip.Fired() != 1 {
		t.Errorf("fired %d and %d times, want 1 and 1", rule.Fired(), flip.Fired())
	}
	recs := recordsWith(p, faulted)
	if len(recs) != 2 || recs[0].Fault != "replace response body" || recs[0].BytesOut != int64(len(evil)) {
		t.Errorf("records %v", recs)
	}
}
