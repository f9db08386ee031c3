# shellcheck shell=bash
# End-to-end test of compatibility version 2 (issue 11 part 1, issue 16
# item 5) in the e2e/compat2 workspace, on real Bazel: a digest that does
# not depend on the Bazel label, {KEY} stamps in labels and env, and fixed
# file times that keep a layer when only the stamped epoch changes. The
# images are run with runc. Sourced by e2e/run.sh (uses test_binaries.sh's
# run_layout).

C2_V1=(--@rules_repro//rules/settings:compatibility_version=1)
C2_V2=(--@rules_repro//rules/settings:compatibility_version=2)

# c2_build ARGS...: bazel build in the compat2 workspace of clone A, with
# the images' layouts (an output group) to run them.
c2_build() {
	ebazel "$A/e2e/compat2" build --output_groups=+layout "$@" 2>&1 | tee "$E2E_TMP/last-build.log" >&2
	return "${PIPESTATUS[0]}"
}

# c2_out PACKAGE/NAME SUFFIX: an output of the compat2 workspace.
c2_out() { echo "$A/e2e/compat2/bazel-bin/$1$2"; }

test_compat2() {
	ensure_clone "$A"
	local ws="$A/e2e/compat2" commit
	commit=$(cd "$A" && git rev-parse HEAD)

	# 1. The same image under another name in another package.
	mkdir -p "$ws/moved/elsewhere"
	sed -e 's/hello_layer/greeter_files/g' -e 's/name = "hello"/name = "greeter"/' \
		"$ws/app/BUILD.bazel" >"$ws/moved/elsewhere/BUILD.bazel"
	local v a b
	for v in 1 2; do
		c2_build --@rules_repro//rules/settings:compatibility_version=$v //app:hello //moved/elsewhere:greeter ||
			fail "building //app:hello and //moved/elsewhere:greeter under version $v"
		a=$(digest_of "$(c2_out app/hello .digest)")
		b=$(digest_of "$(c2_out moved/elsewhere/greeter .digest)")
		log "version $v: //app:hello $a, //moved/elsewhere:greeter $b"
		log "version $v: created_by: $(jq -c '[.history[].created_by]' "$(c2_out app/hello .config.json)") / $(jq -c '[.history[].created_by]' "$(c2_out moved/elsewhere/greeter .config.json)")"
		if [[ $v == 1 ]]; then
			# Version 1 records the label in history.created_by: the bug
			# version 2 fixes, kept because version 1 never changes.
			[[ $a != "$b" ]] || fail "version 1 gave the same digest for the renamed, moved target; the label is expected in its history"
			jq -e '.history[0].created_by == "//app:hello_layer"' "$(c2_out app/hello .config.json)" >/dev/null ||
				fail "version 1's history does not hold the layer's label"
		else
			[[ $a == "$b" ]] || fail "version 2: renaming and moving the target changed the digest ($a vs $b): $(diff <(jq . "$(c2_out app/hello .config.json)") <(jq . "$(c2_out moved/elsewhere/greeter .config.json)"))"
			# No label or package (the image's own paths, /app/hello.sh, are content).
			! grep -Eq '//|hello_layer|greeter|moved' "$(c2_out app/hello .config.json)" "$(c2_out app/hello .manifest.json)" ||
				fail "version 2's config or manifest mentions the target: $(cat "$(c2_out app/hello .config.json)")"
		fi
	done
	local out
	out=$(run_layout "$(c2_out app/hello "")") || fail "running //app:hello (v2, unstamped): [$out]"
	[[ $out == "hello, revision={STABLE_GIT_COMMIT}" ]] || fail "unstamped v2 image printed [$out], want the variable kept as written"
	log "runc ran //app:hello (v2, unstamped): $out"

	# 2. {KEY} stamps in labels and env: only under version 2 and --stamp.
	SOURCE_DATE_EPOCH=1700000000 c2_build --stamp "${C2_V2[@]}" //app:hello || fail "stamped v2 build"
	local cfg
	cfg=$(c2_out app/hello .config.json)
	[[ $(jq -r '.config.Labels["org.opencontainers.image.revision"]' "$cfg") == "$commit" ]] ||
		fail "stamped v2: revision label is $(jq -c .config.Labels "$cfg"), want $commit"
	out=$(run_layout "$(c2_out app/hello "")") || fail "running //app:hello (v2, stamped): [$out]"
	[[ $out == "hello, revision=$commit" ]] || fail "stamped v2 image printed [$out], want [hello, revision=$commit]"
	log "stamped v2: label org.opencontainers.image.revision=$(jq -r '.config.Labels["org.opencontainers.image.revision"]' "$cfg"); runc printed: $out"
	SOURCE_DATE_EPOCH=1700000000 c2_build --stamp "${C2_V1[@]}" //app:hello || fail "stamped v1 build"
	[[ $(jq -r '.config.Labels["org.opencontainers.image.revision"]' "$cfg") == "{STABLE_GIT_COMMIT}" ]] ||
		fail "stamped v1 expanded the label: $(jq -c .config.Labels "$cfg") (version 1's outputs never change)"
	log "stamped v1: the label stays {STABLE_GIT_COMMIT}"
	if SOURCE_DATE_EPOCH=1700000000 c2_build --stamp "${C2_V2[@]}" //bad:image; then
		fail "a label with an unknown stamp key built"
	fi
	grep -q 'label org.example.build: value "{NO_SUCH_KEY}": the workspace status has no key NO_SUCH_KEY' "$E2E_TMP/last-build.log" ||
		fail "the unknown-key message does not name the label and the key"
	log "an unknown stamp key fails, naming the label: $(grep -o 'label org.example.build[^;]*' "$E2E_TMP/last-build.log" | head -1)"

	# 3. Fixed file times: two stamped builds with different epochs (two
	# commits with the same content).
	local mt e l1 l2 i1 i2 man
	man=$(c2_out app/hello .manifest.json)
	for mt in epoch 0; do
		for e in 1700000000 1700086400; do
			SOURCE_DATE_EPOCH=$e c2_build --stamp "${C2_V2[@]}" --@rules_repro//rules/settings:file_mtime=$mt //app:hello ||
				fail "stamped build, epoch $e, file_mtime=$mt"
			if [[ $e == 1700000000 ]]; then
				l1=$(jq -r '.layers[0].digest' "$man") i1=$(digest_of "$(c2_out app/hello .digest)")
			else
				l2=$(jq -r '.layers[0].digest' "$man") i2=$(digest_of "$(c2_out app/hello .digest)")
			fi
		done
		log "file_mtime=$mt: layer $l1 -> $l2, image $i1 -> $i2"
		[[ $i1 != "$i2" ]] || fail "file_mtime=$mt: the image digest did not change with the epoch (created must)"
		[[ $(jq -r .created "$(c2_out app/hello .config.json)") == 2023-11-15T22:13:20Z ]] || fail "file_mtime=$mt: created is not the epoch"
		if [[ $mt == epoch ]]; then
			[[ $l1 != "$l2" ]] || fail "file_mtime=epoch: the layer did not change with the epoch"
			jq -e '.layers[0].annotations == null' "$man" >/dev/null || fail "file_mtime=epoch: the layer has annotations"
		else
			[[ $l1 == "$l2" ]] || fail "file_mtime=0: the layer changed with the epoch"
			jq -e '.layers[0].annotations["dev.rules-repro.file-mtime"] == "0"' "$man" >/dev/null ||
				fail "file_mtime=0: no dev.rules-repro.file-mtime annotation: $(jq -c '.layers[0]' "$man")"
			grep -q ' 1970-01-01 00:00 app/hello.sh$' <<<"$(tar -tvzf "$A/e2e/compat2/bazel-bin/app/hello_layer.tar.gz")" ||
				fail "file_mtime=0: app/hello.sh is not at 1970-01-01: $(tar -tvzf "$A/e2e/compat2/bazel-bin/app/hello_layer.tar.gz")"
		fi
	done
	out=$(run_layout "$(c2_out app/hello "")") || fail "running //app:hello (file_mtime=0): [$out]"
	[[ $out == "hello, revision=$commit" ]] || fail "file_mtime=0 image printed [$out]"
	log "runc ran //app:hello with file_mtime=0: $out"
	if c2_build "${C2_V1[@]}" --@rules_repro//rules/settings:file_mtime=0 //app:hello; then
		fail "file_mtime=0 under version 1 built"
	fi
	grep -q 'needs compatibility_version 2 or later' "$E2E_TMP/last-build.log" || fail "file_mtime under version 1: no clear message"
	log "file_mtime=0 under version 1 fails at analysis, saying it needs version 2"
	rm -rf "$ws/moved"
}
