// Package policy reads, writes and evaluates BuildKit source policies: the
// JSON file given to `buildctl build --source-policy-file` (and to
// `docker buildx build` through EXPERIMENTAL_BUILDKIT_SOURCE_POLICY).
//
// Evaluation reproduces BuildKit's sourcepolicy engine decision for decision,
// quirks included; the e2e/sourcepolicy module checks that against BuildKit
// itself. Parsing is stricter than BuildKit's (which decodes the file with
// encoding/json): unknown fields, differently cased field names, repeated
// fields and a file that is just null are errors here, where BuildKit
// ignores, accepts or merges them; and rules or constraints that are null,
// and rules without a selector, are errors here when BuildKit only rejects
// them once a build starts. Parse also refuses what would cost BuildKit (or
// us) time out of proportion to the file: a document nested deeper than
// safejson.MaxDepth, and a WILDCARD selector with more than MaxWildcards
// "*". Every policy Parse accepts means the same to BuildKit.
package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/rules-repro/rules_repro/tools/safejson"
)

// Action is what a rule does with a source its selector matches.
type Action int32

// The actions, with their protobuf numbers.
const (
	// Allow clears the deny flag set by an earlier matching Deny rule.
	Allow Action = 0
	// Deny fails the source unless a later matching rule allows it.
	Deny Action = 1
	// Convert rewrites the source's identifier and attributes.
	Convert Action = 2
)

// MatchType is how a selector's identifier is compared with a source's.
type MatchType int32

// The match types, with their protobuf numbers.
const (
	// Wildcard anchors the pattern and makes each "*" a capture group ($1,
	// $2, ...); "**" is invalid.
	Wildcard MatchType = 0
	// Exact matches only the identical string.
	Exact MatchType = 1
	// Regex is an unanchored RE2 search (Go regexp syntax).
	Regex MatchType = 2
)

// Condition is how a constraint compares a source attribute with its value.
type Condition int32

// The conditions, with their protobuf numbers. A missing attribute compares
// as the empty string.
const (
	// Equal holds when the attribute equals the value.
	Equal Condition = 0
	// NotEqual holds when the attribute differs from the value.
	NotEqual Condition = 1
	// Matches holds when the value, a Go regexp, matches somewhere in the
	// attribute.
	Matches Condition = 2
)

var (
	actionNames    = []string{"ALLOW", "DENY", "CONVERT"}
	matchTypeNames = []string{"WILDCARD", "EXACT", "REGEX"}
	conditionNames = []string{"EQUAL", "NOTEQUAL", "MATCHES"}
)

func enumString(names []string, v int32) string {
	if v >= 0 && int(v) < len(names) {
		return names[v]
	}
	return strconv.Itoa(int(v))
}

func (a Action) String() string    { return enumString(actionNames, int32(a)) }
func (m MatchType) String() string { return enumString(matchTypeNames, int32(m)) }
func (c Condition) String() string { return enumString(conditionNames, int32(c)) }

// Policy is a source policy: rules applied in order to every source of a build.
type Policy struct {
	// Version is the file's "version" field; BuildKit documents 1 and
	// ignores it. Zero when absent.
	Version int64
	// Rules are evaluated in order; see Evaluate.
	Rules []Rule
}

// Rule is one entry of a policy's "rules".
type Rule struct {
	// Action defaults to Allow.
	Action Action
	// Selector says which sources the rule applies to.
	Selector Selector
	// Updates is what a Convert rule changes; nil when absent, which makes
	// a matching Convert rule an error.
	Updates *Update
}

// Selector matches sources by identifier and attributes.
type Selector struct {
	// Identifier is compared with the source identifier as MatchType says.
	// An identical string always matches, whatever the match type.
	Identifier string
	// MatchType defaults to Wildcard.
	MatchType MatchType
	// Constraints must all hold for the selector to match.
	Constraints []Constraint
}

// Constraint is a condition on one source attribute.
type Constraint struct {
	Key       string
	Value     string
	Condition Condition
}

// Update is the destination of a Convert rule.
type Update struct {
	// Identifier is the new identifier, with $1, ${name}, ... replaced by
	// the selector's captures for Wildcard and Regex selectors. When empty,
	// the selector's own identifier is used as the template (see Lint).
	Identifier string
	// Attrs are set on the source; existing attributes are overwritten,
	// none is removed.
	Attrs map[string]string
}

