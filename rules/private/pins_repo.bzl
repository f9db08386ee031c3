"""Repository rules for pinned base images: the lockfile becomes repositories.

For a lockfile with an image named `distroless`, and the hub named `pins`:

  @pins                               hub: one alias per image, defs.bzl with
                                      pinned(), repositories.bzl (WORKSPACE)
  @pins_distroless                    manifests and configs only (shallow),
                                      one target per platform and `image`,
                                      which picks the target platform's
  @pins_distroless_linux_amd64_blobs  the layer blobs of one platform, fetched
                                      only when a build needs layer bytes

The helper (built for the host) talks to registries, so authentication works
as docker's does (~/.docker/config.json, credential helpers, bearer tokens),
and every blob is verified against its digest.

Both ways of declaring these repositories (WORKSPACE: the hub's
repositories.bzl; bzlmod: the `pins` module extension) go through
check_lockfile, which runs `repro lock check` and then checks in Starlark
every value a repository is declared from, and through
repro_pins_repositories, which checks the values again. Every value written
into a generated file is written with repr().
"""

_HOST_REPRO = "@repro_toolchains_host//:repro"

# REPRO_STALL_TIMEOUT is passed but not in environ: changing it never refetches.
_ENV_PASSED = ["DOCKER_CONFIG", "HOME", "SSL_CERT_FILE", "SSL_CERT_DIR", "REPRO_REGISTRY_CA", "REPRO_STALL_TIMEOUT"]

def _run(ctx, repro, args, what):
    """Runs the helper; ctx is a repository_ctx or a module_ctx."""
    env = {}
    for k in _ENV_PASSED:
        v = ctx.os.environ.get(k)
        if v:
            env[k] = v
    res = ctx.execute([str(ctx.path(repro))] + args, environment = env, timeout = 3600, quiet = True)
    if res.return_code != 0:
        fail("%s failed:\n%s%s" % (what, res.stdout, res.stderr))
    return res.stdout

def _platform_key(p):
    return p.replace("/", "_")

def _ca_args(rctx):
    ca = rctx.os.environ.get("REPRO_REGISTRY_CA", "")
    return ["--ca-file", ca] if ca else []

_ENVIRON = ["DOCKER_CONFIG", "SSL_CERT_FILE", "SSL_CERT_DIR", "REPRO_REGISTRY_CA"]

# --- checks shared by the WORKSPACE and bzlmod paths ----------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"
_NAME_CHARS = _LETTERS + _DIGITS + "_"

# The characters of a Docker reference without digest: domain (with port or
# IPv6 brackets), path and tag.
_REF_CHARS = _NAME_CHARS + ".-/:[]"
_PLATFORM_CHARS = "abcdefghijklmnopqrstuvwxyz" + _DIGITS + "_"

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

def check_lockfile_content(lock, lockfile):
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

    Returns:
      The lockfile's "images" (a dict, possibly empty).
    """
    where = "rules_repro: the lockfile %s" % lockfile
    if type(lock) != "dict":
        fail("%s is not a JSON object" % where)
    images = lock.get("images", {})
    if type(images) != "dict":
        fail("%s: images is not an object" % where)
    for name in sorted(images.keys()):
        if not _valid_name(name):
            fail("%s: invalid name %r in images: want a letter followed by letters, digits and underscores" % (where, name))
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
    return images

def check_lockfile(ctx, lockfile, repro):
    """The checks of both paths: `repro lock check`, then check_lockfile_content.

    Args:
      ctx: a repository_ctx (the hub) or a module_ctx (the bzlmod extension).
      lockfile: the lockfile's label.
      repro: the label of the helper built for the host.

    Returns:
      The decoded lockfile.
    """

    # The lockfile must be complete, and the policy must allow every source:
    # a denied or unpinned source fails the build here, naming the source.
    _run(ctx, repro, ["lock", "check", "--lockfile", str(ctx.path(lockfile))], "rules_repro: the lockfile %s is not complete, not consistent or not allowed by its policy; fix the lockfile (for a source the policy denies, its policy rules) or run `bazel run @rules_repro//:lock -- update --lockfile %s`. repro lock check" % (lockfile, lockfile.name))
    lock = json.decode(ctx.read(lockfile))
    check_lockfile_content(lock, lockfile)
    return lock

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

# The function of the hub's defs.bzl; _LOCKFILE and _LOCKFILE_PATH are
# written above it with repr().
_PINNED_FUNCTION = """
def pinned(ref):
    \"\"\"The base image target for a reference pinned in the lockfile.

    Fails, naming the reference and the command that pins it, when the
    lockfile does not have it.
    \"\"\"
    if ref not in PINNED:
        fail(("%s uses base image %r, which is not pinned in %s.\\n" +
              "Add and pin it (NAME is the name you give it in the lockfile):\\n" +
              "  bazel run @rules_repro//:lock -- add NAME %s --platform linux/amd64 --lockfile %s\\n" +
              "  bazel run @rules_repro//:lock -- update --lockfile %s") % ("//" + native.package_name(), ref, _LOCKFILE, ref, _LOCKFILE_PATH, _LOCKFILE_PATH))
    return PINNED[ref]
