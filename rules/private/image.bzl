"""Implementation of repro_image."""

load("//rules/private:common.bzl", "COMMON_ATTRS", "COMPRESSIONS", "add_epoch_args", "compatibility_version", "is_stamped", "param_args", "run_repro", "stable_label", "stamp_keys", "version_has")
load("//rules/private:formats.bzl", "OUTPUT_FORMATS")
load("//rules/private:layer.bzl", "build_layer")
load("//rules/private:settings.bzl", "SettingInfo")
load("//rules/private:toolchain.bzl", "TOOLCHAIN_TYPE")
load("//rules/private/common:blobs.bzl", "blob_args", "blob_inputs", "blob_sources", "image_info", "merge_blob_sources")
load("//rules/private/providers:image_info.bzl", "ImageInfo")
load("//rules/private/providers:layer_info.bzl", "LayerInfo")

def layout_dir_of(ctx, target, what):
    """The directory of an OCI layout given as a target (a tree artifact, or files including index.json).

    Args:
      ctx: the rule context.
      target: the target that should be a layout.
      what: which attribute holds it, for error messages.

    Returns:
      (the directory File or None, the target's files).
    """
    files = target[DefaultInfo].files.to_list()
    if len(files) == 1 and files[0].is_directory:
        return files[0], files
    for f in files:
        if f.basename == "index.json":
            return None, files
    fail("%s: %s %s is not an image: it provides neither ImageInfo (repro_image, repro_pull) nor an OCI layout (a directory with index.json)" % (ctx.label, what, target.label))

def _index_json_dir(files):
    for f in files:
        if f.basename == "index.json":
            return f.dirname
    return None

def resolve_base(ctx, platform):
    """The ImageInfo of ctx.attr.base, reading a layout base's manifest and config once.

    Args:
      ctx: the rule context.
      platform: the image platform, to pick from a multi-platform layout.

    Returns:
      ImageInfo, or None without a base.
    """
    base = ctx.attr.base
    if not base:
        return None
    if ImageInfo in base:
        return base[ImageInfo]
    directory, files = layout_dir_of(ctx, base, "base")
    layout_path = directory.path if directory else _index_json_dir(files)

    # Read the base's manifest and config once; image assembly then needs
    # only these two small files.
    manifest = ctx.actions.declare_file(ctx.label.name + ".base.manifest.json")
    config = ctx.actions.declare_file(ctx.label.name + ".base.config.json")
    args = param_args(ctx)
    args.add("base")
    args.add("--layout", layout_path)
    if platform:
        args.add("--platform", platform)
    args.add("--manifest-out", manifest)
    args.add("--config-out", config)
    run_repro(
        ctx,
        arguments = [args],
        inputs = files,
        outputs = [manifest, config],
        mnemonic = "ReproBase",
        progress_message = "Reading base image %s for %s" % (base.label, ctx.label),
    )
    return image_info(
        manifest = manifest,
        config = config,
        platform = platform,
        sources = blob_sources(
            blob_files = depset(files if not directory else []),
            blob_dirs = depset([layout_path] if not directory else []),
            layouts = depset([directory] if directory else []),
        ),
    )

# Target platform constraints and the OCI platform they stand for. Bazel 4's
# bundled @platforms has aarch64 and arm64 as separate values (newer
# releases make aarch64 an alias of arm64), so both are checked; asking the
# target platform, rather than select(), cannot be ambiguous.
_OCI_OS = {"linux": "linux", "windows": "windows", "freebsd": "freebsd"}
_OCI_ARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7": "arm/v7",
    "arm": "arm/v7",
    "i386": "386",
    "x86_32": "386",
    "s390x": "s390x",
    "ppc": "ppc64le",
    "riscv64": "riscv64",
}

PLATFORM_ATTRS = dict(
    [("_os_" + k, attr.label(default = Label("@platforms//os:" + k))) for k in _OCI_OS] +
    [("_cpu_" + k, attr.label(default = Label("@platforms//cpu:" + k))) for k in _OCI_ARCH],
)

def _has(ctx, name):
    return ctx.target_platform_has_constraint(getattr(ctx.attr, name)[platform_common.ConstraintValueInfo])

