#!/usr/bin/env bash
# make demo: build the example image with Bazel and run it, on a fresh Debian
# machine. Installs what is missing, builds examples//app:image, runs it with
# docker if a daemon answers, else podman, else runc, and prints the image
# digest as the last line.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# No Go on PATH is needed: Bazel downloads the pinned Go release (by sha256)
# that builds the repro helper; the example program is built with rules_go
# and Debian's golang-1.19-go (/usr/lib/go-1.19), which install-deps.sh
# installs.
"$root/tools/install-deps.sh" demo

# Debian's Bazel 4.2.3 works offline with three stub repositories. The
# example's rules_go actions (its Go standard library: minutes on a cold
# machine) go to a disk cache shared with the e2e tests and other clones.
RULES_REPRO_GO_CACHE=${RULES_REPRO_GO_CACHE-$HOME/.cache/rules_repro/rules_go-v0.34.0-go1.19-disk-cache} \
	bash "$root/e2e/bazel/setup.sh" "$HOME/.cache/rules_repro/bazel-stubs" "$root/examples/offline.bazelrc" >/dev/null

cd "$root/examples"
echo "demo: building //app:image" >&2
bazel build //app:image --output_groups=+docker_archive,+layout --show_progress --show_progress_rate_limit=5 >&2
digest=$(tr -d '\n' <bazel-bin/app/image.digest)
archive=bazel-bin/app/image.docker.tar
layout=bazel-bin/app/image

echo "demo: running the image" >&2
ran=""
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
	docker load -i "$archive" >&2 && docker run --rm rules-repro/example:latest && ran=docker
fi
if [[ -z $ran ]] && command -v podman >/dev/null 2>&1; then
	if ! podman load -i "$archive" >&2; then
		echo "demo: podman load failed (above); using runc" >&2
	elif out=$(podman run --rm rules-repro/example:latest 2>&1); then
		echo "$out"
		ran=podman
	else
		# Loaded and tagged, but containers cannot start in some sandboxes
		# (no cgroups, no setrlimit): say why, then use runc.
		echo "demo: podman loaded rules-repro/example:latest but could not run it here: $(tail -1 <<<"$out"); using runc" >&2
	fi
fi
if [[ -z $ran ]]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	umoci unpack --image "$layout:latest" "$tmp/bundle" >/dev/null
	"$root/e2e/lib/runc_run.sh" "$tmp/bundle"
	ran=runc
fi
echo "demo: ran with $ran; image digest:" >&2
echo "$digest"
