#!/usr/bin/env bash
# Makes Debian's Bazel 4.2.3 (bazel-bootstrap) usable offline for rules_repro's e2e tests.
#
# usage: e2e/bazel/setup.sh [STUBS_DIR] [BAZELRC_OUT]
#
#   STUBS_DIR    where the stub repositories are written
#                (default: $HOME/.cache/rules_repro/bazel-stubs)
#   BAZELRC_OUT  file to write the bazelrc fragment to (default: print it on stdout)
#
# Idempotent: installs bazel-bootstrap, bazel-skylib (and gcc, g++, libc6-dev) with apt-get
# only when missing,
# rewrites the stubs only when their content differs, and always prints/writes the same
# fragment for the same STUBS_DIR.
#
# Use the fragment from a workspace's .bazelrc with `try-import %workspace%/e2e.bazelrc`,
# or pass it as the startup option `bazel --bazelrc=FILE ...`: Bazel 4.2.3 then still reads
# /etc/bazel/bazelrc and the workspace .bazelrc, and FILE's options come after both.
#
# Environment knobs (all optional):
#   RULES_REPRO_REPO_CACHE   --repository_cache directory
#                            (default: $HOME/.cache/rules_repro/bazel-repo-cache)
#   RULES_REPRO_DISK_CACHE   if set, adds --disk_cache=DIR (off by default: e2e tests
#                            want to observe real executions / remote-cache hits)
#   RULES_REPRO_GO_CACHE     if set, a disk cache in DIR for rules_go's actions only
#                            (mnemonics Go*: above all the standard library, compiled
#                            per platform in minutes); every other action is tagged
#                            no-cache, so tests still see the image actions execute.
#                            A build that sets its own --remote_cache must add
#                            `--disk_cache= --modify_execution_info=` (both off).
set -euo pipefail

cache_root="$HOME/.cache/rules_repro"
stubs="${1:-$cache_root/bazel-stubs}"
out="${2:-}"
repo_cache="${RULES_REPRO_REPO_CACHE:-$cache_root/bazel-repo-cache}"

log() { echo "setup.sh: $*" >&2; }

# --- 1. packages -------------------------------------------------------------------------
# bazel-bootstrap: /usr/bin/bazel (4.2.3). bazel-skylib: /usr/share/bazel/tools/skylib.
# gcc/g++/libc6-dev: the autoconfigured C++ toolchain needs a host compiler, and
# cc_binary(linkopts = ["-static"]) needs libc.a (bazel-bootstrap already depends on
# build-essential and a JDK; listing them keeps the check explicit).
need=()
for pkg in bazel-bootstrap bazel-skylib gcc g++ libc6-dev; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
    need+=("$pkg")
  fi
