"""Public API: pinned base images from a lockfile. Everything outside rules/*.bzl may change without notice.

The lockfile (`repro.lock.json`, maintained with `repro lock add/update` and
checked with `repro lock check`) pins every base image to digests, per
platform, and holds a BuildKit-compatible source policy. It becomes
repositories: `@pins//:NAME` is the image pinned as NAME, for the target
platform; `load("@pins//:defs.bzl", "pinned")` and `pinned("ref:tag")` give
the same target by reference and fail, naming the reference and the command
that fixes it, when it is not pinned.

WORKSPACE:

    load("@rules_repro//rules:pins.bzl", "repro_pins")

    repro_pins(name = "pins", lockfile = "//:repro.lock.json")

    load("@pins//:repositories.bzl", "pins_repositories")

    pins_repositories()

MODULE.bazel:

    pins = use_extension("@rules_repro//rules:extensions.bzl", "pins")
    pins.lockfile(name = "pins", lockfile = "//:repro.lock.json")
    use_repo(pins, "pins")
"""

load("//rules/private:pins_repo.bzl", "repro_pins_hub")

def repro_pins(name, lockfile):
    """Reads a lockfile into a hub repository of pinned base images.

    The hub checks the lockfile (complete, consistent, allowed by its policy)
    when it is fetched: a denied or unpinned source fails the build there.
    Then call `NAME_repositories()` from `@NAME//:repositories.bzl`.

    Args:
      name: name of the hub repository, for example "pins".
      lockfile: label of the lockfile, for example "//:repro.lock.json".
    """
    repro_pins_hub(name = name, lockfile = lockfile)
