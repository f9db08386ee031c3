"""Where an image's blobs are, and the ImageInfo that carries it.

Every rule that makes or reads an ImageInfo goes through these functions:
`image_info` builds the provider, `blob_sources`/`merge_blob_sources` say
where the blobs are, and `blob_args`/`blob_inputs` turn that into the
`--layer`, `--blobs-from` and `--blob` arguments of `repro` and the inputs
of its action (tools/repro/flags.go's blobFlags reads them).
"""

load("//rules/private/providers:image_info.bzl", "ImageInfo")

def blob_sources(blobs = None, blob_files = None, blob_dirs = None, layouts = None, shallow = False):
    """Where some blobs are; each argument is the ImageInfo field of that name.

    Args:
      blobs: depset of structs (descriptor, blob, rebuild): layers built here.
      blob_files: depset of Files: other blobs, identified by hashing.
      blob_dirs: depset of strings: directories laid out as blobs/sha256/<hex>
        (their files are in blob_files).
      layouts: depset of OCI layout directories (Files).
      shallow: True when some base layer blobs are not in the build.

    Returns:
      A struct with those five fields.
    """
    return struct(
        blobs = blobs or depset(),
        blob_files = blob_files or depset(),
        blob_dirs = blob_dirs or depset(),
        layouts = layouts or depset(),
        shallow = shallow,
    )

def merge_blob_sources(sources):
    """The union of several blob sources (or ImageInfos, which have the same fields).

    Args:
      sources: a list of blob_sources structs or ImageInfo providers; the
        first one's blobs come first.

    Returns:
      A blob_sources struct.
    """
    return blob_sources(
        blobs = depset(transitive = [s.blobs for s in sources]),
        blob_files = depset(transitive = [s.blob_files for s in sources]),
        blob_dirs = depset(transitive = [s.blob_dirs for s in sources]),
        layouts = depset(transitive = [s.layouts for s in sources]),
        shallow = [s for s in sources if s.shallow] != [],
    )

def blob_inputs(sources):
    """The Files an action needs to read the blobs of sources.

    Args:
      sources: a blob_sources struct or an ImageInfo.

    Returns:
      depset of Files.
    """
    built = sources.blobs.to_list()
    return depset(
        [b.descriptor for b in built] + [b.blob for b in built],
        transitive = [sources.blob_files, sources.layouts],
    )

def blob_args(sources, paths = None):
    """The `repro` arguments that say where the blobs of sources are.

    Built layers are passed as `--layer DESCRIPTOR=BLOB` (no hashing needed),
    blob directories and layouts as `--blobs-from DIR`. With `path` (for
    commands run from runfiles, where directories are known only by their
    exec path), directories are replaced by `--blob FILE` for each of their
    files, which repro identifies by hashing.

    Args:
      sources: a blob_sources struct or an ImageInfo.
      paths: None for exec paths, or a dict from each File to the path to pass.

    Returns:
      A list of strings.
    """
    args = []
    for b in sources.blobs.to_list():
        args += ["--layer", "%s=%s" % (_path(b.descriptor, paths), _path(b.blob, paths))]
    if paths != None:
        for f in sources.blob_files.to_list():
            args += ["--blob", paths[f]]
    else:
        for d in sources.blob_dirs.to_list():
            args += ["--blobs-from", d]
    for layout in sources.layouts.to_list():
        args += ["--blobs-from", _path(layout, paths)]
    return args

def _path(f, paths):
    return paths[f] if paths != None else f.path

def image_info(
        manifest,
        config,
        platform,
        sources,
        descriptor = None,
        digest = None,
        compatibility_version = None,
        base_name = "",
        source_repository = "",
        source_repositories = None):
    """The ImageInfo of an image; fields as documented in providers/image_info.bzl.

    Args:
      manifest: the manifest File.
      config: the config File.
      platform: "os/arch[/variant]".
      sources: blob_sources of the image's layers.
      descriptor: the descriptor File written by `repro image`, or None for a base.
      digest: the digest File, or None for a base.
      compatibility_version: int, or None for a base.
      base_name: for a pinned base, its reference.
      source_repository: for a pinned base, the repository its blobs come from.
      source_repositories: depset of repositories holding base layers.

    Returns:
      ImageInfo.
    """
    return ImageInfo(
        manifest = manifest,
        config = config,
        descriptor = descriptor,
        digest = digest,
        platform = platform,
        blobs = sources.blobs,
        blob_files = sources.blob_files,
        blob_dirs = sources.blob_dirs,
        layouts = sources.layouts,
        compatibility_version = compatibility_version,
        base_name = base_name,
        source_repository = source_repository,
        source_repositories = source_repositories or depset(),
        shallow = sources.shallow,
    )
