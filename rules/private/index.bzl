"""Implementation of repro_index."""

load("//rules/private:common.bzl", "COMMON_ATTRS", "add_epoch_args", "compatibility_version", "param_args", "run_repro")
load("//rules/private:image.bzl", "OUTPUT_ATTRS", "default_output", "materialize")
load("//rules/private:toolchain.bzl", "TOOLCHAIN_TYPE")
load("//rules/private/common:blobs.bzl", "merge_blob_sources")
load("//rules/private/providers:image_info.bzl", "ImageInfo")
load("//rules/private/providers:index_info.bzl", "ImageIndexInfo")

def _platforms_transition_impl(settings, attr):
    if not attr.platforms:
        return {"": {"//command_line_option:platforms": settings["//command_line_option:platforms"]}}
    return {str(p): {"//command_line_option:platforms": [str(p)]} for p in attr.platforms}

platforms_transition = transition(
    implementation = _platforms_transition_impl,
    inputs = ["//command_line_option:platforms"],
    outputs = ["//command_line_option:platforms"],
)

def _index_impl(ctx):
    version = compatibility_version(ctx)
    images = []
    if ctx.attr.platforms:
        for p in ctx.attr.platforms:
            for t in ctx.split_attr.images[str(p.label)]:
                images.append(t)
    else:
        images = ctx.attr.images
    if not images:
        fail("%s: an index needs at least one image" % ctx.label)
    infos = []
    seen = {}
    for t in images:
        info = t[ImageInfo]
        if info.descriptor == None:
            fail("%s: %s is a base image, not a built image; wrap it in a repro_image to put it in an index" % (ctx.label, t.label))
        if info.compatibility_version != version:
            fail("%s: image %s is assembled under compatibility version %d but the index uses %d" % (ctx.label, t.label, info.compatibility_version, version))
        if info.platform in seen:
            fail("%s: images %s and %s are both for platform %s; an index holds one image per platform" % (ctx.label, seen[info.platform], t.label, info.platform))
        seen[info.platform] = t.label
        infos.append(info)

    index = ctx.actions.declare_file(ctx.label.name + ".index.json")
    descriptor = ctx.actions.declare_file(ctx.label.name + ".descriptor.json")
    digest = ctx.actions.declare_file(ctx.label.name + ".digest")
    args = param_args(ctx)
    args.add("index")
    args.add_all([i.descriptor for i in infos], before_each = "--image")
    for k, v in ctx.attr.annotations.items():
        args.add("--annotation", "%s=%s" % (k, v))
    args.add("--compatibility-version", str(version))
    args.add("--index-out", index)
    args.add("--descriptor-out", descriptor)
    args.add("--digest-out", digest)
    inputs = [i.descriptor for i in infos]
    add_epoch_args(ctx, args, inputs)
    run_repro(
        ctx,
        arguments = [args],
        inputs = inputs,
        outputs = [index, descriptor, digest],
        mnemonic = "ReproIndex",
        progress_message = "Assembling image index %s" % ctx.label,
    )

    extra = [index] + [i.manifest for i in infos] + [i.config for i in infos]
    sources = merge_blob_sources(infos)
    outputs = materialize(ctx, ctx.label.name, descriptor, sources, extra, version, index = True)
    return [
        DefaultInfo(files = default_output(ctx, digest, descriptor, outputs, sources)),
        ImageIndexInfo(index = index, descriptor = descriptor, digest = digest, images = infos, compatibility_version = version),
        OutputGroupInfo(
            digest = depset([digest]),
            descriptor = depset([descriptor]),
            **{group: depset([out]) for group, out in outputs.items()}
        ),
    ]

repro_index = rule(
    implementation = _index_impl,
    doc = """\
A multi-platform OCI image index.

Either list images built for different platforms, or give one image and the
platforms to build it for: the image (and everything it depends on, such as
the binaries in its layers) is then built once per platform through a
platform transition.

The default output is the digest and descriptor, as for `repro_image`
(`--@rules_repro//rules/settings:default_output=layout` makes it the
layout); output groups `layout` (an OCI layout directory), `oci_archive`,
`digest` and `descriptor`.

```starlark
load("@rules_repro//rules:index.bzl", "repro_index")

repro_index(
    name = "multiarch",
    images = [":image"],
    platforms = ["//platforms:linux_amd64", "//platforms:linux_arm64"],
)
```
""",
    attrs = dict({
        "images": attr.label_list(
            doc = "Images of the index (repro_image targets). With `platforms`, each is built once per platform.",
            providers = [ImageInfo],
            cfg = platforms_transition,
            mandatory = True,
        ),
        "platforms": attr.label_list(doc = "Platforms (`platform` targets) to build `images` for. Empty: build them as configured."),
        "annotations": attr.string_dict(doc = "Index annotations. `org.opencontainers.image.created` is SOURCE_DATE_EPOCH unless given here."),
        "_allowlist_function_transition": attr.label(default = "@bazel_tools//tools/allowlists/function_transition_allowlist"),
    }, **dict(COMMON_ATTRS, **OUTPUT_ATTRS)),
    toolchains = [TOOLCHAIN_TYPE],
)
