package policy

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
)

// MaxConversions is how many conversions one source may undergo; one more is
// an error (ErrTooManyConversions), which is how policy cycles end. BuildKit's
// engine has the same limit.
const MaxConversions = 20

// MaxIdentifierLength bounds the identifiers conversions may produce; a
// longer one is an error (ErrIdentifierTooLong). Real identifiers are far
// shorter (image names are at most 255 bytes, URLs a few KiB). BuildKit has
// no such bound: a REGEX selector that matches the empty string, with a
// non-empty destination, multiplies the identifier's length at each of its
// up to 21 conversions, building identifiers of gigabytes before it fails
// with too many conversions, or running out of memory.
const MaxIdentifierLength = 64 << 10

var (
	// ErrDenied is matched (errors.Is) by the error Evaluate returns for a
	// denied source, a *DeniedError.
	ErrDenied = errors.New("source denied by policy")
	// ErrTooManyConversions is matched by the error Evaluate returns when a
	// source is converted more than MaxConversions times.
	ErrTooManyConversions = errors.New("too many conversions")
	// ErrIdentifierTooLong is matched by the error Evaluate returns when a
	// conversion produces an identifier longer than MaxIdentifierLength.
	ErrIdentifierTooLong = errors.New("converted identifier too long")
)

// Source is what a policy is evaluated against: a BuildKit source identifier
// such as "docker-image://docker.io/library/alpine:3.20" or
// "https://example.com/file.tar.gz", and its attributes (e.g.
// "http.checksum"). Image identifiers should be normalized first (see
// NormalizeImageIdentifier), as BuildKit does.
type Source struct {
	Identifier string
	Attrs      map[string]string
}

// Result is what a policy did to a source.
type Result struct {
	// Identifier and Attrs are the source after all conversions (when
	// Evaluate fails, as far as it got). Attrs is never nil.
	Identifier string
	Attrs      map[string]string
	// Denied says a Deny rule denied the final source; DeniedBy is that
	// rule's index, or -1.
	Denied   bool
	DeniedBy int
	// Conversions counts the Convert rules that changed the source.
	Conversions int
}

// DeniedError is the error for a denied source.
type DeniedError struct {
	// Source is the identifier that was denied (after conversions).
	Source string
	// Rule is the index of the Deny rule that denied it, the last matching
	// one with no matching Allow rule after it.
	Rule int
	// Selector is that rule's selector identifier.
	Selector string
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("source %q denied by policy: rule %d (DENY %q)", e.Source, e.Rule, e.Selector)
}

// Is makes errors.Is(err, ErrDenied) true.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// Evaluate applies p to src exactly as BuildKit's source policy engine does:
//
//   - Rules are tried in order against the current identifier. A rule
//     matches when all its constraints hold and its selector matches.
//   - A matching Allow rule clears the deny flag, a matching Deny rule sets
//     it: the last one wins.
//   - A matching Convert rule that changes the identifier or any attribute
//     restarts evaluation from the first rule with the converted source (the
//     deny flag starts clear again); one that changes nothing is passed over.
//   - When the rules run out, a set deny flag fails the source with a
//     *DeniedError.
//   - More than MaxConversions conversions fail with ErrTooManyConversions.
//   - Unlike BuildKit, a conversion to an identifier longer than
//     MaxIdentifierLength fails with ErrIdentifierTooLong.
//
// Invalid patterns are errors only when evaluation reaches them, as in
// BuildKit: an identifier equal to a selector's matches it without the
// selector's pattern being compiled, and constraints are checked before the
// identifier.
func Evaluate(p *Policy, src Source) (Result, error) {
	return NewEvaluator(p).Evaluate(src)
}

