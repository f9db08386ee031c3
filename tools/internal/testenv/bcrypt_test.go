package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

func TestBlowfishTablesFromPi(t *testing.T) {
	c := initialBlowfish()
	for _, tc := range []struct {
		name      string
		got, want uint32
	}{
		{"P[0]", c.p[0], 0x243f6a88},
		{"P[1]", c.p[1], 0x85a308d3},
		{"P[17]", c.p[17], 0x8979fb1b},
		{"S0[0]", c.s[0][0], 0xd1310ba6},
		{"S0[255]", c.s[0][255], 0x6e85076a},
		{"S3[0]", c.s[3][0], 0x3a39ce37},
		{"S3[255]", c.s[3][255], 0x3ac372e6},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %08x, want %08x", tc.name, tc.got, tc.want)
		}
	}
}

// Hashes computed by libxcrypt (glibc crypt(3)) for the same salts.
func TestBcryptKnownHashes(t *testing.T) {
	for _, tc := range []struct{ password, hash string }{
		{"allmine", "$2b$10$XajjQvNhvvRt5GSeFk1xFeyqRrsxkhBkUiQeg0dt.wU1qD4aFDcga"},
		{"", "$2b$04$abcdefghijklmnopqrstuubyCG3zY1GIXMyxfivm.ClDiInHzxjiq"},
		{strings.Repeat("x", 80), "$2b$05$CCCCCCCCCCCCCCCCCCCCC.D7RDOYXakZhsFmh/LdqQNx0kQ424AFS"},
		{"pässwörd", "$2y$04$......................qnB8eqNMuizEQ3mLqW93JYyN8aQz3iO"},
	} {
		ok, err := bcryptVerify(tc.hash, tc.password)
		if err != nil || !ok {
			t.Errorf("bcryptVerify(%q, %q) = %v, %v", tc.hash, tc.password, ok, err)
		}
		if ok, _ := bcryptVerify(tc.hash, tc.password+"!"); ok != (len(tc.password) >= 72) {
			// bcrypt reads at most 72 bytes: a longer password matches
			// whatever follows them.
			t.Errorf("%q with a longer password: match %v", tc.hash, ok)
		}
	}
}

func TestBcryptNewRoundTrip(t *testing.T) {
	h, err := bcryptNew("hunter2", 4)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$2y$04$") || len(h) != 60 {
		t.Fatalf("hash %q", h)
	}
	if ok, err := bcryptVerify(h, "hunter2"); !ok || err != nil {
		t.Fatalf("verify own hash: %v %v", ok, err)
	}
	if _, err := bcryptHash([]byte("x"), 3, make([]byte, 16)); err == nil {
		t.Error("cost 3 accepted")
	}
}

// The built-in bcrypt agrees with Apache's htpasswd, when installed.
func TestBcryptMatchesHtpasswdTool(t *testing.T) {
	if _, err := exec.LookPath("htpasswd"); err != nil {
		t.Skip("htpasswd (apache2-utils) not installed")
	}
	line, tool, err := htpasswdLine("someone", "pass word:with colon")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tool, "htpasswd") {
		t.Fatalf("tool %q", tool)
	}
	hash := strings.TrimPrefix(line, "someone:")
	if ok, err := bcryptVerify(hash, "pass word:with colon"); !ok || err != nil {
		t.Fatalf("built-in bcrypt rejects htpasswd's %q: %v", hash, err)
	}
}
