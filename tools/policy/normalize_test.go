package policy

import (
	"strings"
	"testing"
)

func TestNormalizeImageIdentifier(t *testing.T) {
	const dgst = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	for _, tc := range []struct{ in, want string }{
		{"alpine", "docker-image://docker.io/library/alpine:latest"},
		{"docker-image://alpine", "docker-image://docker.io/library/alpine:latest"},
		{"alpine:3.20", "docker-image://docker.io/library/alpine:3.20"},
		{"alpine@" + dgst, "docker-image://docker.io/library/alpine@" + dgst},
		{"alpine:3.20@" + dgst, "docker-image://docker.io/library/alpine:3.20@" + dgst},
		{"user/app", "docker-image://docker.io/user/app:latest"},
		{"docker.io/app", "docker-image://docker.io/library/app:latest"},
		{"index.docker.io/app:1", "docker-image://docker.io/library/app:1"},
		{"index.docker.io/user/app", "docker-image://docker.io/user/app:latest"},
		{"docker-image://docker.io/library/alpine:latest", "docker-image://docker.io/library/alpine:latest"},
		{"ghcr.io/org/repo/sub:v1", "docker-image://ghcr.io/org/repo/sub:v1"},
		{"localhost/app", "docker-image://localhost/app:latest"},
		{"localhost:5000/app", "docker-image://localhost:5000/app:latest"},
		{"[::1]:5000/app:1", "docker-image://[::1]:5000/app:1"},
		{"Registry/app", "docker-image://Registry/app:latest"},
		{"foo_bar.com/app", "docker-image://foo_bar.com/app:latest"},
		{"a/b/c", "docker-image://docker.io/a/b/c:latest"},
		{"alpine:TAG_1.x", "docker-image://docker.io/library/alpine:TAG_1.x"},
		{"https://example.com/file", "https://example.com/file"},
		{"git://github.com/x/y", "git://github.com/x/y"},
	} {
		got, err := NormalizeImageIdentifier(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeImageIdentifier(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "empty reference"},
		{"docker-image://", "empty reference"},
		{strings.Repeat("ab", 32), "image ID"},
		{"Alpine", "must be lowercase"},
		{"docker.io/User/app", "must be lowercase"},
		{"alpine:", "invalid reference format"},
		{"alpine:-x", "invalid reference format"},
		{"alpine:" + strings.Repeat("x", 129), "invalid reference format"},
		{"alpine@sha256:abc", "invalid reference format"},
		{"alpine@sha256:" + strings.Repeat("A", 64), "invalid checksum digest format"},
		{"alpine@md5:" + strings.Repeat("a", 32), "unsupported digest algorithm"},
		{"alpine@sha256:" + strings.Repeat("a", 63), "invalid checksum digest length"},
		{"a//b", "invalid reference format"},
		{"docker.io/" + strings.Repeat("a", 250), "longer than 255"},
		{"example.com:port/app", "invalid reference format"},
	} {
		got, err := NormalizeImageIdentifier(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NormalizeImageIdentifier(%q) = %q, %v; want an error containing %q", tc.in, got, err, tc.want)
		}
	}
}
