package main

import (
	"fmt"
	"strings"
	"time"
)

// report is what a section hands back: Markdown for the results file and
// the targets it evaluated.
type report struct {
	md     strings.Builder
	checks []check
}

// check is one target, evaluated on ratios measured in the same run. A
// missed target is reported, never fatal: these machines are noisy.
type check struct {
	pass   bool
	target string
	detail string
}

func (c check) String() string {
	verdict := "MISS"
	if c.pass {
		verdict = "PASS"
	}
	return fmt.Sprintf("%s %s: %s", verdict, c.target, c.detail)
}

func (r *report) printf(format string, args ...any) { fmt.Fprintf(&r.md, format, args...) }

func (r *report) addCheck(pass bool, target, format string, args ...any) {
	r.checks = append(r.checks, check{pass: pass, target: target, detail: fmt.Sprintf(format, args...)})
}

// table writes a Markdown table; the first column is left-aligned, the
// others (numbers) right-aligned.
func (r *report) table(header []string, rows [][]string) {
	r.printf("| %s |\n|", strings.Join(header, " | "))
	for i := range header {
		if i == 0 {
			r.printf(" --- |")
		} else {
			r.printf(" ---: |")
		}
	}
	r.printf("\n")
	for _, row := range rows {
		r.printf("| %s |\n", strings.Join(row, " | "))
	}
	r.printf("\n")
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

func mib(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

func mb(b int64) string { return fmt.Sprintf("%.1f", float64(b)/1e6) }

// ratio formats ours/theirs as "1.23×".
func ratio(ours, theirs float64) string {
	if theirs <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", ours/theirs)
}
