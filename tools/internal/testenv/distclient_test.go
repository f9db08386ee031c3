package testenv

// A tiny client for the distribution API over raw net/http, enough to push
// and pull a small OCI image through the registry and the fault proxy.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	ociManifestType = "application/vnd.oci.image.manifest.v1+json"
	ociConfigType   = "application/vnd.oci.image.config.v1+json"
	ociLayerType    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// testImage is a one-layer OCI image held in memory.
type testImage struct {
	config, layer, manifest []byte
}

func (img testImage) blobs() [][]byte { return [][]byte{img.config, img.layer} }

// newTestImage builds an image whose layer holds layerPayload random
// (incompressible) bytes, so the layer blob is a little larger than that.
func newTestImage(t testing.TB, layerPayload int) testImage {
	t.Helper()
	payload := make([]byte, layerPayload)
	if _, err := rand.Read(payload); err != nil {
		t.Fatal(err)
	}
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	if err := tw.WriteHeader(&tar.Header{Name: "data.bin", Mode: 0o644, Size: int64(len(payload)), ModTime: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(payload); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarBuf.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	diffID := digestOf(tarBuf.Bytes())
	config := fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[%q]}}`, diffID)
	img := testImage{config: []byte(config), layer: gz.Bytes()}
	manifest := map[string]any{
		"schemaVersion": 2,
		"mediaType":     ociManifestType,
		"config":        map[string]any{"mediaType": ociConfigType, "digest": digestOf(img.config), "size": len(img.config)},
		"layers":        []any{map[string]any{"mediaType": ociLayerType, "digest": digestOf(img.layer), "size": len(img.layer)}},
	}
	var err error
	if img.manifest, err = json.Marshal(manifest); err != nil {
		t.Fatal(err)
	}
	return img
}

// httpStatusError is a response with an unexpected status.
type httpStatusError struct {
	op         string
	status     int
	retryAfter string
	body       string
}

func (e *httpStatusError) Error() string {
	s := fmt.Sprintf("%s: HTTP %d: %s", e.op, e.status, strings.TrimSpace(e.body))
	if e.retryAfter != "" {
		s += " (Retry-After: " + e.retryAfter + ")"
	}
	return s
}

type distClient struct {
	base   string // scheme://host:port of the registry or the proxy
	client *http.Client
}

func (d distClient) do(op, method, rawURL string, body io.Reader, size int64, header map[string]string, want ...int) (*http.Response, error) {
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size // -1 streams the body chunked
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	for _, w := range want {
		if resp.StatusCode == w {
			return resp, nil
		}
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return nil, &httpStatusError{op: op, status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(b)}
}

// location resolves a Location header against the request URL.
func location(resp *http.Response) (*url.URL, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, errors.New("no Location header")
	}
	return resp.Request.URL.Parse(loc)
}

// startUpload POSTs a new upload session and returns its Location.
func (d distClient) startUpload(repo string) (*url.URL, error) {
	resp, err := d.do("start upload", http.MethodPost, d.base+"/v2/"+repo+"/blobs/uploads/", nil, 0, nil, http.StatusAccepted)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return location(resp)
}

func withDigest(u *url.URL, digest string) string {
	q := u.Query()
	q.Set("digest", digest)
	v := *u
	v.RawQuery = q.Encode()
	return v.String()
}

// pushBlob uploads data monolithically: POST, then PUT with the whole body.
func (d distClient) pushBlob(repo string, data []byte) error {
	loc, err := d.startUpload(repo)
	if err != nil {
		return err
	}
	resp, err := d.do("put blob", http.MethodPut, withDigest(loc, digestOf(data)), bytes.NewReader(data), int64(len(data)),
		map[string]string{"Content-Type": "application/octet-stream"}, http.StatusCreated)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// pushBlobStreamed uploads data as POST, one PATCH whose body is streamed
// with chunked transfer encoding, and a PUT without body.
func (d distClient) pushBlobStreamed(repo string, data []byte) error {
	loc, err := d.startUpload(repo)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		for off := 0; off < len(data); off += 1000 {
			end := min(off+1000, len(data))
			if _, err := pw.Write(data[off:end]); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.Close()
	}()
	resp, err := d.do("patch blob", http.MethodPatch, loc.String(), pr, -1,
		map[string]string{"Content-Type": "application/octet-stream"}, http.StatusAccepted)
	pr.CloseWithError(errors.New("request finished"))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if loc, err = location(resp); err != nil {
		return err
	}
	resp, err = d.do("finish blob", http.MethodPut, withDigest(loc, digestOf(data)), nil, 0, nil, http.StatusCreated)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// putManifest PUTs an OCI manifest and returns the registry's digest for it.
func (d distClient) putManifest(repo, ref string, manifest []byte) (string, error) {
	resp, err := d.do("put manifest", http.MethodPut, d.base+"/v2/"+repo+"/manifests/"+ref, bytes.NewReader(manifest), int64(len(manifest)),
		map[string]string{"Content-Type": ociManifestType}, http.StatusCreated)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return resp.Header.Get("Docker-Content-Digest"), nil
}

// get GETs a URL and checks that the body is as long as Content-Length says.
func (d distClient) get(op, rawURL string, header map[string]string, want ...int) ([]byte, *http.Response, error) {
	if len(want) == 0 {
		want = []int{http.StatusOK}
	}
	resp, err := d.do(op, http.MethodGet, rawURL, nil, 0, header, want...)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return b, resp, fmt.Errorf("%s: reading body after %d of %d bytes: %w", op, len(b), resp.ContentLength, err)
	}
	if resp.ContentLength >= 0 && int64(len(b)) != resp.ContentLength {
		return b, resp, fmt.Errorf("%s: got %d bytes, Content-Length %d", op, len(b), resp.ContentLength)
	}
	return b, resp, nil
}

func (d distClient) getManifest(repo, ref string) ([]byte, error) {
	b, _, err := d.get("get manifest", d.base+"/v2/"+repo+"/manifests/"+ref, map[string]string{"Accept": ociManifestType})
	return b, err
}

func (d distClient) getBlob(repo, digest string) ([]byte, error) {
	b, _, err := d.get("get blob", d.base+"/v2/"+repo+"/blobs/"+digest, nil)
	if err == nil && digestOf(b) != digest {
		err = fmt.Errorf("get blob %s: content has digest %s", digest, digestOf(b))
	}
	return b, err
}

// headBlob returns the status and Content-Length of HEAD on a blob.
func (d distClient) headBlob(repo, digest string) (int, int64, error) {
	resp, err := d.do("head blob", http.MethodHead, d.base+"/v2/"+repo+"/blobs/"+digest, nil, 0, nil, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return 0, 0, err
	}
	resp.Body.Close()
	n, _ := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	return resp.StatusCode, n, nil
}

// pushImage pushes the blobs (monolithic or streamed) and the manifest
// under tag, and returns the manifest digest the registry reported.
func (d distClient) pushImage(repo, tag string, img testImage, streamed bool) (string, error) {
	for _, b := range img.blobs() {
		var err error
		if streamed {
			err = d.pushBlobStreamed(repo, b)
		} else {
			err = d.pushBlob(repo, b)
		}
		if err != nil {
			return "", err
		}
	}
	return d.putManifest(repo, tag, img.manifest)
}

// pullAndCheck reads the image back and compares every digest.
func (d distClient) pullAndCheck(repo, tag string, img testImage) error {
	m, err := d.getManifest(repo, tag)
	if err != nil {
		return err
	}
	if digestOf(m) != digestOf(img.manifest) {
		return fmt.Errorf("manifest %s:%s has digest %s, pushed %s", repo, tag, digestOf(m), digestOf(img.manifest))
	}
	for _, b := range img.blobs() {
		if _, err := d.getBlob(repo, digestOf(b)); err != nil {
			return err
		}
	}
	return nil
}

// retry runs f up to attempts times and returns how many it took. A
// Retry-After answer is honoured but capped at 20ms to keep tests fast; the
// values seen are collected in retryAfters.
func retry(attempts int, retryAfters *[]string, f func() error) (int, error) {
	var err error
	for i := 1; i <= attempts; i++ {
		if err = f(); err == nil {
			return i, nil
		}
		var se *httpStatusError
		if errors.As(err, &se) && se.retryAfter != "" && retryAfters != nil {
			*retryAfters = append(*retryAfters, se.retryAfter)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return attempts, fmt.Errorf("after %d attempts: %w", attempts, err)
}
