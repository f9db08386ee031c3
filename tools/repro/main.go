// Command repro builds reproducible OCI image layers, images and indexes.
//
// It is the one helper binary behind the rules_repro Bazel rules, and a
// standalone CLI. Run `repro help` for the list of commands.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/rules-repro/rules_repro/tools/atomicfile"
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout io.Writer) error
}

var commands []command

func register(c command) { commands = append(commands, c) }

// usageError marks errors in how the command was called (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitError ends a command with an exit status of its own (repro diff: 1
// for "different", 2 for errors), printing err when it is set.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func main() {
	removeTemporariesOnSignal()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// removeTemporariesOnSignal makes SIGINT and SIGTERM remove every
// temporary output still being written (atomicfile) and exit with status
// 128+signal (130, 143), as a shell reports a process killed by it.
func removeTemporariesOnSignal() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		removed := atomicfile.RemoveTemporaries()
		fmt.Fprintf(os.Stderr, "repro: %v: stopped; removed %d temporary output(s)\n", sig, len(removed))
		code := 1
		if s, ok := sig.(syscall.Signal); ok {
			code = 128 + int(s)
		}
		os.Exit(code)
	}()
}

func run(args []string, stdout, stderr io.Writer) int {
	args, err := expandParamFiles(args)
	if err != nil {
		fmt.Fprintf(stderr, "repro: %v\n", err)
		return 2
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout)
		if err == nil || err == errHelp {
			return 0
		}
		var ee exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintf(stderr, "repro %s: %v\n", c.name, ee.err)
			}
			return ee.code
		}
		fmt.Fprintf(stderr, "repro %s: %v\n", c.name, err)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "run 'repro %s -h' for usage\n", c.name)
			return 2
		}
		return 1
	}
	fmt.Fprintf(stderr, "repro: unknown command %q\n\n", args[0])
	printHelp(stderr)
	return 2
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "repro builds bit-for-bit reproducible OCI image layers, images and indexes.")
	fmt.Fprintln(w, "\nUsage: repro COMMAND [flags]   (arguments may come from @FILE, one per line)\n\nCommands:")
	cs := append([]command(nil), commands...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'repro COMMAND -h' for the flags of a command.")
}

// expandParamFiles replaces an argument "@FILE" by the lines of FILE (the
// format Bazel writes with args.use_param_file and "multiline").
func expandParamFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if !strings.HasPrefix(a, "@") || len(a) == 1 {
			out = append(out, a)
			continue
		}
		data, err := os.ReadFile(a[1:])
		if err != nil {
			return nil, fmt.Errorf("reading params file: %w", err)
		}
		text := strings.TrimSuffix(string(data), "\n")
		if text == "" {
			continue
		}
		out = append(out, strings.Split(text, "\n")...)
	}
	return out, nil
}
