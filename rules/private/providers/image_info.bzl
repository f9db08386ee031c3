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
    "blobs": "depset of structs (descriptor: File, blob: File): every layer blob of the image that a build produced, with its layer descriptor.",
    "blob_files": "depset of File: other blobs of the image (for example base layers fetched by digest), identified by hashing.",
    "layouts": "depset of File (directories): OCI layouts whose blobs the image may use (a base given as a layout).",
    "compatibility_version": "int or None: the compatibility version the image was assembled under; None for a base image.",
    "base_name": "string: the reference of a pinned base (for org.opencontainers.image.base.name), or empty.",
}

ImageInfo = provider(doc = DOC, fields = FIELDS)