def target_platform(ctx):
    """The image platform: the platform attribute, else the target platform's os and cpu.

    Args:
      ctx: the rule context (with PLATFORM_ATTRS and a platform attribute).

    Returns:
      "os/arch[/variant]".
    """
    if ctx.attr.platform:
        check_platform(ctx.attr.platform, "%s: platform" % ctx.label)
        return ctx.attr.platform
    return target_platform_of(ctx)

# The values the OCI image spec gives for platform.os and
# platform.architecture (Go's GOOS and GOARCH), and the variants in use.
_OS_VALUES = ["aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js", "linux", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows"]
_ARCH_VALUES = ["386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle", "ppc64", "ppc64le", "riscv64", "s390x", "wasm"]
_VARIANTS = {
    "arm": ["v5", "v6", "v7", "v8"],
    "arm64": ["v8", "v8.0", "v8.1", "v8.2", "v8.3", "v8.4", "v8.5", "v8.6", "v8.7", "v8.8", "v8.9", "v9", "v9.0", "v9.1", "v9.2", "v9.3", "v9.4", "v9.5"],
    "amd64": ["v1", "v2", "v3", "v4"],
    "riscv64": ["rva20u64", "rva22u64"],
}

def _closest(value, known):
    """The known value with the most characters in common with value, for a hint."""
    best, score = "", -1
    for k in known:
        diff = len(k) - len(value)
        common = len([c for c in k.elems() if c in value.elems()]) - (diff if diff > 0 else -diff)
        if common > score:
            best, score = k, common
    return best

def check_platform(platform, what):
    """Fails unless platform is os/architecture[/variant] with OCI values.

    Args:
      platform: the platform string, for example "linux/arm64/v8".
      what: names the attribute in the message.
    """
    parts = platform.split("/")
    if len(parts) not in (2, 3) or "" in parts:
        fail("%s %r: want os/architecture[/variant], for example \"linux/amd64\" or \"linux/arm64/v8\"" % (what, platform))
    os, arch = parts[0], parts[1]
    if os not in _OS_VALUES:
        fail("%s %r: %r is not an OCI os (did you mean %r?); known: %s" % (what, platform, os, _closest(os, _OS_VALUES), ", ".join(_OS_VALUES)))
    if arch not in _ARCH_VALUES:
        fail("%s %r: %r is not an OCI architecture (did you mean %r?); known: %s" % (what, platform, arch, _closest(arch, _ARCH_VALUES), ", ".join(_ARCH_VALUES)))
    if len(parts) == 3:
        variants = _VARIANTS.get(arch, [])
        if parts[2] not in variants:
            fail("%s %r: %r is not a variant of %s (%s)" % (what, platform, parts[2], arch, ", ".join(variants) if variants else "it has none"))

def target_platform_of(ctx):
    """The OCI platform of the target platform.

    Args:
      ctx: the rule context (with PLATFORM_ATTRS).

    Returns:
      "os/arch[/variant]".
    """
    os = [v for k, v in _OCI_OS.items() if _has(ctx, "_os_" + k)]
    arch = [v for k, v in _OCI_ARCH.items() if _has(ctx, "_cpu_" + k)]
    if len(os) != 1 or len(arch) != 1:
        fail("%s: cannot tell the image platform from the target platform's constraints; set platform = \"linux/amd64\" (or another os/arch)" % ctx.label)
    return os[0] + "/" + arch[0]

def _shallow_failure(ctx, out, kind):
    ctx.actions.run_shell(
        outputs = [out],
        command = "echo \"$1\" >&2; exit 1",
        arguments = ["%s: cannot write the %s: the pinned base image is shallow (only its manifest and config are fetched, the default), so its layer blobs are not in the build. Add --@rules_repro//rules/settings:base_layers=fetch to download them (by digest, verified) and build layouts and archives." % (ctx.label, kind)],
        mnemonic = "ReproShallowBase",
        progress_message = "Checking base layers of %s" % ctx.label,
    )

# The attributes of the rules whose outputs materialize() writes.
OUTPUT_ATTRS = {
    "_default_output_flag": attr.label(default = Label("//rules/settings:default_output")),
}

def default_output(ctx, digest, descriptor, outputs, sources):
    """The DefaultInfo files of an image or index: see the default_output setting.

    Args:
      ctx: the rule context (with OUTPUT_ATTRS).
      digest: the digest File.
      descriptor: the descriptor File.
      outputs: what materialize() returned.
      sources: where the blobs are (see blob_sources).

    Returns:
      A depset of Files.
    """
    value = ctx.attr._default_output_flag[SettingInfo].value
    if value not in ["digest", "layout"]:
        fail("%s: the @rules_repro//rules/settings:default_output flag is %r: want \"digest\" (the digest and descriptor files) or \"layout\" (the OCI layout directory)" % (ctx.label, value))

    # On a shallow base (the default for pinned bases) the layout needs
    # layer bytes the build does not have: the default output is then the
    # digest and descriptor whatever the setting, and the layout is an
    # output group that fails with a message saying how to fetch the layers.
    if value == "layout" and not sources.shallow:
        return depset([outputs["layout"]])
    return depset([digest, descriptor])

def materialize(ctx, name, descriptor, sources, extra_blobs, version, repo_tags = [], index = False):
    """Declares the actions that write the image or index in each output format (formats.bzl).

    Args:
      ctx: the rule context.
      name: base name of the outputs.
      descriptor: the image or index descriptor File.
      sources: where the blobs are (see blob_sources).
      extra_blobs: other blob Files (manifests, configs, index).
      version: the compatibility version, which chooses how layouts and
        archives are written.
      repo_tags: tags of the docker archive.
      index: True for an index: only the formats with for_index.

    Returns:
      A dict from output group name to the output File.
    """
    inputs = depset(
        [descriptor] + extra_blobs,
        transitive = [blob_inputs(sources)],
    )
    outputs = {}
    for fmt in OUTPUT_FORMATS:
        if index and not fmt.for_index:
            continue
        if fmt.directory:
            out = ctx.actions.declare_directory(name + fmt.extension)
        else:
            out = ctx.actions.declare_file(name + fmt.extension)
        outputs[fmt.output_group] = out
        if sources.shallow:
            _shallow_failure(ctx, out, fmt.name)
            continue
        args = param_args(ctx)
        args.add(fmt.name)
        args.add("--descriptor", descriptor)
        args.add_all(extra_blobs, before_each = "--blob")
        args.add_all(blob_args(sources))
        args.add("--output", out.path)
        args.add("--compatibility-version", str(version))
        if fmt.docker:
            args.add_all(repo_tags, before_each = "--tag")
        else:
            # Tools such as umoci address an image in a layout by this name.
            args.add("--ref-name", "latest")
        run_repro(
            ctx,
            arguments = [args],
            inputs = inputs,
            outputs = [out],
            mnemonic = fmt.mnemonic,
            progress_message = "Writing %s of %s" % (fmt.name, ctx.label),
        )
    return outputs

def _image_impl(ctx):
    version = compatibility_version(ctx)
    platform = target_platform(ctx)
    base = resolve_base(ctx, platform)

    layers = []
    for t in ctx.attr.layers:
        info = t[LayerInfo]
        if info.compatibility_version != version:
            fail("%s: layer %s is encoded under compatibility version %d but the image uses %d; set the same compatibility_version on both" % (ctx.label, t.label, info.compatibility_version, version))
        layers.append(struct(info = info, created_by = stable_label(t.label)))
    for i, tar in enumerate(ctx.files.tars):
        name = "%s.tars_%d" % (ctx.label.name, i)
        info = build_layer(ctx, name, [{"type": "tar", "source": tar.path}], [tar], ctx.attr.compression, ctx.attr.compression_level, None, "%s tars[%d]" % (stable_label(ctx.label), i))
        layers.append(struct(info = info, created_by = "%s tars[%d]" % (stable_label(ctx.label), i)))
    if not layers and not base:
        fail("%s: an image needs a base or at least one layer" % ctx.label)

    # Under versions whose history does not depend on labels, the history
    # text comes from the layer alone (repro image ignores a given one).
    with_label = not version_has(version, "history_from_layer")
    spec = {
        "layers": [dict([("descriptor", layer.info.descriptor.path)] + ([("created_by", layer.created_by)] if with_label else [])) for layer in layers],
        "platform": platform,
    }
    inputs = [layer.info.descriptor for layer in layers]
    if base:
        spec["base"] = {"manifest": base.manifest.path, "config": base.config.path}
        if base.base_name:
            spec["base"]["name"] = base.base_name
        inputs += [base.manifest, base.config]

    # Config fields that are set (an empty value keeps the base's).
    for field in ["entrypoint", "cmd", "workdir", "user", "labels", "exposed_ports", "volumes", "stop_signal", "annotations"]:
        if getattr(ctx.attr, field):
            spec[field] = getattr(ctx.attr, field)
    if ctx.attr.env:
        spec["env"] = ["%s=%s" % (k, v) for k, v in ctx.attr.env.items()]

    spec_file = ctx.actions.declare_file(ctx.label.name + ".image.json")
    ctx.actions.write(spec_file, json.encode(spec))
    config = ctx.actions.declare_file(ctx.label.name + ".config.json")
    manifest = ctx.actions.declare_file(ctx.label.name + ".manifest.json")
    descriptor = ctx.actions.declare_file(ctx.label.name + ".descriptor.json")
    digest = ctx.actions.declare_file(ctx.label.name + ".digest")
    args = param_args(ctx)
    args.add("image")
    args.add("--spec", spec_file)
    args.add("--compatibility-version", str(version))
    args.add("--config-out", config)
    args.add("--manifest-out", manifest)
    args.add("--descriptor-out", descriptor)
    args.add("--digest-out", digest)
    all_inputs = [spec_file] + inputs

    # {KEY} in labels, annotations and env take workspace status values
    # under --stamp, in versions that expand them (repro image reports an
    # unknown key, naming the label). Unstamped, they stay as written.
    keys = []
    if version_has(version, "stamp_config") and is_stamped(ctx):
        for d in [ctx.attr.labels, ctx.attr.annotations, ctx.attr.env]:
            for value in d.values():
                keys += stamp_keys(value)
    add_epoch_args(ctx, args, all_inputs, stamp_keys = keys)

    # Only descriptors, the base's manifest and config, and the spec: no
    # layer bytes. This is what lets remote builds skip downloading layers.
    run_repro(
        ctx,
        arguments = [args],
        inputs = all_inputs,
        outputs = [config, manifest, descriptor, digest],
        mnemonic = "ReproImage",
        progress_message = "Assembling image %s" % ctx.label,
    )

    own = depset([struct(descriptor = layer.info.descriptor, blob = layer.info.blob, rebuild = layer.info.rebuild) for layer in layers])
    sources = merge_blob_sources([blob_sources(blobs = own)] + ([base] if base else []))
    outputs = materialize(ctx, ctx.label.name, descriptor, sources, [manifest, config], version, ctx.attr.repo_tags)
    source_repos = depset()
    if base:
        source_repos = depset([base.source_repository] if base.source_repository else [], transitive = [base.source_repositories])
    info = image_info(
        manifest = manifest,
        config = config,
        descriptor = descriptor,
        digest = digest,
        platform = platform,
        sources = sources,
        compatibility_version = version,
        source_repositories = source_repos,
    )
    return [
        DefaultInfo(files = default_output(ctx, digest, descriptor, outputs, sources)),
        info,
        OutputGroupInfo(
            digest = depset([digest]),
            descriptor = depset([descriptor]),
            manifest = depset([manifest]),
            config = depset([config]),
            **{group: depset([out]) for group, out in outputs.items()}
        ),
    ]

IMAGE_ATTRS = {
    "base": attr.label(
        doc = "Base image: a repro_image, a pinned base from the lockfile (`@pins//:NAME` or `pinned(\"ref:tag\")`, see `repro_pins`), or an OCI layout (a directory, or files including index.json). Without it the image starts from scratch.",
    ),
    "layers": attr.label_list(doc = "Layers added on top of the base, bottom first (repro_layer targets).", providers = [LayerInfo]),
    "tars": attr.label_list(
        doc = "Tar archives added as layers after `layers`, one layer each, compressed with `compression`.",
        allow_files = [".tar", ".tar.gz", ".tgz", ".tar.zst", ".tzst"],
    ),
    "compression": attr.string(doc = "Compression of the layers made from `tars`: gzip, zstd or none.", default = "gzip", values = COMPRESSIONS),
    "compression_level": attr.int(doc = "Compression level for `tars` (gzip 0-9, zstd 1-22); -1 for the default.", default = -1),
    "entrypoint": attr.string_list(doc = "Entrypoint, one element per argument. Setting it clears the base's cmd, as in a Dockerfile."),
    "cmd": attr.string_list(doc = "Default arguments (cmd)."),
    "env": attr.string_dict(doc = "Environment, merged with the base's by key, in order. `$VAR` and `${VAR}` expand to the value so far (`$$` is a literal `$`), so `{\"PATH\": \"$PATH:/app\"}` extends the base's PATH. Under compatibility_version 2 and `--stamp`, `{KEY}` in a value takes the workspace status value of KEY (for example `{STABLE_GIT_COMMIT}`); an unknown key fails the build naming the entry. Unstamped, or under version 1, values are kept as written."),
    "workdir": attr.string(doc = "Working directory."),
    "user": attr.string(doc = "User (name, UID, or UID:GID)."),
    "labels": attr.string_dict(doc = "Config labels, merged with the base's. Under compatibility_version 2 and `--stamp`, `{KEY}` in a value takes the workspace status value of KEY (for example `{STABLE_GIT_COMMIT}`); an unknown key fails the build naming the entry. Unstamped, or under version 1, values are kept as written."),
    "exposed_ports": attr.string_list(doc = "Exposed ports, `PORT` or `PORT/tcp|udp|sctp`."),
    "volumes": attr.string_list(doc = "Volume paths."),
    "stop_signal": attr.string(doc = "Stop signal, for example `SIGTERM`."),
    "annotations": attr.string_dict(doc = "Manifest annotations. `org.opencontainers.image.created` is set to SOURCE_DATE_EPOCH unless given here. Under compatibility_version 2 and `--stamp`, `{KEY}` in a value takes the workspace status value of KEY (for example `{STABLE_GIT_COMMIT}`); an unknown key fails the build naming the entry. Unstamped, or under version 1, values are kept as written."),
    "platform": attr.string(doc = "`os/arch[/variant]`. Default: the target platform (so a platform transition, as in repro_index, builds each architecture)."),
    "repo_tags": attr.string_list(doc = "Tags recorded in the docker archive (output group `docker_archive`), for example `[\"example.com/app:latest\"]`."),
}

repro_image = rule(
    implementation = _image_impl,
    doc = """\
A reproducible OCI image.

The default output is the digest (the manifest digest as text) and the
descriptor; the manifest, config and layer blobs are built with them, each
once. Output groups: `layout` (an OCI image layout directory),
`oci_archive` (a tar of the layout), `docker_archive` (for `docker load` or
`podman load`), `digest`, `descriptor`, `manifest` and `config`. The
manifest and digest are computed from layer descriptors only; layouts and
archives are separate actions, which copy every blob, so a build that does
not ask for them downloads each byte once from a remote cache.
`--@rules_repro//rules/settings:default_output=layout` makes the layout the
default output instead.

On a pinned base, only the base's manifest and config are fetched by default
(`@rules_repro//rules/settings:base_layers=shallow`): pushes and loads still
work, the default output is the digest and descriptor whatever
`default_output` says, and layouts and archives need
`--@rules_repro//rules/settings:base_layers=fetch`.

```starlark
load("@rules_repro//rules:image.bzl", "repro_image")

repro_image(
    name = "image",
    base = "@distroless_static",
    layers = [":app_layer"],
    entrypoint = ["/app/server"],
    env = {"PATH": "$PATH:/app"},
    exposed_ports = ["8080"],
    user = "65532",
)
```
""",
    attrs = dict(dict(dict(IMAGE_ATTRS, **COMMON_ATTRS), **PLATFORM_ATTRS), **OUTPUT_ATTRS),
    toolchains = [TOOLCHAIN_TYPE],
)
