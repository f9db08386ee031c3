"""Implementation of repro_layer."""

load("//rules/private:codecs.bzl", "EXTENSIONS")
load("//rules/private:common.bzl", "COMMON_ATTRS", "COMPRESSIONS", "add_epoch_args", "compatibility_version", "file_mtime", "normalize_path", "param_args", "run_repro", "stable_label", "version_has")
load("//rules/private:toolchain.bzl", "TOOLCHAIN_TYPE")
load("//rules/private/common:blobs.bzl", "blob_args", "blob_inputs")
load("//rules/private/providers:image_info.bzl", "ImageInfo")
load("//rules/private/providers:layer_info.bzl", "LayerInfo")

def _parse_owner(value, what):
    parts = value.split(":")
    if len(parts) not in (2, 4) or not parts[0].isdigit() or not parts[1].isdigit():
        fail("%s: owner %r must be \"UID:GID\" or \"UID:GID:USER:GROUP\", for example \"1000:1000\"" % (what, value))
    owner = {"uid": int(parts[0]), "gid": int(parts[1])}
    if len(parts) == 4:
        owner["uname"] = parts[2]
        owner["gname"] = parts[3]
    return owner

def _check_mode(value, what):
    if not value or len(value) > 5 or [c for c in value.elems() if c not in "01234567"]:
        fail("%s: mode %r must be an octal string such as \"0755\"" % (what, value))
    return value

def _runfiles_path(ctx, f):
    """Where a runfile lives inside a binary's runfiles tree."""
    if f.short_path.startswith("../"):
        return f.short_path[3:]
    return ctx.workspace_name + "/" + f.short_path

def _under_workspace(ctx, path):
    """The runfiles-tree path of a path relative to the workspace's runfiles directory.

    Runfiles symlinks and empty files are named relative to
    `<runfiles>/<workspace name>/`; a name starting with `../` leaves it for
    another repository's directory, as Bazel lays them out.
    """
    if path.startswith("../"):
        return path[3:]
    return ctx.workspace_name + "/" + path

def _package_relative(ctx, f):
    pkg = ctx.label.package
    if pkg and f.short_path.startswith(pkg + "/"):
        return f.short_path[len(pkg) + 1:]
    if f.short_path.startswith("../"):
        return f.short_path[3:]
    return f.short_path

def build_layer(ctx, name, entries, inputs, compression, compression_level, lower, created_by, allow_empty = False, overrides = []):
    """Declares the `repro layer` action for a list of spec entries.

    Args:
      ctx: the rule context (with COMMON_ATTRS).
      name: base name of the outputs.
      entries: layer spec entries (dicts).
      inputs: the Files the entries read.
      compression: gzip, zstd or none.
      compression_level: the level, or -1 for the default.
      lower: (arguments, inputs) from lower_args, or None.
      created_by: the history text of the layer (its label); not recorded under versions whose
        history does not depend on labels.
      allow_empty: accept a layer without entries.
      overrides: modes and owners of paths that come from tars (spec overrides).

    Returns:
      LayerInfo.
    """
    version = compatibility_version(ctx)
    if compression not in COMPRESSIONS:
        fail("%s: compression %r: want one of %s" % (ctx.label, compression, ", ".join(COMPRESSIONS)))
    spec = ctx.actions.declare_file(name + ".spec.json")
    spec_content = {"entries": entries}
    if allow_empty:
        spec_content["allow_empty"] = True
    if overrides:
        spec_content["overrides"] = overrides
    ctx.actions.write(spec, json.encode(spec_content))
    blob = ctx.actions.declare_file(name + EXTENSIONS[compression])
    descriptor = ctx.actions.declare_file(name + ".json")
    args = param_args(ctx)
    args.add("layer")
    args.add("--spec", spec)
    args.add("--output", blob)
    args.add("--descriptor", descriptor)
    flags = ["--compression", compression]
    if compression_level >= 0:
        flags += ["--compression-level", str(compression_level)]
    flags += ["--compatibility-version", str(version)]
    if not version_has(version, "history_from_layer"):
        flags += ["--created-by", created_by]
    mtime = file_mtime(ctx, version)
    if mtime != None:
        flags += ["--file-mtime", mtime]
    args.add_all(flags)
    all_inputs = [spec] + inputs
    if mtime == None:
        flags += add_epoch_args(ctx, args, all_inputs)
    lower_inputs = depset()
    if lower:
        lower_argv, lower_inputs = lower
        args.add_all(lower_argv)
    run_repro(
        ctx,
        arguments = [args],
        inputs = depset(all_inputs, transitive = [lower_inputs]),
        outputs = [blob, descriptor],
        mnemonic = "ReproLayer",
        progress_message = "Building layer %s" % ctx.label,
    )
    rebuild = None
    if not lower:
        # What repro_digest_test(rebuild = True) needs to run this action
        # again elsewhere; a layer on a base reads the base's blobs by
        # paths that are not Files, so it is not rebuilt.
        rebuild = struct(
            label = created_by,
            spec = spec,
            inputs = depset(all_inputs),
            args = tuple(flags),
        )
    return LayerInfo(blob = blob, descriptor = descriptor, compatibility_version = version, rebuild = rebuild)