// Evaluator evaluates one policy on many sources, as Evaluate does, in time
// that does not grow with the number of EXACT rules for other identifiers: a
// lockfile's exported policy has one such rule per pin, and evaluating each
// pinned source against all of them made checking n pins take n² steps.
// Patterns are compiled once per Evaluator. An Evaluator is not safe for
// concurrent use, and the policy must not change while it is in use.
type Evaluator struct {
	policy   *Policy
	patterns map[patternKey]*pattern
	// general are the indexes of the rules that must be tried on every
	// identifier; exact maps an identifier to the indexes of the other
	// rules, which can match only that identifier and cannot fail on any
	// other (see exactOnly). Both are in increasing order.
	general []int
	exact   map[string][]int
	// tried counts the rules tried, for tests.
	tried int
}

// NewEvaluator prepares p for Evaluate; its cost is linear in the rules.
func NewEvaluator(p *Policy) *Evaluator {
	e := &Evaluator{policy: p, patterns: map[patternKey]*pattern{}, exact: map[string][]int{}}
	if p == nil {
		return e
	}
	for i := range p.Rules {
		r := &p.Rules[i]
		if exactOnly(r) {
			e.exact[r.Selector.Identifier] = append(e.exact[r.Selector.Identifier], i)
		} else {
			e.general = append(e.general, i)
		}
	}
	return e
}

// exactOnly reports whether r can match only the identifier equal to its
// selector's, and cannot fail on another: an EXACT selector whose
// constraints are all EQUAL or NOTEQUAL (a MATCHES constraint is compiled,
// and may fail, before the identifier is compared; an unknown condition
// fails). Skipping such a rule for another identifier is what BuildKit's
// engine does too, one comparison later.
func exactOnly(r *Rule) bool {
	if r.Selector.MatchType != Exact {
		return false
	}
	for _, c := range r.Selector.Constraints {
		if c.Condition != Equal && c.Condition != NotEqual {
			return false
		}
	}
	return true
}

// Evaluate applies the policy to src; see the package function Evaluate.
func (e *Evaluator) Evaluate(src Source) (Result, error) {
	res := Result{Identifier: src.Identifier, Attrs: make(map[string]string, len(src.Attrs)), DeniedBy: -1}
	for k, v := range src.Attrs {
		res.Attrs[k] = v
	}
	if e.policy == nil || len(e.policy.Rules) == 0 {
		return res, nil
	}
	for {
		if res.Conversions > MaxConversions {
			return res, fmt.Errorf("source %q: %w: more than %d (does the policy have a cycle?)", src.Identifier, ErrTooManyConversions, MaxConversions)
		}
		changed, err := e.pass(&res)
		if err != nil || !changed {
			return res, err
		}
		res.Conversions++
	}
}

type patternKey struct {
	typ MatchType
	id  string
}

// pattern is a selector identifier compiled for its match type: re for
// Regex, wc for Wildcard, or err.
type pattern struct {
	re  *regexp.Regexp
	wc  *wildcard
	err error
}

// pass goes through the rules once; it stops at the first conversion. The
// rules tried are the general ones and the EXACT ones for id, in policy
// order: the others cannot match id.
func (e *Evaluator) pass(res *Result) (changed bool, err error) {
	id := res.Identifier
	denyBy := -1
	exact := e.exact[id]
	g, x := 0, 0
	for g < len(e.general) || x < len(exact) {
		var i int
		if x == len(exact) || g < len(e.general) && e.general[g] < exact[x] {
			i = e.general[g]
			g++
		} else {
			i = exact[x]
			x++
		}
		e.tried++
		r := &e.policy.Rules[i]
		ok, err := e.match(i, r, id, res.Attrs)
		if err != nil {
			return false, err
		}
		if !ok {
			continue
		}
		switch r.Action {
		case Allow:
			denyBy = -1
		case Deny:
			denyBy = i
		case Convert:
			changed, err := e.convert(i, r, id, res)
			if err != nil || changed {
				return changed, err
			}
		default:
			return false, fmt.Errorf("rule %d: unknown action %d", i, r.Action)
		}
	}
	if denyBy >= 0 {
		res.Denied, res.DeniedBy = true, denyBy
		return false, &DeniedError{Source: id, Rule: denyBy, Selector: e.policy.Rules[denyBy].Selector.Identifier}
	}
	return false, nil
}

