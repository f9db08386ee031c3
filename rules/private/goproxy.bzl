"""Where Go modules are downloaded from in repository rules: GOPROXY."""

_DEFAULT_GOPROXY = "https://proxy.golang.org"

_FETCH_ENV = [
    "GOPROXY",
    "GONOPROXY",
    "GOPRIVATE",
    "GONOSUMDB",
    "GOSUMDB",
    "GOINSECURE",
    "GOVCS",
    "HOME",
    "NETRC",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "PATH",
]

def go_fetch_env_vars():
    """The environment variables that decide where a `go` command run by a repository rule fetches modules from.

    The module proxy and checksum database (GOPROXY, GOSUMDB and the
    private-module lists), network proxies, certificates and credentials
    (NETRC, HOME), and PATH. None of them changes what a module contains
    (modules are checked against go.sum), so a repository rule can pass
    them to `go` from the user's environment and clear everything else; list
    them in the rule's `environ` as well.

    Returns:
      A new list of variable names.
    """
    return list(_FETCH_ENV)

def go_proxy(environ):
    """The GOPROXY a repository rule uses: the environment's, else the public proxy.

    Args:
      environ: the repository rule's environment (`rctx.os.environ`).

    Returns:
      The GOPROXY value, never empty.
    """
    return environ.get("GOPROXY", "") or _DEFAULT_GOPROXY

def _escape(s):
    """A module path or version as the proxy protocol spells it (upper case as !lower)."""
    out = ""
    for c in s.elems():
        if c.isupper():
            out += "!" + c.lower()
        else:
            out += c
    return out

def go_module_zip_urls(environ, module, version):
    """URLs of a module's zip on each proxy of GOPROXY, for `rctx.download_and_extract`.

    Entries of GOPROXY are separated by `,` or `|`; `direct` and `off` are
    skipped, and an entry without a scheme gets `https://`. When nothing is
    left (GOPROXY=off or direct) the public proxy is the one URL, so that the
    repository cache or `--distdir` can still serve the zip by its sha256.
    The zip unpacks into the directory `MODULE@VERSION` (its `stripPrefix`).

    Args:
      environ: the repository rule's environment (`rctx.os.environ`); list
        `GOPROXY` in the rule's `environ` so that a change refetches.
      module: the module path, such as `github.com/bazelbuild/rules_go`.
      version: the module version, such as `v0.34.0`.

    Returns:
      A list of URLs, at least one.
    """
    path = "%s/@v/%s.zip" % (_escape(module), _escape(version))
    urls = []
    for entry in go_proxy(environ).replace("|", ",").split(","):
        entry = entry.strip().rstrip("/")
        if entry in ("", "direct", "off"):
            continue
        if not entry.startswith("http://") and not entry.startswith("https://") and not entry.startswith("file://"):
            entry = "https://" + entry
        urls.append(entry + "/" + path)
    return urls or [_DEFAULT_GOPROXY + "/" + path]
