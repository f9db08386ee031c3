"""ImageIndexInfo: a multi-platform image index built by repro_index."""

DOC = """\
An OCI image index over several images, described without layer bytes.
"""

FIELDS = {
    "index": "File: the image index blob.",
    "descriptor": "File: JSON written by `repro index` (mediaType, digest, size, manifests).",
    "digest": "File: the index digest as text (`sha256:...`).",
    "images": "list of ImageInfo: the images of the index, in index order.",
    "compatibility_version": "int: the compatibility version the index was assembled under.",
}

ImageIndexInfo = provider(doc = DOC, fields = FIELDS)
