"""Repository rules for pinned base images: the lockfile becomes repositories.

For a lockfile with an image named `distroless`, and the hub named `pins`:

  @pins                               hub: one alias per image, defs.bzl with
                                      pinned(), repositories.bzl (WORKSPACE)
  @pins_distroless                    manifests and configs only (shallow),
                                      one target per platform and `image`,
                                      which picks the target platform's
  @pins_distroless_linux_amd64_blobs  the layer blobs of one platform, fetched
                                      only when a build needs layer bytes
  @pins_tool                          a file of "files", downloaded by Bazel's
                                      downloader with its pinned sha256
                                      (@pins//:tool, or pinned_file(URL))

The helper (built for the host) talks to registries, so authentication works
as docker's does (~/.docker/config.json, credential helpers, bearer tokens),
and every blob is verified against its digest.

Both ways of declaring these repositories (WORKSPACE: the hub's
repositories.bzl; bzlmod: the `pins` module extension) go through
check_lockfile, which runs `repro lock check --json` and then checks in
Starlark every value a repository is declared from, and through
repro_pins_repositories, which checks the values again. Every value written
into a generated file is written with repr().

A lockfile that is incomplete, inconsistent or denied by its own policy
never fails a fetch (that would fail every Bazel command, including
`bazel run @rules_repro//:lock`, which fixes it): the entries `repro lock
check` reports are not declared as repositories; the hub gives each a
pins_error target instead, which fails the targets that use it, when they
are analyzed, with the problems and the command that fixes them. A lockfile
that cannot be read at all gives no entries, and pinned() a failing target.
Only a value that `repro lock check` accepts but that could not be a
repository name or a value of a generated file (a bug or an attack) fails
the fetch.

No repository rule lists environment variables in `environ`: what they
fetch is verified against the lockfile's digests, so the environment
(DOCKER_CONFIG, REPRO_REGISTRY_CA, ...) is how to fetch, never what is
fetched, and changing it (a new shell without REPRO_REGISTRY_CA) must not
refetch, and fail, what was fetched.
"""

_HOST_REPRO = "@repro_toolchains_host//:repro"

# Passed to repro, none in environ (see above): changing them never refetches.
_ENV_PASSED = ["DOCKER_CONFIG", "HOME", "SSL_CERT_FILE", "SSL_CERT_DIR", "REPRO_REGISTRY_CA", "REPRO_STALL_TIMEOUT"]

def _env(ctx):
    env = {}
    for k in _ENV_PASSED:
        v = ctx.os.environ.get(k)
        if v:
            env[k] = v
    return env

def _run(ctx, repro, args, what):
    """Runs the helper; ctx is a repository_ctx or a module_ctx."""
    res = ctx.execute([str(ctx.path(repro))] + args, environment = _env(ctx), timeout = 3600, quiet = True)
    if res.return_code != 0:
        fail("%s failed:\n%s%s" % (what, res.stdout, res.stderr))
    return res.stdout

def _platform_key(p):
    return p.replace("/", "_")

# --- checks shared by the WORKSPACE and bzlmod paths ----------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"
_NAME_CHARS = _LETTERS + _DIGITS + "_"

# The characters of a Docker reference without digest: domain (with port or
# IPv6 brackets), path and tag.
_REF_CHARS = _NAME_CHARS + ".-/:[]"
_PLATFORM_CHARS = "abcdefghijklmnopqrstuvwxyz" + _DIGITS + "_"

# The characters of a URL of "files", without quotes, backslashes or spaces.
_URL_CHARS = _NAME_CHARS + "-._~:/?#[]@!$&()*+,;=%"

def _only(s, chars):
    """Whether s is a non-empty string of the given characters."""
    return type(s) == "string" and s != "" and s.strip(chars) == ""

def _valid_name(name):
    return _only(name, _NAME_CHARS) and name[0] in _LETTERS

def _valid_digest(d):
    return type(d) == "string" and len(d) == 71 and d.startswith("sha256:") and _only(d[7:], _DIGITS + "abcdef")

def _valid_platform(p):
    if not _only(p, _PLATFORM_CHARS + "./"):
        return False
    parts = p.split("/")
    if len(parts) < 2 or len(parts) > 3:
        return False
    for i, part in enumerate(parts):
        if not _only(part, _PLATFORM_CHARS + ("." if i == 2 else "")):
            return False
    return True

