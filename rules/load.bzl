"""Public API: repro_load. Everything outside rules/*.bzl may change without notice."""

load("//rules/private:publish.bzl", _repro_load = "repro_load")

repro_load = _repro_load
