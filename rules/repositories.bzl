"""WORKSPACE setup for rules_repro. Everything outside rules/*.bzl may change without notice.

Usage in WORKSPACE:

    load("@rules_repro//rules:repositories.bzl", "rules_repro_toolchains")

    rules_repro_toolchains()
"""

load("//rules/private:toolchain_repo.bzl", "repro_repositories")

def rules_repro_toolchains(name = "repro_toolchains", register = True):
    """Builds the repro helper from source for each execution platform and registers it.

    Args:
      name: prefix of the repositories created.
      register: register the toolchains (set False to register them yourself).
    """
    repro_repositories(name = name)
    if register:
        native.register_toolchains("@%s//:all" % name)
