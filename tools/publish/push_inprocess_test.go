package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	digest "github.com/opencontainers/go-digest"
	specsgo "github.com/opencontainers/image-spec/specs-go"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/registry"
)

// inprocess is go-containerregistry's in-memory registry over TLS, behind
// a hook that may rewrite answers.
type inprocess struct {
	host string
	c    *registry.Client
	hook atomic.Value // func(w http.ResponseWriter, r *http.Request) bool
}

func startInprocess(t *testing.T) *inprocess {
	t.Helper()
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	ip := &inprocess{}
	ip.hook.Store(func(http.ResponseWriter, *http.Request) bool { return false })
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ip.hook.Load().(func(http.ResponseWriter, *http.Request) bool)(w, r) {
			return
		}
		reg.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	c, err := registry.New(registry.Options{CAFiles: []string{ca}, Keychain: authn.NewMultiKeychain(), Retry: registry.Retry{Attempts: 2, Initial: 1, Max: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ip.host, ip.c = strings.TrimPrefix(srv.URL, "https://"), c
	return ip
}

// smallImage is an image of one layer, all in a BlobSet except what skip
// names.
func smallImage(t *testing.T, dir string, content string) (specs.Descriptor, *oci.BlobSet, string) {
	t.Helper()
	set := oci.NewBlobSet()
	layer := []byte(content)
	layerPath := filepath.Join(dir, "layer")
	os.WriteFile(layerPath, layer, 0o644)
	set.AddFile(digest.FromBytes(layer), layerPath)
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + digest.FromBytes(layer).String() + `"]}}`)
	m, _ := json.Marshal(specs.Manifest{
		Versioned: specsgo.Versioned{SchemaVersion: 2},
		MediaType: oci.MediaTypeImageManifest,
		Config:    specs.Descriptor{MediaType: oci.MediaTypeImageConfig, Digest: set.AddBytes(cfg), Size: int64(len(cfg))},
		Layers:    []specs.Descriptor{{MediaType: oci.MediaTypeLayer, Digest: digest.FromBytes(layer), Size: int64(len(layer))}},
	})
	return specs.Descriptor{MediaType: oci.MediaTypeImageManifest, Digest: set.AddBytes(m), Size: int64(len(m))}, set, layerPath
}

func TestPushInProcess(t *testing.T) {
	ip := startInprocess(t)
	ctx := context.Background()
	root, set, _ := smallImage(t, t.TempDir(), "layer content")
	var out bytes.Buffer
	res, err := Push(ctx, PushOptions{Client: ip.c, Repository: ip.host + "/app", Tags: []string{"latest"}, Root: root, Blobs: set, Progress: NewProgress(&out, false)})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if res.Pushed != 2 || res.Tags != 1 || res.Manifests != 1 || len(res.Refs) != 2 {
		t.Errorf("%+v", res)
	}
	// Again: everything exists.
	if res, err = Push(ctx, PushOptions{Client: ip.c, Repository: ip.host + "/app", Tags: []string{"latest"}, Root: root, Blobs: set}); err != nil || res.Existed != 2 || res.Pushed != 0 {
		t.Errorf("second push: %+v %v", res, err)
	}

	t.Run("a tag that reads back elsewhere", func(t *testing.T) {
		other := digest.FromString("another manifest")
		ip.hook.Store(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/manifests/moved") {
				w.Header().Set("Docker-Content-Digest", other.String())
				w.Header().Set("Content-Type", oci.MediaTypeImageManifest)
				w.WriteHeader(http.StatusOK)
				return true
			}
			return false
		})
		defer ip.hook.Store(func(http.ResponseWriter, *http.Request) bool { return false })
		_, err := Push(ctx, PushOptions{Client: ip.c, Repository: ip.host + "/app", Tags: []string{"moved"}, Root: root, Blobs: set})
		if err == nil || !strings.Contains(err.Error(), "reading back tag moved: it points at "+other.String()+", not at the "+root.Digest.String()+" we pushed") ||
			!strings.Contains(err.Error(), "1 of 1 tags were set, each to the complete, verified image") {
			t.Errorf("%v", err)
		}
	})

	t.Run("corrupt build output", func(t *testing.T) {
		// (A blob the registry already has is not read: the registry's copy
		// is by definition right. So a new image.)
		root, set, layerPath := smallImage(t, t.TempDir(), "other layer content")
		os.WriteFile(layerPath, []byte("other layer CONTENT"), 0o644)
		_, err := Push(ctx, PushOptions{Client: ip.c, Repository: ip.host + "/corrupt", Tags: []string{"latest"}, Root: root, Blobs: set})
		if err == nil || !strings.Contains(err.Error(), layerPath+" has 19 bytes with digest sha256:") || !strings.Contains(err.Error(), "the build output is corrupt; nothing of it was sent") {
			t.Errorf("%v", err)
		}
		if _, err := ip.c.Resolve(ctx, ip.host+"/corrupt:latest", nil); err == nil {
			t.Error("the corrupt push set a tag")
		}
	})

	t.Run("invalid input", func(t *testing.T) {
		for _, c := range []struct {
			o    PushOptions
			want string
		}{
			{PushOptions{Repository: "Bad Repo", Root: root, Blobs: set}, "invalid repository"},
			{PushOptions{Repository: ip.host + "/app", Tags: []string{"a:b"}, Root: root, Blobs: set}, `invalid tag "a:b"`},
			{PushOptions{Repository: ip.host + "/app", Root: specs.Descriptor{MediaType: "text/plain", Digest: root.Digest}, Blobs: set}, "want an image manifest or index"},
			{PushOptions{Repository: ip.host + "/app", Root: root, Blobs: set, Sources: []string{"user:pw@" + ip.host + "/x"}}, "--source-repository: invalid repository"},
		} {
			c.o.Client = ip.c
			if _, err := Push(ctx, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%+v: %v, want %q", c.o, err, c.want)
			}
		}
	})
}
