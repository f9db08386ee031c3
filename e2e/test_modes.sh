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
