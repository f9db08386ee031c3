package registryconf

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestYAML(t *testing.T) {
	c := Config{Addr: "127.0.0.1:5000", Storage: "/s t/o\"r", Secret: "abc", Delete: true,
		TLSCert: "/c.pem", TLSKey: "/k.pem", Htpasswd: "/h"}
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`rootdirectory: "/s t/o\"r"`, "enabled: true", `addr: "127.0.0.1:5000"`, `secret: "abc"`,
		"  tls:\n    certificate: \"/c.pem\"\n    key: \"/k.pem\"\n",
		"auth:\n  htpasswd:\n", `path: "/h"`,
	} {
		if !strings.Contains(string(y), want) {
			t.Errorf("YAML lacks %q:\n%s", want, y)
		}
	}
	plain, err := Config{Addr: "127.0.0.1:5000", Storage: "/s", Secret: "abc"}.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"tls:", "auth:", "enabled: true"} {
		if strings.Contains(string(plain), absent) {
			t.Errorf("plain YAML has %q:\n%s", absent, plain)
		}
	}
}

func TestYAMLRejects(t *testing.T) {
	for name, c := range map[string]Config{
		"address":                 {Storage: "/s", Secret: "x"},
		"storage":                 {Addr: "a", Secret: "x"},
		"secret":                  {Addr: "a", Storage: "/s"},
		"a certificate and a key": {Addr: "a", Storage: "/s", Secret: "x", TLSCert: "/c"},
	} {
		if _, err := c.YAML(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: got %v, want an error naming it", name, err)
		}
	}
}

func TestHtpasswdLine(t *testing.T) {
	line, err := HtpasswdLine("alice", "pa ss:word")
	if err != nil {
		t.Fatal(err)
	}
	user, hash, ok := strings.Cut(line, ":")
	if !ok || user != "alice" || !strings.HasPrefix(hash, "$2") {
		t.Fatalf("line %q", line)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("pa ss:word")); err != nil {
		t.Errorf("hash does not verify: %v", err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("other")); err == nil {
		t.Error("hash verifies a wrong password")
	}
	for _, bad := range []string{"", "a:b", "a\nb"} {
		if _, err := HtpasswdLine(bad, "p"); err == nil {
			t.Errorf("user %q accepted", bad)
		}
	}
}
