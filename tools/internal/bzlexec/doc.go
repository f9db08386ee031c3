// Package bzlexec holds tests that execute rules_repro's Starlark: the
// repository rules and module extension that turn a lockfile into
// repositories (rules/private/pins_repo.bzl, rules/extensions.bzl) run
// against hostile lockfiles, with mock repository and module contexts, and
// the files they generate are parsed as Bazel would parse them.
//
// Bazel is not needed: a small interpreter (interp_test.go) runs the subset
// of Starlark those files use, parsed with github.com/bazelbuild/buildtools.
// It fails loudly, naming the file and line, on anything outside that
// subset, so a change to the .bzl files cannot silently escape the tests.
// Its repr() of a string follows Bazel's (Java Starlark's) exactly.
package bzlexec
