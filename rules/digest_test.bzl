"""Public API: repro_digest_test. Everything outside rules/*.bzl may change without notice."""

load("//rules/private:digest_test.bzl", _repro_digest_test = "repro_digest_test")

repro_digest_test = _repro_digest_test
