package lock

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/rules-repro/rules_repro/tools/policy"
)

func addSeeds(f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
}

// FuzzParseLockfile: whatever Parse accepts marshals canonically, parses
// back to the same, passes Check's format checks, and (when complete
// enough to export) survives export → import → export byte for byte.
func FuzzParseLockfile(f *testing.F) {
	f.Add(readFile(f, goldenLock))
	addSeeds(f, requested,
		`{"version": 1}`,
		`{"version": 1, "images": {"a": {"image": "alpine", "platforms": {"linux/arm64/v8": {}}}}, "files": {"b": {"url": "http://x.example/a?b&c"}}}`,
		`{"version": 1, "images": {"a": {"image": "localhost:5000/x/y:1", "digest": "sha256:`+strings.Repeat("0", 64)+`"}}}`,
		`{"version": 1, "policy": [{"selector": {"identifier": "docker-image://*", "constraints": [{"key": "k", "value": "v", "condition": 2}]}, "updates": null}]}`,
		`{"version": 1, "images": {"a": {"image": "alpine"}, "a": {}}}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data)
		rep := Check(data)
		if err != nil {
			if len(rep.Problems) == 0 {
				t.Fatalf("Parse failed (%v) but Check found no problem", err)
			}
			return
		}
		canon, err := l.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		l2, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, canon)
		}
		again, err := l2.Marshal()
		if err != nil || !bytes.Equal(canon, again) {
			t.Fatalf("Marshal is not stable (%v):\n%s\n%s", err, canon, again)
		}
		for _, p := range Check(canon).Problems {
			if strings.Contains(p.Message, "canonical") {
				t.Fatalf("Check calls the canonical form not canonical: %s", p)
			}
		}
		if bytes.Equal(data, canon) != !hasCanonicalProblem(rep) {
			t.Fatalf("Check disagrees with Marshal about canonical form: %v", rep.Problems)
		}
		e1, err := l.Export()
		if err != nil {
			return // incomplete: nothing to export
		}
		exportImportExport(t, e1)
	})
}

func hasCanonicalProblem(rep *Report) bool {
	for _, p := range rep.Problems {
		if strings.Contains(p.Message, "not in canonical form") {
			return true
		}
	}
	return false
}

// exportImportExport checks that an exported policy imports and exports to
// the same bytes.
func exportImportExport(t *testing.T, e1 []byte) {
	t.Helper()
	p, err := policy.Parse(e1)
	if err != nil {
		t.Fatalf("exported policy does not parse: %v\n%s", err, e1)
	}
	l, _, err := Import(p, nil)
	if err != nil {
		t.Fatalf("Import of an exported policy: %v\n%s", err, e1)
	}
	e2, err := l.Export()
	if err != nil {
		t.Fatalf("Export after Import: %v", err)
	}
	if !bytes.Equal(e1, e2) {
		t.Fatalf("export → import → export differs:\n%s\n---\n%s", e1, e2)
	}
}

// FuzzImport: any policy imports into a valid lockfile whose export means
// the same to BuildKit as the policy (same result for every source the
// rules name), and export → import → export is exact.
func FuzzImport(f *testing.F) {
	f.Add(readFile(f, goldenPolicy))
	sha := strings.Repeat("a", 64)
	addSeeds(f,
		`{"rules": []}`,
		`{"rules": [{"action": "CONVERT", "selector": {"identifier": "docker-image://docker.io/library/zz:1", "match_type": "EXACT"}, "updates": {"identifier": "docker-image://docker.io/library/zz:1@sha256:`+sha+`"}},
			{"action": "CONVERT", "selector": {"identifier": "https://example.com/a.tgz", "match_type": 1}, "updates": {"attrs": {"http.checksum": "sha256:`+sha+`"}}},
			{"action": "CONVERT", "selector": {"identifier": "docker-image://docker.io/library/alpine:3", "match_type": "EXACT"}, "updates": {"identifier": "docker-image://docker.io/library/alpine:3@sha256:`+sha+`"}},
			{"action": "DENY", "selector": {"identifier": "docker-image://*"}},
			{"action": "CONVERT", "selector": {"identifier": "docker-image://docker.io/library/busybox:1", "match_type": "EXACT"}, "updates": {"identifier": "docker-image://docker.io/library/busybox:1@sha256:`+sha+`"}}]}`,
		`{"rules": [{"action": "CONVERT", "selector": {"identifier": "https://example.com/a", "match_type": "EXACT"}, "updates": {"attrs": {"http.checksum": "sha256:`+sha+`"}}},
			{"action": "CONVERT", "selector": {"identifier": "https://example.com/a", "match_type": "EXACT"}, "updates": {"attrs": {"http.checksum": "sha256:`+strings.Repeat("b", 64)+`"}}}]}`,
		`{"version": 1, "rules": [{"action": "CONVERT", "selector": {"identifier": "docker-image://docker.io/*"}, "updates": {"identifier": "docker-image://mirror.example.com/$1"}}]}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := policy.Parse(data)
		if err != nil {
			return
		}
		l, _, err := Import(p, nil)
		if err != nil {
			t.Fatalf("Import: %v", err)
		}
		canon, err := l.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(canon); err != nil {
			t.Fatalf("imported lockfile does not parse: %v\n%s", err, canon)
		}
		e1, err := l.Export()
		if err != nil {
			t.Fatalf("imported lockfile does not export: %v", err)
		}
		exportImportExport(t, e1)

		// Same meaning: evaluate both on every identifier the policy
		// names (and what its conversions produce).
		p1, err := policy.Parse(e1)
		if err != nil {
			t.Fatal(err)
		}
		var sources []string
		for _, r := range p.Rules {
			sources = append(sources, r.Selector.Identifier)
			if r.Updates != nil && r.Updates.Identifier != "" {
				sources = append(sources, r.Updates.Identifier)
			}
		}
		for _, src := range sources {
			r0, err0 := policy.Evaluate(p, policy.Source{Identifier: src})
			r1, err1 := policy.Evaluate(p1, policy.Source{Identifier: src})
			if (err0 == nil) != (err1 == nil) || errors.Is(err0, policy.ErrDenied) != errors.Is(err1, policy.ErrDenied) {
				t.Fatalf("source %q: the policy gives error %v, its import's export %v", src, err0, err1)
			}
			if err0 == nil && (r0.Identifier != r1.Identifier || !sameAttrs(r0.Attrs, r1.Attrs)) {
				t.Fatalf("source %q: the policy gives %+v, its import's export %+v", src, r0, r1)
			}
		}
	})
}

func sameAttrs(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
