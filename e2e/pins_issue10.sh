# shellcheck shell=bash
# Issue 10 parts of the pins e2e test (sourced by e2e/test_pins.sh, which
# calls them with the registry running): trust configured once, no dead
# end, what lock update moved, did you mean, and pinned files.

# plock ARGS...: bazel run @rules_repro//:lock -- ARGS in the pins
# workspace (never through @pins), output kept in last-run.log.
plock() {
	ebazel "$W" run @rules_repro//:lock -- "$@" 2>&1 | tee "$E2E_TMP/last-run.log" >&2
	return "${PIPESTATUS[0]}"
}

# prun_noca ARGS...: bazel run in the pins workspace without
# REPRO_REGISTRY_CA in the environment.
prun_noca() {
	(
		unset REPRO_REGISTRY_CA
		ebazel "$W" run "$@" 2>&1 | tee "$E2E_TMP/last-run.log" >&2
		exit "${PIPESTATUS[0]}"
	)
}

# push_tag TAG: the seeded base image under another tag.
push_tag() {
	skopeo copy --all --dest-cert-dir "$E2E_TMP/base/certs" --dest-creds "$PINS_USER:$PINS_PASS" \
		"oci:$E2E_TMP/base/layout:1.0" "docker://$REG/base/image:$1" >&2 || fail "skopeo copy to $1"
}

# pins_trust: the CA given once, by REPRO_REGISTRY_CA or by the
# registry_ca flag; a new shell without it keeps a fetched @pins working.
pins_trust() {
	local ca_flag="--@rules_repro//rules/settings:registry_ca=$CA"
	forget_pins
	pbuild //:image || fail "build with REPRO_REGISTRY_CA"
	# A new shell without the variable: nothing is refetched (a refetch
	# could not verify the registry's certificate), the build works.
	(
		unset REPRO_REGISTRY_CA
		pbuild //:image //:image_by_ref
	) || fail "unsetting REPRO_REGISTRY_CA broke a fetched @pins"
	# Without the CA at all, the registry is refused ...
	if prun_noca @rules_repro//:lock -- update --check-only --lockfile repro.lock.json; then
		fail "lock update trusted the registry without its CA"
	fi
	grep -qF "certificate" "$E2E_TMP/last-run.log" || fail "no certificate error without the CA"
	# ... and the flag gives it to the run targets: lock update (which
	# reports what would move and exits 0 when nothing would) and push.
	prun_noca "$ca_flag" @rules_repro//:lock -- update --check-only --lockfile repro.lock.json ||
		fail "lock update --check-only with the registry_ca flag"
	grep -qF "repro.lock.json: up to date" "$E2E_TMP/last-run.log" || fail "--check-only did not say up to date"
	prun_noca "$ca_flag" //:image.push || fail "bazel run //:image.push with the registry_ca flag"
	log "trust: REPRO_REGISTRY_CA or --@rules_repro//rules/settings:registry_ca, no CA flag on any command; unsetting the variable refetches nothing"

	# What moved: the lockfile pins another digest than the tag's;
	# --check-only reports old → new per platform and exits 3.
	local lock="$W/repro.lock.json" saved="$E2E_TMP/repro.lock.json.trust" old zero code=0
	cp "$lock" "$saved"
	old=$(lock_field '.images.base.digest')
	zero="sha256:$(printf '0%.0s' {1..64})"
	jq --arg z "$zero" '.images.base.digest = $z | .images.base.platforms["linux/amd64"].digest = $z' "$saved" >"$lock"
	"$REPRO" lock fmt --lockfile "$lock" >/dev/null
	plock update --check-only --lockfile repro.lock.json || code=$?
	[[ $code == 3 ]] || fail "lock update --check-only of a stale lockfile: exit $code, want 3"
	grep -qF "images.base: docker-image://$REG/base/image:1.0 moved: $zero → $old" "$E2E_TMP/last-run.log" || fail "update does not report old → new"
	grep -qF "linux/amd64: $zero → " "$E2E_TMP/last-run.log" || fail "update does not report the platform"
	grep -F -e "moved:" -e "linux/amd64:" -e "is stale" "$E2E_TMP/last-run.log" | head -4 >"$E2E_TMP/msg-moved.txt"
	cp "$saved" "$lock"
	log "lock update --check-only: old → new per platform, exit 3 when stale"
}

