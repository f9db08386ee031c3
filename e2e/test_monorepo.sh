# shellcheck shell=bash
# End-to-end test of a monorepo (issue 16, item 4): the workspace under
# e2e/monorepo consumes rules_repro as a user does. Every image is unpacked
# with umoci and run with runc as user 65534, and its output asserted:
# shell (runfiles.bash), Python (py_binary + py_library + data, on a Debian
# base built here from Debian packages, pushed to the TLS registry and
# pinned with `bazel run @rules_repro//:lock`), C++ (static on an empty base,
# dynamic on the Debian base), and a genrule-made tar under a prefix with
# mode and owner overrides. Then: a second checkout at another path, under
# another user name, gives the same digests; a one-line source change
# changes only the workspace layer.
#
# Sourced by e2e/run.sh after test_binaries.sh (run_layout, layer_digests),
# test_bazel.sh (A, B, ensure_clone) and test_pins.sh (pins_setup: the
# registry, REG, CA, DOCKER_CONFIG, REPRO).

# The Debian packages of the base: the dynamic loader and libc, the C++
# runtime, /bin/sh (dash) and bash, /usr/bin/env (coreutils) and python3
# (python3-minimal), with their libraries; Python's standard library
# (libpython3.11-stdlib: Bazel's launcher imports shutil, subprocess,
# tempfile, zipfile) with the libraries of its compression, hashing, uuid
# and ctypes modules (not those of dbm, curses, readline, sqlite3, nis); grep, which the runfiles.bash
# snippet calls when RUNFILES_DIR is not set; python-is-python3
# (/usr/bin/python), because the launcher Bazel 4.2.3 writes for a py_binary
# starts with #!/usr/bin/env python; debianutils (which), which the
# autodetecting Python toolchain's wrapper (py3wrapper.sh, a /bin/sh
# script) calls to find python3 on PATH.
MONOREPO_DEBS=(libc6 libgcc-s1 libstdc++6 dash bash libtinfo6 coreutils libacl1 libattr1 libgmp10
	libselinux1 libpcre2-8-0 grep python3-minimal python3.11-minimal libpython3.11-minimal libexpat1 zlib1g libssl3
	python-is-python3 libpython3.11-stdlib libbz2-1.0 libcrypt1 libffi8 liblzma5 libuuid1 debianutils)
