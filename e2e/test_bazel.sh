# shellcheck shell=bash
# End-to-end tests of the Bazel rules (issue "Bazel rules, toolchain and
# end-to-end tests"). Sourced by e2e/run.sh; each test_* runs in a subshell.

A="$E2E_TMP/a/rules_repro"
B="$E2E_TMP/b/an/other/deeper/checkout/rules_repro"
TARGETS=(//app:image //app:multiarch)
EPOCH_TEXT=2023-11-14T22:13:20Z

# ensure_clone DIR: a clone of this working tree at DIR, made once.
ensure_clone() {
	[[ -d $1/examples ]] || make_clone "$1"
}

# build WS ARGS...: bazel build in the example workspace of clone WS.
build() {
	local ws=$1
	shift
	ebazel "$ws/examples" build "$@" 2>&1 | tee "$E2E_TMP/last-build.log" >&2
	return "${PIPESTATUS[0]}"
}

helper_sha() {
	(cd "$1/examples" && sha256sum "$(bazel info output_base 2>/dev/null)/external/repro_toolchains_linux_amd64/repro" | cut -d' ' -f1)
}

# 1. Same digest everywhere: two clones at different paths, different umask,
# TZ, LANG and environment; and again after bazel clean.
test_reproducible() {
	(umask 022 && ensure_clone "$A")
	(umask 077 && ensure_clone "$B")
	(umask 022 && export TZ=UTC LANG=C LC_ALL=C && build "$A" "${TARGETS[@]}") || fail "build in $A"
	(umask 077 && export TZ=Pacific/Chatham LANG=de_DE.UTF-8 LC_ALL=de_DE.UTF-8 REPRO_E2E_NOISE=$RANDOM &&
		PATH="/usr/local/sbin:$PATH" build "$B" "${TARGETS[@]}") || fail "build in $B"
	local a b f
	for f in image.digest multiarch.digest app_layer.tar.gz image.config.json image.manifest.json multiarch.index.json; do
		a=$(sha256sum <"$(image_file "$A/examples" "$f")")
		b=$(sha256sum <"$(image_file "$B/examples" "$f")")
		[[ $a == "$b" ]] || fail "$f differs between $A and $B"
	done
	# Long argument lists went through params files (use_param_file(use_always = True)).
	[[ -f $(image_file "$A/examples" app_layer.tar.gz-0.params) && -f $(image_file "$A/examples" image.config.json-0.params) ]] ||
		fail "the layer and image actions did not use params files"
	log "image $(digest_of "$(image_file "$A/examples" image.digest)") and index $(digest_of "$(image_file "$A/examples" multiarch.digest)") equal in both clones"
	a=$(helper_sha "$A")
	b=$(helper_sha "$B")
	[[ -n $a && $a == "$b" ]] || fail "the repro helper binaries differ between clones ($a vs $b): remote cache keys would differ"
	log "helper binary sha256:$a in both clones"
	# The helper cross-built for arm64 executors (fetched only when selected):
	# an aarch64 binary, identical in both clones.
	local arm=()
	for ws in "$A" "$B"; do
		ebazel "$ws/examples" build @repro_toolchains_linux_arm64//:repro >/dev/null 2>&1 || fail "building the linux/arm64 helper in $ws"
		arm+=("$(cd "$ws/examples" && sha256sum "$(bazel info output_base 2>/dev/null)/external/repro_toolchains_linux_arm64/repro" | cut -d' ' -f1)")
	done
	[[ ${arm[0]} == "${arm[1]}" ]] || fail "the linux/arm64 helpers differ between clones"
	[[ $(cd "$A/examples" && od -An -tx1 -j18 -N2 "$(bazel info output_base 2>/dev/null)/external/repro_toolchains_linux_arm64/repro" | tr -d ' ') == b700 ]] ||
		fail "the linux/arm64 helper is not an AArch64 binary"
	log "linux/arm64 helper (for arm64 executors): AArch64, sha256:${arm[0]} in both clones"
	a=$(digest_of "$(image_file "$A/examples" image.digest)")
	ebazel "$A/examples" clean >/dev/null 2>&1
	build "$A" "${TARGETS[@]}" || fail "rebuild after clean"
	b=$(digest_of "$(image_file "$A/examples" image.digest)")
	[[ $a == "$b" ]] || fail "digest changed after bazel clean: $a then $b"
	log "same digest after bazel clean"
}

# 2. Stamping: --stamp with SOURCE_DATE_EPOCH=1700000000 puts 2023-11-14T22:13:20Z
# everywhere and clamps file times; unstamped builds say 1970.
check_times() {
	local ws=$1 want=$2 tarwant=$3
	local cfg man idx
	cfg=$(image_file "$ws/examples" image.config.json)
	man=$(image_file "$ws/examples" image.manifest.json)
	idx=$(image_file "$ws/examples" multiarch.index.json)
	[[ $(json "$cfg" .created) == "$want" ]] || fail "config created is $(json "$cfg" .created), want $want"
	[[ $(json "$cfg" '[.history[].created] | unique | join(",")') == "$want" ]] || fail "history: $(json "$cfg" '.history')"
	[[ $(json "$man" '.annotations["org.opencontainers.image.created"]') == "$want" ]] || fail "manifest annotation: $(json "$man" .annotations)"
	[[ $(json "$idx" '.annotations["org.opencontainers.image.created"]') == "$want" ]] || fail "index annotation: $(json "$idx" .annotations)"
	local times
	times=$(tar -tvf "$(image_file "$ws/examples" app_layer.tar.gz)" --full-time --utc | awk '{print $4 " " $5}' | sort -u)
	[[ $times == "$tarwant" ]] || fail "layer file times are [$times], want [$tarwant]"
}

test_stamping() {
	ensure_clone "$A"
	SOURCE_DATE_EPOCH=1700000000 build "$A" --stamp "${TARGETS[@]}" || fail "stamped build"
	check_times "$A" "$EPOCH_TEXT" "2023-11-14 22:13:20"
	log "stamped: config, history, manifest and index say $EPOCH_TEXT; file times clamped"
	build "$A" "${TARGETS[@]}" || fail "unstamped build"
	check_times "$A" 1970-01-01T00:00:00Z "1970-01-01 00:00:00"
	log "unstamped: 1970-01-01T00:00:00Z"
	if build "$A" --stamp --workspace_status_command=/bin/true //app:image; then
		fail "--stamp without the key succeeded"
	fi
	grep -q "workspace status has no key STABLE_SOURCE_DATE_EPOCH" "$E2E_TMP/last-build.log" || fail "missing-key message not shown"
	grep -q "workspace_status_command" "$E2E_TMP/last-build.log" || fail "missing-key message does not say how to fix it"
	if SOURCE_DATE_EPOCH=1.5 build "$A" --stamp //app:image; then
		fail "--stamp with SOURCE_DATE_EPOCH=1.5 succeeded"
	fi
	grep -q 'SOURCE_DATE_EPOCH "1.5" is not a decimal integer' "$E2E_TMP/last-build.log" || fail "malformed-value message not shown"
	log "--stamp without the key, or with 1.5, fails with a message saying how to fix it"
}

# 3. Remote cache: populate from clone A, bazel clean, rebuild from clone B
# at another path: every action comes from the cache; same digest.
test_remote_cache() {
	ensure_clone "$A"
	ensure_clone "$B"
	local cache
	cache=$(start_nginx_cache "$E2E_TMP/cache") || fail "nginx cache did not start"
	# Only the remote cache (no Go disk cache, no no-cache tags), pre-filled
	# with rules_go's actions so that clone A compiles no standard library;
	# every image action must still run in A and come from nginx in B.
	seed_go_cache "$E2E_TMP/cache/cache"
	local rc=(--remote_cache="http://$cache" "${NO_GO_CACHE[@]}")
	ebazel "$A/examples" clean >/dev/null 2>&1
	build "$A" "${rc[@]}" "${TARGETS[@]}" || fail "build in $A with the remote cache"
	ebazel "$B/examples" clean >/dev/null 2>&1
	build "$B" "${rc[@]}" "${TARGETS[@]}" || fail "build in $B with the remote cache"
	local line
	line=$(grep -E 'INFO: [0-9]+ process' "$E2E_TMP/last-build.log" | tail -1)
	log "second checkout: $line"
	[[ $line == *"remote cache hit"* ]] || fail "no remote cache hits: $line"
	if [[ $line =~ ([0-9]+)\ (linux-sandbox|local|processwrapper-sandbox) ]]; then
		fail "actions ran locally instead of coming from the cache: $line"
	fi
	[[ $(digest_of "$(image_file "$A/examples" image.digest)") == "$(digest_of "$(image_file "$B/examples" image.digest)")" ]] ||
		fail "digest differs between the clone that filled the cache and the one that read it"
	downloads_each_byte_once "$E2E_TMP/cache" "$B" "${rc[@]}"
	ebazel "$B/examples" clean >/dev/null 2>&1
	build "$B" "${rc[@]}" --remote_download_minimal "${TARGETS[@]}" || fail "build with --remote_download_minimal"
	[[ ! -e $(image_file "$B/examples" app_layer.tar.gz) ]] || fail "--remote_download_minimal downloaded the layer blob"
	log "--remote_download_minimal build passes without downloading layer blobs"
	stamped_two_machines --remote_cache="http://$cache"
	stop_nginx_cache "$E2E_TMP/cache"
	grpc_remote_cache
}

# cas_downloads LOG FROM EXECLOG: "TOTAL UNIQUE", the bytes the nginx cache
# sent after line FROM of its access log (combined format) for the outputs
# of the image actions (Repro* spawns of Bazel's JSON execution log
# EXECLOG), all of them and counting each entry once. Other rule sets'
# outputs are left out: rules_go's standard library, for one, has the same
# files in each configuration, downloaded once per configuration.
cas_downloads() {
	jq -rs '.[] | select(.mnemonic | startswith("Repro")) | .actualOutputs[]?.digest.hash' "$3" | sort -u >"$3.hashes"
	tail -n +"$(($2 + 1))" "$1" |
		awk 'NR == FNR { want["/cas/" $1]; next }
			$6 == "\"GET" && ($7 in want) && $9 == 200 { t += $10; if (!($7 in seen)) { seen[$7]; u += $10 } }
			END { print t + 0, u + 0 }' "$3.hashes" -
}

# downloads_each_byte_once CACHEDIR WS FLAG...: after bazel clean, a build
# of //app:image from the remote cache with --remote_download_outputs=all
# (Bazel's default) downloads the image actions' outputs once each: the
# default outputs (digest and descriptor) copy nothing. The same build with
# default_output=layout, whose layout copies the layer blobs, must show the
# copies, or the measure proves nothing. (Not //app:multiarch: its amd64
# image is //app:image again in another configuration, the same bytes from
# other actions, which Bazel downloads as their own outputs.)
downloads_each_byte_once() {
	local dir=$1 ws=$2 log="$1/logs/access.log" from total unique
	shift 2
	local mode flags exec="$E2E_TMP/exec-download.json"
	for mode in digest layout; do
		flags=("$@" --remote_download_outputs=all "--@rules_repro//rules/settings:default_output=$mode" --execution_log_json_file="$exec")
		# Once to put this mode's outputs in the cache (the layout is not
		# there unless a build asked for it), then measured after a clean.
		build "$ws" "${flags[@]}" //app:image || fail "build in $ws filling the remote cache, default_output=$mode"
		ebazel "$ws/examples" clean >/dev/null 2>&1
		from=$(wc -l <"$log")
		build "$ws" "${flags[@]}" //app:image || fail "build in $ws from the remote cache, default_output=$mode"
		read -r total unique <<<"$(cas_downloads "$log" "$from" "$exec")"
		((unique > 0)) || fail "default_output=$mode: no output of an image action was downloaded from the cache"
		case $mode in
		digest)
			((total * 100 <= unique * 105)) ||
				fail "after bazel clean, the build from the cache downloaded $total bytes of image outputs for $unique bytes of distinct entries (> 1.05×)"
			[[ ! -e $(image_file "$ws/examples" image) ]] || fail "the default build wrote the layout directory"
			;;
		layout)
			((total * 100 > unique * 105)) ||
				fail "default_output=layout downloaded $total bytes of image outputs for $unique distinct: the layouts' copies do not show, so the measure above proves nothing"
			[[ -f $(image_file "$ws/examples" image)/index.json ]] || fail "default_output=layout gave no layout directory"
			;;
		esac
		log "from the cache after bazel clean, default_output=$mode: downloaded $total bytes of image action outputs for $unique bytes of distinct cache entries"
	done
}

