package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

func bytesSource(data []byte, remote bool) BlobSource {
	return BlobSource{
		Open:   func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		Where:  "test bytes",
		Remote: remote,
	}
}

func blobDesc(data []byte) specs.Descriptor {
	return specs.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
}

// TestUploadAndOpenBlob uploads monolithically and streamed, then reads
// the blobs back through OpenBlob.
func TestUploadAndOpenBlob(t *testing.T) {
	reg := startRegistry(t, nil)
	c := reg.client(t, Options{})
	ctx := context.Background()
	repo, err := c.OpenRepo(ctx, reg.host+"/up", RepoOptions{Push: true})
	if err != nil {
		t.Fatal(err)
	}
	small := []byte("a small blob")
	big := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // 128 KiB
	for _, data := range [][]byte{small, big} {
		var last int64
		res, err := repo.UploadBlob(ctx, blobDesc(data), bytesSource(data, false), UploadOptions{MonolithicMax: 64 << 10, Progress: func(n int64) { last = n }})
		if err != nil {
			t.Fatal(err)
		}
		if res.Attempts != 1 || res.Chunked != (len(data) > 64<<10) || last != int64(len(data)) {
			t.Errorf("upload of %d bytes: %+v, progress %d", len(data), res, last)
		}
		if ok, err := repo.HasBlob(ctx, digest.FromBytes(data)); !ok || err != nil {
			t.Errorf("HasBlob: %v %v", ok, err)
		}
		r, err := repo.OpenBlob(ctx, digest.FromBytes(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("OpenBlob: %d bytes, %v", len(got), err)
		}
	}
	if ok, _ := repo.HasBlob(ctx, digest.FromString("absent")); ok {
		t.Error("HasBlob of an absent blob")
	}
	if _, err := repo.OpenBlob(ctx, digest.FromString("absent"), 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenBlob of an absent blob: %v", err)
	}
}

// TestUploadRefusesWrongBytes: bytes that do not match the descriptor are
// never committed; from a local file that is final, from a registry it is
// retried.
func TestUploadRefusesWrongBytes(t *testing.T) {
	reg := startRegistry(t, nil)
	c := reg.client(t, Options{})
	ctx := context.Background()
	repo, err := c.OpenRepo(ctx, reg.host+"/wrong", RepoOptions{Push: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("the real content")
	for _, remote := range []bool{false, true} {
		// (A source with more bytes than the descriptor is refused too, but
		// its first Size bytes may already have reached the registry, which
		// commits them if they are the blob, as it should.)
		for _, bad := range [][]byte{[]byte("the fake content"), []byte("short")} {
			opens := 0
			src := bytesSource(bad, remote)
			open := src.Open
			src.Open = func(ctx context.Context) (io.ReadCloser, error) { opens++; return open(ctx) }
			_, err := repo.UploadBlob(ctx, blobDesc(want), src, UploadOptions{})
			if !errors.Is(err, ErrVerify) {
				t.Errorf("remote=%v %q: %v, want ErrVerify", remote, bad, err)
			}
			wantOpens := 1
			if remote {
				wantOpens = 3 // the client's attempts
			}
			if opens != wantOpens {
				t.Errorf("remote=%v %q: %d attempts, want %d (%v)", remote, bad, opens, wantOpens, err)
			}
		}
	}
	if ok, _ := repo.HasBlob(ctx, digest.FromBytes(want)); ok {
		t.Error("wrong bytes were committed")
	}
}

// TestUploadConfirmsDigest: without Docker-Content-Digest the blob must be
// found with HEAD; a different digest in it is an error.
func TestUploadConfirmsDigest(t *testing.T) {
	var mode atomic.Value
	mode.Store("")
	inner := startRegistry(t, nil).srv.Config.Handler
	reg := startRegistry(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			rw := &headerRewriter{ResponseWriter: w, mode: mode.Load().(string)}
			inner.ServeHTTP(rw, r)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	c := reg.client(t, Options{})
	ctx := context.Background()
	repo, err := c.OpenRepo(ctx, reg.host+"/confirm", RepoOptions{Push: true})
	if err != nil {
		t.Fatal(err)
	}
	mode.Store("drop")
	data := []byte("confirmed by HEAD")
	if _, err := repo.UploadBlob(ctx, blobDesc(data), bytesSource(data, false), UploadOptions{}); err != nil {
		t.Errorf("without Docker-Content-Digest: %v", err)
	}
	mode.Store("wrong")
	data = []byte("the registry lies about this one")
	_, err = repo.UploadBlob(ctx, blobDesc(data), bytesSource(data, false), UploadOptions{})
	if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "the registry stored digest sha256:") {
		t.Errorf("a wrong Docker-Content-Digest: %v", err)
	}
}

type headerRewriter struct {
	http.ResponseWriter
	mode string
}

func (h *headerRewriter) WriteHeader(code int) {
	switch h.mode {
	case "drop":
		h.Header().Del("Docker-Content-Digest")
	case "wrong":
		h.Header().Set("Docker-Content-Digest", digest.FromString("something else").String())
	}
	h.ResponseWriter.WriteHeader(code)
}

// TestOpenBlobResumes: a download cut off midway resumes with Range; when
// the server ignores Range, what was already read is skipped; tampered
// bytes end in ErrVerify, never in a clean EOF.
func TestOpenBlobResumes(t *testing.T) {
	data := bytes.Repeat([]byte("resumable "), 10000)
	d := digest.FromBytes(data)
	var gets, ranged atomic.Int32
	var honourRange, tamper atomic.Bool
	reg := startRegistry(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
			return
		case r.URL.Path != "/v2/res/blobs/"+d.String():
			http.NotFound(w, r)
			return
		}
		n := gets.Add(1)
		body := data
		if tamper.Load() {
			body = bytes.Clone(data)
			body[len(body)-1] ^= 1
		}
		if rg := r.Header.Get("Range"); rg != "" && honourRange.Load() {
			ranged.Add(1)
			from, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
			w.Header().Set("Content-Length", strconv.Itoa(len(body)-from))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(body[from:])
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		if n == 1 {
			// The first answer breaks off after 30000 bytes.
			w.Write(body[:30000])
			panic(http.ErrAbortHandler)
		}
		w.Write(body)
	}))
	c := reg.client(t, Options{})
	ctx := context.Background()
	repo, err := c.OpenRepo(ctx, reg.host+"/res", RepoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	read := func() ([]byte, error) {
		r, err := repo.OpenBlob(ctx, d, int64(len(data)))
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(r)
	}
	for _, honour := range []bool{true, false} {
		gets.Store(0)
		honourRange.Store(honour)
		got, err := read()
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("honour Range %v: %d bytes, %v", honour, len(got), err)
		}
		if gets.Load() != 2 {
			t.Errorf("honour Range %v: %d GETs, want 2", honour, gets.Load())
		}
	}
	if ranged.Load() != 1 {
		t.Errorf("%d ranged answers, want 1", ranged.Load())
	}
	gets.Store(1) // no cut
	tamper.Store(true)
	if _, err := read(); !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "tampered or corrupt content") {
		t.Errorf("tampered: %v", err)
	}
	if repo.Retries() != 2 {
		t.Errorf("Retries() = %d, want 2", repo.Retries())
	}
}