def _valid_sha256(s):
    return type(s) == "string" and len(s) == 64 and _only(s, _DIGITS + "abcdef")

def _valid_url(u):
    return _only(u, _URL_CHARS) and (u.startswith("https://") or u.startswith("http://"))

def check_lockfile_content(lock, lockfile, broken = {}):
    """Checks every value the repositories are declared from; fails naming the first bad one.

    `repro lock check` checks much more (and is run first, by
    check_lockfile); this is the second wall that keeps what cannot be a
    repository name or a value of a generated file out: names are Bazel
    repository names, images are Docker references, digests are sha256 and
    platforms are os/arch[/variant], so no value holds a quote, a backslash
    or a newline.

    Args:
      lock: the decoded lockfile.
      lockfile: the lockfile's label, for messages.
      broken: names of entries `repro lock check` reports problems for:
        only their names are checked, and they are left out of the result.

    Returns:
      (images, files): the entries of "images" and "files" that are not
      broken (dicts, possibly empty).
    """
    where = "rules_repro: the lockfile %s" % lockfile
    if type(lock) != "dict":
        fail("%s is not a JSON object" % where)
    images = lock.get("images", {})
    if type(images) != "dict":
        fail("%s: images is not an object" % where)
    files = lock.get("files", {})
    if type(files) != "dict":
        fail("%s: files is not an object" % where)
    for kind, entries in [("images", images), ("files", files)]:
        for name in sorted(entries.keys()):
            if not _valid_name(name):
                fail("%s: invalid name %r in %s: want a letter followed by letters, digits and underscores" % (where, name, kind))
    good_files = {}
    for name in sorted(files.keys()):
        if name in broken:
            continue
        entry = files[name]
        if type(entry) != "dict":
            fail("%s: files.%s is not an object" % (where, name))
        if not _valid_url(entry.get("url")):
            fail("%s: files.%s.url is %r: want an http(s) URL without quotes, backslashes or spaces" % (where, name, entry.get("url")))
        if not _valid_sha256(entry.get("sha256")):
            fail("%s: files.%s.sha256 is %r: want 64 lower-case hex digits (run repro lock update)" % (where, name, entry.get("sha256")))
        good_files[name] = entry
    good_images = {}
    for name in sorted(images.keys()):
        if name in broken:
            continue
        entry = images[name]
        path = "images." + name
        if type(entry) != "dict":
            fail("%s: %s is not an object" % (where, path))
        image = entry.get("image")
        if not _only(image, _REF_CHARS):
            fail("%s: %s.image is %r: want a Docker reference with a tag, such as \"gcr.io/distroless/static:nonroot\"" % (where, path, image))
        identifier = entry.get("identifier", "docker-image://x")
        if not (type(identifier) == "string" and identifier.startswith("docker-image://") and _only(identifier[len("docker-image://"):], _REF_CHARS)):
            fail("%s: %s.identifier is %r: want a normalized image identifier" % (where, path, identifier))
        if not _valid_digest(entry.get("digest")):
            fail("%s: %s.digest is %r: want \"sha256:\" and 64 lower-case hex digits (run repro lock update)" % (where, path, entry.get("digest")))
        platforms = entry.get("platforms", {})
        if type(platforms) != "dict" or not platforms:
            fail("%s: %s.platforms: want an object with at least one platform" % (where, path))
        for p in sorted(platforms.keys()):
            if not _valid_platform(p):
                fail("%s: %s.platforms has %r: want os/arch[/variant], such as \"linux/arm64/v8\"" % (where, path, p))
            pin = platforms[p]
            if type(pin) != "dict":
                fail("%s: %s.platforms[%r] is not an object" % (where, path, p))
            for field in ["digest", "config"]:
                if not _valid_digest(pin.get(field)):
                    fail("%s: %s.platforms[%r].%s is %r: want \"sha256:\" and 64 lower-case hex digits (run repro lock update)" % (where, path, p, field, pin.get(field)))
        good_images[name] = entry
    return good_images, good_files

