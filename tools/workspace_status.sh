#!/usr/bin/env bash
# Bazel workspace status command for rules_repro.
#
# Prints STABLE_SOURCE_DATE_EPOCH, which the rules read under --stamp:
#   - $SOURCE_DATE_EPOCH when it is set (reproducible-builds.org convention);
#   - otherwise the commit time of HEAD (git log -1 --format=%ct).
# Use it in .bazelrc:
#   build --workspace_status_command=tools/workspace_status.sh
# (copy it into your repository, or call it from your own status command).
set -euo pipefail

if [[ -n "${SOURCE_DATE_EPOCH:-}" ]]; then
  if [[ ! "$SOURCE_DATE_EPOCH" =~ ^[0-9]+$ ]]; then
    echo "workspace_status.sh: SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH is not a whole number of seconds since 1970-01-01T00:00:00Z" >&2
    exit 1
  fi
  echo "STABLE_SOURCE_DATE_EPOCH $SOURCE_DATE_EPOCH"
elif epoch=$(git log -1 --format=%ct 2>/dev/null) && [[ -n "$epoch" ]]; then
  echo "STABLE_SOURCE_DATE_EPOCH $epoch"
else
  echo "workspace_status.sh: SOURCE_DATE_EPOCH is not set and there is no git commit to take the time from; set SOURCE_DATE_EPOCH" >&2
  exit 1
fi
