"""Bzlmod module extensions of rules_repro. Everything outside rules/*.bzl may change without notice.

    repro = use_extension("@rules_repro//rules:extensions.bzl", "repro")
    use_repo(repro, "repro_toolchains")
    register_toolchains("@repro_toolchains//:all")

    pins = use_extension("@rules_repro//rules:extensions.bzl", "pins")
    pins.lockfile(name = "pins", lockfile = "//:repro.lock.json")
    use_repo(pins, "pins")
"""

load("//rules/private:pins_repo.bzl", "check_lockfile", "host_repro", "repro_pins_hub", "repro_pins_repositories", "usable_lock")
load("//rules/private:toolchain_repo.bzl", "repro_repositories")

def _repro_impl(_module_ctx):
    repro_repositories(name = "repro_toolchains")

repro = module_extension(
    implementation = _repro_impl,
    doc = "Builds the repro helper from rules_repro's sources for each execution platform.",
)

def _pins_impl(module_ctx):
    for mod in module_ctx.modules:
        for lock in mod.tags.lockfile:
            # The code path of WORKSPACE (the hub's): the same checks before
            # any repository is declared, and only the usable entries are
            # declared (the hub gives the others failing targets).
            r = check_lockfile(module_ctx, lock.lockfile, host_repro())
            repro_pins_hub(name = lock.name, lockfile = lock.lockfile)
            repro_pins_repositories(lock.name, usable_lock(r.images, r.files))

pins = module_extension(
    implementation = _pins_impl,
    doc = "Pinned base images from a rules_repro lockfile: a hub repository and one repository per image.",
    tag_classes = {
        "lockfile": tag_class(
            doc = "A lockfile and the name of its hub repository.",
            attrs = {
                "name": attr.string(mandatory = True, doc = "Hub repository name, for example `pins`."),
                "lockfile": attr.label(mandatory = True, doc = "The lockfile, for example `//:repro.lock.json`."),
            },
        ),
    },
)
