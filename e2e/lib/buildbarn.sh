# shellcheck shell=bash
# A Buildbarn cluster for the end-to-end tests and benchmarks: remote
# execution (REv2) and a gRPC remote cache, on 127.0.0.1 only. Source this
# file (it needs e2e/lib/services.sh for ports and process handling):
#
#   source e2e/lib/services.sh; source e2e/lib/buildbarn.sh
#   bin=$(buildbarn_build)                  # built once, then cached
#   buildbarn_start "$tmp/bb"               # storage, scheduler, worker, runner
#   bazel build --remote_executor="$(cat "$tmp/bb/frontend.url")" \
#       --remote_instance_name="$BUILDBARN_INSTANCE" ...
#   buildbarn_stop "$tmp/bb"
#   buildbarn_start_cache "$tmp/bbcache"    # bb_storage alone: a REv2 cache
#   buildbarn_stop "$tmp/bbcache"
#
# Functions (each prints only its result on stdout; messages go to stderr;
# each returns non-zero with a reason on failure):
#
#   buildbarn_build
#       Builds bb_storage, bb_scheduler, bb_worker and bb_runner from the Go
#       module proxy at the pinned versions below, applying only the patches
#       that ship inside those modules, and prints the directory that holds
#       the four binaries: ~/.cache/rules_repro/buildbarn-<key>/bin, where the
#       key names both versions and hashes the patches and the Go version.
#       A warm run finds the binaries there and builds nothing.
#   buildbarn_start DIR
#       Starts the cluster with its state under DIR: bb_storage (CAS and
#       action cache, also the frontend Bazel talks to), bb_scheduler, one
#       bb_worker with a native build directory and one bb_runner. The
#       runner runs with an empty environment (PATH=/usr/bin:/bin, HOME an
#       empty directory), so an action that needs the host's Go or home
#       directory fails instead of passing by accident. Waits until the
#       worker has registered with the scheduler. Writes frontend.addr and
#       frontend.url (grpc://127.0.0.1:PORT) into DIR, and metrics.url: the
#       Prometheus metrics of the process Bazel talks to (bytes read and
#       written per operation).
#   buildbarn_start_cache DIR
#       Starts bb_storage alone, serving CAS and action cache: a gRPC remote
#       cache. Writes frontend.addr, frontend.url and metrics.url into DIR.
#   buildbarn_bazel_flags DIR
#       Prints, one per line, the Bazel flags that build on the cluster
#       started in DIR (the README's "Remote execution" section):
#       --remote_executor, --remote_instance_name, --spawn_strategy=remote
#       (a .bazelrc may select local strategies) and the platform
#       properties the worker advertises as --remote_default_exec_properties.
#   buildbarn_stop DIR
#       Stops every process started in DIR (SIGTERM, then SIGKILL) and waits
#       until they are gone. Succeeds when nothing runs.
#
# The versions: Bazel 4.2.3 speaks REv2.0 only. Buildbarn's scheduler
# requires REv2.3 since 2025-11-01, and its worker dropped the REv2.0
# output fields in 2026-03; the pair bb-deployments pinned on 2025-08-20 is
# the newest that serves 4.2.3 (with the worker option
# supportLegacyOutputFilesAndDirectories). The checksum database has no
# entries for them, so GONOSUMDB covers github.com/buildbarn.
#
# Tests: e2e/lib/buildbarn_test.sh (this file; e2e/run.sh buildbarn_lib runs
# it), e2e/run.sh remote_exec, monorepo_remote and
# remote_cache (Bazel on the cluster and on the gRPC cache).

BUILDBARN_RE_VERSION=v0.0.0-20250820081613-efef252cdf4f
BUILDBARN_STORAGE_VERSION=v0.0.0-20250819193852-fd11d3e1b0b4
BUILDBARN_INSTANCE=rules-repro
# The platform the worker advertises; Bazel must ask for exactly this
# (exec_properties of the execution platform, or
# --remote_default_exec_properties).
BUILDBARN_EXEC_PROPERTIES=(OSFamily=linux)

_bb_err() { echo "buildbarn.sh: $*" >&2; }

