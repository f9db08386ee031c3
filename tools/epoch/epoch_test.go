package epoch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := map[string]int64{"0": 0, "1700000000": 1700000000, "253402300799": Max}
	for in, want := range good {
		if got, err := Parse(in, "test"); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "1.5", "abc", "-1", " 1", "1e9", "253402300800", "99999999999999999999"} {
		_, err := Parse(bad, "flag --x")
		if err == nil || !strings.Contains(err.Error(), "flag --x") {
			t.Errorf("Parse(%q): %v", bad, err)
		}
	}
	if Format(1700000000) != "2023-11-14T22:13:20Z" {
		t.Error(Format(1700000000))
	}
}

func TestFromStatusFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "stable-status.txt")
	os.WriteFile(p, []byte("BUILD_EMBED_LABEL \nSTABLE_SOURCE_DATE_EPOCH 1700000000\nSTABLE_OTHER x y\n"), 0o644)
	if e, err := FromStatusFile(p, "STABLE_SOURCE_DATE_EPOCH"); err != nil || e != 1700000000 {
		t.Errorf("%d %v", e, err)
	}
	if _, err := FromStatusFile(p, "STABLE_MISSING"); err == nil || !strings.Contains(err.Error(), "workspace_status_command") {
		t.Errorf("missing key: %v", err)
	}
	if _, err := FromStatusFile(p, "STABLE_OTHER"); err == nil || !strings.Contains(err.Error(), "STABLE_OTHER") {
		t.Errorf("malformed: %v", err)
	}
}
