"""ImageInfo: an image built by repro_image, or a pinned or imported base image."""

DOC = """\
An OCI image described without its layer bytes: the manifest and config
blobs, a descriptor with the digest and platform, and where the layer blobs
are for the actions that need them (layouts, archives, push, load).
"""

FIELDS = {
    "manifest": "File: the image manifest blob.",
    "config": "File: the image config blob.",
    "descriptor": "File: JSON written by `repro image` (mediaType, digest, size, platform, layers); index and push read it.",
    "digest": "File or None: the manifest digest as text (`sha256:...`). None for a base imported without building.",
    "platform": "string: `os/arch[/variant]`, for example `linux/arm64`.",
    "blobs": "depset of structs (descriptor: File, blob: File, rebuild: LayerInfo.rebuild): every layer blob of the image that a build produced, with its layer descriptor.",
    "blob_files": "depset of File: other blobs of the image (for example base layers fetched by digest), identified by hashing.",
    "blob_dirs": "depset of string: paths of directories laid out as blobs/sha256/<hex> (inputs in blob_files) whose blobs the image may use.",
    "layouts": "depset of File (directories): OCI layouts whose blobs the image may use (a base given as a layout).",
    "compatibility_version": "int or None: the compatibility version the image was assembled under; None for a base image.",
    "base_name": "string: the reference of a pinned base (for org.opencontainers.image.base.name), or empty.",
    "source_repository": "string: for a pinned base, the registry repository its blobs come from (`registry.example.com/team/base`), else empty.",
    "source_repositories": "depset of string: registry repositories holding base layers that a push may mount or copy from instead of uploading.",
    "shallow": "bool: True when some base layer blobs are not in the build (pinned bases with --@rules_repro//rules/settings:base_layers=shallow); layouts and archives then cannot be made.",
}

ImageInfo = provider(doc = DOC, fields = FIELDS)
