package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"

	digest "github.com/opencontainers/go-digest"
	"github.com/rules-repro/rules_repro/tools/oci"
)

// Size limits for what is read into memory.
const (
	// MaxManifestSize bounds an index or manifest; registries reject
	// manifests over 4 MiB.
	MaxManifestSize = oci.MaxManifestSize
	// MaxConfigSize bounds an image config.
	MaxConfigSize = oci.MaxConfigSize
)

// manifestTypes are what a manifest GET accepts.
var manifestTypes = []string{oci.MediaTypeImageIndex, oci.DockerManifestList, oci.MediaTypeImageManifest, oci.DockerManifest}

// manifest is a fetched and verified index or image manifest.
type manifest struct {
	Bytes     []byte
	Digest    digest.Digest
	MediaType string
}

// manifestFields are the parts of an index or manifest read to classify it.
type manifestFields struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Manifests     json.RawMessage `json:"manifests"`
	Config        json.RawMessage `json:"config"`
}

// fetchManifest GETs a manifest by tag or digest. want, when not empty, is
// the digest the bytes must have; wantSize, when not negative, their size;
// wantType, when not empty, their media type (from a descriptor).
func (c *Client) fetchManifest(ctx context.Context, r *repository, ref string, want digest.Digest, wantSize int64, wantType, subject string) (*manifest, error) {
	var body []byte
	var resp manifestResponse
	for attempt := 1; ; attempt++ {
		var err error
		resp, body, err = c.readManifest(ctx, r, ref, subject)
		if err == nil {
			break
		}
		if !errors.Is(err, errBodyCut) || attempt >= c.attempts() {
			return nil, gaveUp(err, attempt)
		}
	}
	got := digest.FromBytes(body)
	if want != "" && got != want {
		return nil, c.fail(ErrVerify, subject, "the registry sent %d bytes with digest %s for manifest %s: tampered or corrupt content (from the registry or something between it and us); nothing was written", len(body), got, want)
	}
	if wantSize >= 0 && int64(len(body)) != wantSize {
		return nil, c.fail(ErrVerify, subject, "manifest %s is %d bytes, but its descriptor says %d; nothing was written", got, len(body), wantSize)
	}
	if h := resp.contentDigest; h != "" {
		if hd, err := digest.Parse(h); err == nil && hd.Algorithm() == digest.SHA256 && hd != got {
			return nil, c.fail(ErrVerify, subject, "the registry says the manifest is %s (Docker-Content-Digest) but sent %d bytes with digest %s: tampered or corrupt content; nothing was written", hd, len(body), got)
		}
	}
	var f manifestFields
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, c.fail(ErrVerify, subject, "manifest %s is not valid JSON: %v", got, err)
	}
	if f.SchemaVersion != 2 {
		return nil, c.fail(nil, subject, "manifest %s has schemaVersion %d; only schema 2 (OCI and Docker v2) images are supported", got, f.SchemaVersion)
	}
	mt := f.MediaType
	switch {
	case mt != "":
	case wantType != "":
		mt = wantType
	case resp.contentType != "" && knownManifestType(resp.contentType):
		mt = resp.contentType
	case f.Manifests != nil:
		mt = oci.MediaTypeImageIndex
	case f.Config != nil:
		mt = oci.MediaTypeImageManifest
	}
	if !knownManifestType(mt) {
		return nil, c.fail(nil, subject, "manifest %s has media type %q; want an OCI or Docker image index or manifest", got, mt)
	}
	if wantType != "" && mt != wantType {
		return nil, c.fail(ErrVerify, subject, "manifest %s has media type %s, but its descriptor says %s", got, mt, wantType)
	}
	return &manifest{Bytes: body, Digest: got, MediaType: mt}, nil
}

func knownManifestType(mt string) bool {
	for _, t := range manifestTypes {
		if mt == t {
			return true
		}
	}
	return false
}

type manifestResponse struct {
	contentType, contentDigest string
}

// errBodyCut marks a response body that broke off: worth another try.
var errBodyCut = errors.New("response body cut off")

// cut is an error marked with errBodyCut; its message is the wrapped one.
type cut struct{ err error }

func (e cut) Error() string        { return e.err.Error() }
func (e cut) Unwrap() error        { return e.err }
func (e cut) Is(target error) bool { return target == errBodyCut }

