# shellcheck shell=bash
# End-to-end tests of publishing (issue "Publish") with real Bazel: push to
# a real registry (TLS with a test CA, htpasswd) and load into podman.
# Sourced by e2e/run.sh; reuses the registry and credentials of test_pins.

# prun WS TARGET ARGS...: bazel run in a workspace, output kept in the log.
prun() {
	local ws=$1
	shift
	ebazel "$ws" run "$@" 2>&1 | tee "$E2E_TMP/last-run.log" >&2
	return "${PIPESTATUS[0]}"
}

remote_digest() {
	skopeo inspect --cert-dir "$E2E_TMP/base/certs" --creds "$PINS_USER:$PINS_PASS" --raw "docker://$1" | sha256sum | awk '{print "sha256:" $1}'
}

test_publish() {
	pins_setup
	[[ -f $E2E_TMP/base/certs/ca.crt ]] || fail "no CA for skopeo"
	local ex="$A/examples" repo="$REG/rules-repro/example" want got

	# Push the example image; the registry then has exactly our digest.
	prun "$ex" //app:image.push -- --repository "$repo" || fail "bazel run //app:image.push"
	want=$(digest_of "$(image_file "$ex" image.digest)")
	got=$(remote_digest "$repo:latest")
	[[ $got == "$want" ]] || fail "the registry has $got for $repo:latest, we built $want"
	grep -q "verified" "$E2E_TMP/last-run.log" || fail "push did not report reading the image back"
	log "pushed //app:image: the registry serves $want under :latest"

	# Pushing again uploads nothing.
	prun "$ex" //app:image.push -- --repository "$repo" || fail "second push"
	grep -q "pushed sha256" "$E2E_TMP/last-run.log" && fail "a second push uploaded blobs again"
	log "second push: every blob already there, nothing uploaded"

	# --dry-run sends nothing.
	prun "$ex" //app:image.push -- --repository "$REG/rules-repro/dry" --dry-run || fail "dry run"
	if skopeo inspect --cert-dir "$E2E_TMP/base/certs" --creds "$PINS_USER:$PINS_PASS" "docker://$REG/rules-repro/dry:latest" >/dev/null 2>&1; then
		fail "--dry-run pushed something"
	fi
	log "--dry-run: plan printed, nothing pushed"

	# A stamped tag needs --stamp; with it, the index is pushed under the
	# tag made from the workspace status (the clone's commit time).
	if prun "$ex" //app:multiarch.push -- --repository "$repo"; then
		fail "a stamped tag was pushed without --stamp"
	fi
	grep -q "build with --stamp" "$E2E_TMP/last-run.log" || fail "the unstamped push does not say to build with --stamp"
	prun "$ex" --stamp //app:multiarch.push -- --repository "$repo" || fail "stamped push of the index"
	want=$(digest_of "$(image_file "$ex" multiarch.digest)")
	got=$(remote_digest "$repo:epoch-1600000000")
	[[ $got == "$want" ]] || fail "the registry has $got for the stamped tag, we built $want"
	log "pushed //app:multiarch with --stamp under epoch-1600000000 ($want)"

	# From a remote cache without the bytes: after bazel clean, a push run
	# with --remote_download_toplevel must find every file it names (Bazel
	# before 6.3 downloads runfiles only when they are ordinary runfiles).
	local cache
	cache=$(start_nginx_cache "$E2E_TMP/publish-cache") || fail "nginx cache did not start"
	seed_go_cache "$E2E_TMP/publish-cache/cache" # rules_go's actions: no standard library compile
	ebazel "$ex" clean >/dev/null 2>&1 # so that the next build runs (and uploads) every action
	ebazel "$ex" build --remote_cache="http://$cache" "${NO_GO_CACHE[@]}" //app:image.push >/dev/null 2>&1 || fail "filling the remote cache"
	want=$(digest_of "$(image_file "$ex" image.digest)")
	ebazel "$ex" clean >/dev/null 2>&1
	prun "$ex" --remote_cache="http://$cache" "${NO_GO_CACHE[@]}" --remote_download_toplevel //app:image.push -- \
		--repository "$REG/rules-repro/toplevel" || fail "push after bazel clean with --remote_download_toplevel"
	grep -q "remote cache hit" "$E2E_TMP/last-run.log" || fail "the push's inputs did not come from the remote cache"
	[[ $(remote_digest "$REG/rules-repro/toplevel:latest") == "$want" ]] || fail "the image pushed from a remote-cache build differs"
	stop_nginx_cache "$E2E_TMP/publish-cache"
	log "push after bazel clean, from the remote cache with --remote_download_toplevel: complete and the same digest"

	# An image on a shallow pinned base: the base's layers are mounted in the
	# registry, never downloaded.
	# A repository of its own: the pins tests push the same image to
	# app/pinned, where its blobs would already exist.
	prun "$W" //:image.push -- --repository "$REG/app/pinned-mount" || fail "push of the image on a pinned base"
	grep -q "mounted sha256" "$E2E_TMP/last-run.log" || fail "the base layers were not mounted"
	local ob
	ob=$(cd "$W" && bazel info output_base 2>/dev/null)
	if ls -d "$ob"/external/*_blobs 2>/dev/null | grep -q .; then
		fail "pushing fetched base layer blobs into the build"
	fi
	rm -rf "$E2E_TMP/pulled"
	skopeo copy --src-cert-dir "$E2E_TMP/base/certs" --src-creds "$PINS_USER:$PINS_PASS" \
		"docker://$REG/app/pinned-mount:latest" "oci:$E2E_TMP/pulled:latest" >/dev/null || fail "the pushed image cannot be pulled whole"
	[[ $(remote_digest "$REG/app/pinned-mount:latest") == "$(digest_of "$W/bazel-bin/image.digest")" ]] || fail "pinned-base image digest differs in the registry"
	log "image on a shallow pinned base: base layers mounted, nothing downloaded, the pushed image pulls whole"

	# Load into podman: the image ID is the config digest we built.
	command -v podman >/dev/null || fail "podman is not installed"
	prun "$ex" //app:image.load -- --engine podman || fail "bazel run //app:image.load"
	local cfg id
	cfg=$(json "$(image_file "$ex" image.manifest.json)" .config.digest)
	id=$(podman image inspect --format '{{.Id}}' rules-repro/example:latest)
	[[ "sha256:$id" == "$cfg" || $id == "$cfg" ]] || fail "podman's image ID $id is not the config digest $cfg"
	log "loaded into podman as rules-repro/example:latest, ID = config digest"

	# Load an image whose base layers are not in the build: they come from
	# the registry while the archive streams into podman.
	prun "$W" //:image.load -- --engine podman || fail "load of the image on a pinned base"
	cfg=$(json "$W/bazel-bin/image.manifest.json" .config.digest)
	id=$(podman image inspect --format '{{.Id}}' rules-repro/pinned:latest)
	[[ "sha256:$id" == "$cfg" || $id == "$cfg" ]] || fail "podman's image ID $id is not the config digest $cfg (pinned base)"
	log "loaded the pinned-base image into podman, base layers streamed from the registry"
}
