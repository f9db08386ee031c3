#!/usr/bin/env bash
# Checks the formatting and lint warnings of the repository's Starlark files
# with buildifier, pinned by go.mod's tool directive (`go tool buildifier`).
#
# Usage:
#   tools/lint-starlark.sh              check every Starlark file of the repository
#   tools/lint-starlark.sh FILE...      check these files only
#   tools/lint-starlark.sh --fix [FILE...]
#                                       reformat and apply buildifier's automatic
#                                       fixes, with the same warning set
#
# "Every Starlark file" is BUILD, BUILD.bazel, WORKSPACE, WORKSPACE.bazel,
# WORKSPACE.bzlmod, MODULE.bazel, REPO.bazel and *.bzl among the files git
# tracks or would track (untracked but not ignored), minus bazel-* output
# symlinks. Exits 1 when a file needs reformatting or has a warning.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The warnings: buildifier's default set (which is every warning but
# unsorted-dict-items) minus the categories below, which do not suit
# rules_repro.
excluded=(
	# Dict order is meaningful here: attrs dicts are in reading order (the
	# generated reference in README.md lists attributes in definition order),
	# and so are providers' FIELDS. buildifier leaves it out of its default
	# set too; it is named here so that the list stays right if that changes.
	unsorted-dict-items
	# These ask to load sh_*, cc_*, java_*, py_*, proto and android rules and
	# symbols from rules_shell, rules_cc, rules_java, rules_python, rules_proto
	# or rules_android instead of using the native ones. Those releases need a
	# newer Bazel than the 4.2.3 that rules_repro and its e2e workspaces
	# support, and would add dependencies that the offline e2e workspaces do
	# not have; the native rules are what Bazel 4.2.3 offers.
	native-android
	native-cc-{binary,import,library,objc-import,objc-library,shared-library,test}
	native-cc-{toolchain,toolchain-suite,fdo-prefetch-hints,fdo-profile,memprof-profile,propeller-optimize}
	native-cc-{common,debug-package-info,info,shared-library-info,shared-library-hint-info,proto}
	native-java-{binary,import,library,plugin,test,package-config,runtime,toolchain}
	native-java-{common,info,plugin-info,proto,lite-proto}
	native-proto native-proto-{lang-toolchain,info,common,lang-toolchain-info}
	native-py
	native-sh-{binary,library,test}
)
warnings="$(printf -- '-%s,' "${excluded[@]}")"
warnings="${warnings%,}"

fix=0
if [[ "${1:-}" == "--fix" ]]; then
	fix=1
	shift
fi

files=()
if (($# > 0)); then
	# Explicit files, made absolute because buildifier runs from the root.
	for f in "$@"; do
		if [[ ! -f "$f" ]]; then
			echo "lint-starlark: $f: no such file" >&2
			exit 2
		fi
		files+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")")
	done
else
	if ! git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
		echo "lint-starlark: $root is not a git work tree; name the files to check" >&2
		exit 2
	fi
	while IFS= read -r -d '' f; do
		case "/$f" in
		*/bazel-*) continue ;; # Bazel's output symlinks and anything under them
		esac
		case "${f##*/}" in
		BUILD | BUILD.bazel | WORKSPACE | WORKSPACE.bazel | WORKSPACE.bzlmod | MODULE.bazel | REPO.bazel | *.bzl) ;;
		*) continue ;;
		esac
		# Tracked files deleted from the work tree are not checked.
		[[ -f "$root/$f" ]] && files+=("$f")
	done < <(git -C "$root" ls-files -z --cached --others --exclude-standard | sort -zu)
fi
if ((${#files[@]} == 0)); then
	echo "lint-starlark: no Starlark files to check" >&2
	exit 2
fi

cd "$root"
buildifier=(go tool buildifier -config=off "-warnings=$warnings")

if ((fix)); then
	exec "${buildifier[@]}" -mode=fix -lint=fix -v "${files[@]}"
fi

rc=0
out="$("${buildifier[@]}" -mode=check -lint=warn "${files[@]}" 2>&1)" || rc=$?
case $rc in
0)
	echo "lint-starlark: ${#files[@]} Starlark files formatted and free of warnings"
	exit 0
	;;
4) ;; # a file needs reformatting or has warnings
*)
	# 1: a syntax error, 2: a usage error, 3: an I/O or internal error.
	printf '%s\n' "$out" >&2
	echo "lint-starlark: buildifier failed (exit status $rc)" >&2
	exit 1
	;;
esac

printf '%s\n' "$out"
# The offending files: "FILE # reformat" and "FILE:LINE: category: message".
bad=()
while IFS= read -r f; do
	bad+=("$f")
done < <(printf '%s\n' "$out" | sed -nE 's/^(.+) # reformat$/\1/p; s/^([^ :]+):[0-9]+: [a-z][a-z0-9_-]*: .*/\1/p' | sort -u)
echo
echo "lint-starlark: ${#bad[@]} of ${#files[@]} Starlark files need attention:"
printf '  %s\n' "${bad[@]}"
echo "hint: tools/lint-starlark.sh --fix ${bad[*]} (runs go tool buildifier -lint=fix -mode=fix FILES with this script's warning set; warnings without an automatic fix need an edit by hand)"
exit 1
