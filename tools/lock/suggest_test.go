package lock

import (
	"reflect"
	"testing"
)

func TestClosest(t *testing.T) {
	names := []string{"docker-image://docker.io/library/python:bookworm", "docker-image://docker.io/library/debian:bookworm", "base"}
	for _, tc := range []struct {
		s    string
		want []string
	}{
		{"docker-image://docker.io/library/pyhton:bookworm", []string{names[0], names[1]}},
		{"bsae", []string{"base"}},
		{"base", nil}, // itself is not a suggestion
		{"zzzzzzzz", nil},
	} {
		if got := Closest(tc.s, names); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Closest(%q) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestProblemEntry(t *testing.T) {
	for _, tc := range []struct{ path, kind, name string }{
		{"images.base.platforms.linux/amd64.digest", "images", "base"},
		{"images.base", "images", "base"},
		{"files.tool.sha256", "files", "tool"},
		{`files["a\nb"]`, "files", "a\nb"},
		{"policy[2]", "", ""},
		{"", "", ""},
		{"imagesx", "", ""},
	} {
		if k, n := (Problem{Path: tc.path}).Entry(); k != tc.kind || n != tc.name {
			t.Errorf("Entry(%q) = %q, %q; want %q, %q", tc.path, k, n, tc.kind, tc.name)
		}
	}
}
