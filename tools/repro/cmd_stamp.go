package main

import (
	"io"

	"github.com/rules-repro/rules_repro/tools/atomicfile"
	"github.com/rules-repro/rules_repro/tools/publish"
)

func init() {
	register(command{"stamp", "copy only the named keys of a Bazel workspace status file, so stamped actions depend on nothing else", cmdStamp})
}

func cmdStamp(args []string, stdout io.Writer) error {
	fs := newFlags("stamp", "stamp --status stable-status.txt --key KEY [--key KEY]... --output FILE", stdout)
	var (
		status, output string
		keys           stringList
	)
	fs.StringVar(&status, "status", "", "Bazel workspace status file (stable-status.txt)")
	fs.Var(&keys, "key", "a key to keep (repeatable); keys the status does not hold are left out")
	fs.StringVar(&output, "output", "", "output file, in the same KEY VALUE format")
	if err := parse(fs, args); err != nil {
		return err
	}
	if status == "" || output == "" {
		return usagef("--status and --output are required")
	}
	vars, err := publish.ReadStatus(status)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(output, publish.FilterStatus(vars, keys))
}
