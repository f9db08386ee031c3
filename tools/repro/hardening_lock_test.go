package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// reproWithin runs the real binary and fails the test when it does not
// finish within limit (a generous bound: it only tells "finishes" from
// "hangs or takes minutes").
func reproWithin(t *testing.T, limit time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	line := strings.Join(args, " ")
	if len(line) > 120 {
		line = line[:117] + "..."
	}
	if ctx.Err() != nil {
		t.Fatalf("repro %s did not finish within %v", line, limit)
	}
	t.Logf("repro %s: %v", line, time.Since(start).Round(time.Millisecond))
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// TestLockCheckQuotesNames checks that lock check quotes what comes from the
// file: a name, platform or digest holding a newline is printed quoted, so
// it can neither break a message in two nor forge a line of the report
// (issue 9, item 13).
func TestLockCheckQuotesNames(t *testing.T) {
	dir := t.TempDir()
	lf := filepath.Join(dir, "repro.lock.json")
	writeFile(t, lf, `{
  "files": {},
  "images": {
    "evil\nimages.base.digest: all good": {
      "image": "alpine:3",
      "platforms": {"linux/amd64\n  fake": {"digest": "sha256:x\ny", "config": "sha256:x\ny"}}
    }
  },
  "policy": [],
  "version": 1
}
`, 0o644)
	code, _, errOut := reproWithin(t, time.Minute, "lock", "check", "--lockfile", lf)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, errOut)
	}
	for _, want := range []string{
		`images["evil\nimages.base.digest: all good"]: invalid name`,
		`images["evil\nimages.base.digest: all good"].platforms["linux/amd64\n  fake"]: invalid platform "linux/amd64\n  fake"`,
		`images["evil\nimages.base.digest: all good"].platforms["linux/amd64\n  fake"]: manifest and config have the same digest "sha256:x\ny"`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %s:\n%s", want, errOut)
		}
	}
	// Every line is the header or one problem, and no line starts with
	// text from the file.
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	for i, line := range lines[1:] {
		if !strings.HasPrefix(line, "  images[") && !strings.HasPrefix(line, "  not in canonical form") {
			t.Errorf("line %d of the report is not a problem of its own: %q", i+2, line)
		}
	}
}

// TestDeepLockfileAndPolicyRefused checks that a small, deeply nested
// lockfile or policy is refused at once with an error naming the depth
// limit: 20,000 levels (40 KB) used to cost quadratic time and memory
// (issue 9, item 4).
func TestDeepLockfileAndPolicyRefused(t *testing.T) {
	dir := t.TempDir()
	deep := strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000)
	lf := filepath.Join(dir, "repro.lock.json")
	writeFile(t, lf, `{"version": 1, "images": {"a": `+deep+`}}`, 0o644)
	pf := filepath.Join(dir, "policy.json")
	writeFile(t, pf, `{"rules": [{"selector": {"identifier": "a", "constraints": `+deep+`}}]}`, 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"lock", "check", "--lockfile", lf}, lf + ": lockfile: JSON nested deeper than 64 levels"},
		{[]string{"lock", "fmt", "--lockfile", lf}, lf + ": lockfile: JSON nested deeper than 64 levels"},
		{[]string{"policy", "export", "--lockfile", lf}, lf + ": lockfile: JSON nested deeper than 64 levels"},
		{[]string{"policy", "eval", "--policy", pf, "alpine"}, pf + ": policy: JSON nested deeper than 64 levels"},
		{[]string{"policy", "import", pf, "--lockfile", filepath.Join(dir, "new.lock.json")}, pf + ": policy: JSON nested deeper than 64 levels"},
	} {
		code, out, errOut := reproWithin(t, time.Minute, tc.args...)
		if code != 1 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("repro %s: exit %d, stdout %q, stderr %q; want exit 1 and %q", strings.Join(tc.args, " "), code, out, errOut, tc.want)
		}
	}
}

// TestWildcardSelectorBounded checks that a WILDCARD selector of 800 "*"
// is refused at once, naming the limit (it took 17 s per source), and that
// one of 32 "*" (policy.MaxWildcards) is evaluated quickly on a long
// identifier (issue 9, item 10).
func TestWildcardSelectorBounded(t *testing.T) {
	dir := t.TempDir()
	rule := func(pattern string) string {
		return `{"action": "DENY", "selector": {"identifier": "` + pattern + `", "match_type": "WILDCARD"}}`
	}
	id := "docker-image://" + strings.Repeat("a", 4000)
	many := "docker-image://" + strings.Repeat("*a", 800)
	pf := filepath.Join(dir, "many.json")
	writeFile(t, pf, `{"rules": [`+rule(many)+`]}`, 0o644)
	code, out, errOut := reproWithin(t, time.Minute, "policy", "eval", "--no-normalize", "--policy", pf, id)
	if want := pf + `: policy: rules[0].selector.identifier: WILDCARD pattern with 800 "*": more than 32 "*"`; code != 1 || out != "" || !strings.Contains(errOut, want) {
		t.Errorf("policy eval: exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, errOut, want)
	}
	lf := filepath.Join(dir, "repro.lock.json")
	writeFile(t, lf, `{"files": {}, "images": {}, "policy": [`+rule(many)+`], "version": 1}`, 0o644)
	code, _, errOut = reproWithin(t, time.Minute, "lock", "check", "--lockfile", lf)
	if want := lf + `: lockfile: policy[0].selector.identifier: WILDCARD pattern with 800 "*": more than 32 "*"`; code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("lock check: exit %d, stderr %q; want exit 1 and %q", code, errOut, want)
	}

	// 32 "*" between 40-character segments, tried on a 4,000-character
	// identifier that matches them in many ways, by 20 rules.
	at := "docker-image://" + strings.Repeat("*"+strings.Repeat("a", 40), 31) + "*"
	var rules []string
	for range 20 {
		rules = append(rules, rule(at))
	}
	pf = filepath.Join(dir, "at.json")
	writeFile(t, pf, `{"rules": [`+strings.Join(rules, ", ")+`]}`, 0o644)
	code, out, errOut = reproWithin(t, time.Minute, "policy", "eval", "--no-normalize", "--policy", pf, id)
	if code != 1 || !strings.Contains(out, `"denied": true`) || !strings.Contains(errOut, "denied by policy: rule 19") {
		t.Errorf("policy eval: exit %d, stdout %q, stderr %q; want the source denied by rule 19", code, out, errOut)
	}
}