func (e *Evaluator) match(i int, r *Rule, id string, attrs map[string]string) (bool, error) {
	for j, c := range r.Selector.Constraints {
		v := attrs[c.Key]
		switch c.Condition {
		case Equal:
			if v != c.Value {
				return false, nil
			}
		case NotEqual:
			if v == c.Value {
				return false, nil
			}
		case Matches:
			ok, err := regexp.MatchString(c.Value, v)
			if err != nil {
				return false, fmt.Errorf("rule %d: constraint %d: invalid MATCHES regexp %q: %s", i, j, c.Value, reason(err))
			}
			if !ok {
				return false, nil
			}
		default:
			return false, fmt.Errorf("rule %d: constraint %d: unknown condition %d", i, j, c.Condition)
		}
	}
	if r.Selector.Identifier == id {
		return true, nil
	}
	switch r.Selector.MatchType {
	case Exact:
		return false, nil
	case Regex, Wildcard:
		p, err := e.compile(i, r.Selector)
		if err != nil {
			return false, err
		}
		if r.Selector.MatchType == Regex {
			return p.re.MatchString(id), nil
		}
		return p.wc.match(id) != nil, nil
	}
	return false, fmt.Errorf("rule %d: unknown match type %d", i, r.Selector.MatchType)
}

// convert applies a Convert rule that matched id; it reports whether the
// identifier or an attribute changed.
func (e *Evaluator) convert(i int, r *Rule, id string, res *Result) (bool, error) {
	if r.Updates == nil {
		return false, fmt.Errorf("rule %d: CONVERT rule has no updates", i)
	}
	dest := r.Updates.Identifier
	if dest == "" {
		dest = r.Selector.Identifier
	}
	switch r.Selector.MatchType {
	case Exact:
	case Regex:
		p, err := e.compile(i, r.Selector)
		if err != nil {
			return false, err
		}
		dest = p.re.ReplaceAllString(id, dest)
	case Wildcard:
		p, err := e.compile(i, r.Selector)
		if err != nil {
			return false, err
		}
		if m := p.wc.match(id); m != nil {
			dest = p.wc.expand(dest, id, m)
		} else {
			// Matched by equality only (cannot happen for valid UTF-8):
			// BuildKit keeps the identifier.
			dest = id
		}
	default:
		return false, fmt.Errorf("rule %d: unknown match type %d", i, r.Selector.MatchType)
	}
	if len(dest) > MaxIdentifierLength {
		return false, fmt.Errorf("rule %d: %w: longer than %d bytes", i, ErrIdentifierTooLong, MaxIdentifierLength)
	}
	changed := false
	if dest != "" && dest != res.Identifier {
		res.Identifier = dest
		changed = true
	}
	for _, k := range sortedKeys(r.Updates.Attrs) {
		// A missing attribute reads as "": setting one to "" is no change.
		if v := r.Updates.Attrs[k]; res.Attrs[k] != v {
			res.Attrs[k] = v
			changed = true
		}
	}
	return changed, nil
}

// compile returns the compiled Regex or Wildcard selector.
func (e *Evaluator) compile(i int, s Selector) (*pattern, error) {
	k := patternKey{s.MatchType, s.Identifier}
	p := e.patterns[k]
	if p == nil {
		p = &pattern{}
		if s.MatchType == Regex {
			p.re, p.err = regexp.Compile(s.Identifier)
		} else {
			p.wc, p.err = newWildcard(s.Identifier)
		}
		e.patterns[k] = p
	}
	if errors.Is(p.err, ErrTooManyWildcards) {
		return nil, fmt.Errorf("rule %d: %s selector: %w", i, s.MatchType, p.err)
	}
	if p.err != nil {
		return nil, fmt.Errorf("rule %d: invalid %s selector %q: %s", i, s.MatchType, s.Identifier, reason(p.err))
	}
	return p, nil
}

// reason is the text of a pattern's compile error, for a message that
// quotes the pattern already: a regexp syntax error without the expression
// it repeats (which may hold newlines and control characters).
func reason(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return string(se.Code)
	}
	return err.Error()
}