# The same with a gRPC (REv2) remote cache: bb_storage alone
# (e2e/lib/buildbarn.sh). Fill it from clone A; after bazel clean, clone B
# gets every action from it, image actions included.
grpc_remote_cache() {
	local url
	url=$(buildbarn_start_cache "$E2E_TMP/grpc-cache") || fail "bb_storage (gRPC cache) did not start"
	ebazel "$A/examples" clean >/dev/null 2>&1
	# Only the gRPC cache (no Go disk cache, no no-cache tags): clone A
	# fills it with every action, rules_go's included.
	build "$A" --remote_cache="$url" "${NO_GO_CACHE[@]}" "${TARGETS[@]}" || fail "build in $A with the gRPC cache"
	ebazel "$B/examples" clean >/dev/null 2>&1
	build "$B" --remote_cache="$url" "${NO_GO_CACHE[@]}" --execution_log_json_file="$E2E_TMP/exec-grpc.json" "${TARGETS[@]}" ||
		fail "build in $B with the gRPC cache"
	local line ran images
	line=$(grep -E 'INFO: [0-9]+ process' "$E2E_TMP/last-build.log" | tail -1 | sed 's/.*INFO: //')
	ran=$(jq -rs '[.[] | select(.remoteCacheHit != true) | .mnemonic + " (" + .runner + ")"] | join(", ")' "$E2E_TMP/exec-grpc.json")
	[[ -z $ran ]] || fail "actions ran instead of coming from the gRPC cache: $ran ($line)"
	images=$(jq -rs '[.[] | select(.mnemonic | startswith("Repro"))] | length' "$E2E_TMP/exec-grpc.json")
	((images > 0)) || fail "no image actions in the execution log of the gRPC cache build"
	[[ $(digest_of "$(image_file "$A/examples" image.digest)") == "$(digest_of "$(image_file "$B/examples" image.digest)")" ]] ||
		fail "digest differs between the clone that filled the gRPC cache and the one that read it"
	buildbarn_stop "$E2E_TMP/grpc-cache" || fail "stopping bb_storage"
	log "gRPC cache (bb_storage at $url), second checkout after bazel clean: $line; all $images image actions were hits"
}

