package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rules-repro/rules_repro/tools/atomicfile"
	"github.com/rules-repro/rules_repro/tools/lock"
	"github.com/rules-repro/rules_repro/tools/policy"
)

// cmdPolicyExport writes the lockfile as a BuildKit source policy.
func cmdPolicyExport(args []string, stdout io.Writer) error {
	fs := newFlags("policy export", "policy export [--lockfile F] [--output policy.json]", stdout)
	path := lockfileFlag(fs)
	output := fs.String("output", "", "write the policy here (atomically); default: standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	l, err := lock.Read(*path)
	if err != nil {
		return err
	}
	data, err := l.Export()
	if err != nil {
		return fmt.Errorf("%s: cannot export: %w", *path, err)
	}
	if *output == "" || *output == "-" {
		_, err := stdout.Write(data)
		return err
	}
	return atomicfile.WriteFile(*output, data)
}

// cmdPolicyImport turns a BuildKit source policy into the lockfile.
func cmdPolicyImport(args []string, stdout io.Writer) error {
	fs := newFlags("policy import", "policy import FILE [--lockfile F]", stdout)
	path := lockfileFlag(fs)
	pos, err := parseWithPositionals(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one policy FILE, got %d arguments", len(pos))
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	p, err := policy.Parse(data)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	prev, err := lock.Read(*path)
	if errors.Is(err, os.ErrNotExist) {
		prev, err = nil, nil
	}
	if err != nil {
		return err
	}
	l, rep, err := lock.Import(p, prev)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if err := l.Write(*path); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d images (%s), %d files (%s), %d policy rules from %s\n", *path,
		len(rep.Images), listOrNone(rep.Images), len(rep.Files), listOrNone(rep.Files), rep.Rules, pos[0])
	if len(rep.Repinned) > 0 {
		fmt.Fprintf(stdout, "re-pinned: %s\n", strings.Join(rep.Repinned, ", "))
	}
	if len(rep.Dropped) > 0 {
		fmt.Fprintf(stdout, "dropped (not pinned by the policy): %s\n", strings.Join(rep.Dropped, ", "))
	}
	if len(rep.Images) > 0 {
		fmt.Fprintln(stdout, "run 'repro lock update --keep-digests' to pin the platforms of the imported images")
	}
	return nil
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
