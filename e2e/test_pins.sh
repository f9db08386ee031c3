# shellcheck shell=bash
# End-to-end tests of pinned base images (issue "Pins"). Sourced by
# e2e/run.sh. A real docker-registry with TLS (a CA made here) and htpasswd
# authentication holds a two-platform base image; repro lock pins it; real
# Bazel builds FROM it.

# shellcheck source=e2e/pins_issue10.sh
source "$(dirname "${BASH_SOURCE[0]}")/pins_issue10.sh"

PINS_USER=e2e-user
PINS_PASS=S3cr3t-e2e-pa55

# pins_setup: registry, credentials, seeded base image, lockfile, workspace.
# Idempotent within one run. Sets REG, W, CA, and exports DOCKER_CONFIG and
# REPRO_REGISTRY_CA for repro and for Bazel's repository rules.
pins_setup() {
	ensure_clone "$A"
	W="$A/e2e/pins"
	CA="$E2E_TMP/registry/ca.pem"
	local bin="$E2E_TMP/repro"
	if [[ ! -x $bin ]]; then
		(cd "$A" && go build -o "$bin" ./tools/repro) || fail "building repro"
	fi
	REPRO=$bin
	if [[ ! -f $E2E_TMP/registry/registry.addr ]]; then
		start_registry "$E2E_TMP/registry" --tls --htpasswd "$PINS_USER:$PINS_PASS" >/dev/null || fail "registry did not start"
	fi
	REG=$(cat "$E2E_TMP/registry/registry.addr")
	export REPRO_REGISTRY_CA=$CA
	export DOCKER_CONFIG="$E2E_TMP/docker"
	mkdir -p "$DOCKER_CONFIG"
	printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REG" "$(printf '%s:%s' "$PINS_USER" "$PINS_PASS" | base64 -w0)" >"$DOCKER_CONFIG/config.json"
	if [[ ! -f $W/repro.lock.json ]]; then
		seed_base
		"$REPRO" lock add base "$REG/base/image:1.0" --platform linux/amd64 --platform linux/arm64 --lockfile "$W/repro.lock.json" >&2 || fail "lock add"
		# The CA comes from REPRO_REGISTRY_CA, as for every command here.
		"$REPRO" lock update --lockfile "$W/repro.lock.json" >&2 || fail "lock update"
		write_pins_build
	fi
}

# seed_base: a two-platform base image, built with repro and copied into the
# registry by skopeo (an independent client).
seed_base() {
	local d="$E2E_TMP/base" arch
	mkdir -p "$d"
	for arch in amd64 arm64; do
		printf '{"entries":[{"type":"file","path":"/etc/base-release","content":"base 1.0 for %s\\n"},{"type":"dir","path":"/tmp","mode":"1777"}]}' "$arch" >"$d/spec-$arch.json"
		"$REPRO" layer --spec "$d/spec-$arch.json" --output "$d/l-$arch.tgz" --descriptor "$d/l-$arch.json" --source-date-epoch 1600000000 || fail "base layer"
		"$REPRO" image --layer "$d/l-$arch.json" --platform "linux/$arch" --env PATH=/usr/bin:/bin --cmd sh --source-date-epoch 1600000000 \
			--config-out "$d/c-$arch.json" --manifest-out "$d/m-$arch.json" --descriptor-out "$d/i-$arch.json" || fail "base image"
	done
	"$REPRO" index --image "$d/i-amd64.json" --image "$d/i-arm64.json" --source-date-epoch 1600000000 --index-out "$d/index.json" --descriptor-out "$d/idx.json" || fail "base index"
	"$REPRO" layout --descriptor "$d/idx.json" --output "$d/layout" --ref-name 1.0 --blob "$d/index.json" \
		--blob "$d/c-amd64.json" --blob "$d/m-amd64.json" --blob "$d/c-arm64.json" --blob "$d/m-arm64.json" \
		--layer "$d/l-amd64.json=$d/l-amd64.tgz" --layer "$d/l-arm64.json=$d/l-arm64.tgz" || fail "base layout"
	mkdir -p "$d/certs"
	cp "$CA" "$d/certs/ca.crt"
	skopeo copy --all --dest-cert-dir "$d/certs" --dest-creds "$PINS_USER:$PINS_PASS" "oci:$d/layout:1.0" "docker://$REG/base/image:1.0" >&2 ||
		fail "skopeo could not push the base image"
}

