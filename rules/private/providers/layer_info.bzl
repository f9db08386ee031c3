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
    "rebuild": "struct or None: how to run the layer's `repro layer` action again (label: string, spec: File, inputs: depset of File, args: tuple of strings with execution-root paths), read by `repro_digest_test(rebuild = True)`; None for a layer on a `base`.",
}

LayerInfo = provider(doc = DOC, fields = FIELDS)
