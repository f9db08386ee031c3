package lock

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// deepLockfile nests n arrays where an image entry belongs: 2n bytes that
// used to cost n² time and memory (20,000 levels: 21 s, 654 MB).
func deepLockfile(n int) []byte {
	return []byte(`{"version": 1, "images": {"a": ` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}}`)
}

// TestDeepLockfileRefused checks that a deeply nested lockfile is refused
// at once, by Parse and by Check, with an error naming the depth limit.
func TestDeepLockfileRefused(t *testing.T) {
	data := deepLockfile(20_000)
	start := time.Now()
	_, err := Parse(data)
	if err == nil || !strings.Contains(err.Error(), "nested deeper than 64 levels") {
		t.Errorf("Parse: got %v, want an error naming the depth limit", err)
	}
	rep := Check(data)
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].Message, "nested deeper than 64 levels") {
		t.Errorf("Check: got %v, want one problem naming the depth limit", rep.Problems)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("refusing took %v", d)
	}
	// 64 levels are fine as far as depth goes (the error is then about
	// the shape).
	if _, err := Parse(deepLockfile(62)); err == nil || strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("Parse at the limit: %v", err)
	}
}

// TestLongKeyManyValues checks that the path of a value is spelled out only
// for an error: each of 20,000 values under a 256 KiB key used to build its
// own copy of the key (5 GB).
func TestLongKeyManyValues(t *testing.T) {
	data := []byte(`{"version": 1, "files": {"` + strings.Repeat("k", 256<<10) + `": [` + strings.Repeat("1, ", 20_000) + `1]}}`)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Parse(data)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "want an object, found an array") {
		t.Errorf("Parse: %.200v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("Parse of %d KiB allocated %d MiB", len(data)>>10, alloc>>20)
	}
}

// TestErrorPathsAfterManyValues checks that error paths are still exact
// now that they are built only when an error is reported.
func TestErrorPathsAfterManyValues(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"version": 1, "images": {"a": {"image": "x", "platforms": {"linux/amd64": {"digest": 1}}}}}`, `images.a.platforms.linux/amd64.digest: want a string, found the number 1`},
		{`{"version": 1, "images": {"a": {"image": "x", "image": "y"}}}`, `images.a.image: key given twice`},
		{`{"version": 1, "images": {"a": {"image": "x"`, `images.a: unexpected end of input`},
		{`{"version": 1, "policy": [{"selector": {"identifier": "a"}}, {"selector": {"identifier": "b", "constraints": [{"key": "k"}, {"key": "k", "key": "j"}]}}]}`, `policy[1].selector.constraints[1].key: key given twice`},
		{`{"version": 1, "policy": [{"selector": {"identifier": "a"}}, {"selector": {"identifier": "b", "match_type": "EXACTLY"}}]}`, `policy[1].selector.match_type: unknown match type "EXACTLY"`},
		{`{"version": 1, "files": {"a": [1, 2, {"x": 1, "x": 2}]}}`, `files.a[2].x: key given twice`},
		{`{"version": 1, "files": {"a": [1, 2, tru]}}`, `files.a[2]: invalid JSON`},
		{`{"version": 1, "images": {"a\nb": {"image": 1}}}`, `images["a\nb"].image: want a string, found the number 1`},
		{`{"version": 1, "files": {"a": {"u\u001brl": 1}}}`, `files.a: unknown field "u\x1brl"`},
		{`{"version": 1, "policy": [{"selector": {"identifier": "a"}, "action": "CONVERT", "updates": {"attrs": {"http.checksum": "", "k\n": 1}}}]}`, `policy[0].updates.attrs["k\n"]: want a string, found the number 1`},
	} {
		_, err := Parse([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s):\n got %v\nwant %s", tc.doc, err, tc.want)
		}
	}
}