write_pins_build() {
	cat >"$W/BUILD.bazel" <<EOF
load("@pins//:defs.bzl", "pinned")
load("@rules_repro//rules:defs.bzl", "repro_image", "repro_index", "repro_layer", "repro_load", "repro_push")

genrule(
    name = "hello",
    outs = ["hello.txt"],
    cmd = "echo hello from the app layer > \$@",
)

repro_layer(
    name = "app",
    files = {":hello": "/app/hello.txt"},
)

repro_image(
    name = "image",
    base = "@pins//:base",
    layers = [":app"],
)

repro_image(
    name = "image_by_ref",
    base = pinned("$REG/base/image:1.0"),
    layers = [":app"],
)

repro_index(
    name = "multiarch",
    images = [":image"],
    platforms = [":linux_amd64", ":linux_arm64"],
)

repro_push(
    name = "image.push",
    image = ":image",
    repository = "$REG/app/pinned",
    tags_to_push = ["latest"],
)

repro_load(
    name = "image.load",
    image = ":image",
    repo_tags = ["rules-repro/pinned:latest"],
)

platform(
    name = "linux_amd64",
    constraint_values = ["@platforms//os:linux", "@platforms//cpu:x86_64"],
)

platform(
    name = "linux_arm64",
    constraint_values = ["@platforms//os:linux", "@platforms//cpu:aarch64"],
)
EOF
}

pbuild() {
	ebazel "$W" build "$@" 2>&1 | tee "$E2E_TMP/last-build.log" >&2
	return "${PIPESTATUS[0]}"
}

# forget_pins: make Bazel fetch the pinned repositories again (as on a new
# machine), without rebuilding the helper.
forget_pins() {
	local ob
	ob=$(cd "$W" && bazel info output_base 2>/dev/null)
	rm -rf "$ob"/external/pins* "$ob"/external/@pins*.marker
}

lock_field() { jq -r "$1" "$W/repro.lock.json"; }

