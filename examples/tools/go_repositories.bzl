"""Example only: rules_go and Gazelle for a WORKSPACE on Bazel 4.2.3 and later.

rules_repro itself needs no Go rules (its helper is built by a repository
rule); this file is the example's choice of how to build its Go program.
Other workspaces of this repository (e2e) reuse it through a repository for
examples/ (examples/ has its own WORKSPACE, so it is not part of
@rules_repro):

    local_repository(
        name = "rules_repro_examples",
        path = "../../examples",  # relative to the workspace
    )

    load("@rules_repro_examples//tools:go_repositories.bzl", "go_repositories")

    go_repositories()

    load("@io_bazel_rules_go//go:deps.bzl", "go_local_sdk", "go_register_toolchains", "go_rules_dependencies")

    go_local_sdk(name = "go_sdk", path = "/usr/lib/go-1.19")

    load("@bazel_gazelle//:deps.bzl", "gazelle_dependencies")

    gazelle_dependencies(go_sdk = "go_sdk")  # first: its go_repository rules use the proxy

    go_rules_dependencies()

    go_register_toolchains()

rules_go v0.34.0 and Gazelle v0.27.0 are the last releases that accept
Bazel 4.2.x (rules_go 0.35 needs Bazel 5.1). Both come as the module zips of
the Go module proxy (the same bytes everywhere, checked by sha256 here), from
each proxy of GOPROXY through rules_repro's public helper
(`@rules_repro//rules:goproxy.bzl`, which its own toolchain uses), so a
module mirror, `--repository_cache` or `--distdir` serves them; the public
proxy when GOPROXY is unset. The SDK is Debian's golang-1.19-go (rules_go
0.34 cannot use Go 1.20+ SDKs: they ship no compiled standard library);
`tools/install-deps.sh demo` installs it.
"""

load("@rules_repro//rules:goproxy.bzl", "go_fetch_env_vars", "go_module_zip_urls", "go_proxy")

RULES_GO_VERSION = "v0.34.0"
GAZELLE_VERSION = "v0.27.0"

# sha256 of the module zips as served by the Go module proxy (checked
# against the Go checksum database by `go mod download -json MODULE@VERSION`).
RULES_GO_SHA256 = "c485387052fd81576e104fe12687963f340cc06350936561b9ee4b2ef87ea4e0"
GAZELLE_SHA256 = "2eb0f31565e3bfb03d2b03dc518317fe4b905b83eabc82fc45e8d141acb813b6"

# Variables passed to `go mod vendor`: where modules come from (rules_repro's
# list) and where they are kept. Everything else that could change the result
# is fixed.
_PASSED_ENV = go_fetch_env_vars() + [
    "GOMODCACHE",
    "GOPATH",
]

def _go_module_archive_impl(rctx):
    module, version = rctx.attr.module, rctx.attr.version
    rctx.download_and_extract(
        url = go_module_zip_urls(rctx.os.environ, module, version),
        sha256 = rctx.attr.sha256,
        type = "zip",
        stripPrefix = "%s@%s" % (module, version),
    )
    for f in rctx.attr.delete:
        rctx.delete(f)
    for f, lines in rctx.attr.drop_lines.items():
        content = rctx.read(f)
        for line in lines:
            if line not in content.split("\n"):
                fail("go_module_archive %s: %s has no line %r to drop (was the version changed?)" % (rctx.name, f, line))
        rctx.file(f, "\n".join([line for line in content.split("\n") if line not in lines]), executable = False)
    if rctx.attr.vendor:
        _vendor(rctx)

