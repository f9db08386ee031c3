"""Example only: build a static Go program without rules_go.

rules_repro itself needs no Go rules (its helper is built by a repository
rule). The example program is built with the Go SDK that GOTOOLCHAIN pins,
located through the host `go`, for the target platform's architecture.
"""

GO_VERSION = "go1.26.8"

def _go_sdk_impl(rctx):
    go = rctx.which("go") or "/usr/local/go/bin/go"
    res = rctx.execute([str(go), "env", "GOROOT"], environment = {"GOTOOLCHAIN": GO_VERSION})
    if res.return_code != 0:
        fail("go env GOROOT failed: " + res.stderr)
    goroot = res.stdout.strip()
    for d in ["bin", "pkg", "src", "lib", "go.env", "VERSION"]:
        if rctx.path(goroot + "/" + d).exists:
            rctx.symlink(goroot + "/" + d, "sdk/" + d)
    rctx.file("BUILD.bazel", """\
package(default_visibility = ["//visibility:public"])

filegroup(
    name = "files",
    srcs = glob(
        ["sdk/**"],
        exclude = ["sdk/**/testdata/**", "sdk/**/*_test.go", "sdk/pkg/tool/*/api", "sdk/pkg/tool/*/doc", "sdk/pkg/tool/*/pprof", "sdk/pkg/tool/*/trace"],
    ),
)

exports_files(["sdk/bin/go"])
""")

go_sdk = repository_rule(implementation = _go_sdk_impl, doc = "The Go SDK of GO_VERSION, found through the host go.")

def _go_static_binary_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name)
    go = ctx.file._go
    ctx.actions.run_shell(
        outputs = [out],
        inputs = depset(ctx.files.srcs, transitive = [ctx.attr._sdk[DefaultInfo].files]),
        command = """\
set -eu
export GOROOT="$PWD/$(dirname $(dirname {go}))" GOCACHE="$(mktemp -d)" GOPATH="$(mktemp -d)"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOOS=linux GOARCH={goarch} GO111MODULE=off GOFLAGS=
"$GOROOT/bin/go" build -trimpath -ldflags=-buildid= -o {out} {srcs}
rm -rf "$GOCACHE" "$GOPATH"
""".format(go = go.path, goarch = ctx.attr.goarch, out = out.path, srcs = " ".join([f.path for f in ctx.files.srcs])),
        mnemonic = "GoStaticBinary",
        progress_message = "Compiling %s for linux/%s" % (ctx.label, ctx.attr.goarch),
    )
    return [DefaultInfo(files = depset([out]), executable = out)]

_go_static_binary = rule(
    implementation = _go_static_binary_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = [".go"]),
        "goarch": attr.string(),
        "_go": attr.label(default = "@go_sdk//:sdk/bin/go", allow_single_file = True),
        "_sdk": attr.label(default = "@go_sdk//:files"),
    },
    executable = True,
)

def go_static_binary(name, srcs, **kwargs):
    """A static linux binary from Go sources, for the target platform's CPU."""
    _go_static_binary(
        name = name,
        srcs = srcs,
        goarch = select({
            "@platforms//cpu:aarch64": "arm64",
            "//conditions:default": "amd64",
        }),
        **kwargs
    )
