"""Public API: repro_push. Everything outside rules/*.bzl may change without notice."""

load("//rules/private:publish.bzl", _repro_push = "repro_push")

repro_push = _repro_push
