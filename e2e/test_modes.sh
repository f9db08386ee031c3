# shellcheck shell=bash
# End-to-end test of compatibility version 2's file modes from content, on
# real Bazel in the e2e/compat2 workspace: two packages declare the same
# image from the same files, one with the x bits a checkout has (script
# 0755, data 0644) and one with the bits remote execution or another
# checkout gives (script 0644, data 0755; bazel#12818 marks every input
# executable). Version 2 gives the same layer and image digests, and the
# image runs with runc (the script is executable in the layer although it is
# not on disk); version 1 takes the bits from disk and gives another layer.
# Sourced by e2e/run.sh (uses test_compat2.sh's c2_build and c2_out).

modes_package() { # DIR SCRIPT_MODE DATA_MODE
	mkdir -p "$1"
	printf '#!/bin/sh\nread -r line </app/data.txt\necho "data: $line"\n' >"$1/run.sh"
	printf 'from content\n' >"$1/data.txt"
	chmod "$2" "$1/run.sh"
	chmod "$3" "$1/data.txt"
	cat >"$1/BUILD.bazel" <<'BUILD'
load("@rules_repro//rules:defs.bzl", "repro_image", "repro_layer")

repro_layer(
    name = "layer",
    files = {
        "@bash_static//:file": "/bin/sh",
        ":run.sh": "/app/run.sh",
        ":data.txt": "/app/data.txt",
    },
)

repro_image(
    name = "image",
    entrypoint = ["/app/run.sh"],
    layers = [":layer"],
    platform = "linux/amd64",
    user = "65534",
)
BUILD
}

test_modes() {
	ensure_clone "$A"
	local ws="$A/e2e/compat2" v la lb ia ib out listing
	rm -rf "$ws/modes"
	modes_package "$ws/modes/checkout" 0755 0644
	modes_package "$ws/modes/remote" 0644 0755
	for v in 1 2; do
		c2_build --@rules_repro//rules/settings:compatibility_version=$v //modes/checkout:image //modes/remote:image ||
			fail "building the modes images under version $v"
		la=$(jq -r '.layers[-1].digest' "$(c2_out modes/checkout/image .manifest.json)")
		lb=$(jq -r '.layers[-1].digest' "$(c2_out modes/remote/image .manifest.json)")
		ia=$(digest_of "$(c2_out modes/checkout/image .digest)")
		ib=$(digest_of "$(c2_out modes/remote/image .digest)")
		# The listing is read whole first: `tar | grep -q` fails under
		# pipefail when grep exits before tar has written everything.
		listing=$(tar -tvzf "$(c2_out modes/remote/layer .tar.gz)") || fail "listing the version $v layer"
		log "version $v: layer $la (checkout bits) / $lb (swapped bits); image $ia / $ib"
		log "version $v, swapped bits: $(awk '/app\/(run.sh|data.txt)$|bin\/sh$/ {printf "%s %s; ", $1, $NF}' <<<"$listing")"
		if [[ $v == 1 ]]; then
			# Version 1 (frozen) takes the x bits from disk: the bug
			# version 2 fixes.
			[[ $la != "$lb" ]] || fail "version 1 gave the same layer for other x bits; it is expected to take them from disk"
			grep -Eq '^-rwxr-xr-x .* app/data.txt$' <<<"$listing" ||
				fail "version 1: app/data.txt (0755 on disk) is not 0755: $listing"
			if out=$(run_layout "$(c2_out modes/remote/image "")" 2>&1); then
				fail "version 1: the image whose script is 0644 on disk ran: [$out]"
			fi
			log "version 1: the image built from a 0644 script does not run: $(tail -1 <<<"$out")"
		else
			[[ $la == "$lb" ]] || fail "version 2: the x bits on disk changed the layer: $la vs $lb: $(diff <(tar -tvzf "$(c2_out modes/checkout/layer .tar.gz)") <(tar -tvzf "$(c2_out modes/remote/layer .tar.gz)"))"
			[[ $ia == "$ib" ]] || fail "version 2: the x bits on disk changed the image: $ia vs $ib"
			grep -Eq '^-rw-r--r-- .* app/data.txt$' <<<"$listing" || fail "version 2: app/data.txt is not 0644: $listing"
			grep -Eq '^-rwxr-xr-x .* app/run.sh$' <<<"$listing" || fail "version 2: app/run.sh (#!) is not 0755: $listing"
			out=$(run_layout "$(c2_out modes/remote/image "")") || fail "running the version 2 image built from a 0644 script: [$out]"
			[[ $out == "data: from content" ]] || fail "version 2 image printed [$out], want [data: from content]"
			log "runc ran the version 2 image built from a 0644 script: $out"
		fi
	done
	rm -rf "$ws/modes"
}

