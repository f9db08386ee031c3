package sourcepolicy

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/rules-repro/rules_repro/tools/policy"
)

// JSON fragments the generated policy files are made of, valid and not.
var (
	jsonActions    = []string{`"ALLOW"`, `"DENY"`, `"CONVERT"`, `"deny"`, `"\u0044ENY"`, `0`, `1`, `2`, `3`, `-1`, `-0`, `1.0`, `1e0`, `"1"`, `null`, `true`, `{}`, `[]`, `2147483648`}
	jsonMatchTypes = []string{`"WILDCARD"`, `"EXACT"`, `"REGEX"`, `"regex"`, `"GLOB"`, `0`, `1`, `2`, `3`, `-0`, `2.5`, `null`, `"2"`, `false`}
	jsonConditions = []string{`"EQUAL"`, `"NOTEQUAL"`, `"MATCHES"`, `"NOT_EQUAL"`, `0`, `1`, `2`, `3`, `null`, `"0"`}
	jsonStrings    = []string{`"a"`, `"docker-image://*"`, `""`, `null`, `"\u0061\u002a"`, `1`, `true`, `["a"]`, `"\ud800"`}
	jsonVersions   = []string{`1`, `0`, `-7`, `null`, `"1"`, `1.5`, `9223372036854775808`, `1e3`}
	jsonAttrs      = []string{`{}`, `{"k":"v"}`, `{"k":null}`, `{"k":1}`, `null`, `[]`, `{"k":"v","K":"w"}`, `{"k":"v","k":"w"}`, `{"http.checksum":"sha256:ab","a":""}`}
)

// member returns `"key": value`, with now and then the key spelled
// differently, as encoding/json would still accept it, or misspelled.
func member(r *rand.Rand, key, value string) string {
	switch r.IntN(40) {
	case 0:
		key = strings.ToUpper(key)
	case 1:
		key = strings.ToUpper(key[:1]) + key[1:]
	case 2:
		key = strings.ReplaceAll(key, "_", "")
	case 3:
		key = "x" + key
	case 4:
		return fmt.Sprintf("%q: %s, %q: %s", key, value, key, value) // repeated
	}
	return fmt.Sprintf("%q: %s", key, value)
}

// object joins members present with probability 4 in 5, sometimes with an
// unknown one.
func object(r *rand.Rand, members ...string) string {
	var kept []string
	for _, m := range members {
		if r.IntN(5) > 0 {
			kept = append(kept, m)
		}
	}
	if r.IntN(40) == 0 {
		kept = append(kept, `"comment": "x"`)
	}
	r.Shuffle(len(kept), func(i, j int) { kept[i], kept[j] = kept[j], kept[i] })
	return "{" + strings.Join(kept, ", ") + "}"
}

func list(r *rand.Rand, max int, elem func() string) string {
	switch r.IntN(20) {
	case 0:
		return "null"
	case 1:
		return "{}"
	}
	var es []string
	for n := r.IntN(max + 1); n > 0; n-- {
		es = append(es, elem())
	}
	return "[" + strings.Join(es, ", ") + "]"
}

// valid returns a valid fragment from the first n of xs, or any one of them
// with probability 1 in 8.
func frag(r *rand.Rand, xs []string, n int) string {
	if r.IntN(8) == 0 {
		return pick(r, xs)
	}
	return xs[r.IntN(n)]
}

