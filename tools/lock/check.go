package lock

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/policy"
)

// Report is the result of Check.
type Report struct {
	// Problems make the lockfile unusable for a build; empty when it is
	// complete, consistent and canonical.
	Problems []Problem
	// Warnings are the policy's Lint findings ("policy[3].selector...").
	Warnings []string
}

// Err returns a *ProblemsError with the problems, or nil.
func (r *Report) Err() error {
	if len(r.Problems) == 0 {
		return nil
	}
	return &ProblemsError{Problems: r.Problems}
}

// Check verifies without network access that a lockfile is well-formed,
// complete, consistent and canonical (see the package documentation), and
// lists every problem it finds.
func Check(data []byte) *Report {
	rep := &Report{}
	l, err := parseStructure(data)
	if err != nil {
		rep.Problems = append(rep.Problems, Problem{Message: err.Error()})
		return rep
	}
	rep.Problems = append(rep.Problems, l.formatProblems()...)
	rep.Problems = append(rep.Problems, l.completenessProblems()...)
	for _, w := range policy.Lint(&policy.Policy{Rules: l.Policy}) {
		rep.Warnings = append(rep.Warnings, strings.Replace(w.String(), "rules[", "policy[", 1))
	}
	rep.Problems = append(rep.Problems, l.policyProblems()...)
	if canon, err := l.Marshal(); err == nil && !bytes.Equal(canon, data) {
		rep.Problems = append(rep.Problems, Problem{Message: "not in canonical form (" + firstDifference(data, canon) + "); `repro lock fmt` rewrites it"})
	}
	return rep
}

// completenessProblems reports missing pins and inconsistent ones.
func (l *Lockfile) completenessProblems() []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	for _, name := range sortedKeys(l.Images) {
		img := l.Images[name]
		path := entryPath("images", name)
		id, idErr := ImageIdentifier(img.Image)
		switch {
		case img.Identifier == "":
			add(path+".identifier", "missing; run repro lock update")
		case idErr == nil && img.Identifier != id:
			add(path+".identifier", "%q does not match image %q, which BuildKit normalizes to %q; run repro lock update", img.Identifier, img.Image, id)
		}
		if img.Digest == "" {
			add(path+".digest", "missing; run repro lock update")
		}
		if img.MediaType == "" {
			add(path+".media_type", "missing; run repro lock update")
		}
		if len(img.Platforms) == 0 {
			add(path+".platforms", "no platforms; add one such as \"linux/amd64\": {} (or run repro lock update, which pins every platform of the tag)")
		}
		for _, key := range sortedKeys(img.Platforms) {
			p := img.Platforms[key]
			ppath := path + ".platforms" + pathKey(key)
			if p.Digest == "" {
				add(ppath+".digest", "missing: the platform is requested but not pinned; run repro lock update")
			}
			if p.Config == "" {
				add(ppath+".config", "missing: the platform is requested but not pinned; run repro lock update")
			}
			if p.Digest != "" && p.Digest == p.Config {
				add(ppath, "manifest and config have the same digest %s", show(p.Digest))
			}
		}
		switch {
		case oci.IsManifest(img.MediaType):
			if len(img.Platforms) > 1 {
				add(path+".platforms", "%s is a single image manifest (%s), so it has one platform, not %d", show(img.Digest), img.MediaType, len(img.Platforms))
			}
			for _, key := range sortedKeys(img.Platforms) {
				if d := img.Platforms[key].Digest; d != "" && d != img.Digest {
					add(path+".platforms"+pathKey(key)+".digest", "%s differs from the image's digest %s, but a single manifest is its own platform image", show(d), show(img.Digest))
				}
			}
		case oci.IsIndex(img.MediaType):
			for _, key := range sortedKeys(img.Platforms) {
				if d := img.Platforms[key].Digest; d != "" && d == img.Digest {
					add(path+".platforms"+pathKey(key)+".digest", "equals the digest of the index (%s) it should be listed in", show(d))
				}
			}
		}
	}
	for _, name := range sortedKeys(l.Files) {
		if l.Files[name].SHA256 == "" {
			add(entryPath("files", name)+".sha256", "missing; run repro lock update (which downloads the file once to compute it)")
		}
	}
	return ps
}

