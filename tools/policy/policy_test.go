package policy

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want *Policy
	}{
		{"empty object", `{}`, &Policy{}},
		{"null rules", `{"rules": null}`, &Policy{}},
		{"version", `{"version": 1, "rules": []}`, &Policy{Version: 1}},
		{
			"names",
			`{"rules":[{"action":"CONVERT","selector":{"identifier":"docker-image://docker.io/library/alpine:*","match_type":"WILDCARD","constraints":[{"key":"k","value":"v","condition":"NOTEQUAL"}]},"updates":{"identifier":"docker-image://docker.io/library/alpine:$1","attrs":{"a":"b"}}}]}`,
			&Policy{Rules: []Rule{{
				Action:   Convert,
				Selector: Selector{Identifier: "docker-image://docker.io/library/alpine:*", MatchType: Wildcard, Constraints: []Constraint{{Key: "k", Value: "v", Condition: NotEqual}}},
				Updates:  &Update{Identifier: "docker-image://docker.io/library/alpine:$1", Attrs: map[string]string{"a": "b"}},
			}}},
		},
		{
			"numbers",
			`{"rules":[{"action":1,"selector":{"identifier":"x","match_type":2,"constraints":[{"key":"k","condition":2}]}}]}`,
			&Policy{Rules: []Rule{{Action: Deny, Selector: Selector{Identifier: "x", MatchType: Regex, Constraints: []Constraint{{Key: "k", Condition: Matches}}}}}},
		},
		{
			"defaults and nulls",
			`{"rules":[{"selector":{"identifier":"x"}},{"action":null,"selector":{"identifier":null,"match_type":null,"constraints":null},"updates":null}]}`,
			&Policy{Rules: []Rule{{Selector: Selector{Identifier: "x"}}, {}}},
		},
		{
			"minus zero, escapes",
			`{"rules":[{"action":-0,"selector":{"identifier":"\u0061"},"updates":{"attrs":{}}}]}`,
			&Policy{Rules: []Rule{{Selector: Selector{Identifier: "a"}, Updates: &Update{Attrs: map[string]string{}}}}},
		},
		{
			"escaped key",
			`{"rules":[{"\u0061ction":"DENY","selector":{}}]}`,
			&Policy{Rules: []Rule{{Action: Deny}}},
		},
		{
			"null attr value",
			`{"rules":[{"action":"CONVERT","selector":{},"updates":{"attrs":{"k":null}}}]}`,
			&Policy{Rules: []Rule{{Action: Convert, Updates: &Update{Attrs: map[string]string{"k": ""}}}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // substring of the error
	}{
		{``, "unexpected end of input"},
		{`[]`, "top level: want an object, found an array"},
		{`null`, "top level: want an object, found null"},
		{`{"rules":[]} {}`, "after the policy object"},
		{`{"rules":[],}`, "invalid JSON"},
		{`{"foo":1}`, `unknown field "foo"`},
		{`{"Rules":[]}`, `did you mean "rules"`},
		{`{"rules":[],"rules":[]}`, "rules: field given twice"},
		{`{"version":"1"}`, "version: want an integer"},
		{`{"version":1.5}`, "version: want an integer"},
		{`{"rules":{}}`, "rules: want an array"},
		{`{"rules":[null]}`, "rules[0]: rule 0 is null"},
		{`{"rules":[{}]}`, "rules[0].selector: rule 0 has no selector"},
		{`{"rules":[{"selector":null}]}`, "rule 0 has no selector"},
		{`{"rules":[{"selector":{}},{"action":"BLOCK","selector":{}}]}`, `rules[1].action: unknown action "BLOCK"`},
		{`{"rules":[{"action":"deny","selector":{}}]}`, `names are upper case: "DENY"`},
		{`{"rules":[{"action":3,"selector":{}}]}`, "rules[0].action: unknown action 3"},
		{`{"rules":[{"action":-1,"selector":{}}]}`, "unknown action -1"},
		{`{"rules":[{"action":1.0,"selector":{}}]}`, "unknown action 1.0"},
		{`{"rules":[{"action":true,"selector":{}}]}`, "want a action name or number, found true"},
		{`{"rules":[{"action":"ALLOW","selector":{"match_type":"GLOB"}}]}`, `rules[0].selector.match_type: unknown match type "GLOB"`},
		{`{"rules":[{"selector":{"matchType":"EXACT"}}]}`, `rules[0].selector: unknown field "matchType"`},
		{`{"rules":[{"selector":{"constraints":[null]}}]}`, "rules[0].selector.constraints[0]: null constraint"},
		{`{"rules":[{"selector":{"constraints":[{"condition":"LIKE"}]}}]}`, `rules[0].selector.constraints[0].condition: unknown condition "LIKE"`},
		{`{"rules":[{"selector":{"constraints":[{"op":"x"}]}}]}`, `rules[0].selector.constraints[0]: unknown field "op"`},
		{`{"rules":[{"selector":{"identifier":1}}]}`, "rules[0].selector.identifier: want a string, found the number 1"},
		{`{"rules":[{"selector":{},"updates":{"attrs":{"a":1}}}]}`, "rules[0].updates.attrs.a: want a string"},
		{`{"rules":[{"selector":{},"updates":{"attrs":{"a":"1","a":"2"}}}]}`, "rules[0].updates.attrs.a: field given twice"},
		{`{"rules":[{"selector":{},"updates":{"id":"x"}}]}`, `rules[0].updates: unknown field "id"`},
		{`{"rules":[{"selector":{},"updates":[]}]}`, "rules[0].updates: want an object, found an array"},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s) = %v, want error containing %q", tc.in, err, tc.want)
		}
	}
}

