"""A binary whose runfiles have every shape a runfiles tree can have (test only)."""

def _shapes_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.write(out, "#!/bin/bash\necho shapes\n", is_executable = True)
    data = ctx.file.data
    runfiles = ctx.runfiles(
        files = [out, data],
        symlinks = {"linked/data.txt": data},
        root_symlinks = {"root_link/data.txt": data},
    )
    return [DefaultInfo(executable = out, files = depset([out, data]), runfiles = runfiles)]

runfiles_shapes = rule(
    implementation = _shapes_impl,
    doc = "An executable with files (its data also in DefaultInfo.files), symlinks and root symlinks in its runfiles.",
    attrs = {"data": attr.label(allow_single_file = True, mandatory = True)},
    executable = True,
)