func (c *Client) readManifest(ctx context.Context, r *repository, ref, subject string) (manifestResponse, []byte, error) {
	resp, a, err := c.get(ctx, r, "manifests", ref, subject, manifestTypes)
	if err != nil {
		return manifestResponse{}, nil, err
	}
	defer resp.Body.Close()
	mr := manifestResponse{contentDigest: resp.Header.Get("Docker-Content-Digest")}
	if ct, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err == nil {
		mr.contentType = ct
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		e := c.explain(subject, r.repo.RegistryStr(), fmt.Errorf("reading manifest: %w", err), a)
		if transientNetError(err) {
			return mr, nil, cut{e}
		}
		return mr, nil, e
	}
	if len(body) > MaxManifestSize {
		return mr, nil, c.fail(nil, subject, "manifest is larger than %d bytes", MaxManifestSize)
	}
	return mr, body, nil
}

func (c *Client) attempts() int { return c.opts.Retry.withDefaults().Attempts }

// gaveUp returns err, saying how often the download was tried when the
// last of several tries broke off (was cut or stalled).
func gaveUp(err error, attempts int) error {
	var e *Error
	if attempts > 1 && errors.Is(err, errBodyCut) && errors.As(err, &e) {
		return &Error{msg: fmt.Sprintf("%s (gave up after %d attempts)", e.msg, attempts), kind: e.kind}
	}
	return err
}

// fetchBlob GETs blob d of the given size (negative: unknown, then up to
// limit bytes) and streams it through verification into the writer that
// open returns; open is called again, and must start afresh, when a broken
// download is retried. It returns an ErrVerify *Error when the content does
// not match.
func (c *Client) fetchBlob(ctx context.Context, r *repository, d digest.Digest, size, limit int64, subject, what string, open func() (io.Writer, error)) error {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return c.fail(nil, subject, "%s: unsupported digest %q (only sha256)", what, d)
	}
	if size > limit {
		return c.fail(nil, subject, "%s: blob %s is %d bytes, more than the %d allowed", what, d, size, limit)
	}
	for attempt := 1; ; attempt++ {
		err := c.fetchBlobOnce(ctx, r, d, size, limit, subject, what, open)
		if err == nil || !errors.Is(err, errBodyCut) || attempt >= c.attempts() {
			return gaveUp(err, attempt)
		}
	}
}

func (c *Client) fetchBlobOnce(ctx context.Context, r *repository, d digest.Digest, size, limit int64, subject, what string, open func() (io.Writer, error)) error {
	resp, a, err := c.get(ctx, r, "blobs", d.String(), subject, nil)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return c.fail(ErrNotFound, subject, "%s: the registry does not have blob %s", what, d)
		}
		return err
	}
	defer resp.Body.Close()
	if size >= 0 && resp.ContentLength >= 0 && resp.ContentLength != size {
		return c.fail(ErrVerify, subject, "%s: the registry announces %d bytes for blob %s, but its descriptor says %d: tampered or corrupt content; nothing was written", what, resp.ContentLength, d, size)
	}
	w, err := open()
	if err != nil {
		return err
	}
	max := limit
	if size >= 0 {
		max = size
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(destination{w}, h), io.LimitReader(resp.Body, max+1))
	if err != nil {
		var werr *writeError
		if errors.As(err, &werr) {
			return werr.err
		}
		e := c.explain(subject, r.repo.RegistryStr(), fmt.Errorf("%s: reading blob %s: %w", what, d, err), a)
		if transientNetError(err) {
			return cut{e}
		}
		return e
	}
	switch {
	case n > max && size >= 0:
		return c.fail(ErrVerify, subject, "%s: the registry sent more than the %d bytes the descriptor gives for blob %s: tampered or corrupt content; nothing was written", what, size, d)
	case n > max:
		return c.fail(nil, subject, "%s: blob %s is larger than %d bytes", what, d, limit)
	case size >= 0 && n != size:
		return c.fail(ErrVerify, subject, "%s: the registry sent %d bytes for blob %s, but its descriptor says %d: tampered or corrupt content; nothing was written", what, n, d, size)
	}
	if got := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil))); got != d {
		return c.fail(ErrVerify, subject, "%s: the registry sent %d bytes with digest %s for blob %s: tampered or corrupt content (from the registry or something between it and us); nothing was written", what, n, got, d)
	}
	return nil
}

// writeError marks a failure of the destination, not of the download.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

// destination wraps the writer's errors in *writeError.
type destination struct{ w io.Writer }

func (d destination) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

// fetchBlobBytes fetches a small blob into memory.
func (c *Client) fetchBlobBytes(ctx context.Context, r *repository, d digest.Digest, size, limit int64, subject, what string) ([]byte, error) {
	var buf bytes.Buffer
	err := c.fetchBlob(ctx, r, d, size, limit, subject, what, func() (io.Writer, error) {
		buf.Reset()
		return &buf, nil
	})
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
