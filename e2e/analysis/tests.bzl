"""Analysis tests for rules_repro."""

load("@bazel_skylib//lib:unittest.bzl", "analysistest", "asserts")

def _failure_test_impl(ctx):
    env = analysistest.begin(ctx)
    asserts.expect_failure(env, ctx.attr.message)
    return analysistest.end(env)

failure_test = analysistest.make(
    _failure_test_impl,
    expect_failure = True,
    attrs = {"message": attr.string(mandatory = True)},
)

def _mnemonics(env):
    return [a.mnemonic for a in analysistest.target_actions(env)]

def _action(env, mnemonic):
    for a in analysistest.target_actions(env):
        if a.mnemonic == mnemonic:
            return a
    return None

def _image_actions_test_impl(ctx):
    env = analysistest.begin(ctx)
    mnemonics = _mnemonics(env)
    for m in ["ReproImage", "ReproLayout", "ReproOciArchive", "ReproDockerArchive"]:
        asserts.true(env, m in mnemonics, "no %s action among %s" % (m, mnemonics))
    image = _action(env, "ReproImage")

    # Manifest and digest come from descriptors, never from layer bytes.
    inputs = [f.basename for f in image.inputs.to_list()]
    blobs = [f for f in inputs if f.endswith(".tar.gz") or f.endswith(".tar") or f.endswith(".tar.zst")]
    asserts.equals(env, [], blobs, "ReproImage reads layer blobs: %s" % blobs)
    asserts.true(env, ctx.attr.layer + ".json" in inputs, "ReproImage does not read the layer descriptor: %s" % inputs)

    # Stamping adds exactly the stamp values file, and only when asked; the
    # image action never reads stable-status.txt itself (it holds BUILD_HOST
    # and BUILD_USER, which would keep two machines from sharing the action).
    status = [f for f in inputs if f.endswith("-status.txt") or f.endswith(".stamp-values.txt")]
    asserts.equals(env, ctx.attr.want_status, status)
    values = _action(env, "ReproStampValues")
    if ctx.attr.want_status:
        asserts.true(env, values != None, "stamped, but no ReproStampValues action")
        if values:
            asserts.equals(env, ["stable-status.txt"], [f.basename for f in values.inputs.to_list() if f.basename.endswith("-status.txt")])
    else:
        asserts.equals(env, None, values, "an unstamped target selects stamp values")

    # Every action has its own mnemonic (progress messages and params files
    # are checked on real builds by e2e/test_bazel.sh).
    for a in analysistest.target_actions(env):
        asserts.true(env, a.mnemonic != "" and a.mnemonic != "Action", "an action without a mnemonic: %s" % a)

    # Materializing reads the layer blob.
    layout = _action(env, "ReproLayout")
    asserts.true(env, ctx.attr.layer + ".tar.gz" in [f.basename for f in layout.inputs.to_list()], "ReproLayout lacks the layer blob")
    return analysistest.end(env)

image_actions_test = analysistest.make(
    _image_actions_test_impl,
    attrs = {
        "layer": attr.string(default = "layer", doc = "Name of the image's layer target."),
        "want_status": attr.string_list(),
    },
)

def _layer_actions_test_impl(ctx):
    env = analysistest.begin(ctx)
    layer = _action(env, "ReproLayer")
    asserts.true(env, layer != None, "no ReproLayer action")

    # A layer action reads only its own inputs: spec, params and sources.
    inputs = sorted([f.basename for f in layer.inputs.to_list() if not f.path.startswith("external/")])
    asserts.equals(env, ctx.attr.want_inputs, inputs)
    return analysistest.end(env)

layer_actions_test = analysistest.make(
    _layer_actions_test_impl,
    attrs = {"want_inputs": attr.string_list()},
)

def _digest_test_runfiles_test_impl(ctx):
    env = analysistest.begin(ctx)
    runfiles = analysistest.target_under_test(env)[DefaultInfo].default_runfiles
    files = [f.basename for f in runfiles.files.to_list()]
    for want in ctx.attr.want_files:
        asserts.true(env, want in files, "%s is not in the runfiles: %s" % (want, files))
    links = [e.path for e in runfiles.root_symlinks.to_list()]
    for want in ctx.attr.want_root_symlinks:
        asserts.true(env, want in links, "%s is not a root symlink of the runfiles: %s" % (want, links))
    return analysistest.end(env)

digest_test_runfiles_test = analysistest.make(
    _digest_test_runfiles_test_impl,
    attrs = {
        "want_files": attr.string_list(),
        "want_root_symlinks": attr.string_list(),
    },
)