// Parse reads a policy file. Enum fields take the name ("DENY") or the
// protobuf number (1); null means the same as an absent field. Errors name
// the offending rule and field, e.g. `rules[2].selector.match_type`.
func Parse(data []byte) (*Policy, error) {
	if err := safejson.CheckDepth(data); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	d := &decoder{dec: json.NewDecoder(bytes.NewReader(data))}
	d.dec.UseNumber()
	p := &Policy{}
	tok, err := d.token(nil)
	if err != nil {
		return nil, err
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return nil, fmt.Errorf("policy: top level: want an object, found %s", describe(tok))
	}
	err = d.object(nil, func(key string, path *safejson.Path) error {
		switch key {
		case "version":
			tok, err := d.token(path)
			if err != nil || tok == nil {
				return err
			}
			n, ok := tok.(json.Number)
			if !ok {
				return fmt.Errorf("policy: %s: want an integer, found %s", path, describe(tok))
			}
			v, err := strconv.ParseInt(string(n), 10, 64)
			if err != nil {
				return fmt.Errorf("policy: %s: want an integer, found %s", path, n)
			}
			p.Version = v
			return nil
		case "rules":
			return d.array(path, func(i int, path *safejson.Path) error {
				r, err := d.rule(i, path)
				if err != nil {
					return err
				}
				p.Rules = append(p.Rules, r)
				return nil
			})
		}
		return unknownField(path, key, "version", "rules")
	})
	if err != nil {
		return nil, err
	}
	if tok, err := d.dec.Token(); err != io.EOF {
		if err != nil {
			return nil, fmt.Errorf("policy: invalid JSON after the policy object: %v", err)
		}
		return nil, fmt.Errorf("policy: unexpected %s after the policy object", describe(tok))
	}
	return p, nil
}

type decoder struct{ dec *json.Decoder }

func (d *decoder) token(path *safejson.Path) (json.Token, error) {
	tok, err := d.dec.Token()
	if err == io.EOF {
		return nil, fmt.Errorf("policy: %s: unexpected end of input", orTop(path))
	}
	if err != nil {
		return nil, fmt.Errorf("policy: %s: invalid JSON: %v", orTop(path), err)
	}
	return tok, nil
}

func orTop(path *safejson.Path) string {
	if path == nil {
		return "top level"
	}
	return path.String()
}

// object reads the members of an object whose '{' has been read, calling
// field for each key; field must consume the value, and must not keep its
// path (the node is reused for the next member).
func (d *decoder) object(path *safejson.Path, field func(key string, path *safejson.Path) error) error {
	seen := map[string]bool{}
	sub := &safejson.Path{Parent: path, Index: -1}
	for d.dec.More() {
		tok, err := d.token(path)
		if err != nil {
			return err
		}
		key := tok.(string) // the decoder guarantees a string key here
		sub.Key = key
		if seen[key] {
			return fmt.Errorf("policy: %s: field given twice", sub)
		}
		seen[key] = true
		if err := field(key, sub); err != nil {
			return err
		}
	}
	_, err := d.token(path) // '}'
	return err
}

// optObject reads an object or null; it reports whether an object was read.
func (d *decoder) optObject(path *safejson.Path, field func(key string, path *safejson.Path) error) (bool, error) {
	tok, err := d.token(path)
	if err != nil {
		return false, err
	}
	if tok == nil {
		return false, nil
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return false, fmt.Errorf("policy: %s: want an object, found %s", path, describe(tok))
	}
	return true, d.object(path, field)
}

// array reads an array or null, calling elem for each element; elem must
// not keep its path.
func (d *decoder) array(path *safejson.Path, elem func(i int, path *safejson.Path) error) error {
	tok, err := d.token(path)
	if err != nil || tok == nil {
		return err
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '[' {
		return fmt.Errorf("policy: %s: want an array, found %s", path, describe(tok))
	}
	sub := &safejson.Path{Parent: path}
	for i := 0; d.dec.More(); i++ {
		sub.Index = i
		if err := elem(i, sub); err != nil {
			return err
		}
	}
	_, err = d.token(path) // ']'
	return err
}

func (d *decoder) str(path *safejson.Path) (string, error) {
	tok, err := d.token(path)
	if err != nil || tok == nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("policy: %s: want a string, found %s", path, describe(tok))
	}
	return s, nil
}

// enum reads an enum given by name, by number, or null (the zero value).
func (d *decoder) enum(path *safejson.Path, what string, names []string) (int32, error) {
	tok, err := d.token(path)
	if err != nil || tok == nil {
		return 0, err
	}
	want := fmt.Sprintf("want %s or a number 0 to %d", strings.Join(names, ", "), len(names)-1)
	switch v := tok.(type) {
	case string:
		for i, n := range names {
			if v == n {
				return int32(i), nil
			}
		}
		hint := ""
		for _, n := range names {
			if strings.EqualFold(v, n) {
				hint = fmt.Sprintf("; names are upper case: %q", n)
			}
		}
		return 0, fmt.Errorf("policy: %s: unknown %s %q (%s%s)", path, what, v, want, hint)
	case json.Number:
		n, err := strconv.ParseInt(string(v), 10, 32)
		if err != nil || n < 0 || int(n) >= len(names) {
			return 0, fmt.Errorf("policy: %s: unknown %s %s (%s)", path, what, v, want)
		}
		return int32(n), nil
	}
	return 0, fmt.Errorf("policy: %s: want a %s name or number, found %s", path, what, describe(tok))
}

