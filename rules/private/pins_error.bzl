"""What the pins hub gives for a source the lockfile cannot give: a target that fails when it is used.

Loads nothing, so that the hub's defs.bzl and BUILD file load only this.
"""

def _pins_error_impl(ctx):
    fail(ctx.attr.message)

pins_error = rule(
    implementation = _pins_error_impl,
    doc = """A source of the lockfile that cannot be used: fails, with its message, when a target that uses it is analyzed.

The pins hub generates one for an entry the lockfile has but cannot give (not
pinned, inconsistent, or denied by the lockfile's policy), and pinned() and
pinned_file() one in the calling package for a source the lockfile does not
have, so that only the targets that use such a source fail, and every other
target (and `bazel run @rules_repro//:lock`, which fixes the lockfile) still
works.""",
    attrs = {"message": attr.string(mandatory = True, doc = "What is wrong, naming the source, and the command that fixes it.")},
)

_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"

def _distance(a, b):
    """The edit distance (Levenshtein) between two strings."""
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost))
        prev = cur
    return prev[len(b)]

def closest(s, candidates):
    """The candidates nearest to s (at most three, nearest first), as repro's lock.Closest.

    Only candidates within half of the longer string's length are kept, so
    that unrelated names are not suggested.

    Args:
      s: what was asked for.
      candidates: the known names, in order.

    Returns:
      A list of candidates.
    """
    scored = []
    for i, c in enumerate(candidates):
        d = _distance(s, c)
        limit = max(len(s), len(c))
        if d > 0 and d * 2 <= limit:
            scored.append((d, i, c))
    return [c for _, _, c in sorted(scored)[:3]]

# buildifier: disable=unnamed-macro
def pinned_source(kind, ref, pinned, hub_label, lockfile, lockfile_path, problem):
    """What pinned() and pinned_file() of a hub's defs.bzl return.

    Args:
      kind: "image" or "file".
      ref: the reference or URL asked for.
      pinned: the hub's map of references (or URLs) to target label strings.
      hub_label: a function of the hub's defs.bzl that makes a Label there.
      lockfile: the lockfile's label, for messages.
      lockfile_path: the lockfile's path, for commands.
      problem: what makes the whole lockfile unusable, or "".

    Returns:
      The label of the pinned target; else (the lockfile does not have
      the source, or cannot be read) the label of a pins_error target
      created in the calling package, which fails the targets that use it.
    """
    if not problem and ref in pinned:
        return hub_label(pinned[ref])
    name = "pins_error_" + "".join([c if c in _ID_CHARS else "_" for c in ref.elems()])
    pkg = "//" + native.package_name()
    if problem:
        message = "rules_repro: %s uses the %s %r of %s, which cannot be read:\n%s\nFix the file; the problems are listed by:\n  bazel run @rules_repro//:lock -- check --lockfile %s" % (pkg, kind, ref, lockfile, problem, lockfile_path)
    else:
        near = closest(ref, sorted(pinned.keys()))
        hint = ""
        if near:
            hint = "Did you mean %s? (pinned in %s)\nElse a" % (" or ".join([repr(n) for n in near]), lockfile)
        else:
            hint = "A"
        if kind == "file":
            message = ("rules_repro: %s uses the file %r, which is not pinned in %s.\n%s" +
                       "dd and pin it (NAME is the name you give it in the lockfile):\n" +
                       "  bazel run @rules_repro//:lock -- add-file NAME %s --lockfile %s") % (pkg, ref, lockfile, hint, ref, lockfile_path)
        else:
            message = ("rules_repro: %s uses base image %r, which is not pinned in %s.\n%s" +
                       "dd and pin it (NAME is the name you give it in the lockfile):\n" +
                       "  bazel run @rules_repro//:lock -- add NAME %s --platform linux/amd64 --lockfile %s\n" +
                       "  bazel run @rules_repro//:lock -- update --name NAME --lockfile %s") % (pkg, ref, lockfile, hint, ref, lockfile_path, lockfile_path)
    if not native.existing_rule(name):
        # manual: `bazel build //...` fails for the targets that use it, not
        # for this one on its own.
        pins_error(name = name, message = message, tags = ["manual"], visibility = ["//visibility:private"])
    return ":" + name