# Stamped builds share the cache: the same commit built stamped by two
# "machines" (user alice in clone A; user bob on another host name in
# clone B, at another path) gives the same digests, and the second gets
# every layer, image, index and layout action from the cache. Only the
# small actions that read stable-status.txt (which holds BUILD_HOST and
# BUILD_USER) run again.
# usage: stamped_two_machines FLAG... (the flags naming the remote cache or
# executor)
stamped_two_machines() {
	local ws
	for ws in "$A" "$B"; do
		ebazel "$ws/examples" clean >/dev/null 2>&1
	done
	(SOURCE_DATE_EPOCH=1700000000 ebazel "$A/examples" --host_jvm_args=-Duser.name=alice build --stamp "$@" "${NO_GO_CACHE[@]}" \
		--execution_log_json_file="$E2E_TMP/exec-a.json" "${TARGETS[@]}") >"$E2E_TMP/last-build.log" 2>&1 ||
		{ cat "$E2E_TMP/last-build.log" >&2; fail "stamped build as alice"; }
	# A UTS namespace gives the second Bazel server another host name.
	cp "$(offline_rc)" "$B/examples/offline.bazelrc"
	(cd "$B/examples" && SOURCE_DATE_EPOCH=1700000000 unshare --uts sh -c 'hostname e2e-second-machine && exec "$@"' _ \
		bazel --host_jvm_args=-Xmx1g --host_jvm_args=-Duser.name=bob build --stamp "$@" "${NO_GO_CACHE[@]}" \
		--execution_log_json_file="$E2E_TMP/exec-b.json" "${TARGETS[@]}") >"$E2E_TMP/last-build.log" 2>&1 ||
		{ cat "$E2E_TMP/last-build.log" >&2; fail "stamped build as bob on another host"; }
	local sa sb
	sa=$(grep -E '^BUILD_(HOST|USER) ' "$A/examples/bazel-out/stable-status.txt" | tr '\n' ' ')
	sb=$(grep -E '^BUILD_(HOST|USER) ' "$B/examples/bazel-out/stable-status.txt" | tr '\n' ' ')
	[[ $sa != "$sb" ]] || fail "the two builds had the same BUILD_HOST/BUILD_USER ($sa): the test proves nothing"
	for f in image.digest multiarch.digest; do
		[[ $(digest_of "$(image_file "$A/examples" $f)") == "$(digest_of "$(image_file "$B/examples" $f)")" ]] ||
			fail "stamped $f differs between the two machines"
	done
	# Every spawn of the second build: mnemonic and whether it was a hit.
	local misses hits total
	misses=$(jq -rs '[.[] | select(.mnemonic != "ReproStampValues" and .remoteCacheHit != true) | .mnemonic] | join(" ")' "$E2E_TMP/exec-b.json")
	hits=$(jq -rs '[.[] | select(.remoteCacheHit == true)] | length' "$E2E_TMP/exec-b.json")
	total=$(jq -rs 'length' "$E2E_TMP/exec-b.json")
	[[ -z $misses ]] || fail "stamped actions of the second machine ran again instead of coming from the cache: $misses"
	jq -rs '[.[] | select(.mnemonic | test("^Repro(Layer|Image|Index)$"))] | length' "$E2E_TMP/exec-b.json" | grep -qv '^0$' ||
		fail "no layer/image/index actions in the execution log"
	log "stamped, two machines ($sa/ $sb): same digests; second build: $hits of $total spawns from the cache, the rest ReproStampValues ($(grep -E 'INFO: [0-9]+ process' "$E2E_TMP/last-build.log" | tail -1 | sed 's/.*INFO: //'))"
}

