"""Example only: the Go SDK repository for bzlmod (kept apart from go.bzl, which Bazel 4 also loads)."""

load("//tools:go.bzl", "go_sdk")

def _go_sdk_extension_impl(_module_ctx):
    go_sdk(name = "go_sdk")

go_sdk_extension = module_extension(implementation = _go_sdk_extension_impl)
