// Package bzlexec holds tests that execute rules_repro's Starlark: the
// repository rules and module extension that turn a lockfile into
// repositories (rules/private/pins_repo.bzl, rules/extensions.bzl and what
// they load) run against hostile lockfiles, with mock repository and module
// contexts, and the files they generate are parsed as Bazel would parse
// them (github.com/bazelbuild/buildtools/build).
//
// Bazel is not needed: tools/internal/fakebazel runs the files with
// go.starlark.net, the Go implementation of Starlark, in the dialect of
// Bazel's .bzl files (no while, recursion, top-level if or for, or
// reassigned globals), against recording stubs of what Bazel predeclares
// (repository_rule, attr, module_extension, tag_class, Label, struct, json,
// native, fail, ...). fakebazel_test.go declares repositories when a
// repository rule is called and fetches them with mock repository_ctx and
// module_ctx objects. A load() of rules_repro's labels reads the file under
// the repository root; a load of a fetched repository's reads what that
// repository wrote. A name the fake does not define is an error when the
// file is loaded, so a .bzl file that starts using one cannot silently
// escape the tests.
//
// go.starlark.net is not Bazel: its repr() of a string escapes control and
// non-printable characters differently (buildtools reads either back as the
// same string), its repr() of a Label is the Label's str(), and it has a
// few built-ins Bazel lacks. The tests check what the files do; Bazel itself
// runs them in the end-to-end tests.
package bzlexec