func genPolicyFile(r *rand.Rand) string {
	constraint := func() string {
		if r.IntN(30) == 0 {
			return "null"
		}
		return object(r,
			member(r, "key", frag(r, jsonStrings, 3)),
			member(r, "value", frag(r, jsonStrings, 3)),
			member(r, "condition", frag(r, jsonConditions, 3)))
	}
	rule := func() string {
		switch r.IntN(40) {
		case 0:
			return "null"
		case 1:
			return `"DENY"`
		}
		selector := object(r,
			member(r, "identifier", frag(r, jsonStrings, 3)),
			member(r, "match_type", frag(r, jsonMatchTypes, 3)),
			member(r, "constraints", list(r, 2, constraint)))
		if r.IntN(20) == 0 {
			selector = "null"
		}
		updates := object(r,
			member(r, "identifier", frag(r, jsonStrings, 3)),
			member(r, "attrs", frag(r, jsonAttrs, 3)))
		if r.IntN(10) == 0 {
			updates = "null"
		}
		return object(r,
			member(r, "action", frag(r, jsonActions, 3)),
			member(r, "selector", selector),
			member(r, "updates", updates))
	}
	return object(r,
		member(r, "version", frag(r, jsonVersions, 2)),
		member(r, "rules", list(r, 4, rule)))
}

func TestParseMatchesBuildctl(t *testing.T) {
	const files = 20000
	r := rand.New(rand.NewPCG(seed, 2))
	counts := map[string]int{}
	fixed := []string{`null`, `{}`, ` {} `, `[]`, `"x"`, `{"rules":[]}`, `{"rules":[]}x`, ``, `{"rules":[{"selector":{}}]}`}
	for i := range files + len(fixed) {
		var data []byte
		if i < len(fixed) {
			data = []byte(fixed[i])
		} else {
			data = []byte(genPolicyFile(r))
		}
		if i >= len(fixed) && i%7 == 0 {
			// Cut it short or add trailing data now and then.
			if r.IntN(2) == 0 {
				data = data[:r.IntN(len(data))]
			} else {
				data = append(data, " {}"...)
			}
		}
		p, err := policy.Parse(data)
		bp, bkErr := buildctlParse(data)
		switch {
		case err == nil && bkErr == nil:
			if got := canonical(fromBuildKit(bp)); !reflect.DeepEqual(got, canonical(p)) {
				t.Errorf("%s\nBuildKit parses %+v\nwe parse %+v", data, got, p)
			}
			counts["both accept, same policy"]++
		case err != nil && bkErr != nil:
			counts["both reject"]++
		case err == nil:
			t.Errorf("%s\nwe accept, BuildKit rejects: %v", data, bkErr)
		default:
			// Stricter by design: see the package documentation.
			msg := err.Error()
			switch {
			case strings.Contains(msg, "unknown field") && strings.Contains(msg, "did you mean"):
				counts["only BuildKit accepts: field name in another case or spelling"]++
			case strings.Contains(msg, "unknown field"):
				counts["only BuildKit accepts: unknown field"]++
			case strings.Contains(msg, "field given twice"):
				counts["only BuildKit accepts: repeated field"]++
			case string(data) == "null":
				counts["only BuildKit accepts: null for the whole policy"]++
			default:
				t.Errorf("%s\nBuildKit accepts, we reject: %v", data, err)
			}
		}
	}
	report(t, counts)
	if counts["both accept, same policy"] < files/10 || counts["both reject"] < files/10 {
		t.Errorf("the generator is unbalanced: %v", counts)
	}
}

// TestMarshalJSONAcceptedByBuildctl feeds buildctl's parser our output for
// every policy BuildKit and we both accept, and checks it reads the same
// rules back.
func TestMarshalJSONAcceptedByBuildctl(t *testing.T) {
	r := rand.New(rand.NewPCG(seed, 3))
	n := 0
	for range 20000 {
		p, err := policy.Parse([]byte(genPolicyFile(r)))
		if err != nil {
			continue
		}
		out, err := p.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		bp, err := buildctlParse(out)
		if err != nil {
			t.Fatalf("buildctl rejects our output: %v\n%s", err, out)
		}
		if got := canonical(fromBuildKit(bp)); !reflect.DeepEqual(got, canonical(p)) {
			t.Fatalf("%s\nBuildKit parses %+v\nwant %+v", out, got, p)
		}
		n++
	}
	t.Logf("%d marshalled policies read back identically by buildctl's parser", n)
}
