package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// FileSHA256 downloads an HTTP(S) file and returns the hex sha256 of its
// content (nothing is stored). It uses the client's TLS settings and
// retries but no registry credentials. Plain http:// URLs need
// Options.Insecure: a checksum computed from an unauthenticated download
// would pin whatever a network attacker sent.
func (c *Client) FileSHA256(ctx context.Context, rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &Error{msg: fmt.Sprintf("%s: not an http(s) URL", redactURL(rawURL))}
	}
	subject := u.Redacted()
	actx, a := withAttempts(contentRequest(ctx))
	req, err := http.NewRequestWithContext(actx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", c.fail(nil, subject, "%v", err)
	}
	client := &http.Client{Transport: c.base, CheckRedirect: sameSchemeRedirects}
	for attempt := 1; ; attempt++ {
		sum, err := c.hashResponse(client, req, subject, a)
		if err == nil || !isCut(err) || attempt >= c.attempts() {
			return sum, err
		}
	}
}

func (c *Client) hashResponse(client *http.Client, req *http.Request, subject string, a *attempts) (string, error) {
	resp, err := client.Do(req)
	if err != nil {
		return "", c.explain(subject, req.URL.Host, err, a)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		kind := ErrUnavailable
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
			kind = ErrNotFound
		} else if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			kind = ErrAuth
		}
		if resp.Request != nil && resp.Request.URL.Host != req.URL.Host {
			return "", c.fail(kind, subject, "HTTP %s from %s, a redirect target (%s; no credentials are sent to it)", resp.Status, resp.Request.URL.Host, shortURL(resp.Request.URL))
		}
		return "", c.fail(kind, subject, "HTTP %s", resp.Status)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		e := c.explain(subject, req.URL.Host, fmt.Errorf("download cut off after %d bytes: %w", n, err), a)
		if transientNetError(err) {
			return "", cut{e}
		}
		return "", e
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return "", c.fail(ErrVerify, subject, "got %d bytes, but Content-Length said %d", n, resp.ContentLength)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func isCut(err error) bool {
	_, ok := err.(cut)
	return ok
}

func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(invalid URL)"
}
