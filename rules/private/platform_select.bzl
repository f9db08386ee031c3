"""Choosing an image by platform: the rule of tools/oci/platform.go, in Starlark.

Used by pinned_image_select (rules/private/pinned.bzl). The Go test
TestPlatformSelectBzlAgrees runs this file on the cases of
tools/oci/testdata/platform_select.json and checks it agrees with
oci.PickPlatform, so the two cannot drift apart.
"""

def _split(platform):
    parts = platform.split("/") + ["", ""]
    return parts[0], parts[1], parts[2]

def _matches(want, have):
    wos, warch, wvar = _split(want)
    hos, harch, hvar = _split(have)
    if wos != hos or warch != harch:
        return False
    if not wvar:
        return True
    if harch == "arm64" and not hvar:
        hvar = "v8"
    return wvar == hvar

def select_platform(want, have):
    """Chooses among platforms the one an image for `want` should come from.

    An entry matches when os and architecture are equal and want's variant
    (if any) equals the entry's (arm64 without a variant is arm64/v8). One
    match is chosen; among several, the one equal to `want` exactly, if
    there is exactly one such.

    Args:
      want: "os/arch[/variant]".
      have: a list of "os/arch[/variant]".

    Returns:
      (index, matches): the chosen index into have, or -1 with the matching
      entries (empty: nothing matched; several: ambiguous).
    """
    matches = [i for i, h in enumerate(have) if _matches(want, h)]
    if len(matches) == 1:
        return matches[0], []
    exact = [i for i in matches if have[i] == want]
    if len(exact) == 1:
        return exact[0], []
    return -1, [have[i] for i in matches]
