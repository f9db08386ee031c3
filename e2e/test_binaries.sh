# shellcheck shell=bash
# End-to-end tests of binaries in images (issue 16): a workspace under
# e2e/binaries consumes rules_repro as a user does; every image is unpacked
# with umoci and run with runc, and its output asserted.

# binaries_build TARGET...: bazel build in the binaries workspace of clone A,
# with the images' layouts (an output group) to run them.
binaries_build() {
	ebazel "$A/e2e/binaries" build --output_groups=+layout "$@" 2>&1 | tee "$E2E_TMP/last-build.log" >&2
	return "${PIPESTATUS[0]}"
}

# run_layout LAYOUT: unpack an OCI layout's "latest" image and run it; prints
# its standard output.
run_layout() {
	local run
	run=$(mktemp -d "$E2E_TMP/run.XXXXXX")
	umoci unpack --image "$1:latest" "$run/bundle" >/dev/null || fail "umoci unpack $1"
	"$E2E_ROOT/e2e/lib/runc_run.sh" "$run/bundle"
}

# layer_digests MANIFEST: the layer digests, one a line, bottom first.
layer_digests() { jq -r '.layers[].digest' "$1"; }

test_binaries() {
	ensure_clone "$A"
	command -v bash-static >/dev/null || [[ -x /bin/bash-static ]] || fail "bash-static is missing: apt-get install bash-static (tools/install-deps.sh test)"
	local ws="$A/e2e/binaries" bin="$A/e2e/binaries/bazel-bin"
	binaries_build //:greet_image //:greet_layer || fail "building //:greet_image and //:greet_layer"

	# Layout of the layers: the executable is a file (not a directory) with
	# its executable bit, the runfiles tree is split by repository.
	local ext wsl
	ext=$(tar -tvzf "$bin/greet_image_external.tar.gz")
	wsl=$(tar -tvzf "$bin/greet_image_workspace.tar.gz")
	grep -Eq '^-rwxr-xr-x .* app/greet$' <<<"$wsl" || fail "/app/greet is not an executable file in the workspace layer:
$wsl"
	grep -Eq ' app/greet\.runfiles/repro_binaries_e2e/greeting\.txt$' <<<"$wsl" || fail "greeting.txt is not in the workspace layer"
	grep -Eq ' app/greet\.runfiles/repro_binaries_e2e/greet\.sh$' <<<"$wsl" || fail "greet.sh (also in the binary's files) is missing from its runfiles"
	grep -q 'bazel_tools' <<<"$wsl" && fail "the workspace layer holds external runfiles:
$wsl"
	grep -Eq ' app/greet\.runfiles/bazel_tools/tools/bash/runfiles/runfiles\.bash$' <<<"$ext" || fail "runfiles.bash is not in the external layer:
$ext"
	grep -q 'repro_binaries_e2e' <<<"$ext" && fail "the external layer holds workspace files:
$ext"
	local all split
	all=$(tar -tzf "$bin/greet_layer.tar.gz" | sort)
	split=$( (tar -tzf "$bin/greet_image_external.tar.gz" && tar -tzf "$bin/greet_image_workspace.tar.gz") | sort -u)
	[[ $all == "$split" ]] || fail "greet_layer (all runfiles) and greet_image's two layers differ: $(diff <(echo "$all") <(echo "$split"))"
	log "greet_image layers: external [$(awk '{print $NF}' <<<"$ext" | grep -v '/$' | tr '\n' ' ')], workspace [$(awk '{print $NF}' <<<"$wsl" | grep -v '/$' | tr '\n' ' ')]"

	local out want="greet: hello from a data file in the runfiles"
	out=$(run_layout "$bin/greet_image") || fail "running greet_image: [$out]"
	[[ $out == "$want" ]] || fail "greet_image printed [$out], want [$want]"
	log "runc ran greet_image ($(digest_of "$bin/greet_image.digest")): $out"

	# Layer reuse: a change to the data file changes the workspace layer
	# only; the base and the external layer keep their digests.
	local before after data="$ws/greeting.txt"
	before=$(layer_digests "$bin/greet_image.manifest.json")
	cp "$data" "$E2E_TMP/greeting.orig"
	echo "hello from a changed data file" >"$data"
	binaries_build //:greet_image || {
		cp "$E2E_TMP/greeting.orig" "$data"
		fail "rebuilding //:greet_image"
	}
	after=$(layer_digests "$bin/greet_image.manifest.json")
	out=$(run_layout "$bin/greet_image") || out="(run failed: $out)"
	cp "$E2E_TMP/greeting.orig" "$data"
	log "layers before: $(tr '\n' ' ' <<<"$before")"
	log "layers after:  $(tr '\n' ' ' <<<"$after")"
	[[ $(wc -l <<<"$before") == 3 ]] || fail "greet_image has $(wc -l <<<"$before") layers, want 3 (base, external, workspace)"
	local changed
	changed=$(diff <(echo "$before") <(echo "$after") | grep -c '^>' || true)
	[[ $changed == 1 ]] || fail "$changed layer digests changed, want exactly 1"
	[[ $(sed -n 3p <<<"$before") != $(sed -n 3p <<<"$after") ]] || fail "the workspace layer (the top one) did not change"
	[[ $out == "greet: hello from a changed data file" ]] || fail "the rebuilt image printed [$out]"
	log "after changing greeting.txt only the workspace layer changed; the image printed: $out"
	binaries_build //:greet_image >/dev/null 2>&1 || fail "rebuild with the original greeting"
	binaries_shapes
	binaries_tars
}

