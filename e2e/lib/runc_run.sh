#!/usr/bin/env bash
# usage: runc_run.sh BUNDLE
# Runs an OCI bundle (from `umoci unpack`) with runc in a sandbox where only
# the mount, pid, ipc and uts namespaces are available and setrlimit and
# cgroup limits fail (see ENVIRONMENT.md), and prints its output.
set -euo pipefail
bundle=$1
cfg="$bundle/config.json"
# umoci creates rootfs/ with the caller's umask; under umask 077 the image's
# user (not root) could not traverse its own "/". An image's root directory
# is 0755 (it has no tar entry of its own).
chmod 0755 "$bundle/rootfs"
jq 'del(.process.rlimits) | del(.linux.resources) | .process.terminal = false
    | .linux.namespaces |= map(select(.type == "mount" or .type == "pid" or .type == "ipc" or .type == "uts"))' \
	"$cfg" >"$cfg.tmp"
mv "$cfg.tmp" "$cfg"
cd "$bundle"
exec runc run "repro-e2e-$$-$RANDOM"
