"""Bzlmod module extension of rules_repro. Everything outside rules/*.bzl may change without notice.

Usage in MODULE.bazel (rules_repro's own MODULE.bazel does this already):

    repro = use_extension("@rules_repro//rules:extensions.bzl", "repro")
    use_repo(repro, "repro_toolchains")
    register_toolchains("@repro_toolchains//:all")
"""

load("//rules/private:toolchain_repo.bzl", "repro_repositories")

def _repro_impl(module_ctx):
    repro_repositories(name = "repro_toolchains")

repro = module_extension(
    implementation = _repro_impl,
    doc = "Builds the repro helper from rules_repro's sources for each execution platform.",
)