def _lock_report(ctx, lockfile, repro):
    """Runs `repro lock check --json`.

    Returns:
      (problems of the whole file, {entry name: [problems]}), each problem
      a line "path: message".
    """
    res = ctx.execute(
        [str(ctx.path(repro)), "lock", "check", "--lockfile", str(ctx.path(lockfile)), "--json"],
        environment = _env(ctx),
        timeout = 600,
        quiet = True,
    )
    if res.return_code == 0:
        return [], {}
    out = res.stdout.strip()
    if not out.startswith("{"):
        return ["repro lock check failed:\n%s%s" % (res.stdout, res.stderr)], {}
    whole = []
    entries = {}
    for p in json.decode(out).get("problems", []):
        line = p["message"]
        if p.get("path"):
            line = p["path"] + ": " + line
        if p.get("name"):
            if p["name"] not in entries:
                entries[p["name"]] = []
            entries[p["name"]].append(line)
        else:
            whole.append(line)

    # With no problems listed, what failed is only the canonical form
    # (`repro lock fmt`), which changes no pin: nothing to refuse.
    return whole, entries

def check_lockfile(ctx, lockfile, repro):
    """The checks of both paths: `repro lock check --json`, then check_lockfile_content.

    Never fails for what `repro lock check` reports: the entries it reports
    problems for are "broken" (not declared; their targets fail when used),
    and a problem of the whole file (not JSON, not the format) leaves no
    entries at all.

    Args:
      ctx: a repository_ctx (the hub) or a module_ctx (the bzlmod extension).
      lockfile: the lockfile's label.
      repro: the label of the helper built for the host.

    Returns:
      A struct: images and files (the usable entries, by name), broken
      ({name: {"kind": "images" or "files", "source": image or URL,
      "problems": [lines]}}), and problem (what makes the whole file
      unusable, or "").
    """
    whole, problems = _lock_report(ctx, lockfile, repro)
    if whole:
        return struct(images = {}, files = {}, broken = {}, problem = "\n".join(whole))
    lock = json.decode(ctx.read(lockfile))
    images, files = check_lockfile_content(lock, lockfile, problems)
    broken = {}
    for name in sorted(problems.keys()):
        if name in lock.get("images", {}):
            entry = lock["images"][name]
            source = entry.get("image") if type(entry) == "dict" else None
            broken[name] = {"kind": "images", "problems": problems[name], "source": source if type(source) == "string" else ""}
        elif name in lock.get("files", {}):
            entry = lock["files"][name]
            source = entry.get("url") if type(entry) == "dict" else None
            broken[name] = {"kind": "files", "problems": problems[name], "source": source if type(source) == "string" else ""}
    return struct(images = images, files = files, broken = broken, problem = "")

def host_repro():
    """The label of the helper built for the host, which check_lockfile runs."""
    return Label(_HOST_REPRO)

# --- hub ---------------------------------------------------------------------

def _call(kind, attrs):
    """BUILD text of a call; attrs are (name, value) pairs, each value written with repr()."""
    lines = [kind + "("]
    for name, value in attrs:
        lines.append("    %s = %s," % (name, repr(value)))
    lines.append(")")
    return "\n".join(lines) + "\n"

def _repositories_function(prefix):
    """The name of the function of the hub's repositories.bzl (an identifier)."""
    return "".join([c if c in _NAME_CHARS else "_" for c in prefix.elems()]) + "_repositories"

# The functions of the hub's defs.bzl; PINNED, FILES, _LOCKFILE,
# _LOCKFILE_PATH and _PROBLEM are written above them with repr().
_PINNED_FUNCTIONS = """
def _hub_label(target):
    return Label(target)

def pinned(ref):
    \"\"\"The base image target for a reference (or identifier) pinned in the lockfile.

    For a reference the lockfile does not have (or cannot give), a target in
    the calling package that fails the targets that use it, naming the
    reference, the closest pinned references and the command that pins it.
    \"\"\"
    return pinned_source("image", ref, PINNED, _hub_label, _LOCKFILE, _LOCKFILE_PATH, _PROBLEM)

def pinned_file(url):
    \"\"\"The target of a file pinned in the lockfile by URL (as pinned() for images).\"\"\"
    return pinned_source("file", url, FILES, _hub_label, _LOCKFILE, _LOCKFILE_PATH, _PROBLEM)
"""

def _fix_command(name, broken, lockfile):
    """The one command (or edit) that fixes a broken entry."""
    for line in broken["problems"]:
        if "is denied by the policy" in line:
            return "remove or narrow that rule in the \"policy\" of %s; then check it with:\n  bazel run @rules_repro//:lock -- check --lockfile %s" % (lockfile, lockfile.name)
    if broken["kind"] == "files":
        return "bazel run @rules_repro//:lock -- update --name %s --lockfile %s" % (name, lockfile.name)
    return "bazel run @rules_repro//:lock -- update --name %s --lockfile %s\n(if the reference is mistyped, first: bazel run @rules_repro//:lock -- add --replace %s REFERENCE --lockfile %s)" % (name, lockfile.name, name, lockfile.name)

