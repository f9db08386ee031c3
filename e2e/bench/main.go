// Command bench is `make bench`: performance measured side by side with
// what users would pick instead, on this machine, in the same run.
//
// It is made of sections (layer creation, whole builds with Bazel; more
// can register themselves with register in their own file). Each section generates its
// inputs deterministically into the work directory, measures, and returns
// Markdown tables and targets. Targets are printed as PASS or MISS lines
// and never fail the run: the machines are noisy, so what is reported are
// ratios measured in the same run. The exit status is non-zero only when
// something could not be measured or an output was wrong.
//
//	go run ./e2e/bench [--quick] [--runs N] [--work DIR] [--results FILE] [--sections layer,...]
//
// Missing Debian tools are installed with apt-get, and crane with go
// install into the cache directory (--no-install to forbid both).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// section is one part of the benchmark.
type section struct {
	name  string // for --sections
	title string // the Markdown heading
	order int    // sections run and print in increasing order
	run   func(e *env, r *report) error
}

var sections []section

// register adds a section; call it from an init function.
func register(s section) { sections = append(sections, s) }

func main() {
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		if err := floorCommand(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench floor:", err)
			os.Exit(1)
		}
		return
	}
	if err := mainErr(os.Args[1:], os.Stdout); err == flag.ErrHelp {
		return
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func mainErr(args []string, stdout io.Writer) error {
	start := time.Now()
	sort.SliceStable(sections, func(i, j int) bool { return sections[i].order < sections[j].order })
	var names []string
	for _, s := range sections {
		names = append(names, s.name)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "corpora at 1/10 of the sizes and one run per measurement (under 2 minutes)")
	runs := fs.Int("runs", 0, "runs per measurement, the median is reported (default 3, 1 with --quick)")
	work := fs.String("work", filepath.Join(os.TempDir(), "rules_repro_bench"), "scratch directory; generated corpora are kept there and reused")
	results := fs.String("results", "", "where to write the Markdown results (default e2e/bench/results.md, results-quick.md with --quick)")
	only := fs.String("sections", strings.Join(names, ","), "comma-separated sections to run")
	repo := fs.String("repo", "", "repository root (default: found from the working directory)")
	cacheDefault := filepath.Join(os.TempDir(), "rules_repro_bench_cache")
	if d, err := os.UserCacheDir(); err == nil {
		cacheDefault = filepath.Join(d, "rules_repro", "bench")
	}
	cache := fs.String("cache", cacheDefault, "where tools installed with go install are kept")
	noInstall := fs.Bool("no-install", false, "fail instead of installing missing tools")
	clean := fs.Bool("clean", false, "remove the work directory (and its corpora) at the end")
	largeComp := fs.String("large-compressions", "none,zstd", "compressions of repro's run on the 2 GB corpus (peak RSS); adding gzip costs about 70 s")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	e := &env{quick: *quick, runs: *runs, work: *work, cache: *cache, install: !*noInstall,
		logf: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
		}}
	for _, c := range strings.Split(*largeComp, ",") {
		switch c = strings.TrimSpace(c); c {
		case "gzip", "zstd", "none":
			e.largeCompressions = append(e.largeCompressions, c)
		case "":
		default:
			return fmt.Errorf("--large-compressions: unknown compression %q", c)
		}
	}
	if e.runs <= 0 {
		e.runs = 3
		if e.quick {
			e.runs = 1
		}
	}
	var err error
	if e.repo = *repo; e.repo == "" {
		if e.repo, err = findRepo(); err != nil {
			return err
		}
	}
	if e.repo, err = filepath.Abs(e.repo); err != nil {
		return err
	}
	if e.self, err = os.Executable(); err != nil {
		return err
	}
	if *results == "" {
		name := "results.md"
		if e.quick {
			name = "results-quick.md"
		}
		*results = filepath.Join(e.repo, "e2e", "bench", name)
	}
	selected := map[string]bool{}
	for _, n := range strings.Split(*only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			selected[n] = true
		}
	}
	for n := range selected {
		if !contains(names, n) {
			return fmt.Errorf("unknown section %q (have %s)", n, strings.Join(names, ", "))
		}
	}
	if err := os.MkdirAll(e.work, 0o755); err != nil {
		return err
	}
	if err := e.ensureTools(); err != nil {
		return err
	}
	if err := e.buildRepro(); err != nil {
		return err
	}

	loadStart := loadAverage()
	var md strings.Builder
	mode := fmt.Sprintf("full: %d runs per measurement, median", e.runs)
	if e.quick {
		mode = fmt.Sprintf("quick: corpora at 1/10 size, %d run(s) per measurement; indicative only", e.runs)
	}
	fmt.Fprintf(&md, "# rules_repro benchmarks\n\n")
	fmt.Fprintf(&md, "- Command: `%s`\n", strings.Join(append([]string{"go run ./e2e/bench"}, args...), " "))
	fmt.Fprintf(&md, "- Mode: %s\n", mode)
	fmt.Fprintf(&md, "- Date: %s\n\n", start.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&md, "## Machine\n\n| | |\n| --- | --- |\n")
	for _, row := range e.machine() {
		fmt.Fprintf(&md, "| %s | %s |\n", row[0], strings.ReplaceAll(row[1], "|", "\\|"))
	}
	md.WriteString("\n")

	var checks []check
	for _, s := range sections {
		if !selected[s.name] {
			continue
		}
		sectionStart := time.Now()
		e.logf("section %s", s.name)
		r := &report{}
		if err := s.run(e, r); err != nil {
			return fmt.Errorf("section %s: %w", s.name, err)
		}
		took := time.Since(sectionStart).Round(time.Second)
		fmt.Fprintf(&md, "## %s\n\n%s", s.title, r.md.String())
		fmt.Fprintf(&md, "Section %s took %s (corpus generation included when the corpora were not cached).\n\n", s.name, took)
		checks = append(checks, r.checks...)
	}

	md.WriteString("## Targets\n\nEvaluated on ratios measured in this run; a MISS is reported, not fatal.\n\n```\n")
	for _, c := range checks {
		md.WriteString(c.String() + "\n")
	}
	md.WriteString("```\n\n")
	fmt.Fprintf(&md, "Total: %s. Load average (1, 5, 15 min) at the start %s, at the end %s (other work on the machine inflates wall times; the ratios compare tools measured side by side).\n",
		time.Since(start).Round(time.Second), loadStart, loadAverage())

	if _, err := io.WriteString(stdout, md.String()); err != nil {
		return err
	}
	if err := os.WriteFile(*results, []byte(md.String()), 0o644); err != nil {
		return err
	}
	e.logf("results written to %s", *results)
	if *clean {
		return os.RemoveAll(e.work)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
