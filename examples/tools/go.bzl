"""Example only: build a static Go program without rules_go.

rules_repro itself needs no Go rules (its helper is built by a repository
rule). The example program is built with the Go release rules_repro pins,
downloaded through Bazel's downloader like rules_repro's own (no host Go),
for the target platform's architecture.
"""

GO_VERSION = "go1.26.8"

# sha256 of the golang.org/toolchain module zips of GO_VERSION, as checked
# against the Go checksum database by `go mod download`.
_SHA256 = {
    "darwin-amd64": "fe99a2009e5bb51e06d7784f1a486478673512041c2671157bd382806e2aedcf",
    "darwin-arm64": "0aad5fb52b88498885290178adc0bcfe429bc63012621af9f83282eb640bd9c7",
    "linux-amd64": "30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7",
    "linux-arm64": "02b36b6787b3ac767668f630e2998df45a3b1f9ffee08d1bf3ef6487cd658d99",
}

def _go_sdk_impl(rctx):
    goos = "darwin" if rctx.os.name.lower().startswith("mac") else "linux"
    arch = rctx.execute(["uname", "-m"]).stdout.strip()
    host = "%s-%s" % (goos, "arm64" if arch in ("aarch64", "arm64") else "amd64")
    version = "v0.0.1-%s.%s" % (GO_VERSION, host)
    proxy = (rctx.os.environ.get("GOPROXY", "") or "https://proxy.golang.org").replace("|", ",").split(",")
    urls = [p.rstrip("/") + "/golang.org/toolchain/@v/%s.zip" % version for p in proxy if p.startswith("http")]
    rctx.download_and_extract(
        url = urls or ["https://proxy.golang.org/golang.org/toolchain/@v/%s.zip" % version],
        sha256 = _SHA256[host],
        type = "zip",
        output = "sdk",
        stripPrefix = "golang.org/toolchain@" + version,
    )
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

go_sdk = repository_rule(implementation = _go_sdk_impl, doc = "The Go release GO_VERSION for the host, by sha256 through Bazel's downloader.")

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
