package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rules-repro/rules_repro/tools/policy"
)

func init() {
	register(command{"policy", "work with BuildKit source policies (repro policy help)", cmdPolicy})
}

// policySubcommand is one verb of `repro policy`.
type policySubcommand struct {
	name    string
	summary string
	run     func(args []string, stdout io.Writer) error
}

var policySubcommands = []policySubcommand{
	{"eval", "show what a source policy does to one source, as BuildKit would", cmdPolicyEval},
	{"export", "write the lockfile's pins and policy as a BuildKit --source-policy-file", cmdPolicyExport},
	{"import", "turn a BuildKit source policy into the lockfile (the reverse of export)", cmdPolicyImport},
}

func cmdPolicy(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printPolicyHelp(stdout)
		if len(args) == 0 {
			return usagef("missing subcommand")
		}
		return errHelp
	}
	for _, s := range policySubcommands {
		if s.name == args[0] {
			return s.run(args[1:], stdout)
		}
	}
	names := make([]string, len(policySubcommands))
	for i, s := range policySubcommands {
		names[i] = s.name
	}
	return usagef("unknown subcommand %q (have: %s)", args[0], strings.Join(names, ", "))
}

func printPolicyHelp(w io.Writer) {
	fmt.Fprintln(w, "Usage: repro policy SUBCOMMAND [flags]\n\nSubcommands:")
	for _, s := range policySubcommands {
		fmt.Fprintf(w, "  %-10s %s\n", s.name, s.summary)
	}
	fmt.Fprintln(w, "\nRun 'repro policy SUBCOMMAND -h' for the flags of a subcommand.")
}

// evalOutput is what `repro policy eval` prints.
type evalOutput struct {
	// Source is the identifier evaluated, after normalization.
	Source      string            `json:"source"`
	Identifier  string            `json:"identifier"`
	Attrs       map[string]string `json:"attrs"`
	Conversions int               `json:"conversions"`
	Denied      bool              `json:"denied"`
	DeniedBy    *int              `json:"denied_by,omitempty"`
	Warnings    []string          `json:"warnings,omitempty"`
}

func cmdPolicyEval(args []string, stdout io.Writer) error {
	fs := newFlags("policy eval", "policy eval --policy FILE [--attr KEY=VALUE]... [--no-normalize] IDENTIFIER", stdout)
	var (
		file   = fs.String("policy", "", "source policy JSON file, as given to buildctl --source-policy-file (required)")
		attrs  stringList
		noNorm = fs.Bool("no-normalize", false, "evaluate IDENTIFIER as given; by default an image reference is first normalized as BuildKit does (alpine: docker-image://docker.io/library/alpine:latest)")
	)
	fs.Var(&attrs, "attr", "source attribute KEY=VALUE, e.g. http.checksum=sha256:... (repeatable)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp { // the flag package has printed the usage
			return errHelp
		}
		return usagef("%v", err)
	}
	if fs.NArg() != 1 {
		return usagef("want one IDENTIFIER after the flags, got %d arguments", fs.NArg())
	}
	if *file == "" {
		return usagef("--policy is required")
	}
	attrMap, err := keyValues("attr", attrs)
	if err != nil {
		return err
	}
	id := fs.Arg(0)
	if !*noNorm {
		if id, err = policy.NormalizeImageIdentifier(id); err != nil {
			return err
		}
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	p, err := policy.Parse(data)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	res, evalErr := policy.Evaluate(p, policy.Source{Identifier: id, Attrs: attrMap})
	if evalErr != nil && !errors.Is(evalErr, policy.ErrDenied) {
		return evalErr
	}
	out := evalOutput{
		Source:      id,
		Identifier:  res.Identifier,
		Attrs:       res.Attrs,
		Conversions: res.Conversions,
		Denied:      res.Denied,
	}
	if res.Denied {
		out.DeniedBy = &res.DeniedBy
	}
	for _, w := range policy.Lint(p) {
		out.Warnings = append(out.Warnings, w.String())
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", b); err != nil {
		return err
	}
	return evalErr
}
