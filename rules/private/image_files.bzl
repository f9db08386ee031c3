"""Runfiles of an image or index, and the launcher of the `bazel run` and test rules.

Shared by repro_push, repro_load and repro_digest_test: they run `repro`
from the runfiles root with the image's descriptor and blobs as arguments.
"""

load("//rules/private:common.bzl", "stable_label")
load("//rules/private:settings.bzl", "registry_ca_export")
load("//rules/private:toolchain.bzl", "repro_tool")
load("//rules/private/common:blobs.bzl", "blob_args", "blob_inputs", "merge_blob_sources")
load("//rules/private/providers:image_info.bzl", "ImageInfo")
load("//rules/private/providers:index_info.bzl", "ImageIndexInfo")

def runfiles_map(ctx, files):
    """Places the files in the runfiles tree, each at a path of its own.

    A file goes at its usual runfiles path, as an ordinary runfile: Bazel
    downloads those under --remote_download_toplevel (before 6.3 it does not
    download root symlinks, bazelbuild/bazel#18249), and nothing is fetched
    at build time under --remote_download_minimal. Only files whose short
    paths collide (an index's images come from one configuration per
    platform: app/image.manifest.json twice) get a symlink artifact of their
    own in this package; that local symlink action brings its target along.
    Directories (rare: a base given as an OCI layout) are root symlinks.

    Args:
      ctx: the rule context.
      files: the Files to place.

    Returns:
      (runfiles, dict File -> path relative to the runfiles root).
    """
    count = {}
    for f in files:
        count[f.short_path] = count.get(f.short_path, 0) + 1
    links, paths, plain = {}, {}, []
    for i, f in enumerate(files):
        name = "%s.files/%d/%s" % (ctx.label.name, i, f.basename)
        if f.is_directory:
            links[name] = f
            paths[f] = name
        elif count[f.short_path] == 1:
            plain.append(f)
            paths[f] = ctx.workspace_name + "/" + f.short_path
        else:
            link = ctx.actions.declare_file(name)
            ctx.actions.symlink(output = link, target_file = f)
            plain.append(link)
            paths[f] = ctx.workspace_name + "/" + link.short_path
    return ctx.runfiles(files = plain, root_symlinks = links), paths

def image_infos(ctx, target):
    """The ImageInfo of an image, or of each image of an index.

    Args:
      ctx: the rule context.
      target: a repro_image or repro_index target.

    Returns:
      A list of ImageInfo.
    """
    if ImageIndexInfo in target:
        return target[ImageIndexInfo].images
    if ImageInfo in target and target[ImageInfo].descriptor:
        return [target[ImageInfo]]
    fail("%s: %s is neither a repro_image nor a repro_index" % (ctx.label, target.label))

def image_files(ctx, target, more_files = []):
    """The files and the blob arguments of an image or index.

    Args:
      ctx: the rule context.
      target: a repro_image or repro_index target.
      more_files: other Files to place in the runfiles (one runfiles map
        per rule: it declares the symlinks of colliding paths).

    Returns:
      A struct: runfiles, args (paths relative to the runfiles root),
      sources (registry repositories of base layers), paths (dict File ->
      path relative to the runfiles root, for every file placed).
    """
    if ImageIndexInfo in target:
        idx = target[ImageIndexInfo]
        infos = idx.images
        descriptor = idx.descriptor
        extra = [idx.index] + [i.manifest for i in infos] + [i.config for i in infos]
    elif ImageInfo in target and target[ImageInfo].descriptor:
        info = target[ImageInfo]
        infos = [info]
        descriptor = info.descriptor
        extra = [info.manifest, info.config]
    else:
        fail("%s: %s is neither a repro_image nor a repro_index" % (ctx.label, target.label))
    blobs = merge_blob_sources(infos)
    sources = []
    for i in infos:
        sources += i.source_repositories.to_list()
        if i.source_repository:
            sources.append(i.source_repository)
    all_files = [descriptor] + extra + blob_inputs(blobs).to_list() + more_files
    runfiles, paths = runfiles_map(ctx, {f: None for f in all_files}.keys())
    args = ["--descriptor", paths[descriptor]]
    for f in extra:
        args += ["--blob", paths[f]]
    args += blob_args(blobs, paths = paths)
    return struct(runfiles = runfiles, args = args, sources = sorted({s: None for s in sources}.keys()), paths = paths)

def launcher(ctx, command, args, runfiles, extra = {}):
    """The executable that runs `repro COMMAND @ARGS` from the runfiles root.

    It works under `bazel run` and as a test (RUNFILES_DIR or TEST_SRCDIR).

    Args:
      ctx: the rule context.
      command: the repro command (push, load, check-digest).
      args: its arguments, with paths relative to the runfiles root.
      runfiles: the runfiles holding the files the arguments name.
      extra: more Files by runfiles path (for example the stamp file).

    Returns:
      (the script File, runfiles).
    """
    repro = repro_tool(ctx)
    args_file = ctx.actions.declare_file(ctx.label.name + ".args")
    ctx.actions.write(args_file, "\n".join(args) + "\n")
    script = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(script, """\
#!/usr/bin/env bash
# {what} (generated by rules_repro). Extra arguments are passed to `repro {command}`.
set -euo pipefail
{ca}cd "${{RUNFILES_DIR:-${{TEST_SRCDIR:-$0.runfiles}}}}"
exec ./{workspace}/{repro} {command} @{workspace}/{args} "$@"
""".format(
        what = stable_label(ctx.label),
        workspace = ctx.workspace_name,
        repro = repro.short_path,
        args = args_file.short_path,
        command = command,
        ca = registry_ca_export(ctx) if hasattr(ctx.attr, "_registry_ca") else "",
    ), is_executable = True)
    return script, runfiles.merge(ctx.runfiles(files = [repro, args_file] + extra.values(), root_symlinks = {k: v for k, v in extra.items()}))
