"""TEST ONLY: one file of the host machine as a repository (`@NAME//:file`).

Not hermetic: the file's content is not checked, so two machines can build
different images. The e2e test uses it for a static bash, which a real
workspace would take from a pinned base image.
"""

def _host_file_impl(rctx):
    path = rctx.path(rctx.attr.path)
    if not path.exists:
        fail("host_file %s: %s does not exist (for bash-static: apt-get install bash-static)" % (rctx.attr.name, rctx.attr.path))
    rctx.symlink(path, "file")
    rctx.file("BUILD.bazel", 'exports_files(["file"], visibility = ["//visibility:public"])\n')

host_file = repository_rule(
    implementation = _host_file_impl,
    doc = "TEST ONLY: exposes one host file as `@NAME//:file`.",
    attrs = {"path": attr.string(mandatory = True, doc = "Absolute path of the host file.")},
    local = True,
)
