"""Repository rules that build the repro helper from rules_repro's own sources.

No rules_go and no host Go are needed: the pinned Go release is downloaded
through Bazel's downloader (the `golang.org/toolchain` module zip that the
`go` command itself uses for GOTOOLCHAIN, from the Go module proxy, checked
against a sha256 recorded here), so `--repository_cache`, `--distdir` and
downloader rewrites serve it, and `bazel clean --expunge` does not go back to
the network. The helper is built in an environment that is cleared and then
fully specified, so nothing on the user's machine (GOAMD64, GOEXPERIMENT,
GOFLAGS, GOROOT, a `go env -w` file) can change its bytes. Each execution
platform gets its own repository, fetched only when toolchain resolution
selects it.
"""

load("//rules/private:goproxy.bzl", "go_fetch_env_vars", "go_module_zip_urls")
load("//rules/private:srcs.bzl", "REPRO_SRCS")

# The Go release that builds the helper. Changing it changes the helper's
# bytes (and so every action key), never an image digest.
GO_VERSION = "go1.26.8"

# sha256 of the golang.org/toolchain module zip v0.0.1-<GO_VERSION>.<os>-<arch>.zip
# for each supported host. Recorded from `go mod download -json
# golang.org/toolchain@v0.0.1-go1.26.8.<os>-<arch>`, which checks the zip
# against the Go checksum database before it hands it out.
GO_TOOLCHAIN_SHA256 = {
    "darwin-amd64": "fe99a2009e5bb51e06d7784f1a486478673512041c2671157bd382806e2aedcf",
    "darwin-arm64": "0aad5fb52b88498885290178adc0bcfe429bc63012621af9f83282eb640bd9c7",
    "linux-amd64": "30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7",
    "linux-arm64": "02b36b6787b3ac767668f630e2998df45a3b1f9ffee08d1bf3ef6487cd658d99",
}

PLATFORMS = {
    "linux_amd64": struct(goos = "linux", goarch = "amd64", constraints = ["@platforms//os:linux", "@platforms//cpu:x86_64"]),
    "linux_arm64": struct(goos = "linux", goarch = "arm64", constraints = ["@platforms//os:linux", "@platforms//cpu:aarch64"]),
    "darwin_amd64": struct(goos = "darwin", goarch = "amd64", constraints = ["@platforms//os:osx", "@platforms//cpu:x86_64"]),
    "darwin_arm64": struct(goos = "darwin", goarch = "arm64", constraints = ["@platforms//os:osx", "@platforms//cpu:aarch64"]),
}

# Variables passed from the user's environment into the helper's build. They
# decide where modules come from and where caches live; none of them can
# change the helper's bytes (modules are checked against go.sum, and Go's
# build cache is keyed by content). Everything else is cleared.
_PASSED_ENV = go_fetch_env_vars()

def _download_go(rctx, host):
    """Downloads and extracts the pinned Go release for the host into ./_go.

    Returns:
      The path of the go command.
    """
    sha256 = GO_TOOLCHAIN_SHA256.get(host)
    if not sha256:
        fail("rules_repro: no pinned Go release for host %s (supported: %s); set REPRO_GO to a go1.26.8 command to build the helper with it" % (
            host,
            ", ".join(sorted(GO_TOOLCHAIN_SHA256.keys())),
        ))
    version = "v0.0.1-%s.%s" % (GO_VERSION, host)
    rctx.download_and_extract(
        url = go_module_zip_urls(rctx.os.environ, "golang.org/toolchain", version),
        sha256 = sha256,
        type = "zip",
        output = "_go",
        stripPrefix = "golang.org/toolchain@%s" % version,
    )
    return str(rctx.path("_go/bin/go"))

