# shellcheck shell=bash
# Helpers for the end-to-end tests. Source this file after setting E2E_TMP.
#
#   make_clone DEST        copy the rule set (tracked and untracked, not
#                          ignored files: what a clone of this working tree
#                          holds) to DEST
#   ebazel DIR ARGS...     run Bazel in workspace DIR with the offline flags
#   json FILE FILTER       jq on a file
#   fail MSG               print and exit 1
#   check COND MSG         fail with MSG unless the command COND succeeds
#   image_file WS NAME     path of an output of //app:image in workspace WS

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() {
	printf '[e2e] FAIL: %s\n' "$*" >&2
	exit 1
}
check() {
	local msg=$1
	shift
	"$@" || fail "$msg"
}

json() { jq -r "$2" "$1"; }

make_clone() {
	local dest=$1
	mkdir -p "$dest"
	(cd "$E2E_ROOT" && git ls-files -z -c -o --exclude-standard | grep -zv '^examples/offline.bazelrc$' |
		tar --null -T - -cf -) | (cd "$dest" && tar -xf -)
	# A real clone: git metadata, so the workspace status has a commit.
	(cd "$dest" && git init -q && git add -A && GIT_COMMITTER_DATE=@1600000000 git -c user.name=e2e \
		-c user.email=e2e@invalid commit -qm "e2e snapshot" --date=@1600000000) >/dev/null 2>&1 ||
		fail "could not make a git clone in $dest"
}

# rules_go's actions (the Go standard library above all: minutes per
# platform on 2 cores) are cached across clones, output bases and runs in a
# disk cache keyed by the rules_go and SDK versions; no other action is
# (setup.sh tags them no-cache), so tests still observe image actions run.
# RULES_REPRO_GO_CACHE= (empty) turns it off.
GO_CACHE=${RULES_REPRO_GO_CACHE-$HOME/.cache/rules_repro/rules_go-v0.34.0-go1.19-disk-cache}
# Flags for a build that uses its own --remote_cache: no Go disk cache, no
# no-cache tags, so every action goes through that remote cache.
NO_GO_CACHE=(--disk_cache= --modify_execution_info=)

# The offline bazelrc fragment (stubs for Debian's Bazel 4.2.3).
offline_rc() {
	local rc="$E2E_TMP/offline.bazelrc"
	if [[ ! -f $rc ]]; then
		RULES_REPRO_GO_CACHE=$GO_CACHE bash "$E2E_ROOT/e2e/bazel/setup.sh" "$E2E_TMP/stubs" "$rc" >/dev/null 2>&1 ||
			fail "e2e/bazel/setup.sh failed"
	fi
	echo "$rc"
}

# seed_go_cache DIR: copies the Go disk cache's entries (rules_go actions
# only) into an HTTP remote cache's storage DIR (/ac/HASH, /cas/HASH), so a
# cleaned workspace using that cache does not compile the standard library
# again. Image actions are never in it: they still have to run once.
seed_go_cache() {
	local dir=$1 kind
	[[ -n $GO_CACHE && -d $GO_CACHE ]] || return 0
	for kind in ac cas; do
		mkdir -p "$dir/$kind"
		find "$GO_CACHE/$kind" -type f -exec cp -t "$dir/$kind" {} +
	done
}

# ebazel DIR ARGS...: Bazel in workspace DIR. Each workspace path has its
# own output base; the server is shut down by cleanup_bazel.
ebazel() {
	local dir=$1
	shift
	cp "$(offline_rc)" "$dir/offline.bazelrc"
	echo "$dir" >>"$E2E_TMP/bazel-workspaces"
	(cd "$dir" && bazel --host_jvm_args=-Xmx1g "$@")
}

cleanup_bazel() {
	[[ -f $E2E_TMP/bazel-workspaces ]] || return 0
	sort -u "$E2E_TMP/bazel-workspaces" | while read -r ws; do
		[[ -d $ws ]] && (cd "$ws" && bazel shutdown >/dev/null 2>&1 || true)
	done
}

# image_file WS NAME: an output of the example's //app package.
image_file() { echo "$1/bazel-bin/app/$2"; }

digest_of() { tr -d '\n' <"$1"; }