def broken_message(prefix, name, broken, lockfile):
    """The message of the pins_error target of a broken entry."""
    what = "base image" if broken["kind"] == "images" else "file"
    return "rules_repro: @%s//:%s, the %s %r (%s.%s in %s), cannot be used:\n  %s\nFix: %s" % (
        prefix,
        name,
        what,
        broken["source"],
        broken["kind"],
        name,
        lockfile,
        "\n  ".join(broken["problems"]),
        _fix_command(name, broken, lockfile),
    )

def _hub_files(prefix, lockfile, images, files = {}, broken = {}, problem = ""):
    """The files of the hub: {path: content}.

    Args:
      prefix: the hub's name, the prefix of the image repositories.
      lockfile: the lockfile's label.
      images: the lockfile's usable images.
      files: the lockfile's usable files.
      broken: the entries that cannot be used (see check_lockfile).
      problem: what makes the whole lockfile unusable, or "".
    """
    build = []
    if broken:
        build.append("load(%s, %s)\n" % (repr(str(Label("//rules/private:pins_error.bzl"))), repr("pins_error")))
    build += ['package(default_visibility = ["//visibility:public"])', ""]
    refs = {}
    urls = {}
    for name in sorted(images.keys()):
        entry = images[name]
        target = "@%s_%s//:image" % (prefix, name)
        build.append(_call("alias", [("name", name), ("actual", target)]))
        refs[entry["image"]] = target
        if entry.get("identifier"):
            refs[entry["identifier"]] = target
    for name in sorted(files.keys()):
        target = "@%s_%s//file" % (prefix, name)
        build.append(_call("alias", [("name", name), ("actual", target)]))
        urls[files[name]["url"]] = target
    for name in sorted(broken.keys()):
        b = broken[name]
        build.append(_call("pins_error", [("name", name), ("message", broken_message(prefix, name, b, lockfile))]))
        if b["source"]:
            if b["kind"] == "images":
                refs[b["source"]] = "@%s//:%s" % (prefix, name)
            else:
                urls[b["source"]] = "@%s//:%s" % (prefix, name)
    defs = "\n".join([
        '"""Pinned base images and files of a lockfile (generated by rules_repro)."""',
        "",
        "load(%s, %s)" % (repr(str(Label("//rules/private:pins_error.bzl"))), repr("pinned_source")),
        "",
        "_LOCKFILE = " + repr(str(lockfile)),
        "",
        "_LOCKFILE_PATH = " + repr(lockfile.name),
        "",
        "_PROBLEM = " + repr(problem),
        "",
        "PINNED = " + repr(refs),
        "",
        "FILES = " + repr(urls),
        "",
    ]) + _PINNED_FUNCTIONS

    # WORKSPACE users call this from their WORKSPACE; bzlmod's extension
    # calls repro_pins_repositories itself, with the same lockfile content
    # (usable_lock: the usable entries, only the fields
    # check_lockfile_content checks).
    repositories = "\n".join([
        '"""Repositories of the pinned images and files (generated by rules_repro)."""',
        "",
        "load(%s, %s)" % (repr(str(Label("//rules/private:pins_repo.bzl"))), repr("repro_pins_repositories")),
        "",
        "_LOCK = " + repr(usable_lock(images, files)),
        "",
        "def %s():" % _repositories_function(prefix),
        '    """Declares one repository per pinned image, per image and platform for layer blobs, and per pinned file."""',
        "    repro_pins_repositories(%s, _LOCK)" % repr(prefix),
        "",
    ])
    return {
        "BUILD.bazel": "\n".join(build),
        "defs.bzl": defs,
        "repositories.bzl": repositories,
    }

def usable_lock(images, files):
    """The lockfile content both paths declare repositories from.

    Args:
      images: the usable images (check_lockfile).
      files: the usable files.

    Returns:
      {"images": ..., "files": ...} with only the fields check_lockfile_content checks.
    """
    lock = {}
    for name in sorted(images.keys()):
        entry = images[name]
        lock[name] = {k: entry[k] for k in ["image", "identifier", "digest"] if k in entry}
        platforms = entry.get("platforms", {})
        lock[name]["platforms"] = {p: {k: platforms[p][k] for k in ["config", "digest"] if k in platforms[p]} for p in sorted(platforms.keys())}
    out = {"images": lock}
    if files:
        out["files"] = {name: {"sha256": files[name]["sha256"], "url": files[name]["url"]} for name in sorted(files.keys())}
    return out