def _vendor(rctx):
    """`go mod vendor` with the workspace's Go SDK, through the Go module proxy."""
    go = rctx.path(Label(rctx.attr.go))
    environ = rctx.os.environ
    env = {k: environ[k] for k in _PASSED_ENV if environ.get(k)}
    env.update({
        "GOROOT": str(go.dirname.dirname),
        "GOFLAGS": "-mod=mod",
        "GO111MODULE": "on",
        "GOWORK": "off",
        "GOENV": "off",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
        # The client's environment is inherited: clear what could change
        # what the go command does (empty means the default).
        "GOOS": "",
        "GOARCH": "",
        "GOEXPERIMENT": "",
        "GODEBUG": "",
        "GOAMD64": "",
        "GOARM": "",
        "GOARM64": "",
        "GO386": "",
    })
    env["GOPROXY"] = go_proxy(environ)

    # The user's module cache ($HOME/go/pkg/mod unless GOMODCACHE or GOPATH
    # say otherwise): it survives `bazel clean --expunge`, so a fetch after
    # one works offline. Only without HOME, a temporary one (never inside
    # the repository: Gazelle lists the repository's .go files).
    tmp_gopath = None
    if not env.get("GOMODCACHE") and not env.get("GOPATH") and not env.get("HOME"):
        tmp_gopath = rctx.path("../%s.gopath" % rctx.name)
        env["GOPATH"] = str(tmp_gopath)
    rctx.report_progress("go mod vendor (%s)" % rctx.attr.module)
    result = rctx.execute([go, "mod", "vendor"], environment = env, timeout = 1200)
    if tmp_gopath:
        rctx.execute(["chmod", "-R", "u+w", str(tmp_gopath)])
        rctx.delete(tmp_gopath)
    if result.return_code:
        fail("go_module_archive %s: `go mod vendor` failed (it downloads %s's dependencies through GOPROXY=%s):\n%s" % (
            rctx.name,
            rctx.attr.module,
            env["GOPROXY"],
            result.stderr,
        ))

go_module_archive = repository_rule(
    implementation = _go_module_archive_impl,
    doc = "A Go module's zip from the Go module proxy (each of GOPROXY), by sha256, as a repository.",
    attrs = {
        "module": attr.string(mandatory = True, doc = "The module path, such as `github.com/bazelbuild/rules_go`."),
        "version": attr.string(mandatory = True, doc = "The module version, such as `v0.34.0`."),
        "sha256": attr.string(mandatory = True, doc = "sha256 of the module zip."),
        "delete": attr.string_list(doc = "Files to delete after extraction."),
        "drop_lines": attr.string_list_dict(doc = "File -> exact lines to remove from it; fails if one is missing."),
        "vendor": attr.bool(doc = "Run `go mod vendor` (module zips carry no vendor/ directory)."),
        # A string, not a label: a label default would make every archive
        # depend on @go_sdk, which is declared after rules_go.
        "go": attr.string(default = "@go_sdk//:bin/go", doc = "Label of the go command `vendor` uses."),
    },
    environ = _PASSED_ENV,
)

def go_repositories():
    """Declares io_bazel_rules_go and bazel_gazelle (see the file's docstring)."""
    if not native.existing_rule("io_bazel_rules_go"):
        go_module_archive(
            name = "io_bazel_rules_go",
            module = "github.com/bazelbuild/rules_go",
            version = RULES_GO_VERSION,
            sha256 = RULES_GO_SHA256,
        )
    if not native.existing_rule("bazel_gazelle"):
        go_module_archive(
            name = "bazel_gazelle",
            module = "github.com/bazelbuild/bazel-gazelle",
            version = GAZELLE_VERSION,
            sha256 = GAZELLE_SHA256,
            # Gazelle builds its repository tools (fetch_repo, gazelle) in
            # GOPATH mode from its vendor/ directory, which module zips lack.
            vendor = True,
            # A test suite whose macro needs a newer bazel_skylib than
            # Debian's (`'struct' object is not callable`); nothing else
            # uses it.
            drop_lines = {"internal/BUILD.bazel": [
                'load(":gazelle_binary_test.bzl", "gazelle_binary_test_suite")',
                "gazelle_binary_test_suite()",
            ]},
        )
