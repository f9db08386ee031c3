"""LayerInfo: a layer built by repro_layer."""

DOC = """\
A layer blob and its descriptor. Downstream rules read the descriptor
(mediaType, digest, size, diff_id) and never the blob, except the actions
that materialize a layout or an archive.
"""

FIELDS = {
    "blob": "File: the layer blob (tar, tar+gzip or tar+zstd), for example `app_layer.tar.gz`.",
    "descriptor": "File: JSON written by `repro layer` with mediaType, digest, size, diff_id, compatibility_version.",
    "compatibility_version": "int: the compatibility version the layer was encoded under, for example `1`.",
}

LayerInfo = provider(doc = DOC, fields = FIELDS)