# 4. Real judges: skopeo inspects, umoci unpacks, runc runs the example.
test_judges() {
	ensure_clone "$A"
	build "$A" "${TARGETS[@]}" --output_groups=+layout,+oci_archive,+docker_archive || fail "build"
	local layout digest
	layout=$(image_file "$A/examples" image)
	digest=$(digest_of "$(image_file "$A/examples" image.digest)")
	[[ $(skopeo inspect "oci:$layout:latest" | jq -r .Digest) == "$digest" ]] || fail "skopeo inspect disagrees with our digest"
	[[ $(skopeo inspect "oci-archive:$(image_file "$A/examples" image.tar)" | jq -r .Digest) == "$digest" ]] || fail "skopeo on the OCI archive"
	skopeo inspect "docker-archive:$(image_file "$A/examples" image.docker.tar)" >/dev/null || fail "skopeo on the docker archive"
	local run=$E2E_TMP/run
	rm -rf "$run"
	mkdir -p "$run"
	umoci unpack --image "$layout:latest" "$run/bundle" >/dev/null || fail "umoci unpack"
	local out
	out=$("$E2E_ROOT/e2e/lib/runc_run.sh" "$run/bundle") || fail "runc run: $out"
	[[ $out == "Hello from a reproducible image (linux/amd64)!" ]] || fail "the example printed [$out]"
	log "skopeo and umoci accept the image; runc ran it: $out"
	# The layout is an output group; default_output names what bazel build
	# gives, and a value it does not know fails at analysis, naming the flag.
	if build "$A" --@rules_repro//rules/settings:default_output=tarball //app:image; then
		fail "default_output=tarball was accepted"
	fi
	grep -q 'the @rules_repro//rules/settings:default_output flag is "tarball": want "digest"' "$E2E_TMP/last-build.log" ||
		fail "default_output=tarball did not fail with the flag's message"
	log "default_output=tarball fails at analysis, naming the flag"
}