"""

def _hub_files(prefix, lockfile, images):
    """The files of the hub: {path: content}.

    Args:
      prefix: the hub's name, the prefix of the image repositories.
      lockfile: the lockfile's label.
      images: the lockfile's images.
    """
    build = ['package(default_visibility = ["//visibility:public"])', ""]
    refs = {}
    for name in sorted(images.keys()):
        entry = images[name]
        target = "@%s_%s//:image" % (prefix, name)
        build.append(_call("alias", [("name", name), ("actual", target)]))
        refs[entry["image"]] = target
        if entry.get("identifier"):
            refs[entry["identifier"]] = target
    defs = "\n".join([
        '"""Pinned base images of a lockfile (generated by rules_repro)."""',
        "",
        "_LOCKFILE = " + repr(str(lockfile)),
        "",
        "_LOCKFILE_PATH = " + repr(lockfile.name),
        "",
        "PINNED = " + repr(refs),
        "",
    ]) + _PINNED_FUNCTION

    # WORKSPACE users call this from their WORKSPACE; bzlmod's extension
    # calls repro_pins_repositories itself, with the same lockfile content
    # (only the fields check_lockfile_content checks are written).
    lock = {}
    for name in sorted(images.keys()):
        entry = images[name]
        lock[name] = {k: entry[k] for k in ["image", "identifier", "digest"] if k in entry}
        platforms = entry.get("platforms", {})
        lock[name]["platforms"] = {p: {k: platforms[p][k] for k in ["config", "digest"] if k in platforms[p]} for p in sorted(platforms.keys())}
    repositories = "\n".join([
        '"""Repositories of the pinned images (generated by rules_repro)."""',
        "",
        "load(%s, %s)" % (repr(str(Label("//rules/private:pins_repo.bzl"))), repr("repro_pins_repositories")),
        "",
        "_LOCK = " + repr({"images": lock}),
        "",
        "def %s():" % _repositories_function(prefix),
        '    """Declares one repository per pinned image and per image and platform for layer blobs."""',
        "    repro_pins_repositories(%s, _LOCK)" % repr(prefix),
        "",
    ])
    return {
        "BUILD.bazel": "\n".join(build),
        "defs.bzl": defs,
        "repositories.bzl": repositories,
    }

def _hub_impl(rctx):
    lock = check_lockfile(rctx, rctx.attr.lockfile, rctx.attr._repro)
    images = lock.get("images", {})
    files = _hub_files(rctx.attr.name, rctx.attr.lockfile, images)
    for path in sorted(files.keys()):
        rctx.file(path, files[path])

repro_pins_hub = repository_rule(
    implementation = _hub_impl,
    doc = "Reads the lockfile, checks it (completeness and policy), and generates the hub repository.",
    attrs = {
        "lockfile": attr.label(mandatory = True, allow_single_file = True, doc = "The lockfile (repro.lock.json)."),
        "_repro": attr.label(default = Label(_HOST_REPRO)),
    },
    environ = _ENVIRON,
)

def repro_pins_repositories(name, lockfile_content):
    """Declares the per-image repositories from a decoded lockfile (both paths).

    The WORKSPACE path calls this from the hub's repositories.bzl, the bzlmod
    path from the module extension, after check_lockfile; the values are
    checked again here (check_lockfile_content) before any repository is
    declared.

    Args:
      name: the hub name, the prefix of the repositories.
      lockfile_content: the decoded lockfile.
    """
    images = check_lockfile_content(lockfile_content, "of @%s" % name)
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
        _run(rctx, rctx.attr._repro, args + _ca_args(rctx), "rules_repro: fetching %r (%s) for %r" % (rctx.attr.image, rctx.attr.digest, p))
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
    environ = _ENVIRON,
)

# --- one image and platform: layer blobs ----------------------------------------

def _pinned_blobs_impl(rctx):
    repo = _repo_of(rctx.attr.image)
    out = str(rctx.path("meta"))
    args = ["pull", "manifest", "--image", "%s@%s" % (repo, rctx.attr.digest), "--platform", rctx.attr.platform, "--out", out]
    if rctx.attr.manifest:
        args += ["--expect-manifest", rctx.attr.manifest]
    _run(rctx, rctx.attr._repro, args + _ca_args(rctx), "rules_repro: fetching %r (%s) for %r" % (rctx.attr.image, rctx.attr.digest, rctx.attr.platform))
    _run(
        rctx,
        rctx.attr._repro,
        ["pull", "blobs", "--image", repo, "--manifest", out + "/manifest.json", "--out", str(rctx.path("layout/blobs"))] + _ca_args(rctx),
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
    environ = _ENVIRON,
)
