# shellcheck shell=bash
# End-to-end tests of the helper toolchain (issue "Nothing but Bazel"):
# no host Go, offline from a filled cache, the same helper bytes whatever
# the client environment. Sourced by e2e/run.sh; each test_* runs in a
# subshell.

NOGO="$E2E_TMP/nogo/rules_repro"

# path_without_go: $PATH without any directory that holds a `go` command,
# and without /usr/local/go/bin.
path_without_go() {
	local d out=()
	IFS=: read -ra dirs <<<"$PATH"
	for d in "${dirs[@]}"; do
		[[ -n $d && $d != /usr/local/go/bin && ! -x $d/go ]] && out+=("$d")
	done
	(
		IFS=:
		echo "${out[*]}"
	)
}

golden_digest() {
	awk -v n="//app:$1" -v b="$2" '$1 == n && $2 == b {print $3}' "$E2E_ROOT/e2e/golden.txt"
}

# The helper binaries of a clone's example workspace, as "sha256 name" lines.
helper_shas() {
	(cd "$1/examples" && ob=$(bazel info output_base 2>/dev/null) &&
		sha256sum "$ob/external/repro_toolchains_linux_amd64/repro" "$ob/external/repro_toolchains_host/repro" 2>/dev/null |
		awk '{n=$2; sub(".*/external/", "", n); print $1, n}')
}

# 1 and 5: `make demo` on a machine without Go: every `go` is hidden from
# PATH; the pinned Go release comes through Bazel's downloader.
test_toolchain() {
	ensure_clone "$NOGO"
	echo "$NOGO/examples" >>"$E2E_TMP/bazel-workspaces"
	local nogo_path out want
	nogo_path=$(path_without_go)
	! PATH=$nogo_path command -v go >/dev/null || fail "could not hide go from PATH"
	# umask 077, as on hardened machines: the demo must still run the image.
	# As a user runs it: not as a sub-make of `make test` (which prints
	# "Leaving directory" on stdout).
	out=$(cd "$NOGO" && umask 077 && PATH=$nogo_path env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS make demo 2>"$E2E_TMP/demo.log") || {
		tail -30 "$E2E_TMP/demo.log" >&2
		fail "make demo without Go failed"
	}
	want=$(golden_digest image unstamped)
	[[ $(tail -1 <<<"$out") == "$want" ]] || fail "make demo printed digest [$(tail -1 <<<"$out")], golden $want"
	grep -qx "Hello from a reproducible image (linux/amd64)!" <<<"$out" || fail "the demo image did not print its greeting: [$out]"
	log "make demo with no go on PATH, under umask 077: ran the image, digest $want (golden)"

	# The Go release is in the repository cache, by sha256.
	local sha cache=$HOME/.cache/rules_repro/bazel-repo-cache
	sha=$(sed -n 's/^    "linux-amd64": "\([0-9a-f]\{64\}\)",$/\1/p' "$E2E_ROOT/rules/private/toolchain_repo.bzl")
	[[ -n $sha && -f $cache/content_addressable/sha256/$sha/file ]] || fail "the Go release zip (sha256 $sha) is not in the repository cache $cache"
	log "Go release zip in the repository cache: sha256:$sha ($(du -h "$cache/content_addressable/sha256/$sha/file" | cut -f1))"
	# The helper for the machine running Bazel (repository rules use it).
	PATH=$nogo_path build "$NOGO" @repro_toolchains_host//:repro || fail "building the host helper without Go"
	helper_shas "$NOGO" >"$E2E_TMP/helpers-clean.txt"
	[[ $(wc -l <"$E2E_TMP/helpers-clean.txt") == 2 ]] || fail "helper binaries not found: $(cat "$E2E_TMP/helpers-clean.txt")"

	# 2 and 3: bazel clean --expunge, then a rebuild with the network cut
	# off (GOPROXY, and so every download URL, points at a port that
	# refuses) and a client environment full of Go settings that would
	# change the helper's bytes if they leaked into its build.
	ebazel "$NOGO/examples" clean --expunge >/dev/null 2>&1 || fail "bazel clean --expunge"
	mkdir -p "$E2E_TMP/goenv"
	printf 'GOAMD64=v3\nGOFLAGS=-tags=e2e_leak\n' >"$E2E_TMP/goenv/env"
	local start=$SECONDS
	(
		export PATH=$nogo_path GOPROXY=http://127.0.0.1:9 GOAMD64=v3 GOEXPERIMENT=boringcrypto \
			GOFLAGS=-tags=e2e_leak GOROOT=/nonexistent/goroot GOENV=$E2E_TMP/goenv/env GOTOOLCHAIN=go1.22.0 \
			CGO_ENABLED=1 GOARM64=v9.0 GODEBUG=panicnil=1 GOOS=windows GOARCH=386
		build "$NOGO" //app:image @repro_toolchains_host//:repro
	) || fail "rebuild after clean --expunge, offline and with hostile Go variables, failed"
	[[ $(digest_of "$(image_file "$NOGO/examples" image.digest)") == "$want" ]] || fail "offline rebuild gave another digest"
	helper_shas "$NOGO" >"$E2E_TMP/helpers-hostile.txt"
	diff "$E2E_TMP/helpers-clean.txt" "$E2E_TMP/helpers-hostile.txt" >&2 ||
		fail "the helper's bytes depend on the client environment"
	log "after clean --expunge, offline (GOPROXY=http://127.0.0.1:9), with GOAMD64=v3 GOEXPERIMENT GOFLAGS GOROOT GOENV GOTOOLCHAIN set: rebuilt in $((SECONDS - start))s, same digest, same helper bytes:"
	sed 's/^/    /' "$E2E_TMP/helpers-hostile.txt" >&2
}