# Where the .deb files are kept between runs; apt names each file
# PACKAGE_VERSION_ARCH.deb, so the cache is keyed by version.
MONOREPO_DEB_CACHE="$HOME/.cache/rules_repro/debian-debs-bookworm-amd64"
# Compiled actions are kept between runs (the Go standard library alone
# takes minutes to compile on 2 cores): clone A and clone B each have their
# own disk cache, so every output B uses was computed by a build at B's kind
# of path, as another user, never copied from A. Point
# REPRO_MONOREPO_DISK_CACHE at an empty directory for a cold run.
MONOREPO_DISK_CACHE="${REPRO_MONOREPO_DISK_CACHE:-$HOME/.cache/rules_repro/monorepo-disk-cache}"
MONOREPO_DISK_CACHE_B="$MONOREPO_DISK_CACHE-other-checkout"
MONOREPO_IMAGES=(//goapp/cmd/hello:image //shell:image //pyapp:image //cc:static_image //cc:dynamic_image //cc:dynamic_on_empty //tools:image)
MONOREPO_OTHER_USER=monorepo-e2e-other
# What each runnable image prints when runc runs it (a bash regular
# expression for its whole standard output), for local builds here and
# remote ones (test_remote_exec.sh's monorepo_remote).
declare -gA MONOREPO_WANT=(
	[//goapp/cmd/hello:image]='go linux/amd64: hello from a go_library data file \(read from /app/hello\.runfiles/repro_monorepo_e2e/goapp/greeting/greeting\.txt\)'
	[//shell:image]='shell: hello from runfiles.bash \(read from /app/greet.runfiles/repro_monorepo_e2e/shell/greeting.txt\)'
	[//pyapp:image]='python 3\.11: hello from a py_library data file \(read from /app/hello\.runfiles/repro_monorepo_e2e/pyapp/lib/message\.txt\)'
	[//cc:static_image]='c\+\+: hello from a cc_library, linked static'
	[//cc:dynamic_image]='c\+\+: hello from a cc_library, linked dynamic'
	[//tools:image]='-rwxr-xr-x 501:20 /opt/tools/bin/report.sh
drwxr-x--- 0:65534 /opt/tools/share
-r-------- 65534:65534 /opt/tools/share/motd.txt
tools: hello from a genrule-made tar \(as uid 65534\)'
)

# mono_build WS ARGS...: bazel build in a monorepo workspace with the base
# layers fetched and the layouts made (to run the images).
mono_build() {
	local ws=$1
	shift
	ebazel "$ws" "$@" --@rules_repro//rules/settings:base_layers=fetch --output_groups=+layout 2>&1 | tee "$E2E_TMP/last-build.log" >&2
	return "${PIPESTATUS[0]}"
}

# mono_lock ARGS...: bazel run @rules_repro//:lock -- ARGS in clone A's monorepo.
mono_lock() {
	ebazel "$A/e2e/monorepo" run @rules_repro//:lock -- "$@" 2>&1 | tee "$E2E_TMP/last-run.log" >&2
	return "${PIPESTATUS[0]}"
}

# mono_debs: the .deb files of MONOREPO_DEBS at apt's candidate versions,
# downloaded once into MONOREPO_DEB_CACHE; prints their paths.
mono_debs() {
	mkdir -p "$MONOREPO_DEB_CACHE"
	local p v f missing=() files=()
	for p in "${MONOREPO_DEBS[@]}"; do
		v=$(apt-cache policy "$p" 2>/dev/null | awk '$1 == "Candidate:" {print $2}')
		[[ -n $v && $v != "(none)" ]] || fail "apt knows no version of Debian package $p (apt-get update?)"
		f=$(compgen -G "$MONOREPO_DEB_CACHE/${p}_${v//:/%3a}_*.deb" | head -1 || true)
		if [[ -z $f ]]; then
			missing+=("$p=$v")
		else
			files+=("$f")
		fi
	done
	if ((${#missing[@]})); then
		log "downloading ${missing[*]} into $MONOREPO_DEB_CACHE"
		(cd "$MONOREPO_DEB_CACHE" && apt-get download "${missing[@]}" >&2 2>"$E2E_TMP/apt.log") ||
			fail "apt-get download ${missing[*]} failed: $(cat "$E2E_TMP/apt.log")"
		for p in "${missing[@]}"; do
			v=${p#*=}
			f=$(compgen -G "$MONOREPO_DEB_CACHE/${p%%=*}_${v//:/%3a}_*.deb" | head -1 || true)
			[[ -n $f ]] || fail "apt-get download gave no .deb for $p"
			files+=("$f")
		done
	fi
	printf '%s\n' "${files[@]}" | LC_ALL=C sort
}

# mono_debian_base: a one-layer linux/amd64 base image made by repro from
# the packages' file system trees (`dpkg-deb --fsys-tarfile`: the members
# with their modes, owners and symlinks, exactly as dpkg would install
# them), pushed to the registry as $REG/debian/base:12 by skopeo, then
# pinned with bazel run @rules_repro//:lock -- add and update.
mono_debian_base() {
	local d="$E2E_TMP/debian" deb name entries=""
	rm -rf "$d"
	mkdir -p "$d/tars"
	mono_debs >"$d/debs.txt" || exit 1
	while read -r deb; do
		name=$(basename "$deb" .deb)
		dpkg-deb --fsys-tarfile "$deb" >"$d/tars/$name.tar" || fail "dpkg-deb --fsys-tarfile $deb"
		entries+=$(printf '{"type":"tar","source":"%s","path":"/"},' "$d/tars/$name.tar")
		echo "$name" >>"$d/packages.txt"
	done <"$d/debs.txt"
	# What the maintainer scripts would add that the images need: which is
	# an alternative (update-alternatives in debianutils' postinst).
	printf '{"entries":[%s{"type":"dir","path":"/tmp","mode":"1777"},{"type":"symlink","path":"/usr/bin/which","target":"which.debianutils"}]}\n' "$entries" >"$d/spec.json"
	"$REPRO" layer --spec "$d/spec.json" --output "$d/layer.tgz" --descriptor "$d/layer.json" --source-date-epoch 1600000000 || fail "debian base layer"
	"$REPRO" image --layer "$d/layer.json" --platform linux/amd64 --env PATH=/usr/local/bin:/usr/bin:/bin --env LANG=C.UTF-8 --cmd /bin/sh \
		--source-date-epoch 1600000000 --config-out "$d/config.json" --manifest-out "$d/manifest.json" --descriptor-out "$d/image.json" || fail "debian base image"
	"$REPRO" index --image "$d/image.json" --source-date-epoch 1600000000 --index-out "$d/index.json" --descriptor-out "$d/idx.json" || fail "debian base index"
	"$REPRO" layout --descriptor "$d/idx.json" --output "$d/layout" --ref-name 12 --blob "$d/index.json" \
		--blob "$d/config.json" --blob "$d/manifest.json" --layer "$d/layer.json=$d/layer.tgz" || fail "debian base layout"
	mkdir -p "$d/certs"
	cp "$CA" "$d/certs/ca.crt"
	skopeo copy -q --all --dest-cert-dir "$d/certs" --dest-creds "$PINS_USER:$PINS_PASS" "oci:$d/layout:12" "docker://$REG/debian/base:12" >&2 ||
		fail "skopeo could not push the Debian base"
	log "Debian base from $(wc -l <"$d/packages.txt") packages ($(tr '\n' ' ' <"$d/packages.txt")): layer $(jq -r .digest "$d/layer.json") ($(jq -r .size "$d/layer.json") bytes), image $(jq -r .digest "$d/image.json")"

	local ws="$A/e2e/monorepo"
	printf '{"files":{},"images":{},"policy":[],"version":1}' >"$ws/repro.lock.json"
	mono_lock add debian "$REG/debian/base:12" --platform linux/amd64 --lockfile repro.lock.json || fail "lock add debian"
	mono_lock update --name debian --lockfile repro.lock.json || fail "lock update debian"
	[[ $(jq -r '.images.debian.platforms["linux/amd64"].digest' "$ws/repro.lock.json") == "$(jq -r .digest "$d/image.json")" ]] ||
		fail "the lockfile does not pin the pushed Debian base: $(cat "$ws/repro.lock.json")"
}

# mono_run WS TARGET WANT: runs the image of //PKG:NAME built in WS and
# checks that its standard output matches WANT (a bash regular expression
# for the whole output) and that it printed nothing on standard error.
# Prints the output.
mono_run() {
	local ws=$1 target=$2 want=$3 pkg name out err="$E2E_TMP/run-stderr"
	pkg=${target#//}
	name=${pkg#*:}
	pkg=${pkg%%:*}
	out=$(run_layout "$ws/bazel-bin/$pkg/$name" 2>"$err") || fail "running $target: [$out] stderr [$(cat "$err")]"
	[[ ! -s $err ]] || fail "$target printed on standard error: [$(cat "$err")] (standard output [$out])"
	[[ $out =~ ^$want$ ]] || fail "$target printed
$out
want (regular expression)
$want"
	echo "$out"
}

# mono_digests WS: "TARGET DIGEST" for every image.
mono_digests() {
	local t pkg
	for t in "${MONOREPO_IMAGES[@]}"; do
		pkg=${t#//}
		echo "$t $(digest_of "$1/bazel-bin/${pkg%%:*}/${pkg#*:}.digest")"
	done
}

# mono_setup: what a monorepo build needs: the pins' registry (an earlier
# test, pins, may have stopped it) and rules_go 0.34's Go SDK.
mono_setup() {
	pins_setup
	if [[ ! -f $E2E_TMP/registry/registry.pid ]]; then
		start_registry "$E2E_TMP/registry" --tls --htpasswd "$PINS_USER:$PINS_PASS" >/dev/null || fail "registry did not start"
		REG=$(cat "$E2E_TMP/registry/registry.addr")
	fi
	[[ -x /usr/lib/go-1.19/bin/go ]] || fail "the Go SDK of rules_go 0.34 is missing: apt-get install golang-1.19-go (tools/install-deps.sh)"
}

test_monorepo() {
	mono_setup
	command -v readelf >/dev/null || fail "readelf is missing (binutils, installed with gcc)"
	local ws="$A/e2e/monorepo" bin="$A/e2e/monorepo/bazel-bin" out
	local cache=(--disk_cache="$MONOREPO_DISK_CACHE")
	mono_debian_base
	local t0=$SECONDS
	mono_build "$ws" build "${cache[@]}" "${MONOREPO_IMAGES[@]}" || fail "building the monorepo's images"
	log "clone A: built ${#MONOREPO_IMAGES[@]} images in $((SECONDS - t0))s"

	# a. rules_go: go_binary + go_library + data through rules_go's runfiles
	# package (go/tools/bazel in v0.34.0), pure Go on no base.
	grep -q 'Requesting program interpreter' <<<"$(readelf -l "$bin/goapp/cmd/hello/hello_/hello")" && fail "the pure go_binary has a program interpreter"
	[[ $(jq '.layers | length' "$bin/goapp/cmd/hello/image.manifest.json") == 2 ]] || fail "the Go image has a base layer"
	out=$(mono_run "$ws" //goapp/cmd/hello:image "${MONOREPO_WANT[//goapp/cmd/hello:image]}") || exit 1
	log "runc //goapp/cmd/hello:image (no base): $out"
	mono_go_without_runfiles_dir

	# b. sh_binary + runfiles.bash, on the Debian base.
	out=$(mono_run "$ws" //shell:image "${MONOREPO_WANT[//shell:image]}") || exit 1
	log "runc //shell:image: $out"

	# c. py_binary + py_library + data through the Python runfiles library,
	# started by Bazel's own launcher (#!/usr/bin/env python).
	head -1 "$bin/pyapp/hello" | grep -qx '#!/usr/bin/env python' || fail "the py_binary launcher does not start with #!/usr/bin/env python: $(head -1 "$bin/pyapp/hello")"
	out=$(mono_run "$ws" //pyapp:image "${MONOREPO_WANT[//pyapp:image]}") || exit 1
	log "runc //pyapp:image: $out"
	local base_digest
	base_digest=$(jq -r '.images.debian.platforms["linux/amd64"].digest' "$ws/repro.lock.json")
	[[ $(jq -r '.annotations["org.opencontainers.image.base.digest"]' "$bin/pyapp/image.manifest.json") == "$base_digest" ]] ||
		fail "//pyapp:image is not built FROM the pinned Debian base $base_digest"

	# d. C++: static on an empty base, dynamic on the Debian base; the
	# dynamic one on an empty base fails as the docs say.
	grep -q 'Requesting program interpreter' <<<"$(readelf -l "$bin/cc/hello_static")" && fail "hello_static has a program interpreter: not static"
	grep -q 'Requesting program interpreter: /lib64/ld-linux-x86-64.so.2' <<<"$(readelf -l "$bin/cc/hello_dynamic")" || fail "hello_dynamic is not dynamically linked"
	[[ $(jq '.layers | length' "$bin/cc/static_image.manifest.json") == 2 ]] || fail "static_image has a base layer: $(jq -c .layers "$bin/cc/static_image.manifest.json")"
	out=$(mono_run "$ws" //cc:static_image "${MONOREPO_WANT[//cc:static_image]}") || exit 1
	log "runc //cc:static_image (no base): $out"
	out=$(mono_run "$ws" //cc:dynamic_image "${MONOREPO_WANT[//cc:dynamic_image]}") || exit 1
	log "runc //cc:dynamic_image (Debian base): $out"
	if out=$(run_layout "$bin/cc/dynamic_on_empty" 2>&1); then
		fail "a dynamic binary ran on an empty base: [$out]"
	fi
	grep -q 'no such file or directory' <<<"$out" || fail "a dynamic binary on an empty base failed otherwise than documented: [$out]"
	log "runc //cc:dynamic_on_empty fails as documented: $(grep 'no such file or directory' <<<"$out" | head -1)"

	# An index over amd64 and arm64 of a C++ image without a cross
	# toolchain: the message the docs quote.
	if ebazel "$ws" build "${cache[@]}" //cc:static_index >"$E2E_TMP/cc-index.log" 2>&1; then
		fail "//cc:static_index built without an arm64 C++ toolchain"
	fi
	grep -q 'While resolving toolchains for target //cc:hello_static: No matching toolchains found for types @bazel_tools//tools/cpp:toolchain_type' "$E2E_TMP/cc-index.log" ||
		fail "//cc:static_index failed otherwise than documented: $(grep ERROR "$E2E_TMP/cc-index.log")"
	log "//cc:static_index (amd64 + arm64, no cross toolchain) fails as documented: $(grep -o 'No matching toolchains found for types [^ .]*' "$E2E_TMP/cc-index.log" | head -1)"

	# e. The genrule's tar under /opt/tools, dist/ stripped, with modes and
	# owners overridden; the script from the tar is the entrypoint.
	local got want
	got=$(tar -tvzf "$bin/tools/tools_layer.tar.gz" --numeric-owner | awk '{print $1, $2, $NF}')
	want="drwxr-xr-x 0/0 opt/
drwxr-xr-x 0/0 opt/tools/
drwxr-xr-x 501/20 opt/tools/bin/
-rwxr-xr-x 501/20 opt/tools/bin/report.sh
drwxr-x--- 0/65534 opt/tools/share/
-r-------- 65534/65534 opt/tools/share/motd.txt"
	[[ $got == "$want" ]] || fail "tools_layer holds
$got
want
$want"
	out=$(mono_run "$ws" //tools:image "${MONOREPO_WANT[//tools:image]}") || exit 1
	log "runc //tools:image: $(tr '\n' '|' <<<"$out")"

	mono_digests "$ws" >"$E2E_TMP/monorepo-digests-a"
	log "digests in clone A:
$(cat "$E2E_TMP/monorepo-digests-a")"

	# f. Another checkout at another path, under another user name (so
	# another output user root), with its own disk cache: same digests.
	mono_second_checkout

	# g. Layer reuse: a one-line change in the py_library changes only the
	# workspace layer of //pyapp:image.
	mono_layer_reuse

	# Clone A's output base is under this run's temporary path: no later
	# run uses it (the disk cache keeps what is worth keeping).
	ebazel "$ws" clean --expunge >/dev/null 2>&1 || true
}

# Clone B's Bazel runs as another user: USER picks the output user root
# (~/.cache/bazel/_bazel_USER), user.name what Bazel's JVM reports.
mono_other_user() {
	USER=$MONOREPO_OTHER_USER "$@"
}

mono_second_checkout() {
	ensure_clone "$B"
	local wb="$B/e2e/monorepo" t0=$SECONDS
	cp "$A/e2e/monorepo/repro.lock.json" "$wb/repro.lock.json"
	(umask 077 && export TZ=Pacific/Chatham LANG=C.UTF-8 &&
		mono_other_user mono_build "$wb" --host_jvm_args=-Duser.name=$MONOREPO_OTHER_USER build --disk_cache="$MONOREPO_DISK_CACHE_B" "${MONOREPO_IMAGES[@]}") || fail "building in clone B"
	log "clone B ($wb, user $MONOREPO_OTHER_USER, umask 077, its own disk cache): built in $((SECONDS - t0))s"
	(cd "$wb" && mono_other_user bazel --host_jvm_args=-Xmx1g --host_jvm_args=-Duser.name=$MONOREPO_OTHER_USER info output_base 2>/dev/null) | grep -q "_bazel_$MONOREPO_OTHER_USER/" ||
		fail "clone B's output base is not under the other user's output root"
	mono_digests "$wb" >"$E2E_TMP/monorepo-digests-b"
	diff "$E2E_TMP/monorepo-digests-a" "$E2E_TMP/monorepo-digests-b" >&2 || fail "clones A and B give different image digests"
	local out
	out=$(mono_run "$wb" //pyapp:image 'python 3\.11: .*') || fail "running //pyapp:image of clone B"
	log "clone B: the same ${#MONOREPO_IMAGES[@]} digests; its //pyapp:image prints: $out"
	# Its output base (about 770 MB, under a path no later run uses) goes.
	(cd "$wb" && mono_other_user bazel --host_jvm_args=-Xmx1g --host_jvm_args=-Duser.name=$MONOREPO_OTHER_USER clean --expunge >/dev/null 2>&1) || true
}

mono_layer_reuse() {
	local ws="$A/e2e/monorepo" bin="$A/e2e/monorepo/bazel-bin" src="$A/e2e/monorepo/pyapp/lib/greeting.py"
	local before after out changed
	before=$(layer_digests "$bin/pyapp/image.manifest.json")
	cp "$src" "$E2E_TMP/greeting.py.orig"
	sed -i 's/return "%s (read from %s)"/return "%s, changed (read from %s)"/' "$src"
	cmp -s "$src" "$E2E_TMP/greeting.py.orig" && fail "the edit of greeting.py changed nothing"
	mono_build "$ws" build --disk_cache="$MONOREPO_DISK_CACHE" //pyapp:image || {
		cp "$E2E_TMP/greeting.py.orig" "$src"
		fail "rebuilding //pyapp:image"
	}
	after=$(layer_digests "$bin/pyapp/image.manifest.json")
	out=$(mono_run "$ws" //pyapp:image 'python 3\.11: hello from a py_library data file, changed \(read from .*\)') || {
		cp "$E2E_TMP/greeting.py.orig" "$src"
		fail "the changed //pyapp:image"
	}
	cp "$E2E_TMP/greeting.py.orig" "$src"
	log "layers before: $(tr '\n' ' ' <<<"$before")"
	log "layers after:  $(tr '\n' ' ' <<<"$after")"
	[[ $(wc -l <<<"$before") == 3 ]] || fail "//pyapp:image has $(wc -l <<<"$before") layers, want 3 (Debian base, external, workspace)"
	changed=$(diff <(echo "$before") <(echo "$after") | grep -c '^>' || true)
	[[ $changed == 1 ]] || fail "$changed layer digests changed, want exactly 1"
	[[ $(sed -n 3p <<<"$before") != $(sed -n 3p <<<"$after") ]] || fail "the workspace layer (the top one) did not change"
	log "after a one-line change in greeting.py only the workspace layer changed; the image printed: $out"
	mono_build "$ws" build --disk_cache="$MONOREPO_DISK_CACHE" //pyapp:image >/dev/null 2>&1 || fail "rebuild with the original greeting.py"
}

# mono_go_without_runfiles_dir: the Go image with RUNFILES_DIR removed from
# its config fails as the docs say (rules_go 0.34's runfiles package does not
# look for $0.runfiles), so the env line in goapp/cmd/hello is needed.
mono_go_without_runfiles_dir() {
	local run out cfg
	run=$(mktemp -d "$E2E_TMP/run.XXXXXX")
	umoci unpack --image "$A/e2e/monorepo/bazel-bin/goapp/cmd/hello/image:latest" "$run/bundle" >/dev/null || fail "umoci unpack of the Go image"
	cfg="$run/bundle/config.json"
	jq '.process.env |= map(select(startswith("RUNFILES_DIR=") | not))' "$cfg" >"$cfg.tmp" && mv "$cfg.tmp" "$cfg"
	if out=$("$E2E_ROOT/e2e/lib/runc_run.sh" "$run/bundle" 2>&1); then
		fail "the Go image ran without RUNFILES_DIR: [$out]"
	fi
	[[ $out == "hello: could not locate runfiles directory" ]] || fail "the Go image without RUNFILES_DIR printed [$out]"
	log "the Go image without RUNFILES_DIR fails as documented: $out"
}
