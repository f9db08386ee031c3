"""The repro toolchain: a prebuilt helper binary for one execution platform."""

load("//rules/private/providers:toolchain_info.bzl", "ReproToolchainInfo")

# An absolute label string: Bazel 4 takes only strings in rule(toolchains = ...).
TOOLCHAIN_TYPE = str(Label("//rules:toolchain_type"))

def _repro_toolchain_impl(ctx):
    info = ReproToolchainInfo(repro = ctx.executable.repro, goos = ctx.attr.goos, goarch = ctx.attr.goarch)
    return [platform_common.ToolchainInfo(repro = info), info]

repro_toolchain = rule(
    implementation = _repro_toolchain_impl,
    doc = "Declares a `repro` helper binary as a toolchain implementation. Used by the generated toolchain repositories.",
    attrs = {
        "repro": attr.label(
            doc = "The repro binary.",
            executable = True,
            allow_single_file = True,
            cfg = "exec",
            mandatory = True,
        ),
        "goos": attr.string(doc = "GOOS of the binary.", mandatory = True),
        "goarch": attr.string(doc = "GOARCH of the binary.", mandatory = True),
    },
)

def repro_tool(ctx):
    """Returns the repro executable File from the resolved toolchain."""
    return ctx.toolchains[TOOLCHAIN_TYPE].repro.repro
