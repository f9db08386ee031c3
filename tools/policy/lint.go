package policy

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Warning is a problem Lint found in one rule.
type Warning struct {
	// Rule is the index of the rule.
	Rule int
	// Field is the offending field, e.g. "selector.identifier".
	Field string
	// Message says what goes wrong and how to fix it.
	Message string
}

func (w Warning) String() string {
	return fmt.Sprintf("rules[%d].%s: %s", w.Rule, w.Field, w.Message)
}

// Lint reports rules that BuildKit accepts but that do something other than
// their author most likely meant, or fail once a source reaches them:
//
//   - invalid WILDCARD ("**") and REGEX selectors, and invalid MATCHES
//     constraints, which fail the build when evaluation reaches them;
//   - CONVERT rules without "updates", which fail whenever they match;
//   - CONVERT rules without "updates.identifier" whose selector is a pattern:
//     BuildKit then uses the selector's identifier as the destination, so a
//     WILDCARD selector such as "https://files.example.com/*" that only sets
//     attrs replaces the source with the literal pattern, and a REGEX
//     selector replaces each match with the pattern's text;
//   - destinations that refer to captures the selector does not have, such
//     as $2 with one "*", or "$1abc", which means the group named "1abc".
func Lint(p *Policy) []Warning {
	var ws []Warning
	if p == nil {
		return nil
	}
	for i, r := range p.Rules {
		add := func(field, format string, args ...any) {
			ws = append(ws, Warning{Rule: i, Field: field, Message: fmt.Sprintf(format, args...)})
		}
		sel := r.Selector
		var re *regexp.Regexp
		switch sel.MatchType {
		case Wildcard:
			var err error
			if re, err = compileWildcard(sel.Identifier); err != nil {
				add("selector.identifier", "invalid WILDCARD pattern %q: %s; BuildKit fails every source this rule is tried on (except the identical string)", sel.Identifier, reason(err))
			}
		case Regex:
			var err error
			if re, err = regexp.Compile(sel.Identifier); err != nil {
				add("selector.identifier", "invalid REGEX pattern %q: %s; BuildKit fails every source this rule is tried on (except the identical string)", sel.Identifier, reason(err))
			}
		}
		for j, c := range sel.Constraints {
			if c.Condition != Matches {
				continue
			}
			if _, err := regexp.Compile(c.Value); err != nil {
				add(fmt.Sprintf("selector.constraints[%d].value", j), "invalid MATCHES regexp %q: %s; BuildKit fails every source this rule is tried on", c.Value, reason(err))
			}
		}
		if r.Action != Convert {
			continue
		}
		if r.Updates == nil {
			add("updates", "CONVERT rule without updates: BuildKit fails every source it matches")
			continue
		}
		if r.Updates.Identifier == "" {
			switch {
			case sel.MatchType == Wildcard && strings.Contains(sel.Identifier, "*"):
				add("updates.identifier", "empty, so BuildKit replaces each matching source with the literal pattern %q; to keep the source, set it to %q", sel.Identifier, wildcardIdentity(sel.Identifier))
			case sel.MatchType == Regex && re != nil && (regexp.QuoteMeta(sel.Identifier) != sel.Identifier || strings.Contains(sel.Identifier, "$")):
				add("updates.identifier", "empty, so BuildKit replaces each match of %q in the source with that pattern's text; to keep the source, set it to \"${0}\"", sel.Identifier)
			}
			continue
		}
		if re == nil {
			continue
		}
		for _, ref := range templateRefs(r.Updates.Identifier) {
			if n := captureNumber(ref); n >= 0 {
				if n > re.NumSubexp() {
					add("updates.identifier", "refers to capture $%s but the selector has only %d", ref, re.NumSubexp())
				}
				continue
			}
			if re.SubexpIndex(ref) < 0 {
				if lead := strings.TrimLeft(ref, "0123456789"); lead != ref {
					add("updates.identifier", "%q is read as the capture named %q, which is empty; write \"${%s}%s\"", "$"+ref, ref, ref[:len(ref)-len(lead)], lead)
				} else {
					add("updates.identifier", "refers to capture %q, which the selector does not have; write \"$$\" for a literal \"$\"", ref)
				}
			}
		}
	}
	return ws
}

// wildcardIdentity is the destination that keeps what a wildcard matched:
// each "*" becomes its capture.
func wildcardIdentity(w string) string {
	var b strings.Builder
	n := 0
	for _, part := range strings.SplitAfter(w, "*") {
		if s, ok := strings.CutSuffix(part, "*"); ok {
			n++
			b.WriteString(strings.ReplaceAll(s, "$", "$$"))
			fmt.Fprintf(&b, "${%d}", n)
		} else {
			b.WriteString(strings.ReplaceAll(part, "$", "$$"))
		}
	}
	return b.String()
}

// templateRefs lists the capture names and numbers a regexp.Expand
// template refers to ("$1", "${name}"), in order, following Expand's rules:
// "$$" is a literal "$", a name is the longest run of letters, digits and
// "_", and a malformed reference is kept as text.
func templateRefs(t string) []string {
	var refs []string
	for {
		i := strings.IndexByte(t, '$')
		if i < 0 {
			return refs
		}
		t = t[i+1:]
		if strings.HasPrefix(t, "$") {
			t = t[1:]
			continue
		}
		brace := strings.HasPrefix(t, "{")
		rest := strings.TrimPrefix(t, "{")
		n := strings.IndexFunc(rest, func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_'
		})
		if n < 0 {
			n = len(rest)
		}
		if n == 0 || brace && !strings.HasPrefix(rest[n:], "}") {
			continue
		}
		refs = append(refs, rest[:n])
		t = rest[n:]
		if brace {
			t = t[1:]
		}
	}
}

// captureNumber returns the group number a template name denotes, or -1 for
// a group name.
func captureNumber(name string) int {
	if len(name) > 1 && name[0] == '0' || len(name) > 9 {
		return -1
	}
	n, err := strconv.Atoi(name)
	if err != nil || n < 0 || strings.ContainsAny(name, "+-") {
		return -1
	}
	return n
}
