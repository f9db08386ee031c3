"""Helpers shared by the rules: stamping, compatibility version, paths."""

load("@rules_repro_features//:features.bzl", "ACTION_TOOLCHAIN_PARAM")
load("//rules/private:codecs.bzl", _COMPRESSIONS = "COMPRESSIONS")
load("//rules/private:settings.bzl", "SettingInfo")
load("//rules/private:toolchain.bzl", "TOOLCHAIN_TYPE", "repro_tool")
load("//rules/private:versions.bzl", "SUPPORTED_VERSIONS", "VERSION_FEATURES")

COMPRESSIONS = _COMPRESSIONS

COMMON_ATTRS = {
    "compatibility_version": attr.int(
        doc = "Compatibility version that pins every digest-affecting behaviour (see docs/compatibility.md). " +
              "0 uses the `@rules_repro//rules/settings:compatibility_version` flag (default 1).",
        default = 0,
    ),
    "stamp": attr.int(
        doc = "Whether SOURCE_DATE_EPOCH comes from the workspace status: 1 always, 0 never (epoch 0), " +
              "-1 when Bazel runs with `--stamp`. The key is `STABLE_SOURCE_DATE_EPOCH` unless the " +
              "`@rules_repro//rules/settings:source_date_epoch_key` flag says otherwise.",
        default = -1,
        values = [-1, 0, 1],
    ),
    "_stamp_flag": attr.label(default = Label("//rules/private:stamp")),
    "_compatibility_version_flag": attr.label(default = Label("//rules/settings:compatibility_version")),
    "_source_date_epoch_key_flag": attr.label(default = Label("//rules/settings:source_date_epoch_key")),
    "_file_mtime_flag": attr.label(default = Label("//rules/settings:file_mtime")),
}

def compatibility_version(ctx):
    """The compatibility version of a rule: its attribute, else the flag.

    Args:
      ctx: the rule context (with COMMON_ATTRS).

    Returns:
      The version number, checked against SUPPORTED_VERSIONS.
    """
    v = ctx.attr.compatibility_version
    if v == 0:
        v = ctx.attr._compatibility_version_flag[SettingInfo].value
    if v not in SUPPORTED_VERSIONS:
        fail("%s: unknown compatibility version %d; supported versions: %s (see docs/compatibility.md)" % (
            ctx.label,
            v,
            ", ".join([str(s) for s in SUPPORTED_VERSIONS]),
        ))
    return v

def version_has(version, feature):
    """Whether a compatibility version has a behaviour (VERSION_FEATURES, generated from tools/compat).

    Args:
      version: a supported version number.
      feature: "history_from_layer", "file_mtime" or "stamp_config".

    Returns:
      A bool.
    """
    return VERSION_FEATURES[version][feature]

def file_mtime(ctx, version):
    """The fixed file time of a layer: its file_mtime attribute, else the flag.

    Args:
      ctx: the rule context (with COMMON_ATTRS; file_mtime is optional).
      version: the layer's compatibility version.

    Returns:
      The time in seconds as a string, or None when files take SOURCE_DATE_EPOCH ("epoch").
    """
    value = getattr(ctx.attr, "file_mtime", "")
    what = "file_mtime"
    if not value:
        value = ctx.attr._file_mtime_flag[SettingInfo].value
        what = "the @rules_repro//rules/settings:file_mtime flag"
    if value == "epoch":
        return None
    if not value.isdigit():
        fail("%s: %s is %r: want \"epoch\" (file times are SOURCE_DATE_EPOCH) or seconds since 1970, for example \"0\"" % (ctx.label, what, value))
    if not version_has(version, "file_mtime"):
        fail("%s: %s is %r, but a fixed file time needs compatibility_version 2 or later (this layer uses %d; see docs/compatibility.md)" % (ctx.label, what, value, version))
    return str(int(value))

def is_stamped(ctx):
    """Whether a rule stamps: its stamp attribute, or -1 and Bazel's --stamp.

    Args:
      ctx: the rule context (with a stamp attribute and _stamp_flag).

    Returns:
      A bool.
    """
    return ctx.attr.stamp == 1 or (ctx.attr.stamp == -1 and ctx.attr._stamp_flag[SettingInfo].value)

