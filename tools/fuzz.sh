#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a bounded number of executions
# (default 20000x each). A count rather than a duration: on a loaded 2-core
# machine a short duration can end while a worker is busy and Go reports
# "context deadline exceeded" although nothing failed.
# usage: tools/fuzz.sh [BUDGET]   (go test -fuzztime value, e.g. 20000x or 30s)
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-20000x}
status=0
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		echo "fuzz: $pkg $target ($time)" >&2
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" "$pkg" >/tmp/fuzz.$$.log 2>&1; then
			cat /tmp/fuzz.$$.log >&2
			status=1
		fi
	done
done
rm -f /tmp/fuzz.$$.log
exit $status