func (d *decoder) rule(i int, path *safejson.Path) (Rule, error) {
	var r Rule
	hasSelector := false
	present, err := d.optObject(path, func(key string, path *safejson.Path) error {
		switch key {
		case "action":
			v, err := d.enum(path, "action", actionNames)
			r.Action = Action(v)
			return err
		case "selector":
			var err error
			hasSelector, err = d.optObject(path, func(key string, path *safejson.Path) error {
				switch key {
				case "identifier":
					var err error
					r.Selector.Identifier, err = d.str(path)
					return err
				case "match_type":
					v, err := d.enum(path, "match type", matchTypeNames)
					r.Selector.MatchType = MatchType(v)
					return err
				case "constraints":
					r.Selector.Constraints = nil
					return d.array(path, func(_ int, path *safejson.Path) error {
						c, err := d.constraint(path)
						r.Selector.Constraints = append(r.Selector.Constraints, c)
						return err
					})
				}
				return unknownField(path, key, "identifier", "match_type", "constraints")
			})
			return err
		case "updates":
			u := &Update{}
			present, err := d.optObject(path, func(key string, path *safejson.Path) error {
				switch key {
				case "identifier":
					var err error
					u.Identifier, err = d.str(path)
					return err
				case "attrs":
					attrs := map[string]string{}
					present, err := d.optObject(path, func(key string, path *safejson.Path) error {
						v, err := d.str(path)
						attrs[key] = v
						return err
					})
					if present {
						u.Attrs = attrs
					}
					return err
				}
				return unknownField(path, key, "identifier", "attrs")
			})
			if present {
				r.Updates = u
			}
			return err
		}
		return unknownField(path, key, "action", "selector", "updates")
	})
	if err != nil {
		return r, err
	}
	if !present {
		return r, fmt.Errorf("policy: %s: rule %d is null (BuildKit rejects nil rules)", path, i)
	}
	if !hasSelector {
		return r, fmt.Errorf("policy: %s.selector: rule %d has no selector (BuildKit rejects rules without one)", path, i)
	}
	if r.Selector.MatchType == Wildcard {
		if err := checkWildcards(r.Selector.Identifier); err != nil {
			return r, fmt.Errorf("policy: %s.selector.identifier: WILDCARD pattern with %w", path, err)
		}
	}
	return r, nil
}

func (d *decoder) constraint(path *safejson.Path) (Constraint, error) {
	var c Constraint
	present, err := d.optObject(path, func(key string, path *safejson.Path) error {
		switch key {
		case "key":
			var err error
			c.Key, err = d.str(path)
			return err
		case "value":
			var err error
			c.Value, err = d.str(path)
			return err
		case "condition":
			v, err := d.enum(path, "condition", conditionNames)
			c.Condition = Condition(v)
			return err
		}
		return unknownField(path, key, "key", "value", "condition")
	})
	if err == nil && !present {
		err = fmt.Errorf("policy: %s: null constraint (BuildKit rejects nil constraints)", path)
	}
	return c, err
}

func unknownField(path *safejson.Path, key string, known ...string) error {
	parent := orTop(path.Parent)
	squash := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }
	for _, k := range known {
		if squash(k) == squash(key) {
			return fmt.Errorf("policy: %s: unknown field %q (did you mean %q? field names are exact)", parent, key, k)
		}
	}
	return fmt.Errorf("policy: %s: unknown field %q (known: %s)", parent, key, strings.Join(known, ", "))
}

func describe(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return fmt.Sprintf("%q", string(v))
	case string:
		return fmt.Sprintf("the string %q", v)
	case json.Number:
		return "the number " + string(v)
	case bool:
		return fmt.Sprintf("%t", v)
	}
	return fmt.Sprintf("%v", tok)
}

// MarshalJSON writes the policy in the form BuildKit reads: keys sorted,
// two-space indentation, enums as names, every rule's action and match type
// spelled out. "version" is written when non-zero, "constraints" when there
// are any, "updates" and its "attrs" when present (even if empty).
// The output parses back to the same policy.
func (p *Policy) MarshalJSON() ([]byte, error) {
	rules := make([]any, 0, len(p.Rules))
	for _, r := range p.Rules {
		sel := map[string]any{
			"identifier": r.Selector.Identifier,
			"match_type": r.Selector.MatchType.String(),
		}
		if len(r.Selector.Constraints) > 0 {
			cs := make([]any, 0, len(r.Selector.Constraints))
			for _, c := range r.Selector.Constraints {
				cs = append(cs, map[string]any{
					"key":       c.Key,
					"value":     c.Value,
					"condition": c.Condition.String(),
				})
			}
			sel["constraints"] = cs
		}
		rule := map[string]any{
			"action":   r.Action.String(),
			"selector": sel,
		}
		if r.Updates != nil {
			u := map[string]any{"identifier": r.Updates.Identifier}
			if r.Updates.Attrs != nil {
				attrs := make(map[string]any, len(r.Updates.Attrs))
				for k, v := range r.Updates.Attrs {
					attrs[k] = v
				}
				u["attrs"] = attrs
			}
			rule["updates"] = u
		}
		rules = append(rules, rule)
	}
	top := map[string]any{"rules": rules}
	if p.Version != 0 {
		top["version"] = p.Version
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(top); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