def lower_args(ctx, base):
    """The arguments and inputs that give `repro layer` the base's layers, in manifest order.

    Args:
      ctx: the rule context.
      base: the base target (with ImageInfo).

    Returns:
      (list of arguments, depset of input Files).
    """
    info = base[ImageInfo]
    if info.shallow:
        fail("%s: base %s is a pinned image whose layers are not fetched (the default, base_layers=shallow); " % (ctx.label, base.label) +
             "a layer that takes its parent directories from the base needs them: add --@rules_repro//rules/settings:base_layers=fetch, or drop `base` and declare those directories")
    args = ["--lower-manifest", info.manifest.path, "--blob=" + info.config.path] + blob_args(info)
    inputs = depset([info.manifest, info.config], transitive = [blob_inputs(info)])
    return args, inputs

def _declare(state, path, what):
    if path in state.declared:
        fail("%s: %s and %s both declare %s; a path can be declared once" % (state.label, state.declared[path], what, path))
    state.declared[path] = what

def _file_entry(state, path, f, what):
    _declare(state, path, what)
    if f.is_directory:
        state.entries.append({"type": "tree", "path": path, "source": f.path})
    else:
        state.entries.append({"type": "file", "path": path, "source": f.path})
    state.inputs.append(f)

def _entry_for(state, path, what):
    """The declared entry at path, a new directory entry if path is a parent of one, or an override of a tar member.

    A path of the layer's tars is known only when the layer is built: it
    becomes a spec override (a dict without "type"), which `repro layer`
    refuses if no member has the path.
    """
    for e in state.entries:
        if e.get("path") == path and e["type"] != "tar":
            return e
    for e in state.entries:
        if e.get("path", "").startswith(path + "/") and e["type"] != "tar":
            d = {"type": "dir", "path": path}
            state.entries.append(d)
            return d
    if [e for e in state.entries if e["type"] == "tar"]:
        if path not in state.overrides:
            state.overrides[path] = {"path": path}
        return state.overrides[path]
    fail("%s: %s: %s is not a path this layer declares (files, srcs, directories, symlinks), nor a parent of one" % (state.label, what, path))

def _wanted(ctx, rel):
    """Whether the runfiles-tree path rel belongs to the part of the runfiles this layer holds."""
    part = ctx.attr.runfiles
    if part == "all":
        return True
    external = rel != "_repo_mapping" and rel.split("/")[0] != ctx.workspace_name
    return external == (part == "external")

def _add_runfiles(ctx, state, target, root):
    """Lays out a target's runfiles under root as Bazel lays out a runfiles tree."""
    what = "runfiles of %s" % target.label
    runfiles = target[DefaultInfo].default_runfiles
    if runfiles:
        for f in runfiles.files.to_list():
            rel = _runfiles_path(ctx, f)
            if _wanted(ctx, rel):
                _file_entry(state, root + rel, f, what)
        for link in runfiles.symlinks.to_list():
            rel = _under_workspace(ctx, link.path)
            if _wanted(ctx, rel):
                _file_entry(state, root + rel, link.target_file, "runfiles symlink of %s" % target.label)
        for link in runfiles.root_symlinks.to_list():
            if _wanted(ctx, link.path):
                _file_entry(state, root + link.path, link.target_file, "runfiles root symlink of %s" % target.label)
        for name in runfiles.empty_filenames.to_list():
            rel = _under_workspace(ctx, name)
            if _wanted(ctx, rel):
                _declare(state, root + rel, "empty runfile of %s" % target.label)
                state.entries.append({"type": "file", "path": root + rel, "content": ""})

    # Bazel 7 and later write a repository mapping manifest that runfiles
    # libraries read to resolve apparent repository names; 4.2.3 has none.
    files_to_run = target[DefaultInfo].files_to_run
    manifest = getattr(files_to_run, "repo_mapping_manifest", None) if files_to_run else None
    if manifest and _wanted(ctx, "_repo_mapping"):
        _file_entry(state, root + "_repo_mapping", manifest, "repository mapping of %s" % target.label)

