#!/usr/bin/env bash
# Bazel workspace status command for rules_repro.
#
# Prints STABLE_SOURCE_DATE_EPOCH, which the rules read under --stamp:
#   - $SOURCE_DATE_EPOCH when it is set (reproducible-builds.org convention);
#   - otherwise the commit time of HEAD (git log -1 --format=%ct).
# Use it in .bazelrc:
#   build --workspace_status_command=tools/workspace_status.sh
#
# Bazel runs this on every build, stamped or not, so it never fails: a
# malformed SOURCE_DATE_EPOCH is passed through and the rules reject it,
# naming the value, only when a build is stamped; unstamped builds ignore it.
set -uo pipefail

if [[ -n "${SOURCE_DATE_EPOCH+set}" ]]; then
  echo "STABLE_SOURCE_DATE_EPOCH ${SOURCE_DATE_EPOCH//[$'\n\r']/ }"
elif epoch=$(git log -1 --format=%ct 2>/dev/null) && [[ -n "$epoch" ]]; then
  echo "STABLE_SOURCE_DATE_EPOCH $epoch"
else
  echo "workspace_status.sh: no SOURCE_DATE_EPOCH and no git commit; stamped builds (--stamp) will ask for one" >&2
fi
exit 0
