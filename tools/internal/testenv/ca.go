package testenv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a throw-away certificate authority for one test. Its certificate is
// written as PEM to CertPath, so that external programs (skopeo, crane,
// curl) can be pointed at it.
type CA struct {
	// CertPEM is the CA certificate in PEM form.
	CertPEM []byte
	// CertPath is a file holding CertPEM.
	CertPath string
	// Pool holds only this CA's certificate.
	Pool *x509.CertPool

	cert *x509.Certificate
	key  crypto.Signer
	dir  string
}

// NewCA creates a CA (ECDSA P-256, valid from an hour ago for a day) and
// writes its certificate to ca.pem in a fresh t.TempDir().
func NewCA(t testing.TB) *CA {
	t.Helper()
	ca, err := newCA(t.TempDir())
	if err != nil {
		t.Fatalf("testenv: creating test CA: %v", err)
	}
	return ca
}

func newCA(dir string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "rules_repro test CA", Organization: []string{"rules_repro tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &CA{
		CertPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		CertPath: filepath.Join(dir, "ca.pem"),
		Pool:     x509.NewCertPool(),
		cert:     cert,
		key:      key,
		dir:      dir,
	}
	ca.Pool.AddCert(cert)
	if err := os.WriteFile(ca.CertPath, ca.CertPEM, 0o644); err != nil {
		return nil, err
	}
	return ca, nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n.Add(n, big.NewInt(1))
}

// ServerCert is a leaf certificate issued by a CA, as files and in memory.
type ServerCert struct {
	// CertPath holds the leaf certificate followed by the CA certificate (PEM).
	CertPath string
	// KeyPath holds the private key (PEM, PKCS #8).
	KeyPath string
	// TLS is the same pair for a Go server.
	TLS tls.Certificate
}

// IssueServerCert issues a server certificate for 127.0.0.1, ::1 and
// localhost, and writes it into the CA's directory as NAME.pem and
// NAME-key.pem.
func (ca *CA) IssueServerCert(name string) (*ServerCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("issuing %s certificate: %w", name, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ca.CertPEM...)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	sc := &ServerCert{
		CertPath: filepath.Join(ca.dir, name+".pem"),
		KeyPath:  filepath.Join(ca.dir, name+"-key.pem"),
	}
	if err := os.WriteFile(sc.CertPath, certPEM, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(sc.KeyPath, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if sc.TLS, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return nil, err
	}
	return sc, nil
}

// newClient returns an HTTP client that trusts pool (the system roots when
// pool is nil), never uses an HTTP proxy from the environment, speaks
// HTTP/1.1 and gives up on a request after a minute.
func newClient(pool *x509.CertPool) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			TLSClientConfig:     &tls.Config{RootCAs: pool},
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			TLSHandshakeTimeout: 5 * time.Second,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		},
		Timeout: time.Minute,
	}
}

// Client returns an HTTP client that trusts only this CA.
func (ca *CA) Client() *http.Client { return newClient(ca.Pool) }