done
if ((${#need[@]})); then
  log "installing ${need[*]}"
  if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq >&2
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# --- 2. stub repositories ----------------------------------------------------------------
# write FILE CONTENT: only touches FILE when its content changes (keeps mtimes stable).
write() {
  local f="$1" content="$2"
  mkdir -p "$(dirname "$f")"
  if [[ ! -f "$f" ]] || [[ "$(cat "$f")" != "$content" ]]; then
    printf '%s\n' "$content" >"$f.tmp.$$"
    mv -f "$f.tmp.$$" "$f"
  fi
}

mkdir -p "$stubs"
stubs="$(cd "$stubs" && pwd -P)"

# remote_coverage_tools: every test rule has an implicit dependency on it.
write "$stubs/remote_coverage_tools/WORKSPACE" 'workspace(name = "remote_coverage_tools")'
write "$stubs/remote_coverage_tools/BUILD" '# Stub for offline Bazel 4.2.3: coverage is not supported with it.
package(default_visibility = ["//visibility:public"])

filegroup(name = "coverage_report_generator", srcs = [])

filegroup(name = "lcov_merger", srcs = [])'

# rules_cc: @bazel_tools loads @rules_cc//cc:defs.bzl. Debian's bazel-rules-cc is too new
# for 4.2.3, so forward to the native rules.
write "$stubs/rules_cc/WORKSPACE" 'workspace(name = "rules_cc")'
write "$stubs/rules_cc/BUILD" ''
write "$stubs/rules_cc/cc/BUILD" 'package(default_visibility = ["//visibility:public"])

alias(name = "toolchain_type", actual = "@bazel_tools//tools/cpp:toolchain_type")'
write "$stubs/rules_cc/cc/defs.bzl" '"""Stub rules_cc for offline Bazel 4.2.3: the native rules."""

cc_binary = native.cc_binary
cc_import = native.cc_import
cc_library = native.cc_library
cc_proto_library = native.cc_proto_library
cc_test = native.cc_test
cc_toolchain = native.cc_toolchain
cc_toolchain_suite = native.cc_toolchain_suite
fdo_prefetch_hints = native.fdo_prefetch_hints
fdo_profile = native.fdo_profile
objc_import = native.objc_import
objc_library = native.objc_library'

# rules_java: @bazel_tools loads @rules_java//java:defs.bzl.
write "$stubs/rules_java/WORKSPACE" 'workspace(name = "rules_java")'
write "$stubs/rules_java/BUILD" ''
write "$stubs/rules_java/java/BUILD" ''
write "$stubs/rules_java/java/defs.bzl" '"""Stub rules_java for offline Bazel 4.2.3: the native rules."""

java_binary = native.java_binary
java_import = native.java_import
java_library = native.java_library
java_lite_proto_library = native.java_lite_proto_library
java_plugin = native.java_plugin
java_proto_library = native.java_proto_library
java_runtime = native.java_runtime
java_test = native.java_test
java_toolchain = native.java_toolchain'

# --- 3. bazelrc fragment -----------------------------------------------------------------
skylib=/usr/share/bazel/tools/skylib
overrides=(
  "--override_repository=remote_coverage_tools=$stubs/remote_coverage_tools"
  "--override_repository=rules_cc=$stubs/rules_cc"
  "--override_repository=rules_java=$stubs/rules_java"
  "--override_repository=bazel_skylib=$skylib"
)

fragment() {
  echo "# Generated by rules_repro e2e/bazel/setup.sh for Bazel 4.2.3 (bazel-bootstrap), offline."
  echo "# Stub repositories: $stubs"
  # 'common' lines apply to every command; Bazel 4.2.3 accepts --override_repository for
  # all of them (checked: build, test, run, query, cquery, aquery, fetch, info, clean,
  # shutdown, help). Do not use 'bazel sync' offline: it fetches every
  # repository @bazel_tools declares (remote JDKs...) and fails.
  local o
  for o in "${overrides[@]}"; do echo "common $o"; done
  cat <<RC

# An idle server holds ~200-250 MB; e2e uses one per clone. Takes effect when a server starts.
startup --max_idle_secs=600

# Offline and hermetic-ish runs.
# A shared repository cache lets several clones/output bases reuse downloads (none expected
# offline, but harmless); --disk_cache stays off unless RULES_REPRO_DISK_CACHE is set.
build --repository_cache=$repo_cache
fetch --repository_cache=$repo_cache
query --repository_cache=$repo_cache
build --incompatible_strict_action_env
build --spawn_strategy=linux-sandbox,local
build --sandbox_default_allow_network=false
# /etc/bazel/bazelrc (Debian) sets --sandbox_debug, which floods the log and keeps sandboxes.
build --nosandbox_debug
build --noshow_progress
build --show_timestamps
build --color=no
build --curses=no
test --test_output=errors
query --noshow_progress
fetch --noshow_progress
RC
  if [[ -n "${RULES_REPRO_GO_CACHE:-}" ]]; then
    echo "# rules_go's actions only (mnemonics Go*) in a disk cache shared by workspaces;"
    echo "# no-cache keeps every other action out of it (and out of any remote cache)."
    echo "build --disk_cache=$RULES_REPRO_GO_CACHE"
    echo "build --modify_execution_info=^(?!Go).*\$=+no-cache"
  fi
  if [[ -n "${RULES_REPRO_DISK_CACHE:-}" ]]; then
    echo "build --disk_cache=$RULES_REPRO_DISK_CACHE"
  fi
}

if [[ -n "$out" ]]; then
  mkdir -p "$(dirname "$out")"
  fragment >"$out.tmp.$$"
  mv -f "$out.tmp.$$" "$out"
  log "wrote $out"
else
  fragment
fi
