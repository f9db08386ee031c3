# The two commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go

# The tests need Go (go test, go vet, fuzzing); the demo does not need Go on
# PATH: Bazel downloads the pinned Go release that builds the helper, and the
# example's rules_go uses Debian's golang-1.19-go (installed by install-deps.sh).
test deps test-go fuzz lint test-e2e bench bench-quick: export PATH := $(PATH):/usr/local/go/bin

.PHONY: deps demo test test-go test-e2e lint fuzz bench bench-quick

demo:
	tools/demo.sh

# Every test: Go unit and integration tests (real registry, skopeo, umoci),
# the BuildKit equivalence module, short fuzz runs, buildifier and the
# generated files' freshness, and the end-to-end tests on real Bazel.
test: deps test-go fuzz lint test-e2e

deps:
	tools/install-deps.sh test

test-go:
	REPRO_REQUIRE_E2E=1 $(GO) test ./...
	$(GO) vet ./...
	cd e2e/sourcepolicy && $(GO) test ./...

fuzz:
	tools/fuzz.sh 20000x

lint:
	tools/lint-starlark.sh
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }

test-e2e:
	e2e/run.sh

-include e2e/bench/bench.mk
