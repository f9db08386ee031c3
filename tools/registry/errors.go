package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Kinds of failure, matched with errors.Is on the errors Client returns.
var (
	// ErrAuth: the registry rejected the credentials, or wanted some.
	ErrAuth = errors.New("authentication failed")
	// ErrNotFound: the registry does not have the tag, manifest or blob.
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: the registry could not be reached or kept failing.
	ErrUnavailable = errors.New("registry unavailable")
	// ErrVerify: content did not match its digest or size, or what the
	// caller expected.
	ErrVerify = errors.New("verification failed")
	// ErrTLS: the registry's certificate could not be verified.
	ErrTLS = errors.New("TLS verification failed")
)

// Error is what Client methods return: a message that names the reference
// and says what went wrong, with every credential removed, and the kind of
// failure (ErrAuth, ...). It deliberately does not wrap the underlying
// error, whose text may hold credentials.
type Error struct {
	msg  string
	kind error
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the kind of failure, if known.
func (e *Error) Unwrap() error { return e.kind }

// secrets are strings that must never appear in an error message.
type secrets struct {
	mu    sync.Mutex
	list  []string
	known map[string]bool
}

// add records secrets; the caller holds s.mu.
func (s *secrets) add(vs ...string) {
	if s.known == nil {
		s.known = map[string]bool{}
	}
	for _, v := range vs {
		if v != "" && !s.known[v] {
			s.known[v] = true
			s.list = append(s.list, v)
		}
	}
	// Longest first, so that a secret containing another is removed whole.
	sort.Slice(s.list, func(i, j int) bool { return len(s.list[i]) > len(s.list[j]) })
}

// addAuth records the secret parts of a resolved credential.
func (s *secrets) addAuth(cfg *authn.AuthConfig) {
	if cfg == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.add(cfg.Password, cfg.Auth, cfg.IdentityToken, cfg.RegistryToken)
	if cfg.Password != "" {
		s.add(base64.StdEncoding.EncodeToString([]byte(cfg.Username + ":" + cfg.Password)))
	}
}

// addToken records a bearer token a token endpoint handed out, and its
// base64 forms.
func (s *secrets) addToken(tok string) {
	if tok == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.known[tok] {
		return
	}
	b := []byte(tok)
	s.add(tok, base64.StdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b))
}

var (
	userinfoRE = regexp.MustCompile(`(://)[^/@\s]+@`)
	tokenRE    = regexp.MustCompile(`(?i)((?:access_token|refresh_token|token|password|client_secret)=)[^&\s"]+`)
	authHdrRE  = regexp.MustCompile(`(?i)((?:Authorization|Proxy-Authorization):\s*(?:Basic|Bearer)\s+)\S+`)
)

// scrub removes credentials from a message: every recorded secret, URL
// userinfo, token and password query parameters, and Authorization headers.
func (s *secrets) scrub(msg string) string {
	s.mu.Lock()
	for _, v := range s.list {
		msg = strings.ReplaceAll(msg, v, "[REDACTED]")
	}
	s.mu.Unlock()
	msg = userinfoRE.ReplaceAllString(msg, "${1}[REDACTED]@")
	msg = tokenRE.ReplaceAllString(msg, "${1}[REDACTED]")
	return authHdrRE.ReplaceAllString(msg, "${1}[REDACTED]")
}

// fail builds an *Error: "subject: what: cause", scrubbed.
func (c *Client) fail(kind error, subject, format string, args ...any) error {
	return &Error{msg: c.secrets.scrub(subject + ": " + fmt.Sprintf(format, args...)), kind: kind}
}