# pins_no_dead_end: every lockfile state can be fixed with bazel run
# @rules_repro//:lock, and fails only the targets that use the entry.
pins_no_dead_end() {
	local lock="$W/repro.lock.json" saved="$E2E_TMP/repro.lock.json.nde"
	cp "$lock" "$saved"
	cp "$W/BUILD.bazel" "$E2E_TMP/BUILD.nde"
	push_tag 1.1
	push_tag 1.2
	printf '\nrepro_image(\n    name = "on_newer",\n    base = "@pins//:newer",\n    layers = [":app"],\n)\n' >>"$W/BUILD.bazel"
	printf '\nrepro_image(\n    name = "on_typo",\n    base = "@pins//:typo",\n    layers = [":app"],\n)\n' >>"$W/BUILD.bazel"
	printf '\nrepro_image(\n    name = "near_miss",\n    base = pinned("%s/base/imgae:1.0"),\n    layers = [":app"],\n)\n' "$REG" >>"$W/BUILD.bazel"

	# a. Empty: nothing pinned. The lock commands run through Bazel, and
	# pin the base from scratch.
	printf '{"files":{},"images":{},"policy":[],"version":1}' >"$lock"
	plock fmt --lockfile repro.lock.json || fail "bazel run :lock -- fmt of an empty lockfile"
	plock check --lockfile repro.lock.json || fail "bazel run :lock -- check of an empty lockfile"
	expect_fail "is not pinned in" //:image_by_ref
	grep -qF "bazel run @rules_repro//:lock -- add NAME $REG/base/image:1.0" "$E2E_TMP/last-build.log" || fail "the unpinned message does not give the command"
	sed -n '/is not pinned in/,/update --name/p' "$E2E_TMP/last-build.log" | head -5 >"$E2E_TMP/msg-empty.txt"
	pbuild //:hello || fail "an unrelated target with an empty lockfile"
	plock add base "$REG/base/image:1.0" --platform linux/amd64 --platform linux/arm64 --lockfile repro.lock.json || fail "lock add from empty"
	plock update --name base --lockfile repro.lock.json || fail "lock update from empty"
	pbuild //:image //:image_by_ref || fail "build after pinning from empty"
	[[ $(digest_of "$W/bazel-bin/image.digest") == "$(cat "$E2E_TMP/d1")" ]] || fail "re-pinned from empty: another digest"
	log "empty lockfile: :lock -- fmt, check, add, update run through Bazel; only users of the base failed"

	# b. Incomplete: added, not updated.
	plock add newer "$REG/base/image:1.1" --platform linux/amd64 --lockfile repro.lock.json || fail "lock add newer"
	expect_fail "@pins//:newer, the base image \"$REG/base/image:1.1\" (images.newer in " //:on_newer
	grep -qF "Fix: bazel run @rules_repro//:lock -- update --name newer --lockfile repro.lock.json" "$E2E_TMP/last-build.log" || fail "no fix command for an incomplete entry"
	grep -qF "//:on_newer" "$E2E_TMP/last-build.log" || fail "the failure does not name the target"
	sed -n '/cannot be used/,/Fix:/p' "$E2E_TMP/last-build.log" | head -8 >"$E2E_TMP/msg-incomplete.txt"
	pbuild //:image //:hello || fail "unrelated targets with an incomplete entry"
	plock update --name newer --lockfile repro.lock.json || fail "the fix command"
	pbuild //:on_newer || fail "build after the fix command"
	log "incomplete entry: only //:on_newer failed, with the one command that fixed it"

	# c. Mistyped: lock update refuses it (naming it); builds of other
	# targets work; add --replace and update fix it.
	plock add typo "$REG/base/imgae:1.2" --platform linux/amd64 --lockfile repro.lock.json || fail "lock add typo"
	if plock update --lockfile repro.lock.json; then fail "lock update resolved a mistyped reference"; fi
	grep -qF "images.typo" "$E2E_TMP/last-run.log" || fail "lock update does not name the mistyped entry"
	grep -F "images.typo" "$E2E_TMP/last-run.log" | head -2 >"$E2E_TMP/msg-typo-update.txt"
	expect_fail "@pins//:typo, the base image \"$REG/base/imgae:1.2\"" //:on_typo
	grep -qF "add --replace typo REFERENCE" "$E2E_TMP/last-build.log" || fail "no fix for a mistyped reference"
	sed -n '/cannot be used/,/add --replace/p' "$E2E_TMP/last-build.log" | head -8 >"$E2E_TMP/msg-typo.txt"
	pbuild //:image //:on_newer || fail "unrelated targets with a mistyped entry"
	plock add --replace typo "$REG/base/image:1.2" --platform linux/amd64 --lockfile repro.lock.json || fail "lock add --replace"
	plock update --name typo --lockfile repro.lock.json || fail "lock update of the corrected entry"
	pbuild //:on_typo || fail "build after correcting the reference"
	log "mistyped reference: lock update names it, only //:on_typo failed, add --replace + update fixed it"

	# d. Did you mean: a typo in pinned() and in lock update --name.
	expect_fail "Did you mean \"$REG/base/image:1.0\"" //:near_miss
	sed -n '/is not pinned in/,/update --name/p' "$E2E_TMP/last-build.log" | head -6 >"$E2E_TMP/msg-didyoumean.txt"
	pbuild //:image || fail "an unrelated target next to a typo in pinned()"
	if plock update --name bsae --lockfile repro.lock.json; then fail "update of an unknown name"; fi
	grep -qF 'did you mean "base"?' "$E2E_TMP/last-run.log" || fail "the CLI does not suggest the closest name"
	grep -F 'did you mean' "$E2E_TMP/last-run.log" | head -1 >"$E2E_TMP/msg-didyoumean-cli.txt"
	log "did you mean: pinned() and lock update --name suggest the closest pinned names"

	cp "$saved" "$lock"
	cp "$E2E_TMP/BUILD.nde" "$W/BUILD.bazel"
}

