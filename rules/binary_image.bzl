"""Public API: repro_binary_image, an image from a binary in one line. Everything outside rules/*.bzl may change without notice."""

load("//rules/private:binary_image.bzl", _repro_binary_image = "repro_binary_image")

repro_binary_image = _repro_binary_image