// explain turns an error from the network or the registry into an *Error
// that says what happened in the user's terms.
func (c *Client) explain(subject, host string, err error, a *attempts) error {
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	tries := ""
	if a != nil && a.n.Load() > 1 {
		tries = fmt.Sprintf(" (after %d attempts)", a.n.Load())
	}
	err = dropPlainHTTPRefusal(err)
	if errors.Is(err, context.Canceled) {
		return c.fail(nil, subject, "interrupted")
	}
	var stalled *stallError
	if errors.As(err, &stalled) {
		return c.fail(ErrUnavailable, subject, "%s %v%s", who(host, stalled.host, stalled.redirected), stalled, tries)
	}
	var large *bodyTooLargeError
	if errors.As(err, &large) {
		return c.fail(nil, subject, "%s: %v", who(host, large.host, large.redirected), large)
	}
	var redirects *redirectError
	if errors.As(err, &redirects) {
		return c.fail(nil, subject, "%s", describeRedirects(redirects.chain))
	}
	if strings.Contains(err.Error(), fmt.Sprintf("stopped after %d redirects", maxRedirects)) {
		// go-containerregistry's own client (the /v2/ ping) stopped; the
		// URLs are in the attempts record.
		chain := a.urls()
		if len(chain) > maxRedirects+1 {
			chain = chain[len(chain)-maxRedirects-1:]
		}
		return c.fail(nil, subject, "%s", describeRedirects(chain))
	}
	var te *transport.Error
	if errors.As(err, &te) {
		detail := registryDetail(te)
		// The host that answered: the registry, its token service (a
		// realm on another host), or a host it redirected the request to.
		answered, redirected := host, false
		if te.Request != nil && te.Request.URL != nil && te.Request.URL.Host != host {
			answered, redirected = te.Request.URL.Host, te.Request.Response != nil
		}
		if redirected && (te.StatusCode == 401 || te.StatusCode == 403) {
			// Blob storage behind a redirect (a CDN, a signed URL): our
			// credentials are not sent there, so they are not the cause.
			return c.fail(ErrAuth, subject, "%s answered HTTP %d for %s: it is a redirect target (registry %s sent the request there), and no credentials are sent to a redirect target, so the Docker config is not the cause; the redirect may have expired or the storage refuses it%s",
				answered, te.StatusCode, shortURL(te.Request.URL), host, detail)
		}
		switch te.StatusCode {
		case 401:
			return c.fail(ErrAuth, subject, "authentication failed: %s%s", c.credentialHint(host), detail)
		case 403:
			return c.fail(ErrAuth, subject, "access denied: %s%s", c.credentialHint(host), detail)
		case 404:
			return c.fail(ErrNotFound, subject, "not found%s", detail)
		case 429:
			return c.fail(ErrUnavailable, subject, "%s is rate limiting requests%s%s", who(host, answered, redirected), tries, detail)
		}
		if te.StatusCode >= 500 {
			return c.fail(ErrUnavailable, subject, "%s failed with HTTP %d%s%s", who(host, answered, redirected), te.StatusCode, tries, detail)
		}
		return c.fail(nil, subject, "%s answered HTTP %d%s", who(host, answered, redirected), te.StatusCode, detail)
	}
	if tlsError(err) {
		return c.fail(ErrTLS, subject, "cannot verify the TLS certificate of %s: %v; if the registry uses a private CA, pass --ca-file CA.pem or set SSL_CERT_FILE", host, err)
	}
	var plain *plainHTTPError
	if errors.As(err, &plain) {
		return c.fail(ErrTLS, subject, "%v", err)
	}
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return c.fail(ErrTLS, subject, "%s answers plain HTTP, not HTTPS (pass --insecure to allow plain HTTP): %v", host, err)
	}
	var ne net.Error
	if errors.As(err, &ne) || transientNetError(err) {
		return c.fail(ErrUnavailable, subject, "registry %s unreachable%s: %v", host, tries, err)
	}
	return c.fail(nil, subject, "%v", err)
}

// who names the host that answered: the registry, a host it redirected
// the request to, or its token service.
func who(registry, answered string, redirected bool) string {
	switch {
	case answered == "" || answered == registry:
		return "registry " + registry
	case redirected:
		return answered + " (a redirect target of registry " + registry + ")"
	}
	return answered + " (the token service of registry " + registry + ")"
}

// describeRedirects says where a request that was redirected too often
// went: the loop, if a URL came back, or every hop.
func describeRedirects(chain []string) string {
	seen := map[string]bool{}
	for i, u := range chain {
		if seen[u] {
			return fmt.Sprintf("redirect loop: %s (stopped after %d redirects)", strings.Join(chain[:i+1], " → "), maxRedirects)
		}
		seen[u] = true
	}
	if len(chain) == 0 {
		return fmt.Sprintf("too many redirects (more than %d)", maxRedirects)
	}
	return fmt.Sprintf("too many redirects (more than %d): %s", maxRedirects, strings.Join(chain, " → "))
}

// registryDetail formats the registry's own error codes, e.g.
// " (UNAUTHORIZED: authentication required)".
func registryDetail(te *transport.Error) string {
	var parts []string
	for _, d := range te.Errors {
		p := string(d.Code)
		if d.Message != "" {
			p += ": " + d.Message
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return fmt.Sprintf(" (HTTP %d)", te.StatusCode)
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// credentialHint says where credentials for host came from, without them.
func (c *Client) credentialHint(host string) string {
	c.mu.Lock()
	anonymous, known := c.anonymous[host]
	c.mu.Unlock()
	switch {
	case !known:
		return "check the credentials"
	case anonymous:
		return fmt.Sprintf("no credentials for %s were found in the Docker config (DOCKER_CONFIG or ~/.docker/config.json, or their credential helpers); run `docker login %s`", host, host)
	}
	return fmt.Sprintf("the registry rejected the credentials for %s from the Docker config (DOCKER_CONFIG or ~/.docker/config.json, or their credential helper); run `docker login %s` again", host, host)
}

// dropPlainHTTPRefusal removes our own plain-HTTP refusal from
// go-containerregistry's combined ping error (HTTPS failed; HTTP refused),
// so that the HTTPS failure is what gets reported.
func dropPlainHTTPRefusal(err error) error {
	v := reflect.ValueOf(err)
	errType := reflect.TypeOf((*error)(nil)).Elem()
	if v.Kind() != reflect.Slice || v.Type().Elem() != errType {
		return err
	}
	var kept []error
	for i := 0; i < v.Len(); i++ {
		e, _ := v.Index(i).Interface().(error)
		var plain *plainHTTPError
		if e != nil && !errors.As(e, &plain) {
			kept = append(kept, e)
		}
	}
	if len(kept) == 1 {
		return kept[0]
	}
	return err
}
