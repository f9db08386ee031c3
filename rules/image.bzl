"""Public API: repro_image. Everything outside rules/*.bzl may change without notice."""

load("//rules/private:image.bzl", _repro_image = "repro_image")

repro_image = _repro_image