# 5. Multi-platform: the index has linux/amd64 and linux/arm64 images, with
# the right platform in index and configs, and arm64 code in the arm64 one.
test_multiplatform() {
	ensure_clone "$A"
	build "$A" //app:multiarch --output_groups=+layout || fail "build"
	local layout idx
	layout=$(image_file "$A/examples" multiarch)
	idx=$(image_file "$A/examples" multiarch.index.json)
	[[ $(json "$idx" '[.manifests[].platform | .os + "/" + .architecture] | join(",")') == "linux/amd64,linux/arm64" ]] ||
		fail "index platforms: $(json "$idx" '.manifests')"
	local arch man cfg layer machine
	for arch in amd64 arm64; do
		man=$(json "$idx" ".manifests[] | select(.platform.architecture == \"$arch\") | .digest")
		cfg=$(jq -r .config.digest "$layout/blobs/sha256/${man#sha256:}")
		[[ $(jq -r .architecture "$layout/blobs/sha256/${cfg#sha256:}") == "$arch" ]] || fail "$arch image config has the wrong architecture"
		layer=$(jq -r '.layers[-1].digest' "$layout/blobs/sha256/${man#sha256:}")
		machine=$(tar -xzOf "$layout/blobs/sha256/${layer#sha256:}" app/hello | head -c 20 | od -An -tx1 -j18 -N2 | tr -d ' ')
		case $arch/$machine in
		amd64/3e00 | arm64/b700) ;;
		*) fail "$arch image holds a binary for ELF machine $machine" ;;
		esac
		[[ $(skopeo inspect --override-arch "$arch" "oci:$layout:latest" | jq -r .Architecture) == "$arch" ]] || fail "skopeo picks the wrong image for $arch"
	done
	log "index: linux/amd64 (x86-64 ELF) and linux/arm64 (AArch64 ELF), platforms right in index and configs"
}