func TestMarshalJSON(t *testing.T) {
	p := &Policy{Version: 1, Rules: []Rule{
		{Action: Deny, Selector: Selector{Identifier: "docker-image://*"}},
		{Action: Convert, Selector: Selector{
			Identifier:  "https://example.com/a<b>&c",
			MatchType:   Exact,
			Constraints: []Constraint{{Key: "http.checksum", Value: "", Condition: Equal}},
		}, Updates: &Update{Attrs: map[string]string{"z": "1", "http.checksum": "sha256:00"}}},
		{Action: Convert, Selector: Selector{Identifier: "x", MatchType: Regex}, Updates: &Update{}},
	}}
	got, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "rules": [
    {
      "action": "DENY",
      "selector": {
        "identifier": "docker-image://*",
        "match_type": "WILDCARD"
      }
    },
    {
      "action": "CONVERT",
      "selector": {
        "constraints": [
          {
            "condition": "EQUAL",
            "key": "http.checksum",
            "value": ""
          }
        ],
        "identifier": "https://example.com/a<b>&c",
        "match_type": "EXACT"
      },
      "updates": {
        "attrs": {
          "http.checksum": "sha256:00",
          "z": "1"
        },
        "identifier": ""
      }
    },
    {
      "action": "CONVERT",
      "selector": {
        "identifier": "x",
        "match_type": "REGEX"
      },
      "updates": {
        "identifier": ""
      }
    }
  ],
  "version": 1
}`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	back, err := Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("round trip: got %+v, want %+v", back, p)
	}
}

func TestEnumStrings(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{Allow.String(), "ALLOW"}, {Deny.String(), "DENY"}, {Convert.String(), "CONVERT"}, {Action(7).String(), "7"},
		{Wildcard.String(), "WILDCARD"}, {Exact.String(), "EXACT"}, {Regex.String(), "REGEX"},
		{Equal.String(), "EQUAL"}, {NotEqual.String(), "NOTEQUAL"}, {Matches.String(), "MATCHES"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestParseDeep checks that a deeply nested policy is refused before it is
// decoded, with an error naming the depth limit, and that the limit leaves
// real policies alone.
func TestParseDeep(t *testing.T) {
	deep := `{"rules": [{"selector": {"identifier": "a", "constraints": ` + strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000) + `}}]}`
	_, err := Parse([]byte(deep))
	if err == nil || !strings.Contains(err.Error(), "policy: JSON nested deeper than 64 levels") {
		t.Errorf("Parse of a 20,000-level policy: %v", err)
	}
	// The deepest place in a policy: rules[0].selector.constraints[0], 5 levels.
	ok := `{"rules": [{"selector": {"identifier": "a", "constraints": [{"key": "k", "value": "v"}]}}]}`
	if _, err := Parse([]byte(ok)); err != nil {
		t.Errorf("Parse: %v", err)
	}
}