# _bb_moddir MODULE VERSION: the module's directory in the module cache.
_bb_moddir() {
	local out
	out=$(cd "${TMPDIR:-/tmp}" && GOFLAGS=-mod=mod GONOSUMDB=github.com/buildbarn GOTOOLCHAIN=local \
		go mod download -json "$1@$2" 2>&1) || {
		_bb_err "go mod download $1@$2 failed: $out"
		return 1
	}
	jq -r .Dir <<<"$out"
}

# _bb_key: names the versions, hashes the patches and the Go release.
_bb_key() {
	local re st hash
	re=$(_bb_moddir github.com/buildbarn/bb-remote-execution "$BUILDBARN_RE_VERSION") || return 1
	st=$(_bb_moddir github.com/buildbarn/bb-storage "$BUILDBARN_STORAGE_VERSION") || return 1
	hash=$({
		go env GOVERSION
		cat "$st/patches/org_golang_google_genproto_googleapis_bytestream/service-registrar.diff" \
			"$re"/patches/com_github_hanwen_go_fuse_v2/*.diff
	} | sha256sum | cut -c1-12)
	echo "re-${BUILDBARN_RE_VERSION##*-}-storage-${BUILDBARN_STORAGE_VERSION##*-}-$hash"
}

# _bb_patched_copy MODULE VERSION DEST PATCH...: a writable copy of a module
# with the patches applied (-p0: they name files relative to the module root).
_bb_patched_copy() {
	local mod=$1 ver=$2 dest=$3 src p
	shift 3
	src=$(_bb_moddir "$mod" "$ver") || return 1
	rm -rf "$dest"
	cp -r "$src" "$dest" && chmod -R u+w "$dest" || return 1
	for p in "$@"; do
		if ! patch -s -d "$dest" -p0 --no-backup-if-mismatch <"$p" >&2; then
			_bb_err "patch $p does not apply to $mod@$ver"
			return 1
		fi
	done
}

buildbarn_build() {
	local key cache bin
	key=$(_bb_key) || return 1
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/rules_repro/buildbarn-$key
	bin=$cache/bin
	if [[ -x $bin/bb_storage && -x $bin/bb_scheduler && -x $bin/bb_worker && -x $bin/bb_runner ]]; then
		echo "$bin"
		return 0
	fi
	_bb_err "building Buildbarn ($key) from the Go module proxy into $cache (a few CPU-minutes, once)"
	local re st work
	re=$(_bb_moddir github.com/buildbarn/bb-remote-execution "$BUILDBARN_RE_VERSION") || return 1
	st=$(_bb_moddir github.com/buildbarn/bb-storage "$BUILDBARN_STORAGE_VERSION") || return 1
	# A work directory of its own, so that two runs building at once do
	# not clash; the first to finish publishes its binaries.
	mkdir -p "$(dirname "$cache")" && work=$(mktemp -d "$cache.work.XXXXXX") || return 1
	# The main module is a writable copy of bb-remote-execution, so its
	# go.mod and go.sum decide every other version.
	cp -r "$re" "$work/bb-remote-execution" && chmod -R u+w "$work/bb-remote-execution" || return 1
	local main=$work/bb-remote-execution bs_ver fuse_ver
	bs_ver=$(cd "$main" && GOTOOLCHAIN=local go list -m -f '{{.Version}}' google.golang.org/genproto/googleapis/bytestream) || {
		_bb_err "cannot resolve genproto/googleapis/bytestream in bb-remote-execution's go.mod"
		return 1
	}
	# go-fuse is already replaced by v2.5.1 in go.mod, which the patches target.
	fuse_ver=$(cd "$main" && GOTOOLCHAIN=local go list -m -f '{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' github.com/hanwen/go-fuse/v2) || return 1
	_bb_patched_copy google.golang.org/genproto/googleapis/bytestream "$bs_ver" "$work/bytestream" \
		"$st/patches/org_golang_google_genproto_googleapis_bytestream/service-registrar.diff" || return 1
	_bb_patched_copy github.com/hanwen/go-fuse/v2 "$fuse_ver" "$work/go-fuse" \
		"$re"/patches/com_github_hanwen_go_fuse_v2/*.diff || return 1
	(
		cd "$main" &&
			go mod edit -replace "google.golang.org/genproto/googleapis/bytestream=../bytestream" \
				-replace "github.com/hanwen/go-fuse/v2=../go-fuse" &&
			mkdir -p "$work/bin" &&
			GOFLAGS="-mod=mod -trimpath -buildvcs=false" GONOSUMDB=github.com/buildbarn GOTOOLCHAIN=local CGO_ENABLED=0 \
				go build -o "$work/bin/" ./cmd/bb_scheduler ./cmd/bb_worker ./cmd/bb_runner \
				github.com/buildbarn/bb-storage/cmd/bb_storage
	) >"$work/build.log" 2>&1 || {
		_bb_err "building Buildbarn failed; $work/build.log ends with:"
		tail -n 30 "$work/build.log" | sed 's/^/    /' >&2
		return 1
	}
	mkdir -p "$cache" || return 1
	if [[ ! -x $bin/bb_runner ]]; then
		rm -rf "$bin" && mv "$work/bin" "$bin" || return 1
	fi
	chmod -R u+w "$work" && rm -rf "$work"
	echo "$bin"
}

# _bb_wait_port PID PORT NAME LOG: waits up to 60s until PORT accepts
# connections while PID runs.
_bb_wait_port() {
	local pid=$1 port=$2 name=$3 log=$4 i
	for ((i = 0; i < 1200; i++)); do
		if ! _svc_alive "$pid"; then
			_bb_err "$name exited during start; $log ends with:"
			_svc_tail "$log"
			return 1
		fi
		_svc_port_busy "$port" && return 0
		sleep 0.05
	done
	_bb_err "$name did not listen on 127.0.0.1:$port within 60s; $log ends with:"
	_svc_tail "$log"
	return 1
}

# _bb_run DIR NAME ENV... -- PROGRAM CONFIG: starts one process in the
# background with the given environment (and nothing else), records its pid
# in DIR/NAME.pid and prints it.
_bb_run() {
	local dir=$1 name=$2 envs=() pid
	shift 2
	while [[ $1 != -- ]]; do
		envs+=("$1")
		shift
	done
	shift
	echo "=== buildbarn.sh: $* at $(date -u +%FT%TZ)" >>"$dir/$name.log"
	(cd "$dir" && exec env -i "${envs[@]}" "$@" </dev/null >>"$dir/$name.log" 2>&1) &
	pid=$!
	echo "$pid" >"$dir/$name.pid"
	echo "$pid"
}

# _bb_diagnostics PORT: the "global" block with a Prometheus endpoint.
_bb_diagnostics() {
	printf '{"diagnosticsHttpServer": {"httpServers": [{"listenAddresses": ["127.0.0.1:%s"], "authenticationPolicy": {"allow": {}}}], "enablePrometheus": true}}' "$1"
}

# _bb_storage_config DIR PORT METRICSPORT: bb_storage serving CAS and action cache from
# local block files under DIR/storage (bb-deployments' bare storage.jsonnet,
# smaller). Sparse files: only what is written takes disk space.
_bb_storage_config() {
	local dir=$1 port=$2 metrics=$3
	mkdir -p "$dir/storage/cas/persistent_state" "$dir/storage/ac/persistent_state"
	_bb_local() { # PATH KEYMAPBYTES BLOCKBYTES NEWBLOCKS
		cat <<EOC
{"local": {
        "keyLocationMapOnBlockDevice": {"file": {"path": "$1/key_location_map", "sizeBytes": $2}},
        "keyLocationMapMaximumGetAttempts": 16,
        "keyLocationMapMaximumPutAttempts": 64,
        "oldBlocks": 8, "currentBlocks": 24, "newBlocks": $4,
        "blocksOnBlockDevice": {"source": {"file": {"path": "$1/blocks", "sizeBytes": $3}}, "spareBlocks": 3},
        "persistent": {"stateDirectoryPath": "$1/persistent_state", "minimumEpochInterval": "300s"}
      }}
EOC
	}
	cat >"$dir/storage.json" <<EOC
{
  "grpcServers": [{"listenAddresses": ["127.0.0.1:$port"], "authenticationPolicy": {"allow": {}}}],
  "global": $(_bb_diagnostics "$metrics"),
  "maximumMessageSizeBytes": 16777216,
  "contentAddressableStorage": {
    "backend": $(_bb_local "$dir/storage/cas" $((64 * 1024 * 1024)) $((8 * 1024 * 1024 * 1024)) 3),
    "getAuthorizer": {"allow": {}}, "putAuthorizer": {"allow": {}}, "findMissingAuthorizer": {"allow": {}}
  },
  "actionCache": {
    "backend": $(_bb_local "$dir/storage/ac" $((1024 * 1024)) $((64 * 1024 * 1024)) 1),
    "getAuthorizer": {"allow": {}}, "putAuthorizer": {"allow": {}}
  }
}
EOC
}

# _bb_start_storage DIR BIN: starts bb_storage; prints its port and its
# metrics port.
_bb_start_storage() {
	local dir=$1 bin=$2 port metrics pid
	port=$(_svc_pick_port) && metrics=$(_svc_pick_port) || return 1
	_bb_storage_config "$dir" "$port" "$metrics"
	pid=$(_bb_run "$dir" storage -- "$bin/bb_storage" "$dir/storage.json") || return 1
	_bb_wait_port "$pid" "$port" bb_storage "$dir/storage.log" || return 1
	_bb_wait_port "$pid" "$metrics" "bb_storage (metrics)" "$dir/storage.log" || return 1
	echo "$port $metrics"
}

_bb_check_dir() {
	local dir=$1 name
	for name in storage frontend scheduler worker runner; do
		if [[ -f $dir/$name.pid ]] && _svc_alive "$(cat "$dir/$name.pid")"; then
			_bb_err "a Buildbarn $name already runs in $dir (pid $(cat "$dir/$name.pid")); buildbarn_stop first"
			return 1
		fi
	done
}

# _bb_publish DIR PORT METRICSPORT: what Bazel talks to.
_bb_publish() {
	echo "http://127.0.0.1:$3/metrics" >"$1/metrics.url"
	echo "127.0.0.1:$2" >"$1/frontend.addr"
	echo "grpc://127.0.0.1:$2" >"$1/frontend.url"
	echo "grpc://127.0.0.1:$2"
}

buildbarn_start_cache() {
	local dir=${1:?usage: buildbarn_start_cache DIR} bin ports
	mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
	_bb_check_dir "$dir" || return 1
	bin=$(buildbarn_build) || return 1
	ports=$(_bb_start_storage "$dir" "$bin") || {
		buildbarn_stop "$dir"
		return 1
	}
	# shellcheck disable=SC2086 # two ports
	_bb_publish "$dir" $ports
}

buildbarn_start() {
	local dir=${1:?usage: buildbarn_start DIR} bin
	mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
	_bb_check_dir "$dir" || return 1
	bin=$(buildbarn_build) || return 1
	_bb_start_cluster "$dir" "$bin" || {
		buildbarn_stop "$dir"
		return 1
	}
}

_bb_start_cluster() {
	local dir=$1 bin=$2 storage frontend fmetrics client workers admin pid i
	storage=$(_bb_start_storage "$dir" "$bin") || return 1
	storage=${storage%% *}
	local blobstore='{
    "contentAddressableStorage": {"grpc": {"address": "127.0.0.1:'$storage'"}},
    "actionCache": {"completenessChecking": {"backend": {"grpc": {"address": "127.0.0.1:'$storage'"}}, "maximumTotalTreeSizeBytes": 67108864}}
  }'

	# The scheduler: clients (the frontend) on one port, workers on another.
	client=$(_svc_pick_port) && workers=$(_svc_pick_port) && admin=$(_svc_pick_port) || return 1
	cat >"$dir/scheduler.json" <<EOC
{
  "adminHttpServers": [{"listenAddresses": ["127.0.0.1:$admin"], "authenticationPolicy": {"allow": {}}}],
  "clientGrpcServers": [{"listenAddresses": ["127.0.0.1:$client"], "authenticationPolicy": {"allow": {}}}],
  "workerGrpcServers": [{"listenAddresses": ["127.0.0.1:$workers"], "authenticationPolicy": {"allow": {}}}],
  "browserUrl": "http://127.0.0.1:1",
  "contentAddressableStorage": {"grpc": {"address": "127.0.0.1:$storage"}},
  "maximumMessageSizeBytes": 16777216,
  "executeAuthorizer": {"allow": {}},
  "modifyDrainsAuthorizer": {"allow": {}},
  "killOperationsAuthorizer": {"allow": {}},
  "synchronizeAuthorizer": {"allow": {}},
  "actionRouter": {"simple": {
    "platformKeyExtractor": {"actionAndCommand": {}},
    "invocationKeyExtractors": [{"correlatedInvocationsId": {}}, {"toolInvocationId": {}}],
    "initialSizeClassAnalyzer": {"defaultExecutionTimeout": "1800s", "maximumExecutionTimeout": "7200s"}
  }},
  "platformQueueWithNoWorkersTimeout": "900s"
}
EOC
	pid=$(_bb_run "$dir" scheduler -- "$bin/bb_scheduler" "$dir/scheduler.json") || return 1
	_bb_wait_port "$pid" "$client" bb_scheduler "$dir/scheduler.log" || return 1
	_bb_wait_port "$pid" "$admin" bb_scheduler "$dir/scheduler.log" || return 1

	# The frontend Bazel talks to: a bb_storage that forwards CAS and AC to
	# the storage and Execute to the scheduler.
	frontend=$(_svc_pick_port) && fmetrics=$(_svc_pick_port) || return 1
	cat >"$dir/frontend.json" <<EOC
{
  "grpcServers": [{"listenAddresses": ["127.0.0.1:$frontend"], "authenticationPolicy": {"allow": {}}}],
  "global": $(_bb_diagnostics "$fmetrics"),
  "schedulers": {"": {"endpoint": {"address": "127.0.0.1:$client"}}},
  "maximumMessageSizeBytes": 16777216,
  "contentAddressableStorage": {
    "backend": {"grpc": {"address": "127.0.0.1:$storage"}},
    "getAuthorizer": {"allow": {}}, "putAuthorizer": {"allow": {}}, "findMissingAuthorizer": {"allow": {}}
  },
  "actionCache": {
    "backend": {"completenessChecking": {"backend": {"grpc": {"address": "127.0.0.1:$storage"}}, "maximumTotalTreeSizeBytes": 67108864}},
    "getAuthorizer": {"allow": {}}, "putAuthorizer": {"allow": {}}
  },
  "executeAuthorizer": {"allow": {}}
}
EOC
	pid=$(_bb_run "$dir" frontend -- "$bin/bb_storage" "$dir/frontend.json") || return 1
	_bb_wait_port "$pid" "$frontend" "bb_storage (frontend)" "$dir/frontend.log" || return 1

	# The runner executes the actions in the worker's build directory. It
	# gets an empty environment: PATH without /usr/local (no host Go) and
	# HOME an empty directory, so an undeclared input fails loudly.
	rm -rf "$dir/worker" "$dir/home"
	mkdir -p "$dir/worker/build" "$dir/worker/cache" "$dir/home" || return 1
	chmod 555 "$dir/home"
	cat >"$dir/runner.json" <<EOC
{
  "buildDirectoryPath": "$dir/worker/build",
  "grpcServers": [{"listenPaths": ["$dir/worker/runner"], "authenticationPolicy": {"allow": {}}}]
}
EOC
	pid=$(_bb_run "$dir" runner PATH=/usr/bin:/bin HOME="$dir/home" -- "$bin/bb_runner" "$dir/runner.json") || return 1
	for ((i = 0; i < 1200; i++)); do
		[[ -S $dir/worker/runner ]] && break
		_svc_alive "$pid" || break
		sleep 0.05
	done
	if [[ ! -S $dir/worker/runner ]]; then
		_bb_err "bb_runner did not create $dir/worker/runner; $dir/runner.log ends with:"
		_svc_tail "$dir/runner.log"
		return 1
	fi

	local props="" p
	for p in "${BUILDBARN_EXEC_PROPERTIES[@]}"; do
		props+="${props:+, }{\"name\": \"${p%%=*}\", \"value\": \"${p#*=}\"}"
	done
	cat >"$dir/worker.json" <<EOC
{
  "blobstore": $blobstore,
  "browserUrl": "http://127.0.0.1:1",
  "maximumMessageSizeBytes": 16777216,
  "scheduler": {"address": "127.0.0.1:$workers"},
  "buildDirectories": [{
    "native": {
      "buildDirectoryPath": "$dir/worker/build",
      "cacheDirectoryPath": "$dir/worker/cache",
      "maximumCacheFileCount": 10000,
      "maximumCacheSizeBytes": 1073741824,
      "cacheReplacementPolicy": "LEAST_RECENTLY_USED"
    },
    "runners": [{
      "endpoint": {"address": "unix:$dir/worker/runner"},
      "concurrency": 2,
      "instanceNamePrefix": "$BUILDBARN_INSTANCE",
      "platform": {"properties": [$props]},
      "workerId": {"host": "127.0.0.1", "dir": "$dir"}
    }]
  }],
  "inputDownloadConcurrency": 10,
  "outputUploadConcurrency": 11,
  "directoryCache": {"maximumCount": 1000, "maximumSizeBytes": 1024000, "cacheReplacementPolicy": "LEAST_RECENTLY_USED"},
  "supportLegacyOutputFilesAndDirectories": true
}
EOC
	pid=$(_bb_run "$dir" worker PATH=/usr/bin:/bin -- "$bin/bb_worker" "$dir/worker.json") || return 1
	# Ready when the scheduler's admin page lists the worker's platform queue.
	for ((i = 0; i < 1200; i++)); do
		_svc_alive "$pid" || break
		if grep -q "$BUILDBARN_INSTANCE" <<<"$(curl -s --max-time 2 "http://127.0.0.1:$admin/")"; then
			_bb_publish "$dir" "$frontend" "$fmetrics"
			return 0
		fi
		sleep 0.05
	done
	_bb_err "bb_worker did not register with the scheduler within 60s; $dir/worker.log ends with:"
	_svc_tail "$dir/worker.log"
	return 1
}

buildbarn_bazel_flags() {
	local dir=${1:?usage: buildbarn_bazel_flags DIR} p
	[[ -s $dir/frontend.url ]] || {
		_bb_err "no cluster was started in $dir"
		return 1
	}
	echo "--remote_executor=$(cat "$dir/frontend.url")"
	echo "--remote_instance_name=$BUILDBARN_INSTANCE"
	echo "--spawn_strategy=remote"
	for p in "${BUILDBARN_EXEC_PROPERTIES[@]}"; do
		echo "--remote_default_exec_properties=$p"
	done
}

buildbarn_stop() {
	local dir=${1:?usage: buildbarn_stop DIR} name pid pids=() rc=0
	# Workers and runners first (and the actions they run), then the rest.
	for name in worker runner frontend scheduler storage; do
		[[ -f $dir/$name.pid ]] || continue
		pid=$(cat "$dir/$name.pid")
		if _svc_alive "$pid"; then
			if _svc_cmdline_has "$pid" "$dir/$name.json"; then
				# shellcheck disable=SC2207 # pids are words
				pids+=("$pid" $(_svc_children "$pid"))
			else
				_bb_err "pid $pid is not the Buildbarn $name of $dir; leaving it alone"
			fi
		fi
	done
	if ((${#pids[@]})); then
		# Buildbarn's servers drain their gRPC streams on SIGTERM (the
		# worker's long-polling keeps the scheduler waiting), longer than a
		# test should wait; their state is thrown away anyway.
		_svc_kill_wait --grace 2 "${pids[@]}" || rc=1
	fi
	for name in worker runner frontend scheduler storage; do
		rm -f "$dir/$name.pid"
	done
	return $rc
}
