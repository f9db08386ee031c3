// Package epoch parses SOURCE_DATE_EPOCH values and reads them from Bazel
// workspace-status files.
//
// The convention (reproducible-builds.org) is an ASCII decimal integer: the
// number of seconds since 1970-01-01T00:00:00Z, as printed by `date +%s`.
// Anything else is an error that names the value; a malformed epoch is never
// silently replaced by a default.
package epoch

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Max is the largest epoch accepted: 9999-12-31T23:59:59Z, the last second
// that RFC 3339 timestamps (used in image configs and annotations) can hold.
const Max = 253402300799

// Default is the epoch of an unstamped build. It is fixed so that ordinary
// builds stay cacheable.
const Default int64 = 0

// Parse parses a SOURCE_DATE_EPOCH value. source names where the value came
// from (a flag, a file and key) and is used in error messages.
func Parse(value, source string) (int64, error) {
	if value == "" {
		return 0, fmt.Errorf("%s: SOURCE_DATE_EPOCH is empty; want a whole number of seconds since 1970-01-01T00:00:00Z, like `date +%%s` prints", source)
	}
	for _, c := range value {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%s: SOURCE_DATE_EPOCH %q is not a decimal integer; want a whole number of seconds since 1970-01-01T00:00:00Z, like `date +%%s` prints", source, value)
		}
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil || n > Max {
		return 0, fmt.Errorf("%s: SOURCE_DATE_EPOCH %q is out of range; the largest accepted value is %d (9999-12-31T23:59:59Z)", source, value, int64(Max))
	}
	return n, nil
}

// Time returns the epoch as a UTC time.
func Time(e int64) time.Time { return time.Unix(e, 0).UTC() }

// Format returns the epoch as an RFC 3339 timestamp in UTC with whole
// seconds, for example "2023-11-14T22:13:20Z".
func Format(e int64) string { return Time(e).Format(time.RFC3339) }

// FromStatusFile reads key from a Bazel workspace-status file (lines of
// "KEY VALUE", as in bazel-out/stable-status.txt) and parses its value.
// A missing key is an error that explains how to provide it.
func FromStatusFile(path, key string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("reading workspace status: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		if k == key {
			return Parse(strings.TrimSpace(v), fmt.Sprintf("workspace status key %s", key))
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading workspace status %s: %w", path, err)
	}
	return 0, fmt.Errorf("--stamp is set but the workspace status has no key %s.\n"+
		"Add a workspace status command that prints it, for example in .bazelrc:\n"+
		"  build --workspace_status_command=tools/workspace_status.sh\n"+
		"where the script prints a line \"%s <seconds since 1970>\" (rules_repro ships one that uses $SOURCE_DATE_EPOCH or the last commit time)", key, key)
}
