// Package registry fetches images from OCI and Docker registries the way
// docker does, and verifies everything it fetches; it also pushes blobs and
// manifests, verified the same way.
//
// Access: credentials come from authn.DefaultKeychain (~/.docker/config.json
// or $DOCKER_CONFIG/config.json, including credential helpers and
// credsStore); basic and bearer-token challenges are answered by
// go-containerregistry's transport. TLS is verified against the system roots
// (which honour SSL_CERT_FILE and SSL_CERT_DIR) plus Options.CAFiles. Plain
// HTTP and unverified TLS happen only with Options.Insecure: unlike
// go-containerregistry's default, loopback and private addresses get no
// silent plain-HTTP fallback. Transient failures are retried a bounded
// number of times (Retry).
//
// Verification: manifests and blobs are fetched by digest wherever one is
// known, and every byte is checked against its digest and size: an index or
// manifest fetched by tag against the Docker-Content-Digest header when the
// registry sends one, a platform manifest against its index descriptor, a
// config against its manifest descriptor, and layers while they stream to
// disk. Nothing is written unless it verified.
//
// Pushing (OpenRepo, Repo): blobs are uploaded with one PUT up to
// MonolithicMax and streamed in one PATCH above it, hashed on the way so that
// wrong bytes fail the request before the registry can commit them, and an
// upload succeeds only when the registry confirms the digest. A failed upload
// is sent again from a fresh session (never resumed), after a HEAD that finds
// out whether the lost attempt committed it. Blobs are mounted from another
// repository of the same registry (MountBlob) and streamed out of a
// repository (OpenBlob) with verification and Range resumption, so that a
// registry-to-registry copy touches no disk. A blob from the build is
// checked against its digest and size before any of it is sent.
//
// Bounds: every request, and every read of a response body, runs under one
// stall watchdog (watchTransport): a transfer that makes no progress for
// Options.StallTimeout is abandoned and retried like a dropped connection.
// Response bodies that are not content (the /v2/ ping, tokens, errors,
// answers to uploads) are read up to MaxSmallBody; manifests up to
// MaxManifestSize, configs up to MaxConfigSize, layers up to their size.
//
// Errors (*Error) name the reference and say what went wrong; they never
// contain a credential: every secret the keychain returned is scrubbed from
// them, as is every bearer token a token endpoint handed out (learned from
// the Authorization headers sent), URL userinfo, token query parameters and
// Authorization headers. The package does not log.
//
// The package uses go-containerregistry's name, authn and transport
// packages, and speaks the distribution API itself rather than through
// pkg/v1/remote: that keeps one authentication handshake per repository,
// the exact bytes of every manifest and config, verification of size as
// well as digest while streaming, retries that honour Retry-After, and
// error messages free of credentials. (Issue 11 tried remote.WriteLayer and
// remote.Put over the same transport: see UploadBlob and PutManifest for
// the tests they fail.)
package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Options configure a Client. The zero value uses the Docker keychain, the
// system's TLS roots and DefaultRetry.
type Options struct {
	// Keychain supplies credentials. The default is authn.DefaultKeychain.
	Keychain authn.Keychain
	// CAFiles are PEM files of extra trusted CAs, added to the system roots.
	CAFiles []string
	// Insecure allows plain HTTP and skips TLS verification. Callers
	// should warn when they set it.
	Insecure bool
	// Retry bounds retries; the zero value means DefaultRetry.
	Retry Retry
	// UserAgent is sent with every request. The default is
	// "rules_repro".
	UserAgent string
	// StallTimeout is how long any transfer (a request waiting for its
	// answer, an upload, the read of any response body) may make no
	// progress before it is abandoned (and retried). The default is
	// DefaultStallTimeout.
	StallTimeout time.Duration
}

// Client fetches from registries. It is safe for concurrent use.
type Client struct {
	opts    Options
	base    http.RoundTripper
	secrets secrets

	mu        sync.Mutex
	repos     map[string]*repository
	anonymous map[string]bool // registry host -> no credentials found
}

