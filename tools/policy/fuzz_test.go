package policy

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	`{}`,
	`{"version":1,"rules":[]}`,
	`{"rules":[{"action":"DENY","selector":{"identifier":"docker-image://*"}}]}`,
	`{"rules":[{"action":"CONVERT","selector":{"identifier":"docker-image://docker.io/library/alpine:*"},"updates":{"identifier":"docker-image://docker.io/library/alpine:$1@sha256:0000000000000000000000000000000000000000000000000000000000000000"}}]}`,
	`{"rules":[{"action":2,"selector":{"identifier":"https://files.example.com/*"},"updates":{"attrs":{"http.checksum":"sha256:ab"}}}]}`,
	`{"rules":[{"action":"CONVERT","selector":{"identifier":"a(l)","match_type":"REGEX"},"updates":{"identifier":"[$1]"}}]}`,
	`{"rules":[{"action":1,"selector":{"identifier":"**","match_type":0,"constraints":[{"key":"k","value":"v","condition":"NOTEQUAL"},{"key":"k","value":"^v","condition":2}]}}]}`,
	`{"rules":[{"action":"CONVERT","selector":{"identifier":"a","match_type":"EXACT"},"updates":{"identifier":"b"}},{"action":"CONVERT","selector":{"identifier":"b","match_type":"EXACT"},"updates":{"identifier":"a"}}]}`,
	`{"rules":[{"action":null,"selector":{"identifier":null,"constraints":null},"updates":{"identifier":"","attrs":{"k":null}}}]}`,
	`{"rules":[null]}`,
	`{"rules":[{"Action":"DENY","selector":{}}]}`,
	`{"rules":[{"selector":{"matchType":"EXACT"}}]}`,
}

// FuzzParse checks that whatever Parse accepts survives MarshalJSON: the
// output parses to the same policy, marshals to the same bytes, and means
// the same to Evaluate.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "policy: ") {
				t.Errorf("error without prefix: %v", err)
			}
			return
		}
		out, err := p.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		q, err := Parse(out)
		if err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(canonical(p), canonical(q)) {
			t.Fatalf("round trip changed the policy:\n%+v\n%+v", p, q)
		}
		out2, err := q.MarshalJSON()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("MarshalJSON is not stable: %v\n%s\n%s", err, out, out2)
		}
		Lint(p)
		for _, id := range []string{"a", "docker-image://docker.io/library/alpine:latest", "https://files.example.com/a.tgz"} {
			r1, err1 := Evaluate(p, Source{Identifier: id})
			r2, err2 := Evaluate(q, Source{Identifier: id})
			if !reflect.DeepEqual(r1, r2) || (err1 == nil) != (err2 == nil) {
				t.Fatalf("round trip changed evaluation of %q: %+v %v / %+v %v", id, r1, err1, r2, err2)
			}
		}
	})
}

// canonical maps empty constraint lists to nil, which Parse does not tell
// apart.
func canonical(p *Policy) *Policy {
	c := *p
	c.Rules = append([]Rule(nil), p.Rules...)
	for i := range c.Rules {
		if len(c.Rules[i].Selector.Constraints) == 0 {
			c.Rules[i].Selector.Constraints = nil
		}
	}
	return &c
}

// FuzzEvaluate checks the invariants of Evaluate on arbitrary policies and
// sources: it never panics, is deterministic, stops after MaxConversions,
// reports denials consistently and leaves its input alone.
func FuzzEvaluate(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), "docker-image://docker.io/library/alpine:3.20", "k=v")
		f.Add([]byte(s), "a", "")
		f.Add([]byte(s), "https://files.example.com/a.tgz", "http.checksum=sha256:ab\nk=w")
	}
	f.Fuzz(func(t *testing.T, data []byte, id, attrText string) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		attrs := map[string]string{}
		for _, line := range strings.Split(attrText, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				attrs[k] = v
			}
		}
		before := make(map[string]string, len(attrs))
		for k, v := range attrs {
			before[k] = v
		}
		res, err := Evaluate(p, Source{Identifier: id, Attrs: attrs})
		if !reflect.DeepEqual(attrs, before) {
			t.Fatal("Evaluate modified its input")
		}
		res2, err2 := Evaluate(p, Source{Identifier: id, Attrs: attrs})
		if !reflect.DeepEqual(res, res2) || (err == nil) != (err2 == nil) {
			t.Fatal("Evaluate is not deterministic")
		}
		if res.Attrs == nil {
			t.Fatal("nil Attrs")
		}
		var de *DeniedError
		denied := errors.As(err, &de)
		if denied != res.Denied || denied != errors.Is(err, ErrDenied) {
			t.Fatalf("inconsistent denial: %+v, %v", res, err)
		}
		if denied {
			if res.DeniedBy < 0 || res.DeniedBy >= len(p.Rules) || p.Rules[res.DeniedBy].Action != Deny || de.Rule != res.DeniedBy || de.Source != res.Identifier {
				t.Fatalf("bad denial: %+v, %v", res, err)
			}
		} else if res.DeniedBy != -1 {
			t.Fatalf("DeniedBy %d without a denial", res.DeniedBy)
		}
		if errors.Is(err, ErrTooManyConversions) != (res.Conversions > MaxConversions) {
			t.Fatalf("%d conversions, error %v", res.Conversions, err)
		}
		if err == nil && res.Conversions == 0 && (res.Identifier != id || !reflect.DeepEqual(res.Attrs, before)) {
			t.Fatalf("source changed without a conversion: %+v", res)
		}
	})
}

// FuzzNormalizeImageIdentifier checks that normalized identifiers are fixed
// points.
func FuzzNormalizeImageIdentifier(f *testing.F) {
	for _, s := range []string{"alpine", "docker-image://alpine:3", "localhost:5000/a/b@sha256:0000000000000000000000000000000000000000000000000000000000000000", "Foo/bar", "https://x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		n, err := NormalizeImageIdentifier(id)
		if err != nil {
			return
		}
		n2, err := NormalizeImageIdentifier(n)
		if err != nil || n2 != n {
			t.Fatalf("%q → %q → %q, %v", id, n, n2, err)
		}
	})
}
