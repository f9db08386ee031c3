"""The greeting, read from lib/message.txt through Bazel's Python runfiles library."""

from bazel_tools.tools.python.runfiles import runfiles


def message():
    path = runfiles.Create().Rlocation("repro_monorepo_e2e/pyapp/lib/message.txt")
    with open(path) as f:
        return "%s (read from %s)" % (f.read().strip(), path)
