"""Public API: Go module proxy URLs and environment for repository rules. Everything outside rules/*.bzl may change without notice.

The repository rules that build rules_repro's helper download the Go release
through GOPROXY with these functions; a workspace that fetches Go modules in
its own repository rules (as the example does for rules_go and Gazelle) can
use them too:

    load("@rules_repro//rules:goproxy.bzl", "go_module_zip_urls")

    rctx.download_and_extract(
        url = go_module_zip_urls(rctx.os.environ, "github.com/bazelbuild/rules_go", "v0.34.0"),
        sha256 = "...",
        type = "zip",
        stripPrefix = "github.com/bazelbuild/rules_go@v0.34.0",
    )
"""

load("//rules/private:goproxy.bzl", _go_fetch_env_vars = "go_fetch_env_vars", _go_module_zip_urls = "go_module_zip_urls", _go_proxy = "go_proxy")

go_fetch_env_vars = _go_fetch_env_vars
go_module_zip_urls = _go_module_zip_urls
go_proxy = _go_proxy