// TestRepositoryWithCredentialsNotEchoed: a repository written with
// credentials in it is refused without repeating them.
func TestRepositoryWithCredentialsNotEchoed(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ParseRepository("user:hunter2@registry.example.com/app")
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "[REDACTED]@registry.example.com/app") {
		t.Errorf("%v", err)
	}
}

// TestUploadChecksBeforeSending: a local blob that does not match its
// descriptor sends nothing at all, small or streamed; one that changes
// after the check fails its PATCH and is never completed.
func TestUploadChecksBeforeSending(t *testing.T) {
	reg := startRegistry(t, nil)
	c := reg.client(t, Options{})
	ctx := context.Background()
	repo, err := c.OpenRepo(ctx, reg.host+"/checked", RepoOptions{Push: true})
	if err != nil {
		t.Fatal(err)
	}
	uploads := func() []string {
		reg.faults.mu.Lock()
		defer reg.faults.mu.Unlock()
		var out []string
		for _, r := range reg.faults.requests {
			if strings.Contains(r, "/checked/blobs/uploads/") {
				out = append(out, r)
			}
		}
		reg.faults.requests = nil
		return out
	}
	want := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // 128 KiB
	bad := append([]byte(nil), want...)
	bad[1000] ^= 1
	for _, max := range []int64{1 << 20, 64 << 10} { // one PUT; streamed
		uploads()
		_, err := repo.UploadBlob(ctx, blobDesc(want), bytesSource(bad, false), UploadOptions{MonolithicMax: max})
		if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "test bytes has 131072 bytes with digest "+digest.FromBytes(bad).String()+", but its descriptor says 131072 bytes with digest "+digest.FromBytes(want).String()) {
			t.Errorf("max %d: %v", max, err)
		}
		if u := uploads(); len(u) != 0 {
			t.Errorf("max %d: a corrupt blob was sent: %v", max, u)
		}
	}
	// Right when checked, wrong when streamed.
	opens := 0
	src := BlobSource{Where: "a changing file", Open: func(context.Context) (io.ReadCloser, error) {
		opens++
		if opens == 1 {
			return io.NopCloser(bytes.NewReader(want)), nil
		}
		return io.NopCloser(bytes.NewReader(bad)), nil
	}}
	_, err = repo.UploadBlob(ctx, blobDesc(want), src, UploadOptions{MonolithicMax: 64 << 10})
	if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "changed while being sent; nothing was committed") {
		t.Errorf("changing file: %v", err)
	}
	u := uploads()
	for _, r := range u {
		if strings.HasPrefix(r, "PUT ") {
			t.Errorf("the upload was completed: %v", u)
		}
	}
	if ok, _ := repo.HasBlob(ctx, digest.FromBytes(want)); ok {
		t.Error("the blob was committed")
	}
	t.Logf("requests of the changing file's upload: %v", u)
}