// New returns a Client.
func New(o Options) (*Client, error) {
	if o.Keychain == nil {
		o.Keychain = authn.DefaultKeychain
	}
	if o.UserAgent == "" {
		o.UserAgent = "rules_repro"
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = DefaultStallTimeout
	}
	base, err := newBaseTransport(o.CAFiles, o.Insecure, o.Retry, o.StallTimeout)
	if err != nil {
		return nil, err
	}
	c := &Client{
		opts:      o,
		repos:     map[string]*repository{},
		anonymous: map[string]bool{},
	}
	c.base = &recordTransport{next: transport.NewUserAgent(base, o.UserAgent), secrets: &c.secrets}
	return c, nil
}

// recordTransport is the top of the base transport, under
// go-containerregistry's authentication: each request (each hop of a
// redirect) is recorded in its attempts counter, and every bearer token
// the authentication sends is added to the secrets scrubbed from errors.
type recordTransport struct {
	next    http.RoundTripper
	secrets *secrets
}

func (t *recordTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if scheme, tok, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		t.secrets.addToken(strings.TrimSpace(tok))
	}
	if a, _ := req.Context().Value(attemptsKey{}).(*attempts); a != nil {
		a.hop(req.URL)
	}
	return t.next.RoundTrip(req)
}

// repository is an authenticated connection to one repository.
type repository struct {
	repo   name.Repository
	client *http.Client
}

// parseReference parses a reference as docker does (Docker Hub by default,
// "library/" for official images).
func (c *Client) parseReference(ref string) (name.Reference, error) {
	var opts []name.Option
	if c.opts.Insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, &Error{msg: fmt.Sprintf("invalid image reference %q: %v", ref, err)}
	}
	return r, nil
}

// repository returns the authenticated client for repo with pull access,
// doing the authentication handshake once.
func (c *Client) repository(ctx context.Context, repo name.Repository, subject string) (*repository, error) {
	return c.authenticate(ctx, repo, subject, []string{repo.Scope(transport.PullScope)}, repo.Name())
}

// maxRedirects is how many redirects a request follows (blob storage
// often redirects to a CDN, sometimes twice).
const maxRedirects = 10

// redirectError is a request that was redirected maxRedirects times.
type redirectError struct{ chain []string }

func (e *redirectError) Error() string {
	return fmt.Sprintf("stopped after %d redirects", maxRedirects)
}

// sameSchemeRedirects follows up to maxRedirects redirects but never from
// HTTPS to plain HTTP.
func sameSchemeRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		chain := make([]string, 0, len(via)+1)
		for _, r := range via {
			chain = append(chain, shortURL(r.URL))
		}
		return &redirectError{chain: append(chain, shortURL(req.URL))}
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing redirect from HTTPS to %s", req.URL.Redacted())
	}
	return nil
}

// get sends GET /v2/<repo>/<kind>/<ref> and returns the response when its
// status is 200; other statuses and failures become *Error.
func (c *Client) get(ctx context.Context, r *repository, kind, ref, subject string, accept []string) (*http.Response, *attempts, error) {
	u := url.URL{
		Scheme: r.repo.Scheme(),
		Host:   r.repo.RegistryStr(),
		Path:   fmt.Sprintf("/v2/%s/%s/%s", r.repo.RepositoryStr(), kind, ref),
	}
	actx, a := withAttempts(contentRequest(ctx))
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, a, c.fail(nil, subject, "%v", err)
	}
	if len(accept) > 0 {
		req.Header.Set("Accept", strings.Join(accept, ", "))
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, a, c.explain(subject, r.repo.RegistryStr(), err, a)
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxSmallBody))
		resp.Body.Close()
		return nil, a, c.explain(subject, r.repo.RegistryStr(), err, a)
	}
	return resp, a, nil
}