def layer_entries(ctx):
    """The spec entries and inputs of a repro_layer, checked at analysis time.

    Args:
      ctx: the repro_layer rule context.

    Returns:
      (entries, inputs, overrides): overrides are the modes and owners of
      paths that come from tars.
    """
    state = struct(label = ctx.label, entries = [], inputs = [], declared = {}, overrides = {})
    if ctx.attr.runfiles not in ("all", "external", "workspace"):
        fail("%s: runfiles %r: want one of all, external, workspace" % (ctx.label, ctx.attr.runfiles))
    if ctx.attr.runfiles != "all" and not ctx.attr.include_runfiles:
        fail("%s: runfiles = %r selects a part of the runfiles of `files`, but include_runfiles is False" % (ctx.label, ctx.attr.runfiles))
    for target, dest in ctx.attr.files.items():
        what = "files[%s]" % target.label
        dest = normalize_path(dest, "%s: %s" % (ctx.label, what))
        files = target[DefaultInfo].files.to_list()
        if not files:
            fail("%s: %s provides no files" % (ctx.label, what))
        files_to_run = target[DefaultInfo].files_to_run
        executable = files_to_run.executable if files_to_run else None
        if ctx.attr.runfiles == "external":
            pass  # the files themselves belong to the workspace part
        elif executable:
            # A binary is its executable; its other outputs (an sh_binary's
            # script, a py_binary's main.py) reach it through its runfiles.
            _file_entry(state, dest, executable, what)
        elif len(files) == 1:
            _file_entry(state, dest, files[0], what)
        else:
            for f in files:
                _file_entry(state, dest + "/" + f.basename, f, "%s (%s)" % (what, f.short_path))
        if ctx.attr.include_runfiles:
            _add_runfiles(ctx, state, target, dest + ".runfiles/")

    prefix = normalize_path(ctx.attr.prefix, "%s: prefix" % ctx.label) if ctx.attr.prefix else ""
    for f in ctx.files.srcs:
        path = normalize_path(prefix + "/" + _package_relative(ctx, f), "%s: srcs" % ctx.label)
        _file_entry(state, path, f, "srcs (%s)" % f.short_path)

    for d in ctx.attr.directories:
        path = normalize_path(d, "%s: directories" % ctx.label)
        _declare(state, path, "directories[%r]" % d)
        state.entries.append({"type": "dir", "path": path})

    for link, target in ctx.attr.symlinks.items():
        path = normalize_path(link, "%s: symlinks" % ctx.label)
        if not target:
            fail("%s: symlink %s has an empty target" % (ctx.label, link))
        _declare(state, path, "symlinks[%r]" % link)
        state.entries.append({"type": "symlink", "path": path, "target": target})

    for w in ctx.attr.whiteouts:
        path = normalize_path(w, "%s: whiteouts" % ctx.label)
        _declare(state, path, "whiteouts[%r]" % w)
        state.entries.append({"type": "whiteout", "path": path})

    for o in ctx.attr.opaque_directories:
        path = normalize_path(o, "%s: opaque_directories" % ctx.label)
        _declare(state, path, "opaque_directories[%r]" % o)
        state.entries.append({"type": "opaque", "path": path})

    tars_prefix = normalize_path(ctx.attr.tars_prefix, "%s: tars_prefix" % ctx.label) if ctx.attr.tars_prefix else ""
    tars_strip = normalize_path(ctx.attr.tars_strip_prefix, "%s: tars_strip_prefix" % ctx.label) if ctx.attr.tars_strip_prefix else ""
    if (tars_prefix or tars_strip) and not ctx.files.tars:
        fail("%s: tars_prefix and tars_strip_prefix apply to `tars`, but the layer has none" % ctx.label)
    for t in ctx.files.tars:
        e = {"type": "tar", "source": t.path}
        if tars_prefix and tars_prefix != "/":
            e["path"] = tars_prefix
        if tars_strip and tars_strip != "/":
            e["strip_prefix"] = tars_strip
        state.entries.append(e)
        state.inputs.append(t)

    # Per-path modes and owners apply to declared entries; a path that is
    # only a parent of declared entries becomes a declared directory.
    for path, mode in ctx.attr.modes.items():
        e = _entry_for(state, normalize_path(path, "%s: modes" % ctx.label), "modes[%r]" % path)
        if e.get("type") in ("whiteout", "tree"):
            fail("%s: modes[%r]: a %s entry has no mode of its own" % (ctx.label, path, e["type"]))
        e["mode"] = _check_mode(mode, "%s: modes[%r]" % (ctx.label, path))
    if ctx.attr.owner:
        owner = _parse_owner(ctx.attr.owner, "%s: owner" % ctx.label)
        for e in state.entries:
            if e["type"] not in ("whiteout", "tar", "opaque"):
                e.update(owner)
    for path, owner in ctx.attr.owners.items():
        e = _entry_for(state, normalize_path(path, "%s: owners" % ctx.label), "owners[%r]" % path)
        if e.get("type") == "whiteout":
            fail("%s: owners[%r]: a whiteout has no owner" % (ctx.label, path))
        e.update(_parse_owner(owner, "%s: owners[%r]" % (ctx.label, path)))

    if not state.entries and ctx.attr.runfiles == "external":
        # A binary without external runfiles: its external layer is empty,
        # which repro_binary_image cannot know when it declares the layer.
        return state.entries, state.inputs, []
    if not state.entries:
        fail("%s: the layer is empty; give files, srcs, directories, symlinks, tars or whiteouts" % ctx.label)
    return state.entries, state.inputs, [state.overrides[p] for p in sorted(state.overrides)]

