"""Public API: repro_layer. Everything outside rules/*.bzl may change without notice."""

load("//rules/private:layer.bzl", _repro_layer = "repro_layer")

repro_layer = _repro_layer