def _clean_env(rctx, goroot, goos, goarch):
    """The complete environment of the helper's build: `env -i` and these."""
    environ = rctx.os.environ
    env = {k: environ[k] for k in _PASSED_ENV if environ.get(k)}
    home = environ.get("HOME", "")
    cache = environ.get("XDG_CACHE_HOME", "") or (home + "/.cache" if home else "")
    modcache = environ.get("GOMODCACHE", "")
    if not modcache:
        gopath = environ.get("GOPATH", "").split(":")[0]
        modcache = (gopath or (home + "/go" if home else "")) + "/pkg/mod" if (gopath or home) else ""
    env.update({
        # Where modules and compiled packages are kept between fetches (the
        # module cache is what lets a fetch after `bazel clean --expunge`
        # work offline). Neither changes the helper's bytes.
        "GOMODCACHE": modcache or str(rctx.path("_gomodcache")),
        "GOCACHE": (cache + "/rules_repro/go-build") if cache else str(rctx.path("_gocache")),
        "GOPATH": str(rctx.path("_gopath")),
        # The build itself: every variable that can change bytes, fixed.
        "GOROOT": goroot,
        "GOTOOLCHAIN": "local",
        "GOENV": "off",
        "GOFLAGS": "-mod=readonly",
        "GOWORK": "off",
        "GO111MODULE": "on",
        "GOEXPERIMENT": "",
        "GODEBUG": "",
        "GOOS": goos,
        "GOARCH": goarch,
        "GOAMD64": "v1",
        "GOARM64": "v8.0",
        "GOARM": "7",
        "GO386": "sse2",
        "CGO_ENABLED": "0",
        "GOTELEMETRY": "off",
    })
    if not goroot:
        env.pop("GOROOT")
    return env

def build_repro(rctx, goos, goarch):
    """Builds tools/repro for goos/goarch into ./repro of the repository.

    The Go release is the pinned one, downloaded through Bazel's downloader,
    unless REPRO_GO names a go command to use instead (for an air-gapped
    machine without a proxy mirror); that command must be GO_VERSION for the
    helper's bytes to match other machines'.

    Args:
      rctx: the repository context (with a srcs attribute).
      goos: GOOS of the binary.
      goarch: GOARCH of the binary.
    """
    root = rctx.path(Label("//:go.mod")).dirname

    # The sources are a label_list attribute: Bazel records their content and
    # refetches the repository when one changes (resolving labels inside the
    # implementation would not).
    for src in rctx.attr.srcs:
        rctx.path(src)
    host_goos, host_goarch = _host_platform(rctx)
    go = rctx.os.environ.get("REPRO_GO", "")
    if go:
        goroot = ""  # the command's own
    else:
        go = _download_go(rctx, "%s-%s" % (host_goos, host_goarch))
        goroot = str(rctx.path("_go"))
        version = rctx.execute(["env", "-i", "GOROOT=" + goroot, "GOTOOLCHAIN=local", "GOENV=off", go, "version"]).stdout.strip()
        if GO_VERSION + " " not in version + " ":
            fail("rules_repro: the downloaded Go release says %r, expected %s" % (version, GO_VERSION))
    env = _clean_env(rctx, goroot, goos, goarch)
    if not goroot:
        # A go command of the user's: it switches to the pinned release
        # (from its module cache or GOPROXY) unless it is that release.
        env["GOTOOLCHAIN"] = GO_VERSION
    cmd = ["env", "-i"] + ["%s=%s" % (k, v) for k, v in sorted(env.items())] + [
        go,
        "build",
        "-trimpath",
        "-buildvcs=false",
        "-ldflags=-s -w -buildid=",
        "-o",
        str(rctx.path("repro")),
        "./tools/repro",
    ]
    result = rctx.execute(cmd, working_directory = str(root), timeout = 3600)
    if result.return_code != 0:
        fail("building the repro helper for %s/%s with %s failed:\n%s%s" % (
            goos,
            goarch,
            go,
            result.stdout,
            result.stderr,
        ))
    if goroot:
        # The release is 250 MB unpacked; the zip stays in the repository
        # cache, so a refetch unpacks it again without the network.
        rctx.delete("_go")

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
