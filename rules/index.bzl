"""Public API: repro_index. Everything outside rules/*.bzl may change without notice."""

load("//rules/private:index.bzl", _repro_index = "repro_index")

repro_index = _repro_index