# pins_files: a file pinned by sha256, downloaded by Bazel's downloader
# from nginx on 127.0.0.1.
pins_files() {
	local lock="$W/repro.lock.json" saved="$E2E_TMP/repro.lock.json.files" fdir="$E2E_TMP/files" url
	cp "$lock" "$saved"
	cp "$W/BUILD.bazel" "$E2E_TMP/BUILD.files"
	start_nginx_cache "$fdir" >/dev/null || fail "nginx (file server)"
	url="$(cat "$fdir/nginx.url")/dist/tool.tar"
	mkdir -p "$E2E_TMP/tool/opt/tool" "$fdir/cache/dist"
	echo "tool 1.0" >"$E2E_TMP/tool/opt/tool/VERSION"
	tar --sort=name --mtime=@1600000000 --owner=0 --group=0 -C "$E2E_TMP/tool" -cf "$fdir/cache/dist/tool.tar" opt
	sed -i 's|load("@pins//:defs.bzl", "pinned")|load("@pins//:defs.bzl", "pinned", "pinned_file")|' "$W/BUILD.bazel"
	printf '\nrepro_layer(\n    name = "tool_layer",\n    tars = ["@pins//:tool"],\n)\n' >>"$W/BUILD.bazel"
	printf '\nrepro_image(\n    name = "with_tool",\n    base = "@pins//:base",\n    layers = [":tool_layer", ":app"],\n)\n' >>"$W/BUILD.bazel"
	printf '\ngenrule(\n    name = "tool_list",\n    srcs = [pinned_file("%s")],\n    outs = ["tool_list.txt"],\n    cmd = "tar -tf $< > $@",\n)\n' "$url" >>"$W/BUILD.bazel"

	expect_fail "is not pinned in" //:tool_list
	grep -qF "bazel run @rules_repro//:lock -- add-file NAME $url" "$E2E_TMP/last-build.log" || fail "no add-file command for an unpinned file"
	# nginx serves plain HTTP (Bazel's downloader would not trust a test
	# CA): repro refuses plain HTTP unless told, with a warning. What is
	# downloaded is pinned by its sha256 either way.
	plock add-file tool "$url" --insecure --lockfile repro.lock.json || fail "lock add-file"
	[[ $(lock_field '.files.tool.sha256') == "$(sha256sum "$fdir/cache/dist/tool.tar" | cut -d' ' -f1)" ]] || fail "add-file recorded another sha256"
	pbuild //:tool_list || fail "genrule on a pinned file"
	grep -qx "opt/tool/VERSION" "$W/bazel-bin/tool_list.txt" || fail "the genrule did not read the pinned tar"
	pbuild --@rules_repro//rules/settings:base_layers=fetch --output_groups=+layout //:with_tool || fail "image with the pinned tar"
	rm -rf "$E2E_TMP/tool-bundle"
	umoci unpack --image "$W/bazel-bin/with_tool:latest" "$E2E_TMP/tool-bundle" >/dev/null || fail "umoci unpack with_tool"
	grep -q "tool 1.0" "$E2E_TMP/tool-bundle/rootfs/opt/tool/VERSION" || fail "the pinned tar is not in the image"
	grep -q "base 1.0 for amd64" "$E2E_TMP/tool-bundle/rootfs/etc/base-release" || fail "base files missing from with_tool"
	log "pinned file: lock add-file; a genrule (pinned_file(URL)) and an image layer (@pins//:tool) use it"

	# Changed upstream: update fails naming the URL and keeps the pin.
	cp "$lock" "$E2E_TMP/repro.lock.json.tool"
	cp "$fdir/cache/dist/tool.tar" "$E2E_TMP/tool.tar.orig"
	echo "tool 2.0" >"$E2E_TMP/tool/opt/tool/VERSION"
	tar --sort=name --mtime=@1600000000 --owner=0 --group=0 -C "$E2E_TMP/tool" -cf "$fdir/cache/dist/tool.tar" opt
	if plock update --insecure --lockfile repro.lock.json; then fail "lock update accepted a changed file"; fi
	grep -qF "files.tool: $url changed upstream" "$E2E_TMP/last-run.log" || fail "the changed file is not named"
	grep -F "changed upstream" "$E2E_TMP/last-run.log" | head -1 >"$E2E_TMP/msg-changed.txt"
	cmp -s "$lock" "$E2E_TMP/repro.lock.json.tool" || fail "lock update changed the lockfile of a changed file"
	cp "$E2E_TMP/tool.tar.orig" "$fdir/cache/dist/tool.tar"
	log "a file changed upstream: lock update fails naming the URL, the pin is kept"

	# Denied URL: the targets that use it fail; others build.
	jq --arg u "$(cat "$fdir/nginx.url")/*" '.policy = [{"action": "DENY", "selector": {"identifier": $u}}]' "$E2E_TMP/repro.lock.json.tool" >"$lock"
	"$REPRO" lock fmt --lockfile "$lock" >/dev/null
	expect_fail "@pins//:tool, the file \"$url\"" //:tool_list
	grep -qF "is denied by the policy" "$E2E_TMP/last-build.log" || fail "the file's denial is not explained"
	sed -n '/cannot be used/,/lock -- check/p' "$E2E_TMP/last-build.log" | head -6 >"$E2E_TMP/msg-file-denied.txt"
	pbuild //:image || fail "an unrelated target with a denied file"
	cp "$E2E_TMP/repro.lock.json.tool" "$lock"
	log "denied URL: //:tool_list fails naming the file and the rule; //:image builds"

	# From the repository cache: server stopped, output base gone.
	pbuild //:tool_list || fail "tool_list before expunge"
	stop_nginx_cache "$fdir"
	ebazel "$W" clean --expunge >/dev/null 2>&1
	pbuild //:tool_list || fail "tool_list from the repository cache with the server stopped"
	grep -qx "opt/tool/VERSION" "$W/bazel-bin/tool_list.txt" || fail "tool_list from the cache"
	log "server stopped after bazel clean --expunge: the pinned file comes from the repository cache"

	cp "$saved" "$lock"
	cp "$E2E_TMP/BUILD.files" "$W/BUILD.bazel"
	local f
	for f in "$E2E_TMP"/msg-*.txt; do
		log "message as seen ($(basename "$f" .txt)):"
		cat "$f" >&2
	done
}
