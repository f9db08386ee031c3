#!/usr/bin/env bash
# Installs what rules_repro's demo and tests need on a Debian machine, only
# when missing. Idempotent; apt-get only (plus the Go module proxy for Go
# tools pinned in go.mod).
#
# usage: tools/install-deps.sh demo|test
set -euo pipefail

what=${1:-test}
pkgs=(bazel-bootstrap bazel-skylib gcc g++ libc6-dev git jq umoci runc)
# The example (examples/) builds its Go program with rules_go 0.34, whose SDK
# is Debian's Go 1.19 at /usr/lib/go-1.19 (not put on PATH).
pkgs+=(golang-1.19-go)
if [[ $what == test ]]; then
	pkgs+=(skopeo docker-registry nginx curl openssl podman libarchive-tools pigz zstd bash-static)
	# e2e/lib/buildbarn.sh applies the patches shipped inside the Buildbarn modules.
	pkgs+=(patch)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "install-deps: installing ${missing[*]}" >&2
	sudo=()
	[[ $(id -u) -eq 0 ]] || sudo=(sudo)
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq >&2
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The demo needs no Go: Bazel downloads the pinned Go release that builds
# the helper. The tests do (go test, go vet, fuzzing, crane below).
if [[ $what == test ]] && ! command -v go >/dev/null 2>&1; then
	if [[ -x /usr/local/go/bin/go ]]; then
		echo "install-deps: add /usr/local/go/bin to PATH" >&2
	else
		echo "install-deps: the tests need Go 1.21 or newer on PATH (https://go.dev/dl/); make demo does not" >&2
	fi
	exit 1
fi

# crane judges the OCI archives and pushes in the Go tests
# (tools/repro/archive_judges_test.go): the go-containerregistry of go.mod,
# from the Go module proxy, into $(go env GOPATH)/bin where the tests look.
if [[ $what == test ]]; then
	ggcr=$(awk '$1 == "github.com/google/go-containerregistry" {print $2}' "$(dirname "$0")/../go.mod")
	if ! command -v crane >/dev/null 2>&1 && [[ ! -x "$(go env GOPATH)/bin/crane" ]]; then
		echo "install-deps: installing crane $ggcr" >&2
		go install "github.com/google/go-containerregistry/cmd/crane@$ggcr" >&2
	fi
fi
