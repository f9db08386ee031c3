"""Implementation of repro_digest_test."""

load("//rules/private:common.bzl", "stable_label")
load("//rules/private:image.bzl", "layout_dir_of")
load("//rules/private:image_files.bzl", "image_files", "image_infos", "launcher")
load("//rules/private:settings.bzl", "SettingInfo")
load("//rules/private:toolchain.bzl", "TOOLCHAIN_TYPE")
load("//rules/private/providers:image_info.bzl", "ImageInfo")
load("//rules/private/providers:index_info.bzl", "ImageIndexInfo")

def _rebuild_layers(infos):
    """The layers of the images that can be built again, and those that cannot.

    Args:
      infos: ImageInfo of the images.

    Returns:
      (list of structs (descriptor, blob, recipe), list of strings saying
      which layers are not rebuilt and why).
    """
    layers, skipped, seen = [], [], {}
    for info in infos:
        for b in info.blobs.to_list():
            if b.descriptor in seen:
                continue
            seen[b.descriptor] = True
            recipe = getattr(b, "rebuild", None)
            if recipe == None:
                skipped.append("%s (a layer on a base: it reads the base's blobs)" % b.descriptor.short_path)
            else:
                layers.append(struct(descriptor = b.descriptor, blob = b.blob, recipe = recipe))
        if info.blob_files.to_list() or info.layouts.to_list():
            skipped.append("the base image's layers (they are not built here)")
    return layers, {s: None for s in skipped}.keys()

def _digest_test_impl(ctx):
    target = ctx.attr.image
    infos = image_infos(ctx, target)
    if ctx.attr.golden_layout and ctx.attr.golden_repository:
        fail("%s: give golden_layout or golden_repository, not both" % ctx.label)
    golden = ctx.file.golden
    more = [golden]
    layout_dir, layout_files = None, []
    if ctx.attr.golden_layout:
        layout_dir, layout_files = layout_dir_of(ctx, ctx.attr.golden_layout, "golden_layout")
        more += [layout_dir] if layout_dir else layout_files
    layers, skipped = [], []
    if ctx.attr.rebuild:
        layers, skipped = _rebuild_layers(infos)
        if not layers:
            fail("%s: rebuild = True, but %s has no layer built by repro_layer or repro_image's tars to rebuild" % (ctx.label, target.label))
        for layer in layers:
            # The inputs include the stamp values file of a stamped layer.
            more += [layer.recipe.spec] + layer.recipe.inputs.to_list()
    files = image_files(ctx, target, more)
    paths = files.paths

    args = ["--label", stable_label(target.label), "--golden", paths[golden], "--golden-name", golden.short_path]
    if ctx.attr.golden_key:
        args += ["--golden-key", ctx.attr.golden_key]

    # Only a source file of this workspace can be updated in place; files
    # of other repositories have short paths starting with "../" (in every
    # Bazel version, unlike Label.workspace_name).
    if golden.is_source and not golden.short_path.startswith("../"):
        run_flags = " --stamp" if ctx.attr._stamp_flag[SettingInfo].value else ""
        args += [
            "--golden-workspace-path",
            golden.short_path,
            "--update-command",
            "bazel run%s //%s:%s -- --update" % (run_flags, ctx.label.package, ctx.label.name),
        ]
    else:
        args += ["--update-command", "put the new digest into %s by hand (it is not a source file of this workspace, so `-- --update` cannot write it)" % golden.owner]
    if layout_dir:
        args += ["--golden-layout", paths[layout_dir]]
    elif layout_files:
        index_json = [f for f in layout_files if f.basename == "index.json"][0]
        args += ["--golden-layout", paths[index_json].rpartition("/")[0]]
    if ctx.attr.golden_repository:
        args += ["--golden-repository", ctx.attr.golden_repository]
    extra = {}
    if layers:
        mapped = {}
        for layer in layers:
            for f in [layer.recipe.spec] + layer.recipe.inputs.to_list():
                mapped[f.path] = paths[f]
        plan = ctx.actions.declare_file(ctx.label.name + ".rebuild.json")
        ctx.actions.write(plan, json.encode({
            "layers": [
                {
                    "label": layer.recipe.label,
                    "descriptor": paths[layer.descriptor],
                    "blob": paths[layer.blob],
                    "spec": paths[layer.recipe.spec],
                    "args": list(layer.recipe.args),
                }
                for layer in layers
            ],
            "paths": mapped,
            "skipped": skipped,
        }))
        extra[ctx.label.name + ".rebuild.json"] = plan
        args += ["--rebuild", ctx.label.name + ".rebuild.json"]
    args += files.args
    script, runfiles = launcher(ctx, "check-digest", args, files.runfiles, extra)
    return [DefaultInfo(executable = script, runfiles = runfiles)]

repro_digest_test = rule(
    implementation = _digest_test_impl,
    doc = """\
A reproducibility gate: checks that an image or index has the digest
committed in a golden file, and explains a mismatch.

On a mismatch the test prints `repro diff` between the golden image and this
build (when the golden image is reachable: `golden_layout`, or
`golden_repository` holding it by digest; with a descriptor as the golden
file, the descriptor-level diff; otherwise this build's descriptor), and the
one command that accepts the change:
`bazel run //pkg:name -- --update` writes the new digest into the golden
file (into its row, for a table).

With `rebuild = True` the test also runs each layer's `repro layer` action
again, in another working directory, umask, time zone and locale, and
prints `repro diff` of any layer that comes out different.

```starlark
load("@rules_repro//rules:digest_test.bzl", "repro_digest_test")

repro_digest_test(
    name = "image_digest_test",
    image = ":image",
    golden = "image.digest",
    rebuild = True,
)
```

The golden file holds one digest (`sha256:...`), or rows of blank-separated
fields whose last field is a digest, one selected by `golden_key`
(`//app:image unstamped  sha256:...`), or a descriptor written by
`repro image` (output group `descriptor`). Lines starting with `#` are
comments.
""",
    attrs = {
        "image": attr.label(
            doc = "The repro_image or repro_index to check.",
            mandatory = True,
            providers = [[ImageInfo], [ImageIndexInfo]],
        ),
        "golden": attr.label(
            doc = "The golden file: one digest, a table of `KEY... DIGEST` rows (with `golden_key`), or an image or index descriptor.",
            mandatory = True,
            allow_single_file = True,
        ),
        "golden_key": attr.string(doc = "The row of a golden table: the fields before the digest, for example `\"//app:image unstamped\"`."),
        "golden_layout": attr.label(
            doc = "An OCI layout of the golden image (a directory, or files including index.json), so that a mismatch is explained down to the files that changed.",
            allow_files = True,
        ),
        "golden_repository": attr.string(doc = "A registry repository holding the golden image, `registry[:port]/path`: a mismatch is explained against `REPOSITORY@GOLDEN_DIGEST` (the test then needs the network)."),
        "rebuild": attr.bool(doc = "Also build each layer again inside the test, in another working directory, umask, time zone and locale, and fail with `repro diff` if one differs.", default = False),
        "_stamp_flag": attr.label(default = Label("//rules/private:stamp")),
    },
    test = True,
    toolchains = [TOOLCHAIN_TYPE],
)