test_pins() {
	pins_setup
	local targets=(//:image //:image_by_ref //:multiarch)

	# 1. lock update pinned both platforms; a shallow build gives a stable
	# digest without fetching any layer.
	[[ $(lock_field '.images.base.platforms | keys | join(",")') == "linux/amd64,linux/arm64" ]] || fail "lock update did not pin both platforms"
	"$REPRO" lock check --lockfile "$W/repro.lock.json" >&2 || fail "lock check of the updated lockfile"
	pbuild "${targets[@]}" || fail "build FROM the pinned base"
	local d1 ob
	d1=$(digest_of "$W/bazel-bin/image.digest")
	[[ $d1 == "$(digest_of "$W/bazel-bin/image_by_ref.digest")" ]] || fail "pinned(ref) and @pins//:base give different images"
	ob=$(cd "$W" && bazel info output_base 2>/dev/null)
	if ls -d "$ob"/external/*_blobs 2>/dev/null | grep -q .; then
		fail "a shallow build fetched layer blobs: $(ls -d "$ob"/external/*_blobs)"
	fi
	local man amd64 base_layer
	man="$W/bazel-bin/image.manifest.json"
	amd64=$(lock_field '.images.base.platforms["linux/amd64"].digest')
	[[ $(json "$man" '.annotations["org.opencontainers.image.base.digest"]') == "$amd64" ]] || fail "base.digest annotation is not the pinned linux/amd64 manifest"
	base_layer=$(jq -r '.layers[0].digest' "$E2E_TMP/base/m-amd64.json")
	[[ $(json "$man" '.layers[0].digest') == "$base_layer" ]] || fail "the image's first layer is not the base's"
	local arm_man
	arm_man=$(json "$W/bazel-bin/multiarch.index.json" '.manifests[] | select(.platform.architecture=="arm64") | .digest')
	[[ -n $arm_man ]] || fail "no arm64 image in the index"
	echo "$d1" >"$E2E_TMP/d1"
	log "pinned base: digest $d1, shallow (no layer blobs fetched), base layer and annotations right"

	ebazel "$W" clean >/dev/null 2>&1
	pbuild "${targets[@]}" || fail "rebuild after clean"
	[[ $(digest_of "$W/bazel-bin/image.digest") == "$d1" ]] || fail "digest changed after bazel clean"

	# 2. Layer bytes when asked for: layouts and archives.
	local fetch=(--@rules_repro//rules/settings:base_layers=fetch)
	pbuild "${fetch[@]}" --output_groups=+layout,+oci_archive //:image || fail "build with base layers"
	[[ $(digest_of "$W/bazel-bin/image.digest") == "$d1" ]] || fail "fetching base layers changed the digest"
	[[ $(skopeo inspect "oci:$W/bazel-bin/image:latest" | jq -r .Digest) == "$d1" ]] || fail "skopeo disagrees on the layout"
	rm -rf "$E2E_TMP/pins-bundle"
	umoci unpack --image "$W/bazel-bin/image:latest" "$E2E_TMP/pins-bundle" >/dev/null || fail "umoci unpack"
	grep -q "base 1.0 for amd64" "$E2E_TMP/pins-bundle/rootfs/etc/base-release" || fail "base files missing from the unpacked image"
	grep -q "hello from the app layer" "$E2E_TMP/pins-bundle/rootfs/app/hello.txt" || fail "app files missing"
	log "with base_layers=fetch: layout accepted by skopeo and umoci, base and app files present, same digest"

	# 3. With the registry stopped, builds work from what was fetched.
	stop_registry "$E2E_TMP/registry"
	ebazel "$W" clean >/dev/null 2>&1
	pbuild "${targets[@]}" || fail "build with the registry stopped"
	[[ $(digest_of "$W/bazel-bin/image.digest") == "$d1" ]] || fail "digest changed with the registry stopped"
	log "registry stopped: the build still works from what was fetched, same digest"

	# 4. Tamper cases: each fails with a clear message and writes nothing.
	pins_tamper_cases

	# 5. The exported policy is accepted by BuildKit's engine and decides as
	# repro policy eval does.
	start_registry "$E2E_TMP/registry" --tls --htpasswd "$PINS_USER:$PINS_PASS" >/dev/null
	pins_policy_export

	# 6-9. Issue 10 (e2e/pins_issue10.sh): trust configured once and what
	# update moved; no dead end from any lockfile state, did you mean;
	# pinned files.
	pins_trust
	pins_no_dead_end
	pins_files
}

# expect_fail MESSAGE TARGETS...: the build fails and the log says MESSAGE.
expect_fail() {
	local msg=$1
	shift
	if pbuild "$@"; then
		fail "the build succeeded; expected: $msg"
	fi
	grep -qF -- "$msg" "$E2E_TMP/last-build.log" || fail "the failure does not say: $msg"
}

no_marker() {
	local ob
	ob=$(cd "$W" && bazel info output_base 2>/dev/null)
	if ls "$ob"/external/@"$1".marker >/dev/null 2>&1; then
		fail "repository $1 was recorded as fetched after a failure"
	fi
}

pins_tamper_cases() {
	local lock="$W/repro.lock.json" saved="$E2E_TMP/repro.lock.json.saved"
	cp "$lock" "$saved"
	start_registry "$E2E_TMP/registry" --tls --htpasswd "$PINS_USER:$PINS_PASS" >/dev/null || fail "registry restart"

	# a. The registry serves different bytes for a pinned digest.
	local cfg data orig="$E2E_TMP/orig-config"
	cfg=$(lock_field '.images.base.platforms["linux/amd64"].config')
	data=$(find "$E2E_TMP/registry/storage" -path "*/blobs/sha256/*/${cfg#sha256:}/data")
	[[ -f $data ]] || fail "cannot find the config blob in the registry storage"
	cp "$data" "$orig"
	printf ' ' >>"$data"
	forget_pins
	expect_fail "tampered or corrupt content" //:image
	no_marker pins_base
	cp "$orig" "$data"
	log "tampered registry bytes: refused, nothing recorded"

	# b. The lockfile hand-edited to a wrong digest.
	local arm
	arm=$(lock_field '.images.base.platforms["linux/arm64"].digest')
	jq --arg d "$arm" '.images.base.platforms["linux/amd64"].digest = $d' "$saved" >"$lock.tmp" && mv "$lock.tmp" "$lock"
	"$REPRO" lock fmt --lockfile "$lock" >/dev/null
	forget_pins
	expect_fail "the lockfile was edited or the index changed" //:image
	no_marker pins_base
	cp "$saved" "$lock"
	log "hand-edited digest: refused"

	# c. Wrong credentials; the password never shows.
	local good=$DOCKER_CONFIG bad="$E2E_TMP/docker-bad"
	mkdir -p "$bad"
	printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REG" "$(printf '%s:%s' "$PINS_USER" wrong-Pa55word | base64 -w0)" >"$bad/config.json"
	export DOCKER_CONFIG=$bad
	forget_pins
	expect_fail "authentication failed" //:image
	if grep -qF -e wrong-Pa55word -e "$(printf '%s:%s' "$PINS_USER" wrong-Pa55word | base64 -w0)" "$E2E_TMP/last-build.log"; then
		fail "the password appears in the build output"
	fi
	export DOCKER_CONFIG=$good
	log "wrong credentials: refused, password not shown"

	# d. The registry is down on a first fetch.
	stop_registry "$E2E_TMP/registry"
	forget_pins
	expect_fail "unreachable" //:image
	no_marker pins_base
	start_registry "$E2E_TMP/registry" --tls --htpasswd "$PINS_USER:$PINS_PASS" >/dev/null
	log "registry down on a first fetch: clear message"

	# e. A DENY rule matches.
	jq --arg id "docker-image://$REG/*" '.policy = [{"action": "DENY", "selector": {"identifier": $id}}]' "$saved" >"$lock.tmp" && mv "$lock.tmp" "$lock"
	"$REPRO" lock fmt --lockfile "$lock" >/dev/null
	forget_pins
	expect_fail "denied by the policy" //:image
	grep -qF "docker-image://$REG/base/image:1.0" "$E2E_TMP/last-build.log" || fail "the denial does not name the source"
	grep -qF 'policy[0] (DENY WILDCARD' "$E2E_TMP/last-build.log" || fail "the denial does not name the rule"
	grep -qF "remove or narrow that rule" "$E2E_TMP/last-build.log" || fail "the denial does not say what to do"
	grep -qF "//:image" "$E2E_TMP/last-build.log" || fail "the denial does not name the target"
	sed -n '/cannot be used/,/lock -- check/p' "$E2E_TMP/last-build.log" | head -6 >"$E2E_TMP/msg-denied.txt"
	# Issue 10: only the targets that use it fail; the lock commands run.
	pbuild //:hello //:app || fail "a target that does not use the denied base failed"
	if plock check --lockfile repro.lock.json; then fail "lock check passed a denied source"; fi
	grep -qF "is denied by the policy" "$E2E_TMP/last-run.log" || fail "bazel run @rules_repro//:lock -- check did not report the denial"
	cp "$saved" "$lock"
	log "DENY rule: //:image fails naming the source, the rule and the fix; //:hello builds; :lock -- check runs"

	# f. A base used in BUILD but not in the lockfile.
	cp "$W/BUILD.bazel" "$E2E_TMP/BUILD.saved"
	printf '\nrepro_image(\n    name = "unpinned",\n    base = pinned("%s/other/image:2.0"),\n    layers = [":app"],\n)\n' "$REG" >>"$W/BUILD.bazel"
	expect_fail "is not pinned in" //:unpinned
	grep -qF "bazel run @rules_repro//:lock -- add" "$E2E_TMP/last-build.log" || fail "the message does not give the command that pins it"
	cp "$E2E_TMP/BUILD.saved" "$W/BUILD.bazel"
	log "unpinned base: the build fails naming the reference and the command that pins it"
	forget_pins
}

pins_policy_export() {
	local policy="$E2E_TMP/exported-policy.json" cases="$E2E_TMP/policy-cases.txt"
	jq --arg id "docker-image://docker.io/*" '.policy = [{"action": "DENY", "selector": {"identifier": $id}}]' "$W/repro.lock.json" >"$E2E_TMP/policy.lock.json"
	"$REPRO" lock fmt --lockfile "$E2E_TMP/policy.lock.json" >/dev/null
	"$REPRO" policy export --lockfile "$E2E_TMP/policy.lock.json" --output "$policy" || fail "policy export"
	printf '%s\n' "docker-image://$REG/base/image:1.0" "docker-image://$REG/base/image:2.0" \
		"docker-image://docker.io/library/alpine:3.20" "$REG/base/image:1.0" "alpine" >"$cases"
	(cd "$A/e2e/sourcepolicy" && REPRO_EXPORTED_POLICY=$policy REPRO_POLICY_CASES=$cases REPRO_BIN=$REPRO \
		go test -count=1 -run TestExportedPolicyFile -v ./... 2>&1 | tee "$E2E_TMP/policy-test.log" >&2)
	grep -q -- "--- PASS: TestExportedPolicyFile" "$E2E_TMP/policy-test.log" || fail "BuildKit's engine and repro policy eval disagree on the exported policy"
	log "exported policy: accepted by BuildKit's engine, same decisions as repro policy eval"
}