# binaries_shapes: runfiles symlinks go under the workspace's directory,
# root symlinks under the runfiles root; a file that is also in the
# binary's DefaultInfo.files stays in the runfiles; the executable is a file.
binaries_shapes() {
	local bin="$A/e2e/binaries/bazel-bin" got want
	binaries_build //:shapes_layer || fail "building //:shapes_layer"
	got=$(tar -tvzf "$bin/shapes_layer.tar.gz" | awk '{print substr($1, 1, 4), $NF}' | LC_ALL=C sort)
	want="-rw- app/shapes.runfiles/repro_binaries_e2e/greeting.txt
-rw- app/shapes.runfiles/repro_binaries_e2e/linked/data.txt
-rw- app/shapes.runfiles/root_link/data.txt
-rwx app/shapes
-rwx app/shapes.runfiles/repro_binaries_e2e/shapes
drwx app/
drwx app/shapes.runfiles/
drwx app/shapes.runfiles/repro_binaries_e2e/
drwx app/shapes.runfiles/repro_binaries_e2e/linked/
drwx app/shapes.runfiles/root_link/"
	[[ $got == "$want" ]] || fail "shapes_layer holds
$got
want
$want"
	log "shapes_layer: executable at /app/shapes, runfiles files, symlinks and root symlinks where Bazel puts them"
}

# binaries_tars: a genrule-made tar (everything under dist/, owner 501:20,
# files 0600, directories 0700) merged under /opt/dist with dist/ stripped,
# with modes and owners set on its members. The image's user (65534) can
# run the script and read its data only through those overrides.
binaries_tars() {
	local bin="$A/e2e/binaries/bazel-bin"
	binaries_build //:dist_image || fail "building //:dist_image"
	local got want
	got=$(tar -tvzf "$bin/dist_layer.tar.gz" --numeric-owner | awk '{print $1, $2, $NF}')
	want="drwxr-xr-x 0/0 opt/
drwxr-xr-x 0/0 opt/dist/
drwxr-xr-x 501/20 opt/dist/bin/
-rwxr-xr-x 501/20 opt/dist/bin/hello.sh
drwxr-xr-x 501/20 opt/dist/share/
-rw------- 65534/65534 opt/dist/share/msg.txt"
	[[ $got == "$want" ]] || fail "dist_layer holds
$got
want
$want"
	local out
	out=$(run_layout "$bin/dist_image") || fail "running dist_image: [$out]"
	[[ $out == "dist: merged from a tar under a prefix" ]] || fail "dist_image printed [$out]"
	log "dist_layer: the tar under /opt/dist, dist/ stripped, modes and owners overridden; runc ran dist_image ($(digest_of "$bin/dist_image.digest")): $out"
}