# 6. Golden: the example's digests (e2e/golden.txt) are checked by the
# repro_digest_test targets of examples/golden, which explain a mismatch and
# build the layers again in another directory, umask, TZ and locale. A wrong
# row fails with the explanation and the command that updates the row, and
# that command puts the right digest back.
gtest() {
	local ws=$1
	shift
	ebazel "$ws/examples" test --test_output=errors "$@" 2>&1 | tee "$E2E_TMP/last-build.log" >&2
	return "${PIPESTATUS[0]}"
}

test_golden() {
	ensure_clone "$A"
	local golden="$A/e2e/golden.txt" logs="$A/examples/bazel-testlogs/golden" name build want
	gtest "$A" //golden:image_test //golden:multiarch_test || fail "golden digests (unstamped): the test output above says why"
	SOURCE_DATE_EPOCH=1700000000 gtest "$A" --stamp //golden:image_stamped_test //golden:multiarch_stamped_test ||
		fail "golden digests (stamped): the test output above says why"
	for name in image multiarch; do
		for build in unstamped stamped-1700000000; do
			want=$(awk -v n="//app:$name" -v b="$build" '$1 == n && $2 == b {print $3}' "$E2E_ROOT/e2e/golden.txt")
			local test=${name}_test
			[[ $build == unstamped ]] || test=${name}_stamped_test
			[[ -n $want ]] || fail "no golden digest for //app:$name $build in e2e/golden.txt"
			grep -q "PASS: //app:$name is $want, as the golden file says" "$logs/$test/test.log" ||
				fail "//golden:$test did not check $want: $(cat "$logs/$test/test.log")"
			grep -q "PASS: //app:app_layer rebuilt in .*umask .*TZ=.*: the same layer sha256:" "$logs/$test/test.log" ||
				fail "//golden:$test did not rebuild the layer: $(cat "$logs/$test/test.log")"
		done
	done
	log "digests match e2e/golden.txt (checked by repro_digest_test); layers rebuilt elsewhere are identical"

	# A wrong row: the test fails, says why as far as it can, and prints the
	# command that updates the row; that command restores it.
	cp "$golden" "$E2E_TMP/golden.orig"
	want=$(awk '$1 == "//app:image" && $2 == "unstamped" {print $3}' "$golden")
	sed -i "s|$want|sha256:$(printf '0%.0s' {1..64})|" "$golden"
	if gtest "$A" //golden:image_test; then
		cp "$E2E_TMP/golden.orig" "$golden"
		fail "//golden:image_test passed with a wrong golden digest"
	fi
	local out="$logs/image_test/test.log"
	grep -q "FAIL: //app:image is $want, but the golden digest is sha256:0000" "$out" || fail "no mismatch message: $(cat "$out")"
	grep -q "The golden image is not reachable here" "$out" || fail "no explanation: $(cat "$out")"
	grep -qF "bazel run //golden:image_test -- --update" "$out" || fail "no update command: $(cat "$out")"
	ebazel "$A/examples" run //golden:image_test -- --update >&2 || fail "the update command failed"
	cmp -s "$golden" "$E2E_TMP/golden.orig" || fail "the update command did not restore the row: $(diff "$E2E_TMP/golden.orig" "$golden")"
	log "a wrong golden row fails with an explanation; 'bazel run //golden:image_test -- --update' restores it"
}

# Analysis tests: rule misuse fails with clear messages; action shapes.
test_analysis() {
	ensure_clone "$A"
	ebazel "$A/e2e/analysis" test //... 2>&1 | tee "$E2E_TMP/last-build.log" >&2
	[[ ${PIPESTATUS[0]} == 0 ]] || fail "analysis tests failed"
}
