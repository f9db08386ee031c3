"""Public API: every rule of rules_repro in one file. Everything outside rules/*.bzl may change without notice."""

load("//rules:binary_image.bzl", _repro_binary_image = "repro_binary_image")
load("//rules:digest_test.bzl", _repro_digest_test = "repro_digest_test")
load("//rules:image.bzl", _repro_image = "repro_image")
load("//rules:index.bzl", _repro_index = "repro_index")
load("//rules:layer.bzl", _repro_layer = "repro_layer")
load("//rules:load.bzl", _repro_load = "repro_load")
load("//rules:push.bzl", _repro_push = "repro_push")

repro_binary_image = _repro_binary_image
repro_digest_test = _repro_digest_test
repro_image = _repro_image
repro_index = _repro_index
repro_layer = _repro_layer
repro_load = _repro_load
repro_push = _repro_push
