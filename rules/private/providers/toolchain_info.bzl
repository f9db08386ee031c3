"""ReproToolchainInfo: the repro helper binary for an execution platform."""

DOC = """\
The `repro` helper, built from rules_repro's own Go sources by a repository
rule (no rules_go needed), for the execution platform the toolchain is
registered for.
"""

FIELDS = {
    "repro": "File: the executable `repro` binary.",
    "goos": "string: the binary's GOOS, for example `linux`.",
    "goarch": "string: the binary's GOARCH, for example `amd64`.",
}

ReproToolchainInfo = provider(doc = DOC, fields = FIELDS)