def _layer_impl(ctx):
    entries, inputs, overrides = layer_entries(ctx)
    lower = lower_args(ctx, ctx.attr.base) if ctx.attr.base else None
    info = build_layer(ctx, ctx.label.name, entries, inputs, ctx.attr.compression, ctx.attr.compression_level, lower, stable_label(ctx.label), allow_empty = not entries, overrides = overrides)
    return [
        DefaultInfo(files = depset([info.blob])),
        info,
        OutputGroupInfo(descriptor = depset([info.descriptor])),
    ]

LAYER_ATTRS = {
    "files": attr.label_keyed_string_dict(
        doc = "Files to place in the image: label → path. A binary (a target with an executable, such as `sh_binary`, " +
              "`py_binary`, `go_binary`) puts its executable at exactly that path, whatever else its `DefaultInfo.files` holds. " +
              "Another label with one file goes to exactly that path; one with several files (or a directory) goes into that " +
              "directory, each file under its base name. Executables keep their executable bit (0755; other files 0644); under " +
              "compatibility version 2 a file is 0755 when its content starts with `#!` or is an ELF program, else 0644, whatever " +
              "its bits on disk (remote execution marks every input executable).",
        allow_files = True,
    ),
    "srcs": attr.label_list(
        doc = "Files placed under `prefix`, at their path relative to this package (files of other packages at their workspace path).",
        allow_files = True,
    ),
    "prefix": attr.string(doc = "Image directory for `srcs`, for example `/app`. Default: the root."),
    "include_runfiles": attr.bool(
        doc = "Also add the runfiles of each `files` target at `PATH.runfiles/`, laid out as Bazel lays out a runfiles tree, " +
              "so the runfiles libraries (`runfiles.bash`, Python's and rules_go's) find data at run time: files at " +
              "`WORKSPACE/PACKAGE/FILE`, files of external repositories at `REPO/PATH`, the runfiles' symlinks, root symlinks " +
              "and empty files, and the repository mapping manifest `_repo_mapping` on Bazel versions that write one (7 and later).",
        default = False,
    ),
    "runfiles": attr.string(
        doc = "Which part of the `files` targets and their runfiles this layer holds, to split a binary over layers that change at " +
              "different rates (repro_binary_image does): `all`; `external`, only the runfiles of external repositories " +
              "(runfiles-tree paths not under the workspace's name), which change when dependencies do; `workspace`, the rest: " +
              "the files themselves, the workspace's runfiles and `_repo_mapping`. A part other than `all` needs `include_runfiles`. " +
              "An `external` layer of a binary without external runfiles is empty.",
        default = "all",
        values = ["all", "external", "workspace"],
    ),
    "directories": attr.string_list(doc = "Empty directories to create, for example `[\"/var/lib/app\"]` (0755 unless `modes` says otherwise)."),
    "symlinks": attr.string_dict(doc = "Symbolic links: path → target, for example `{\"/usr/bin/app\": \"/app/server\"}`. The target is kept verbatim."),
    "tars": attr.label_list(
        doc = "Tar archives (plain, gzip or zstd) whose entries are merged into the layer, under `tars_prefix` with `tars_strip_prefix` removed. " +
              "Their metadata is kept (`modes` and `owners` can change it by path) and times are clamped to SOURCE_DATE_EPOCH.",
        allow_files = [".tar", ".tar.gz", ".tgz", ".tar.zst", ".tzst"],
    ),
    "tars_prefix": attr.string(doc = "Image directory the members of `tars` go under, for example `/opt/app`. Default: the root."),
    "tars_strip_prefix": attr.string(
        doc = "Removed from the name of each member of `tars` before `tars_prefix` is added: with `\"dist\"`, member `dist/bin/app` goes to " +
              "`TARS_PREFIX/bin/app`. Members that are this directory or its parents are dropped; any other member outside it fails the build, naming it.",
    ),
    "whiteouts": attr.string_list(doc = "Paths of the base image to delete, for example `[\"/etc/apt/sources.list\"]`."),
    "opaque_directories": attr.string_list(doc = "Directories of the base image whose contents this layer replaces entirely. Needs `base` to know what to delete."),
    "modes": attr.string_dict(
        doc = "Octal modes by path, for example `{\"/var/lib/app\": \"0700\", \"/app/server\": \"0755\"}`. A path is declared by this layer, " +
              "a parent of a declared path, or (in a layer with `tars`) a member of the tars or a parent of one, checked when the layer is built.",
    ),
    "owners": attr.string_dict(
        doc = "Owners by path: `\"UID:GID\"` or `\"UID:GID:USER:GROUP\"`, for example `{\"/var/lib/app\": \"1000:1000\"}`. The paths are those " +
              "`modes` takes; on a member of `tars` the owner replaces the archive's, names included.",
    ),
    "owner": attr.string(doc = "Owner of every declared entry, `\"UID:GID\"` or `\"UID:GID:USER:GROUP\"` (default 0:0); `owners` overrides it per path."),
    "base": attr.label(
        doc = "Optional base image the layer goes on. Parent directories then keep the base's mode and owner (so adding a file under `/tmp` keeps it 1777) and `opaque_directories` can be expanded. Costs reading the base's layers.",
        providers = [ImageInfo],
    ),
    "compression": attr.string(doc = "gzip, zstd or none.", default = "gzip", values = COMPRESSIONS),
    "compression_level": attr.int(doc = "Compression level (gzip 0-9, zstd 1-22); -1 for the default.", default = -1),
    "file_mtime": attr.string(
        doc = "Time of every file of the layer: `\"epoch\"` (SOURCE_DATE_EPOCH, as BuildKit documents), or seconds since 1970 such as " +
              "`\"0\"` to keep the layer's bytes when only the stamped epoch changes (times from `tars` are clamped to it). Recorded " +
              "as the layer descriptor annotation `dev.rules-repro.file-mtime`; the image's created time and history still take " +
              "SOURCE_DATE_EPOCH. Empty: the `@rules_repro//rules/settings:file_mtime` flag (default `epoch`). A fixed time needs " +
              "compatibility_version 2.",
        default = "",
    ),
}

repro_layer = rule(
    implementation = _layer_impl,
    doc = """\
A reproducible image layer built from declared inputs.

The layer's tar is normalized (sorted walk order, owner 0:0 unless declared,
SOURCE_DATE_EPOCH times, USTAR headers) and is byte-identical to what
BuildKit exports with `rewrite-timestamp` for the same tree.

```starlark
load("@rules_repro//rules:layer.bzl", "repro_layer")

repro_layer(
    name = "app_layer",
    files = {"//app:server": "/app/server"},
    directories = ["/var/lib/app"],
    symlinks = {"/usr/local/bin/server": "/app/server"},
    modes = {"/var/lib/app": "0700"},
    owners = {"/var/lib/app": "1000:1000"},
)
```
""",
    attrs = dict(LAYER_ATTRS, **COMMON_ATTRS),
    toolchains = [TOOLCHAIN_TYPE],
)
