"""Public API: the providers of rules_repro. Everything outside rules/*.bzl may change without notice."""

load("//rules/private/providers:image_info.bzl", _ImageInfo = "ImageInfo")
load("//rules/private/providers:index_info.bzl", _ImageIndexInfo = "ImageIndexInfo")
load("//rules/private/providers:layer_info.bzl", _LayerInfo = "LayerInfo")

ImageInfo = _ImageInfo
ImageIndexInfo = _ImageIndexInfo
LayerInfo = _LayerInfo