def stamp_keys(s):
    """The workspace status keys that {KEY} references in s name (as repro's publish.StampKeys).

    Args:
      s: a string that may hold {KEY} references.

    Returns:
      The keys, in order; malformed references are left to repro to report.
    """
    keys = []
    for part in s.split("{")[1:]:
        key, sep, _ = part.partition("}")
        if sep and key and " " not in key:
            keys.append(key)
    return keys

def stamp_values(ctx, keys, name = None):
    """A file with only the given keys of the workspace status (stable-status.txt).

    stable-status.txt also holds BUILD_HOST and BUILD_USER; an action that
    took it as input would never be shared between two machines or users
    through a remote cache. One small action copies just the keys used, and
    the stamped actions take its output instead: their inputs are then the
    same wherever the same commit is built.

    Args:
      ctx: the rule context.
      keys: the workspace status keys the target's actions use.
      name: the output's name (default: NAME.stamp-values.txt).

    Returns:
      The File, in KEY VALUE lines like stable-status.txt.
    """
    out = ctx.actions.declare_file(name or (ctx.label.name + ".stamp-values.txt"))
    args = ctx.actions.args()
    args.add("--status", ctx.info_file)
    args.add_all(sorted({k: None for k in keys}.keys()), before_each = "--key")
    args.add("--output", out)
    run_repro(
        ctx,
        arguments = ["stamp", args],
        inputs = [ctx.info_file],
        outputs = [out],
        mnemonic = "ReproStampValues",
        progress_message = "Selecting the stamp values of %s" % ctx.label,
    )
    return out

def add_epoch_args(ctx, args, inputs, stamp_keys = []):
    """Adds the SOURCE_DATE_EPOCH arguments (and the stamp values input when stamping).

    Args:
      ctx: the rule context (with COMMON_ATTRS).
      args: the Args of the action.
      inputs: the list of action inputs; the stamp values file is appended when stamping.
      stamp_keys: more workspace status keys the action reads when stamping
        ({KEY} in an image's labels, annotations and env).

    The key is read from the workspace status (ctx.info_file,
    stable-status.txt, through stamp_values): a STABLE_ key changes only when
    its value changes, so stamped builds stay cacheable. ctx.version_file
    holds the volatile keys such as BUILD_TIMESTAMP.

    Returns:
      The arguments added, as strings (for actions run again elsewhere).
    """
    if is_stamped(ctx):
        key = ctx.attr._source_date_epoch_key_flag[SettingInfo].value
        values = stamp_values(ctx, [key] + stamp_keys, name = (ctx.label.name + ".image.stamp-values.txt") if stamp_keys else None)
        args.add("--stamp-file", values)
        args.add("--stamp-key", key)
        inputs.append(values)
        return ["--stamp-file", values.path, "--stamp-key", key]

    # Unstamped builds use a fixed epoch so they stay cacheable.
    args.add("--source-date-epoch", "0")
    return ["--source-date-epoch", "0"]

def stable_label(label):
    """A label as text that is the same under WORKSPACE and bzlmod, in any repository name.

    str(label) gives "//pkg:name" in some Bazel versions and "@@//pkg:name"
    in others, which would change history entries (and digests) between
    Bazel versions.
    """
    return "//%s:%s" % (label.package, label.name)

def normalize_path(path, what):
    """Normalizes an image path to "/a/b" form; fails on escapes and empty names.

    Args:
      path: the path as written in a BUILD file.
      what: what the path is, for error messages.

    Returns:
      The normalized path.
    """
    if not path:
        fail("%s: empty path" % what)
    parts = []
    for p in path.split("/"):
        if p == "" or p == ".":
            continue
        if p == "..":
            if not parts:
                fail("%s: path %r escapes the image root" % (what, path))
            parts.pop()
            continue
        parts.append(p)
    return "/" + "/".join(parts)

def param_args(ctx):
    """An Args object that goes through a params file.

    Args:
      ctx: the rule context.

    Returns:
      A new Args.
    """
    args = ctx.actions.args()
    args.use_param_file("@%s", use_always = True)
    args.set_param_file_format("multiline")
    return args

def run_repro(ctx, **kwargs):
    """Runs the repro helper from the resolved toolchain.

    Bazel 7 and later want to know which toolchain an action's tool comes
    from (automatic exec groups); Bazel 4 has no such parameter.
    """
    if ACTION_TOOLCHAIN_PARAM:
        kwargs["toolchain"] = TOOLCHAIN_TYPE
    ctx.actions.run(executable = repro_tool(ctx), **kwargs)
