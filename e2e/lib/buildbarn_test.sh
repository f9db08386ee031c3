#!/usr/bin/env bash
# Tests for e2e/lib/buildbarn.sh: the cached build, start, refusal to start
# twice, the runner's environment, the gRPC cache, and stop without
# leftovers. Builds Buildbarn first when it is not cached (a few
# CPU-minutes). Bazel against the cluster: e2e/run.sh remote_exec.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=services.sh
source "$here/services.sh"
# shellcheck source-path=SCRIPTDIR source=buildbarn.sh
source "$here/buildbarn.sh"

tmp=$(mktemp -d)
failures=0
cleanup() {
	buildbarn_stop "$tmp/cluster" || true
	buildbarn_stop "$tmp/cache" || true
	chmod -R u+w "$tmp" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
check() {
	local msg=$1
	shift
	if "$@"; then
		echo "ok: $msg"
	else
		echo "FAIL: $msg" >&2
		failures=$((failures + 1))
	fi
}

bin=$(buildbarn_build)
check "the four binaries are in the cache directory" test -x "$bin/bb_storage" -a -x "$bin/bb_scheduler" -a -x "$bin/bb_worker" -a -x "$bin/bb_runner"
again=$(buildbarn_build 2>"$tmp/warm.err")
check "a warm build prints the same directory" test "$again" == "$bin"
check "a warm build builds nothing" test ! -s "$tmp/warm.err"

url=$(buildbarn_start "$tmp/cluster")
check "the frontend URL is grpc://127.0.0.1:PORT" eval '[[ $url =~ ^grpc://127\.0\.0\.1:[0-9]+$ ]]'
check "the frontend accepts connections" _svc_port_busy "${url##*:}"
pids=()
for name in storage frontend scheduler worker runner; do
	pids+=("$(cat "$tmp/cluster/$name.pid")")
done
all_alive() {
	local p
	for p; do
		_svc_alive "$p" || return 1
	done
}
check "five processes run" all_alive "${pids[@]}"
check "the runner sees only PATH=/usr/bin:/bin and an empty HOME" \
	test "$(tr '\0' ' ' <"/proc/$(cat "$tmp/cluster/runner.pid")/environ")" == "PATH=/usr/bin:/bin HOME=$tmp/cluster/home "
check "a second start in the same directory is refused" eval '! buildbarn_start "$tmp/cluster" 2>"$tmp/twice.err"'
check "the refusal says why" grep -q "already runs in $tmp/cluster" "$tmp/twice.err"
flags=$(buildbarn_bazel_flags "$tmp/cluster" | tr '\n' ' ')
check "the Bazel flags name the cluster and the worker's platform" \
	test "$flags" == "--remote_executor=$url --remote_instance_name=rules-repro --spawn_strategy=remote --remote_default_exec_properties=OSFamily=linux "
# The README's "Remote execution" section shows these flags in each of its
# two build commands (the example's and the monorepo's).
readme_has_flags() {
	local f n
	while read -r f; do
		f=${f/$url/grpc://127.0.0.1:PORT}
		n=$(grep -cxF -- "  $f \\" "$here/../../README.md" || true)
		[[ $n == 2 ]] || {
			echo "README.md shows [  $f \\] $n times, want 2" >&2
			return 1
		}
	done < <(buildbarn_bazel_flags "$tmp/cluster")
}
check "the README's build commands use these flags" readme_has_flags
check "the frontend serves Prometheus metrics" eval 'curl -sf "$(cat "$tmp/cluster/metrics.url")" | grep -c buildbarn_blobstore >/dev/null'
buildbarn_stop "$tmp/cluster"
none_alive() {
	local p
	for p; do
		! _svc_alive "$p" || return 1
	done
}
check "stop leaves no process" none_alive "${pids[@]}"
check "stop again succeeds" buildbarn_stop "$tmp/cluster"

curl_url=$(buildbarn_start_cache "$tmp/cache")
check "bb_storage alone answers as a cache" _svc_port_busy "${curl_url##*:}"
pid=$(cat "$tmp/cache/storage.pid")
buildbarn_stop "$tmp/cache"
check "the cache stops" none_alive "$pid"
check "buildbarn_bazel_flags without a cluster fails" eval '! buildbarn_bazel_flags "$tmp/nothing" 2>/dev/null'

if ((failures)); then
	echo "buildbarn_test: $failures check(s) failed" >&2
	exit 1
fi
echo "buildbarn_test: all checks passed"
