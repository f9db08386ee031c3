"""Implementation of repro_push and repro_load (executables for `bazel run`)."""

load("//rules/private:common.bzl", "is_stamped", "stamp_keys", "stamp_values")
load("//rules/private:image_files.bzl", "image_files", "launcher")
load("//rules/private:settings.bzl", "REGISTRY_CA_ATTRS")
load("//rules/private:toolchain.bzl", "TOOLCHAIN_TYPE")

def _push_impl(ctx):
    files = image_files(ctx, ctx.attr.image)
    if not ctx.attr.repository:
        fail("%s: repository is required, for example \"registry.example.com/team/app\"" % ctx.label)
    args = ["--repository", ctx.attr.repository] + files.args
    for t in ctx.attr.tags_to_push:
        args += ["--tag", t]
    for s in files.sources:
        args += ["--source-repository", s]
    extra = {}
    if is_stamped(ctx):
        # Only the keys that {KEY} names, not the whole stable-status.txt.
        keys = []
        for s in [ctx.attr.repository] + ctx.attr.tags_to_push:
            keys += stamp_keys(s)
        extra[ctx.label.name + ".stamp-values.txt"] = stamp_values(ctx, keys)
        args += ["--stamp-file", ctx.label.name + ".stamp-values.txt"]

    # Without stamping, a {KEY} in a tag is reported by repro push when it
    # runs (not at analysis, which would break `bazel build //...`).
    script, runfiles = launcher(ctx, "push", args, files.runfiles, extra)
    return [DefaultInfo(executable = script, runfiles = runfiles)]

_PUBLISH_ATTRS = dict({
    "_stamp_flag": attr.label(default = Label("//rules/private:stamp")),
}, **REGISTRY_CA_ATTRS)

repro_push = rule(
    implementation = _push_impl,
    doc = """\
Pushes an image or an index with `bazel run`.

Blobs go first (those already in the registry are skipped; base layers are
mounted from their source repository on the same registry, or copied
registry-to-registry, never downloaded into the build), then manifests, then
tags, so that a tag never points at something incomplete. The pushed digest
is read back and compared with the local one. Credentials come from docker's
config (`~/.docker/config.json`, credential helpers) and never appear in
output. Transient registry errors are retried with backoff.

```starlark
load("@rules_repro//rules:push.bzl", "repro_push")

repro_push(
    name = "image.push",
    image = ":image",
    repository = "registry.example.com/team/app",
    tags_to_push = ["latest", "{STABLE_GIT_COMMIT}"],
)
```

`bazel run --stamp //app:image.push` expands `{KEY}` from the workspace
status. Extra arguments go to `repro push`, for example `-- --dry-run`.
""",
    attrs = dict({
        "image": attr.label(
            doc = "The repro_image or repro_index to push. Base layers are not needed in the build: they are mounted or copied registry-side.",
            mandatory = True,
        ),
        "repository": attr.string(doc = "Registry repository, `registry[:port]/path`; may use `{KEY}` stamp variables."),
        "tags_to_push": attr.string_list(doc = "Tags to set after everything is uploaded; may use `{KEY}` stamp variables. Empty: push by digest only."),
        "stamp": attr.int(doc = "Expand `{KEY}` in repository and tags from the workspace status: 1 always, 0 never, -1 with `--stamp`.", default = -1, values = [-1, 0, 1]),
    }, **_PUBLISH_ATTRS),
    executable = True,
    toolchains = [TOOLCHAIN_TYPE],
)

def _load_impl(ctx):
    files = image_files(ctx, ctx.attr.image)
    args = list(files.args)
    if ctx.attr.engine != "auto":
        args += ["--engine", ctx.attr.engine]
    if ctx.attr.platform:
        args += ["--platform", ctx.attr.platform]
    for t in ctx.attr.repo_tags:
        args += ["--tag", t]

    # Base layers that are not in the build (shallow pinned bases) are
    # fetched from their registry when the image is loaded.
    for s in files.sources:
        args += ["--source-repository", s]
    script, runfiles = launcher(ctx, "load", args, files.runfiles)
    return [DefaultInfo(executable = script, runfiles = runfiles)]

repro_load = rule(
    implementation = _load_impl,
    doc = """\
Loads an image (or, from an index, the image for this machine's platform or
the one named) into docker or podman with `bazel run`, through a
`docker load` archive, and checks that the engine's image ID is the config
digest we built.

```starlark
load("@rules_repro//rules:load.bzl", "repro_load")

repro_load(
    name = "image.load",
    image = ":image",
    repo_tags = ["example.com/app:dev"],
)
```

`bazel run //app:image.load -- --engine podman --platform linux/arm64`.
""",
    attrs = dict({
        "image": attr.label(doc = "The repro_image or repro_index to load.", mandatory = True),
        "repo_tags": attr.string_list(doc = "Tags to give the loaded image, for example `[\"example.com/app:dev\"]`."),
        "engine": attr.string(doc = "docker, podman, or auto (docker when its daemon answers, else podman).", default = "auto", values = ["auto", "docker", "podman"]),
        "platform": attr.string(doc = "For an index: the platform to load (default: this machine's)."),
    }, **REGISTRY_CA_ATTRS),
    executable = True,
    toolchains = [TOOLCHAIN_TYPE],
)