# test_modes_remote: the bug itself (bazel#12818) and its fix on a real
# remote executor. The package with the checkout's x bits (script 0755,
# data 0644) is built locally and then, after bazel clean, on the Buildbarn
# cluster (test_remote_exec.sh's bb_cluster), under each version; the
# layer listings and digests are compared. Run after (or instead of)
# remote_exec: e2e/run.sh modes_remote.
test_modes_remote() {
	ensure_clone "$A"
	local ws="$A/e2e/compat2" v url flags local_l remote_l local_list remote_list out
	url=$(bb_cluster) || fail "the Buildbarn cluster did not start"
	mapfile -t flags < <(buildbarn_bazel_flags "$BB_DIR")
	flags+=("${NO_GO_CACHE[@]}")
	rm -rf "$ws/modes"
	modes_package "$ws/modes/checkout" 0755 0644
	for v in 1 2; do
		ebazel "$ws" clean >/dev/null 2>&1
		c2_build --@rules_repro//rules/settings:compatibility_version=$v //modes/checkout:image || fail "local build, version $v"
		local_l=$(jq -r '.layers[-1].digest' "$(c2_out modes/checkout/image .manifest.json)")
		local_list=$(tar -tvzf "$(c2_out modes/checkout/layer .tar.gz)") || fail "listing the local layer"
		ebazel "$ws" clean >/dev/null 2>&1
		c2_build "${flags[@]}" --execution_log_json_file="$E2E_TMP/modes-exec.json" \
			--@rules_repro//rules/settings:compatibility_version=$v //modes/checkout:image || fail "remote build on $url, version $v"
		jq -es '[.[] | select(.mnemonic == "ReproLayer" and .runner == "remote")] | length > 0' "$E2E_TMP/modes-exec.json" >/dev/null ||
			fail "version $v: the layer action did not run remotely: $(jq -rs '[.[] | .mnemonic + " (" + .runner + ")"] | join(", ")' "$E2E_TMP/modes-exec.json")"
		remote_l=$(jq -r '.layers[-1].digest' "$(c2_out modes/checkout/image .manifest.json)")
		remote_list=$(tar -tvzf "$(c2_out modes/checkout/layer .tar.gz)") || fail "listing the remote layer"
		log "version $v: layer $local_l (local) / $remote_l (remote); app/data.txt: $(awk '/app\/data.txt$/ {print $1}' <<<"$local_list") local, $(awk '/app\/data.txt$/ {print $1}' <<<"$remote_list") remote"
		if [[ $v == 1 ]]; then
			# The bug, reproduced: the executor marks every input
			# executable and version 1 (frozen) copies the bit. Without it
			# this test could not tell version 2's fix from a no-op.
			grep -Eq '^-rwxr-xr-x .* app/data.txt$' <<<"$remote_list" ||
				fail "version 1: the remote layer's app/data.txt is not 0755, so this cluster does not reproduce bazel#12818: $remote_list"
		else
			[[ $local_l == "$remote_l" ]] || fail "version 2: the remote layer differs from the local one: $(diff <(echo "$local_list") <(echo "$remote_list"))"
			out=$(run_layout "$(c2_out modes/checkout/image "")") || fail "running the remotely built version 2 image: [$out]"
			[[ $out == "data: from content" ]] || fail "the remotely built version 2 image printed [$out]"
			log "runc ran the remotely built version 2 image: $out"
		fi
	done
	rm -rf "$ws/modes"
	buildbarn_stop "$BB_DIR" || fail "stopping Buildbarn"
}