// TestPutManifestChecks: a manifest PUT whose answer names another digest
// is an ErrVerify error (docs/publishing.md: "The registry reports another
// digest than the one sent: Error; not retried"), and a manifest PUT is
// never sent on from HTTPS to plain HTTP, not even on the same host.
// go-containerregistry's remote.Put, tried in PutManifest's place (issue
// 11), fails the first: it reads no Docker-Content-Digest. (Its client
// follows the same-host redirect, but the transport under it refuses plain
// HTTP, so the second holds either way.)
func TestPutManifestChecks(t *testing.T) {
	var plainHits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainHits.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(plain.Close)
	var plainURL string
	var lie atomic.Bool
	inner := startRegistry(t, nil).srv.Config.Handler
	reg := startRegistry(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/redirected"):
			http.Redirect(w, r, plainURL+r.URL.Path, http.StatusTemporaryRedirect)
		case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && lie.Load():
			inner.ServeHTTP(&headerRewriter{ResponseWriter: w, mode: "wrong"}, r)
		default:
			inner.ServeHTTP(w, r)
		}
	}))
	// The plain server on the registry's host (127.0.0.1), another port.
	plainURL = "http://" + strings.Replace(strings.TrimPrefix(plain.URL, "http://"), "localhost", "127.0.0.1", 1)
	c := reg.client(t, Options{})
	ctx := context.Background()
	repo, err := c.OpenRepo(ctx, reg.host+"/checks", RepoOptions{Push: true})
	if err != nil {
		t.Fatal(err)
	}
	m := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`)
	if err := repo.PutManifest(ctx, "honest", specs.MediaTypeImageIndex, m); err != nil {
		t.Fatalf("an honest PUT: %v", err)
	}
	lie.Store(true)
	err = repo.PutManifest(ctx, "lied-to", specs.MediaTypeImageIndex, m)
	if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "the registry stored the manifest as "+digest.FromString("something else").String()) {
		t.Errorf("a wrong Docker-Content-Digest: %v", err)
	}
	lie.Store(false)
	err = repo.PutManifest(ctx, "redirected", specs.MediaTypeImageIndex, m)
	if err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("a redirect to plain HTTP: %v", err)
	}
	if n := plainHits.Load(); n != 0 {
		t.Errorf("the manifest went to the plain-HTTP server (%d requests)", n)
	}
}
