#!/usr/bin/env bash
# Tests for e2e/lib/services.sh against the real docker-registry and nginx.
# Exits non-zero when a check fails. When a program is missing it skips
# (exit 0), unless REPRO_REQUIRE_E2E=1, then it fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=services.sh
source "$here/services.sh"

for prog in docker-registry nginx curl openssl htpasswd; do
	if ! command -v "$prog" >/dev/null 2>&1 && ! [[ -x "/usr/sbin/$prog" ]]; then
		if [[ "${REPRO_REQUIRE_E2E:-}" == 1 ]]; then
			echo "FAIL: $prog is not installed; install with: $SERVICES_INSTALL_HINT" >&2
			exit 1
		fi
		echo "SKIP: $prog is not installed; install with: $SERVICES_INSTALL_HINT"
		exit 0
	fi
done

tmp=$(mktemp -d)
failures=0
cleanup() {
	stop_registry "$tmp/plain" || true
	stop_registry "$tmp/secure" || true
	stop_nginx_cache "$tmp/cache" || true
	rm -rf "$tmp"
}
trap cleanup EXIT

pass() { echo "ok   $*"; }
fail() {
	echo "FAIL $*" >&2
	failures=$((failures + 1))
}
# check DESCRIPTION COMMAND...: runs COMMAND, passes when it succeeds.
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }
# fails COMMAND...: succeeds when COMMAND fails (its stderr is hidden).
fails() { ! "$@" 2>/dev/null; }
# cache_get URL FILE: GET URL returns FILE's bytes.
cache_get() { curl -sf --max-time 5 "$1" -o "$tmp/got" && cmp -s "$tmp/got" "$2"; }
# no_process_with TEXT: no running process has TEXT in its command line.
no_process_with() {
	local f pid
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[[ "$pid" == "$$" ]] && continue
		if tr '\0' ' ' 2>/dev/null <"$f" | grep -qF -- "$1" && _svc_alive "$pid"; then
			echo "still running: $pid $(tr '\0' ' ' <"$f")" >&2
			return 1
		fi
	done
}

# push_blob BASE_URL REPO FILE [CURL_ARGS...]: monolithic upload (POST, PUT).
push_blob() {
	local base=$1 repo=$2 file=$3 loc
	shift 3
	loc=$(curl -s -D - -o /dev/null -X POST "$@" "$base/v2/$repo/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
	[[ -n "$loc" ]] || return 1
	[[ "$loc" == *\?* ]] && loc="$loc&" || loc="$loc?"
	[[ "$(http_code -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$file" "$@" "${loc}digest=sha256:$(sha256 "$file")")" == 201 ]]
}
# blob_matches BASE_URL REPO FILE [CURL_ARGS...]: GET returns FILE's bytes.
blob_matches() {
	local base=$1 repo=$2 file=$3
	shift 3
	curl -sf --max-time 5 "$@" -o "$tmp/got" "$base/v2/$repo/blobs/sha256:$(sha256 "$file")" && cmp -s "$tmp/got" "$file"
}

head -c 100000 /dev/urandom >"$tmp/blob"

echo "--- plain registry: start, push, stop, start again on the same port and storage"
addr=$(start_registry "$tmp/plain")
check "start_registry prints 127.0.0.1:PORT ($addr)" test -n "$(grep -E '^127\.0\.0\.1:[0-9]+$' <<<"$addr")"
check "registry.pid holds a live docker-registry" _svc_cmdline_has "$(cat "$tmp/plain/registry.pid")" docker-registry
check "GET /v2/ answers 200" test "$(http_code "http://$addr/v2/")" = 200
check "push a blob" push_blob "http://$addr" e2e/plain "$tmp/blob"
check "pull it back" blob_matches "http://$addr" e2e/plain "$tmp/blob"
check "a second start on the same DIR is refused" fails start_registry "$tmp/plain"
pid=$(cat "$tmp/plain/registry.pid")
check "stop_registry" stop_registry "$tmp/plain"
check "the process is gone" fails _svc_alive "$pid"
check "connections are refused while stopped" test "$(http_code "http://$addr/v2/")" = 000
check "stop_registry again is a no-op" stop_registry "$tmp/plain"
addr2=$(start_registry "$tmp/plain")
check "restart keeps the port ($addr2)" test "$addr2" = "$addr"
check "restart keeps the data" blob_matches "http://$addr" e2e/plain "$tmp/blob"

echo "--- TLS + htpasswd registry"
saddr=$(start_registry "$tmp/secure" --tls --htpasswd alice:'pa ss')
ca=(--cacert "$tmp/secure/ca.pem")
check "registry.url is https" test "$(cat "$tmp/secure/registry.url")" = "https://$saddr"
check "no credentials: 401" test "$(http_code "${ca[@]}" "https://$saddr/v2/")" = 401
check "wrong password: 401" test "$(http_code "${ca[@]}" -u alice:wrong "https://$saddr/v2/")" = 401
check "right password: 200" test "$(http_code "${ca[@]}" -u 'alice:pa ss' "https://$saddr/v2/")" = 200
check "without the CA the TLS handshake fails" test "$(http_code -u 'alice:pa ss' "https://$saddr/v2/")" = 000
check "the certificate is valid for localhost too" test "$(http_code "${ca[@]}" -u 'alice:pa ss' "https://localhost:${saddr#*:}/v2/")" = 200
check "authenticated push over TLS" push_blob "https://$saddr" e2e/secure "$tmp/blob" "${ca[@]}" -u 'alice:pa ss'
check "authenticated pull over TLS" blob_matches "https://$saddr" e2e/secure "$tmp/blob" "${ca[@]}" -u 'alice:pa ss'
check "stop the TLS registry" stop_registry "$tmp/secure"

echo "--- nginx remote cache"
cache=$(start_nginx_cache "$tmp/cache")
check "start_nginx_cache prints 127.0.0.1:PORT ($cache)" test -n "$(grep -E '^127\.0\.0\.1:[0-9]+$' <<<"$cache")"
check "PUT into a new directory (create_full_put_path)" test "$(http_code -X PUT --data-binary "@$tmp/blob" "http://$cache/cas/$(sha256 "$tmp/blob")")" = 201
check "GET it back" cache_get "http://$cache/cas/$(sha256 "$tmp/blob")" "$tmp/blob"
check "a missing key is 404" test "$(http_code "http://$cache/ac/0000")" = 404
check "the file is under DIR/cache" cmp -s "$tmp/cache/cache/cas/$(sha256 "$tmp/blob")" "$tmp/blob"
if ((EUID == 0)); then
	check "as root, nginx.conf has 'user root;'" grep -qx 'user root;' "$tmp/cache/nginx.conf"
fi
check "a second start on the same DIR is refused" fails start_nginx_cache "$tmp/cache"
check "stop_nginx_cache" stop_nginx_cache "$tmp/cache"
check "nginx no longer answers" test "$(http_code "http://$cache/ac/0000")" = 000

echo "--- usage errors"
check "start_registry without DIR fails" fails start_registry
check "start_registry with an unknown option fails" fails start_registry "$tmp/x" --bogus
check "start_registry --htpasswd without USER:PASS fails" fails start_registry "$tmp/x" --htpasswd alice

stop_registry "$tmp/plain"
check "no docker-registry or nginx of this test left running" no_process_with "$tmp"

if ((failures)); then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all checks passed"
