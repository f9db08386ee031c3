"""Repository rules that build the repro helper from rules_repro's own sources.

No rules_go is needed: the host `go` command builds the helper, and
GOTOOLCHAIN pins the exact compiler (the `go` command fetches it from the Go
module proxy when the host has another version), so every machine produces
identical bytes and remote-cache keys stay equal. Each execution platform
gets its own repository, fetched only when toolchain resolution selects it.
"""

load("//rules/private:srcs.bzl", "REPRO_SRCS")

# The Go release that builds the helper. Changing it changes the helper's
# bytes (and so every action key), never an image digest.
GO_VERSION = "go1.26.8"

PLATFORMS = {
    "linux_amd64": struct(goos = "linux", goarch = "amd64", constraints = ["@platforms//os:linux", "@platforms//cpu:x86_64"]),
    "linux_arm64": struct(goos = "linux", goarch = "arm64", constraints = ["@platforms//os:linux", "@platforms//cpu:aarch64"]),
    "darwin_amd64": struct(goos = "darwin", goarch = "amd64", constraints = ["@platforms//os:osx", "@platforms//cpu:x86_64"]),
    "darwin_arm64": struct(goos = "darwin", goarch = "arm64", constraints = ["@platforms//os:osx", "@platforms//cpu:aarch64"]),
}

def _find_go(rctx):
    go = rctx.os.environ.get("REPRO_GO", "")
    if go:
        return go
    found = rctx.which("go")
    if found:
        return str(found)
    for candidate in ["/usr/local/go/bin/go", "/usr/lib/go/bin/go", "/opt/homebrew/bin/go"]:
        if rctx.path(candidate).exists:
            return candidate
    fail("rules_repro builds its helper with Go, but no `go` command was found.\n" +
         "Install Go 1.21 or newer (it fetches %s by itself through GOTOOLCHAIN), " % GO_VERSION +
         "put it on PATH, or set REPRO_GO to its path.")

def build_repro(rctx, goos, goarch):
    """Builds tools/repro for goos/goarch into ./repro of the repository.

    Args:
      rctx: the repository context (with a srcs attribute).
      goos: GOOS of the binary.
      goarch: GOARCH of the binary.
    """
    go = _find_go(rctx)
    root = rctx.path(Label("//:go.mod")).dirname

    # The sources are a label_list attribute: Bazel records their content and
    # refetches the repository when one changes (resolving labels inside the
    # implementation would not).
    for src in rctx.attr.srcs:
        rctx.path(src)
    env = {
        "GOTOOLCHAIN": GO_VERSION,
        "CGO_ENABLED": "0",
        "GOOS": goos,
        "GOARCH": goarch,
        "GOFLAGS": "-mod=readonly",
        "GOWORK": "off",
        "GO111MODULE": "on",
    }
    if not rctx.os.environ.get("HOME") and not rctx.os.environ.get("GOPATH"):
        env["GOPATH"] = str(rctx.path("_gopath"))
        env["GOCACHE"] = str(rctx.path("_gocache"))
    result = rctx.execute(
        [go, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", str(rctx.path("repro")), "./tools/repro"],
        environment = env,
        working_directory = str(root),
        timeout = 3600,
    )
    if result.return_code != 0:
        fail("building the repro helper for %s/%s with %s (GOTOOLCHAIN=%s) failed:\n%s%s" % (
            goos,
            goarch,
            go,
            GO_VERSION,
            result.stdout,
            result.stderr,
        ))

def _repro_binary_repository_impl(rctx):
    goos, goarch = rctx.attr.goos, rctx.attr.goarch
    if rctx.attr.host:
        goos, goarch = _host_platform(rctx)
    build_repro(rctx, goos, goarch)
    rctx.file("BUILD.bazel", """\
load("{toolchain_bzl}", "repro_toolchain")

package(default_visibility = ["//visibility:public"])

exports_files(["repro"])

repro_toolchain(
    name = "toolchain",
    goarch = "{goarch}",
    goos = "{goos}",
    repro = ":repro",
)
""".format(toolchain_bzl = str(Label("//rules/private:toolchain.bzl")), goos = goos, goarch = goarch))

def _host_platform(rctx):
    os = rctx.os.name.lower()
    if os.startswith("linux"):
        goos = "linux"
    elif os.startswith("mac"):
        goos = "darwin"
    else:
        fail("rules_repro: unsupported host OS %r" % rctx.os.name)
    arch = rctx.execute(["uname", "-m"]).stdout.strip()
    goarch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(arch)
    if not goarch:
        fail("rules_repro: unsupported host CPU %r" % arch)
    return goos, goarch

repro_binary_repository = repository_rule(
    implementation = _repro_binary_repository_impl,
    doc = "Builds the repro helper for one platform (or, with host = True, for the machine running Bazel).",
    attrs = {
        "goos": attr.string(),
        "goarch": attr.string(),
        "host": attr.bool(default = False),
        "srcs": attr.label_list(
            default = [Label("//:" + src) for src in REPRO_SRCS],
            allow_files = True,
            doc = "The helper's sources (generated list); their content invalidates the repository.",
        ),
    },
    environ = ["REPRO_GO"],
)

def _repro_toolchains_impl(rctx):
    lines = ['package(default_visibility = ["//visibility:public"])', ""]
    for name, p in PLATFORMS.items():
        lines.append("""toolchain(
    name = "{name}",
    exec_compatible_with = {constraints},
    toolchain = "@{prefix}_{name}//:toolchain",
    toolchain_type = "{toolchain_type}",
)
""".format(
            name = name,
            constraints = repr(p.constraints),
            prefix = rctx.attr.prefix,
            toolchain_type = str(Label("//rules:toolchain_type")),
        ))
    rctx.file("BUILD.bazel", "\n".join(lines))

repro_toolchains_repository = repository_rule(
    implementation = _repro_toolchains_impl,
    doc = "Declares one toolchain per execution platform; each points at a repository that is fetched only when selected.",
    attrs = {"prefix": attr.string(mandatory = True)},
)

def _features_impl(rctx):
    version = native.bazel_version or ""
    if version and version.split(".")[0].isdigit():
        major = int(version.split(".")[0])
    elif hasattr(rctx, "getenv"):
        # A development build of Bazel 7.1 or later (repository_ctx.getenv
        # is new in 7.1).
        major = 7
    else:
        # A development build without a version, such as Debian's
        # bazel-bootstrap 4.2.3.
        major = 4
    rctx.file("BUILD.bazel", "")
    rctx.file("features.bzl", """\
\"\"\"What the running Bazel supports (generated by rules_repro).\"\"\"

BAZEL_MAJOR = {major}

# ctx.actions.run(toolchain = ...) exists from Bazel 7 on.
ACTION_TOOLCHAIN_PARAM = {toolchain_param}
""".format(major = major, toolchain_param = major >= 7))

features_repository = repository_rule(
    implementation = _features_impl,
    doc = "Records what the running Bazel version supports, for the rules to adapt to Bazel 4 and 7+.",
)

def repro_repositories(name):
    """Declares the toolchain repositories (shared by WORKSPACE and MODULE.bazel).

    Args:
      name: prefix of the repositories: NAME (toolchains), NAME_<os>_<arch>
        (one helper binary per execution platform) and NAME_host (the helper
        for the machine running Bazel, used by repository rules).
    """
    for platform, p in PLATFORMS.items():
        repro_binary_repository(name = "%s_%s" % (name, platform), goos = p.goos, goarch = p.goarch)
    repro_binary_repository(name = name + "_host", host = True)
    repro_toolchains_repository(name = name, prefix = name)
    features_repository(name = "rules_repro_features")
