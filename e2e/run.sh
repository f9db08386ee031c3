#!/usr/bin/env bash
# End-to-end tests of rules_repro on real Bazel, offline, with real judges.
#
# usage: e2e/run.sh [TEST...]      (default: all, in order)
#
# Tests: reproducible stamping remote_cache judges multiplatform golden analysis binaries pins publish toolchain compat2 modes gazelle monorepo buildbarn_lib remote_exec monorepo_remote modes_remote
# Later tests reuse the clones and builds of earlier ones.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
E2E_TMP=$(mktemp -d /tmp/repro-e2e.XXXXXX)
export E2E_TMP
# shellcheck source=e2e/lib/common.sh
source "$here/lib/common.sh"
# shellcheck source=e2e/lib/services.sh
source "$here/lib/services.sh"
# shellcheck source=e2e/lib/buildbarn.sh
source "$here/lib/buildbarn.sh"
# shellcheck source=e2e/test_binaries.sh
source "$here/test_binaries.sh"
# shellcheck source=e2e/test_bazel.sh
source "$here/test_bazel.sh"
# shellcheck source=e2e/test_pins.sh
source "$here/test_pins.sh"
# shellcheck source=e2e/test_publish.sh
source "$here/test_publish.sh"
# shellcheck source=e2e/test_toolchain.sh
source "$here/test_toolchain.sh"
# shellcheck source=e2e/test_compat2.sh
source "$here/test_compat2.sh"
# shellcheck source=e2e/test_modes.sh
source "$here/test_modes.sh"
# shellcheck source=e2e/test_gazelle.sh
source "$here/test_gazelle.sh"
# shellcheck source=e2e/test_monorepo.sh
source "$here/test_monorepo.sh"
# shellcheck source=e2e/test_remote_exec.sh
source "$here/test_remote_exec.sh"

cleanup() {
	cleanup_bazel
	stop_nginx_cache "$E2E_TMP/cache" >/dev/null 2>&1 || true
	stop_registry "$E2E_TMP/registry" >/dev/null 2>&1 || true
	stop_registry "$E2E_TMP/rx-registry" >/dev/null 2>&1 || true
	buildbarn_stop "$E2E_TMP/buildbarn" >/dev/null 2>&1 || true
	buildbarn_stop "$E2E_TMP/grpc-cache" >/dev/null 2>&1 || true
	if [[ -z ${KEEP_E2E_TMP:-} ]]; then
		chmod -R u+w "$E2E_TMP" 2>/dev/null || true
		rm -rf "$E2E_TMP"
	else
		echo "kept $E2E_TMP" >&2
	fi
}
trap cleanup EXIT

all=(reproducible stamping remote_cache judges multiplatform golden analysis binaries pins publish toolchain compat2 modes gazelle monorepo buildbarn_lib remote_exec monorepo_remote modes_remote)
tests=("${@:-${all[@]}}")
failed=()
for t in "${tests[@]}"; do
	start=$SECONDS
	log "=== $t"
	if (set -euo pipefail; "test_$t"); then
		log "--- PASS $t ($((SECONDS - start))s)"
	else
		log "--- FAIL $t ($((SECONDS - start))s)"
		failed+=("$t")
	fi
done
if ((${#failed[@]})); then
	echo "e2e: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "e2e: all ${#tests[@]} tests passed" >&2