def _hub_impl(rctx):
    r = check_lockfile(rctx, rctx.attr.lockfile, rctx.attr._repro)
    files = _hub_files(rctx.attr.name, rctx.attr.lockfile, r.images, r.files, r.broken, r.problem)
    for path in sorted(files.keys()):
        rctx.file(path, files[path])

repro_pins_hub = repository_rule(
    implementation = _hub_impl,
    doc = "Reads the lockfile, checks it (completeness and policy), and generates the hub repository; never fails for a lockfile `repro lock check` refuses (see the file's docstring).",
    attrs = {
        "lockfile": attr.label(mandatory = True, allow_single_file = True, doc = "The lockfile (repro.lock.json)."),
        "_repro": attr.label(default = Label(_HOST_REPRO)),
    },
)

def repro_pins_repositories(name, lockfile_content):
    """Declares the per-image and per-file repositories from the usable entries (both paths).

    The WORKSPACE path calls this from the hub's repositories.bzl, the bzlmod
    path from the module extension, after check_lockfile; the values are
    checked again here (check_lockfile_content) before any repository is
    declared.

    Args:
      name: the hub name, the prefix of the repositories.
      lockfile_content: the usable entries (usable_lock).
    """
    images, files = check_lockfile_content(lockfile_content, "of @%s" % name)
    for img_name in sorted(images.keys()):
        entry = images[img_name]
        platforms = entry["platforms"]
        repro_pinned_image(
            name = "%s_%s" % (name, img_name),
            image = entry["image"],
            digest = entry["digest"],
            platforms = {p: platforms[p]["digest"] for p in sorted(platforms.keys())},
            configs = {p: platforms[p]["config"] for p in sorted(platforms.keys())},
            blobs_prefix = "%s_%s" % (name, img_name),
        )
        for p in sorted(platforms.keys()):
            repro_pinned_blobs(
                name = "%s_%s_%s_blobs" % (name, img_name, _platform_key(p)),
                image = entry["image"],
                digest = entry["digest"],
                platform = p,
                manifest = platforms[p]["digest"],
            )
    for file_name in sorted(files.keys()):
        repro_pinned_file(
            name = "%s_%s" % (name, file_name),
            url = files[file_name]["url"],
            sha256 = files[file_name]["sha256"],
        )

# --- one file ------------------------------------------------------------------

def _file_basename(url):
    """The file name of a URL's path, when it is a plain one; else "downloaded"."""
    path = url.split("://", 1)[-1].split("?")[0].split("#")[0]
    base = path.rsplit("/", 1)[-1] if "/" in path else ""
    if base and base not in [".", "..", "BUILD", "BUILD.bazel"] and base.strip(_NAME_CHARS + ".-") == "":
        return base
    return "downloaded"

def _pinned_file_impl(rctx):
    base = _file_basename(rctx.attr.url)
    rctx.download(url = rctx.attr.url, output = "file/" + base, sha256 = rctx.attr.sha256)
    rctx.file("BUILD.bazel", "")
    rctx.file("file/BUILD.bazel", "\n".join([
        'package(default_visibility = ["//visibility:public"])',
        "",
        "exports_files([%s])" % repr(base),
        "",
        _call("filegroup", [("name", "file"), ("srcs", [base])]),
    ]))

repro_pinned_file = repository_rule(
    implementation = _pinned_file_impl,
    doc = "A file of the lockfile's \"files\", downloaded by Bazel's downloader with its pinned sha256 (so the repository cache, --distdir and downloader mirrors work): `@NAME//file`.",
    attrs = {
        "url": attr.string(mandatory = True),
        "sha256": attr.string(mandatory = True),
    },
)

# --- one image: manifests and configs ------------------------------------------

def _repo_of(image):
    """registry/repository of a reference, without tag or digest."""
    ref = image.split("@")[0]
    last = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > last:
        ref = ref[:colon]
    return ref

