"""Where Go modules are downloaded from in repository rules: GOPROXY."""

_DEFAULT_GOPROXY = "https://proxy.golang.org"

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
