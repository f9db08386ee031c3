"""Implementation of repro_binary_image."""

load("//rules/private:image.bzl", "repro_image")
load("//rules/private:layer.bzl", "repro_layer")

def _target_name(label):
    """The name part of a label string or Label: "//a/b:c" and ":c" give "c", "//a/b" gives "b"."""
    if type(label) != "string":
        return label.name
    if ":" in label:
        return label.split(":")[-1]
    return label.split("/")[-1]

def repro_binary_image(name, binary, path = None, base = None, entrypoint = None, layers = [], layer_owner = None, compression = None, file_mtime = None, **kwargs):
    """An image that runs a binary, with its runfiles split into two layers.

    The binary's executable goes to `path` and its runfiles tree to
    `PATH.runfiles/`, laid out as Bazel lays it out, so the runfiles
    libraries find data in the container. Two layers, bottom first:
    `NAME_external` holds the runfiles of external repositories (they change
    when dependencies do) and `NAME_workspace` the executable and the
    workspace's own runfiles, so a change to the code rebuilds and uploads
    only that small layer. Targets made: `NAME_external`, `NAME_workspace`
    (repro_layer) and `NAME` (repro_image).

    ```starlark
    load("@rules_repro//rules:binary_image.bzl", "repro_binary_image")

    repro_binary_image(
        name = "greet_image",
        binary = ":greet",
        base = ":shell_base",
        env = {"LANG": "C.UTF-8"},
        user = "65534",
    )
    ```

    Args:
      name: name of the image target.
      binary: the binary (a target with an executable: sh_binary, py_binary, go_binary...).
      path: where the executable goes in the image; default `/app/` followed by the binary's name.
      base: the base image, as repro_image's `base`.
      entrypoint: the entrypoint; default `[path]`.
      layers: more layers, on top of the binary's two.
      layer_owner: owner of every entry of the two layers, `"UID:GID"` (default 0:0).
      compression: compression of the two layers (gzip, zstd or none; default gzip).
      file_mtime: file time of the two layers, as repro_layer's `file_mtime` (compatibility version 2).
      **kwargs: passed to repro_image (`env`, `user`, `cmd`, `labels`, `platform`, `tags`, `visibility`...).
    """
    if path == None:
        path = "/app/" + _target_name(binary)
    common = {k: kwargs[k] for k in ("tags", "visibility", "testonly", "target_compatible_with", "compatibility_version") if k in kwargs}
    layer_kwargs = dict(common)
    if layer_owner:
        layer_kwargs["owner"] = layer_owner
    if compression:
        layer_kwargs["compression"] = compression
    if file_mtime:
        layer_kwargs["file_mtime"] = file_mtime
    for part in ("external", "workspace"):
        repro_layer(
            name = "%s_%s" % (name, part),
            files = {binary: path},
            include_runfiles = True,
            runfiles = part,
            **layer_kwargs
        )
    repro_image(
        name = name,
        base = base,
        layers = [":%s_external" % name, ":%s_workspace" % name] + layers,
        entrypoint = entrypoint if entrypoint != None else [path],
        **kwargs
    )
