# shellcheck shell=bash
# End-to-end test of the example's Gazelle wiring (issue 16, item 3): the
# example's Go BUILD files are what `bazel run //:gazelle` writes. Sourced by
# e2e/run.sh; runs in a subshell. Uses clone A of test_bazel.sh.

# go_rules_of FILE: the Go rules of a BUILD file, from the go_library line to
# the end of the go_binary rule.
go_rules_of() { sed -n '/^go_library(/,/^)/p;/^go_binary(/,/^)/p' "$1"; }

test_gazelle() {
	ensure_clone "$A"
	local ws="$A/examples" build="$A/examples/app/BUILD.bazel" changed
	# Gazelle and its Go dependencies (go_repository, through the Go module
	# proxy) are fetched by the workspace's repository rules.
	ebazel "$ws" run //:gazelle 2>&1 | tee "$E2E_TMP/last-build.log" >&2
	[[ ${PIPESTATUS[0]} == 0 ]] || fail "bazel run //:gazelle failed"
	changed=$(cd "$A" && git status --porcelain --untracked-files=all -- examples | grep -Ev ' examples/(offline\.bazelrc|bazel-[^/]*)$' || true)
	[[ -z $changed ]] || fail "bazel run //:gazelle changed the example's files: $changed
$(cd "$A" && git diff -- examples)"
	log "bazel run //:gazelle leaves every BUILD file of examples/ unchanged"

	# Gazelle really writes them: with the go_library's srcs deleted,
	# app/BUILD.bazel gets them back, byte for byte.
	cp "$build" "$E2E_TMP/app.BUILD.orig"
	sed -i '/^go_library(/,/^)/{/^    srcs = /d}' "$build"
	! cmp -s "$build" "$E2E_TMP/app.BUILD.orig" || fail "could not delete the go_library's srcs"
	ebazel "$ws" run //:gazelle >/dev/null 2>&1 || fail "bazel run //:gazelle after deleting the go_library's srcs"
	cmp -s "$build" "$E2E_TMP/app.BUILD.orig" || {
		local got
		got=$(diff "$E2E_TMP/app.BUILD.orig" "$build")
		cp "$E2E_TMP/app.BUILD.orig" "$build"
		fail "gazelle did not restore app/BUILD.bazel: $got"
	}
	log "with the go_library's srcs deleted, gazelle restores app/BUILD.bazel exactly:"
	go_rules_of "$build" | sed 's/^/    /' >&2
	(cd "$A" && git diff --exit-code -- examples >/dev/null) || fail "clone A's examples/ differs from the commit after the test"
}
