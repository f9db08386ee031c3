package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/rules-repro/rules_repro/tools/compat"
)

func init() {
	register(command{"version", "print the build and the compatibility versions this binary supports", cmdVersion})
}

func cmdVersion(args []string, stdout io.Writer) error {
	fs := newFlags("version", "version", stdout)
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "repro (rules_repro), built with %s\n", runtime.Version())
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/klauspost/compress" {
				fmt.Fprintf(stdout, "zstd encoder: %s %s\n", m.Path, m.Version)
			}
		}
	}
	fmt.Fprintln(stdout, "compatibility versions:")
	for _, n := range compat.Supported() {
		v, _ := compat.Lookup(n)
		def := ""
		if n == compat.Latest {
			def = " (default)"
		}
		fmt.Fprintf(stdout, "  %d%s: %s\n", n, def, v.Summary)
	}
	return nil
}