// policyProblems evaluates the exported policy on every pinned source, as
// BuildKit will: each must be allowed and end at its pin.
func (l *Lockfile) policyProblems() []Problem {
	var ps []Problem
	exported := newPinned(l.policyWith(func(name string) string { return pinOrEmpty(l.Images[name].Digest) },
		func(name string) string { return shaOrEmpty(l.Files[name].SHA256) }))
	for _, name := range sortedKeys(l.Images) {
		img := l.Images[name]
		id, err := ImageIdentifier(img.Image)
		if err != nil || !ValidDigest(img.Digest) {
			continue // reported already
		}
		if msg := evalImage(exported, id, img.Digest); msg != "" {
			ps = append(ps, Problem{Path: entryPath("images", name), Message: msg})
		}
	}
	for _, name := range sortedKeys(l.Files) {
		f := l.Files[name]
		if CheckURL(f.URL) != nil || !sha256RE.MatchString(f.SHA256) {
			continue
		}
		if msg := evalFile(exported, f.URL, f.SHA256); msg != "" {
			ps = append(ps, Problem{Path: entryPath("files", name), Message: msg})
		}
	}
	return ps
}

func pinOrEmpty(d string) string {
	if ValidDigest(d) {
		return d
	}
	return ""
}

func shaOrEmpty(s string) string {
	if sha256RE.MatchString(s) {
		return s
	}
	return ""
}

// pinned is an exported policy (pins first, then "policy") ready to be
// evaluated on many sources.
type pinned struct {
	p    *policy.Policy
	pins int // the number of pin rules
	ev   *policy.Evaluator
}

func newPinned(p *policy.Policy, pins int) *pinned {
	return &pinned{p: p, pins: pins, ev: policy.NewEvaluator(p)}
}

// evalImage evaluates x on image source id and returns what is wrong, or
// "" when BuildKit would allow it and end at digest.
func evalImage(x *pinned, id, digest string) string {
	res, err := x.ev.Evaluate(policy.Source{Identifier: id})
	if err != nil {
		return describeEvalError(x, id, err)
	}
	if !strings.HasSuffix(res.Identifier, "@"+digest) {
		return fmt.Sprintf("the policy turns source %s into %s, which is not pinned to %s (a rule before or after the pin converts it)", show(id), show(res.Identifier), show(digest))
	}
	return ""
}

// evalFile is evalImage for HTTP sources.
func evalFile(x *pinned, u, sha string) string {
	res, err := x.ev.Evaluate(policy.Source{Identifier: u})
	if err != nil {
		return describeEvalError(x, u, err)
	}
	if res.Identifier != u {
		return fmt.Sprintf("the policy turns source %s into %s, so BuildKit would not download the pinned URL", show(u), show(res.Identifier))
	}
	if got := res.Attrs[ChecksumAttr]; got != "sha256:"+sha {
		return fmt.Sprintf("the policy leaves source %s with %s=%q, not the pinned sha256:%s", show(u), ChecksumAttr, got, show(sha))
	}
	return ""
}

func describeEvalError(x *pinned, src string, err error) string {
	var denied *policy.DeniedError
	if errors.As(err, &denied) {
		return fmt.Sprintf("source %s is denied by the policy: %s", show(src), describeRule(x.p, x.pins, denied.Rule))
	}
	return fmt.Sprintf("evaluating the policy on source %s: %v", show(src), err)
}

// describeRule names rule i of an exported policy by its place in the
// lockfile: the pins come first, then "policy".
func describeRule(p *policy.Policy, pins, i int) string {
	r := p.Rules[i]
	where := fmt.Sprintf("policy[%d]", i-pins)
	if i < pins {
		where = fmt.Sprintf("the pin of %s", show(r.Selector.Identifier))
	}
	return fmt.Sprintf("%s (%s %s %q)", where, r.Action, r.Selector.MatchType, r.Selector.Identifier)
}

// firstDifference describes where got first differs from want, by line.
func firstDifference(got, want []byte) string {
	gl := strings.Split(string(got), "\n")
	wl := strings.Split(string(want), "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			return fmt.Sprintf("line %d is %q, canonically %q", i+1, truncate(g), truncate(w))
		}
	}
	return "differs"
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// Entry returns the entry a problem is about ("images", "base"), or two
// empty strings for a problem of the whole file or of "policy".
func (p Problem) Entry() (kind, name string) {
	for _, k := range []string{"images", "files"} {
		rest, ok := strings.CutPrefix(p.Path, k)
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(rest, "."):
			rest = rest[1:]
			if i := strings.IndexAny(rest, ".["); i >= 0 {
				rest = rest[:i]
			}
			if rest != "" {
				return k, rest
			}
		case strings.HasPrefix(rest, "["):
			if q, err := strconv.QuotedPrefix(rest[1:]); err == nil {
				if n, err := strconv.Unquote(q); err == nil {
					return k, n
				}
			}
		}
	}
	return "", ""
}

// IsCanonicalForm reports whether the problem is only that the file is not
// in canonical form (which `repro lock fmt` fixes without changing a pin).
func (p Problem) IsCanonicalForm() bool {
	return p.Path == "" && strings.HasPrefix(p.Message, "not in canonical form")
}