def _pinned_image_build(image, digest, platforms, blobs_prefix):
    """The BUILD file of a pinned image repository; every value written with repr().

    Args:
      image: the image reference (a tag).
      digest: the pinned digest of the index or single manifest.
      platforms: the platforms.
      blobs_prefix: the prefix of the blobs repositories.
    """
    repo = _repo_of(image)
    build = [
        "load(%s, %s, %s)" % (repr(str(Label("//rules/private:pinned.bzl"))), repr("pinned_image"), repr("pinned_image_select")),
        "",
        'package(default_visibility = ["//visibility:public"])',
        "",
    ]
    choices = {}
    for p in platforms:
        key = _platform_key(p)
        blobs = "@%s_%s_blobs//:blobs" % (blobs_prefix, key)
        build.append("\n".join([
            "pinned_image(",
            "    name = %s," % repr(key),
            "    base_name = %s," % repr("%s@%s" % (image.split("@")[0], digest)),
            "    blobs = select(%s)," % repr({str(Label("//rules/private:base_layers_shallow")): None, "//conditions:default": blobs}),
            "    config = %s," % repr(key + "/config.json"),
            "    manifest = %s," % repr(key + "/manifest.json"),
            "    platform = %s," % repr(p),
            "    source_repository = %s," % repr(repo),
            ")",
            "",
        ]))
        choices[":" + key] = p
    build.append(_call("pinned_image_select", [("name", "image"), ("images", choices), ("reference", image)]))
    return "\n".join(build)

def _pinned_image_impl(rctx):
    if not rctx.attr.digest:
        fail("rules_repro: %s (%r) has no digest in the lockfile; run `repro lock update`" % (rctx.attr.name, rctx.attr.image))
    by_digest = "%s@%s" % (_repo_of(rctx.attr.image), rctx.attr.digest)
    platforms = sorted(rctx.attr.platforms.keys())
    for p in platforms:
        key = _platform_key(p)
        args = ["pull", "manifest", "--image", by_digest, "--platform", p, "--out", str(rctx.path(key))]
        if rctx.attr.platforms[p]:
            args += ["--expect-manifest", rctx.attr.platforms[p]]
        if rctx.attr.configs.get(p):
            args += ["--expect-config", rctx.attr.configs[p]]
        _run(rctx, rctx.attr._repro, args, "rules_repro: fetching %r (%s) for %r" % (rctx.attr.image, rctx.attr.digest, p))
    rctx.file("BUILD.bazel", _pinned_image_build(rctx.attr.image, rctx.attr.digest, platforms, rctx.attr.blobs_prefix))

repro_pinned_image = repository_rule(
    implementation = _pinned_image_impl,
    doc = "A pinned base image: manifests and configs only, verified against the lockfile's digests.",
    attrs = {
        "image": attr.string(mandatory = True),
        "digest": attr.string(),
        "platforms": attr.string_dict(doc = "platform -> manifest digest"),
        "configs": attr.string_dict(doc = "platform -> config digest"),
        "blobs_prefix": attr.string(mandatory = True),
        "_repro": attr.label(default = Label(_HOST_REPRO)),
    },
)

# --- one image and platform: layer blobs ----------------------------------------

def _pinned_blobs_impl(rctx):
    repo = _repo_of(rctx.attr.image)
    out = str(rctx.path("meta"))
    args = ["pull", "manifest", "--image", "%s@%s" % (repo, rctx.attr.digest), "--platform", rctx.attr.platform, "--out", out]
    if rctx.attr.manifest:
        args += ["--expect-manifest", rctx.attr.manifest]
    _run(rctx, rctx.attr._repro, args, "rules_repro: fetching %r (%s) for %r" % (rctx.attr.image, rctx.attr.digest, rctx.attr.platform))
    _run(
        rctx,
        rctx.attr._repro,
        ["pull", "blobs", "--image", repo, "--manifest", out + "/manifest.json", "--out", str(rctx.path("layout/blobs"))],
        "rules_repro: fetching the layers of %r for %r" % (rctx.attr.image, rctx.attr.platform),
    )
    rctx.file("BUILD.bazel", """\
package(default_visibility = ["//visibility:public"])

filegroup(
    name = "blobs",
    srcs = glob(["layout/blobs/sha256/*"]),
)
""")

repro_pinned_blobs = repository_rule(
    implementation = _pinned_blobs_impl,
    doc = "The layer blobs of one platform of a pinned image, each verified against its digest.",
    attrs = {
        "image": attr.string(mandatory = True),
        "digest": attr.string(mandatory = True),
        "platform": attr.string(mandatory = True),
        "manifest": attr.string(),
        "_repro": attr.label(default = Label(_HOST_REPRO)),
    },
)
