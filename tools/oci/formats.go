package oci

// OutputFormat is one way the helper writes an image or index to disk: the
// `repro` command of that name, and what the rules declare for it. The
// Starlark constants in rules/private/formats.bzl are generated from
// OutputFormats (tools/internal/repocheck), so a format is named once.
type OutputFormat struct {
	// Name is the repro command ("layout").
	Name string
	// Summary is the command's help line.
	Summary string
	// Extension is what the rules append to the target name for the
	// output; empty for a directory.
	Extension string
	// Directory says the output is a directory (a tree artifact).
	Directory bool
	// OutputGroup is the Bazel output group holding the output.
	OutputGroup string
	// Mnemonic is the Bazel action's mnemonic.
	Mnemonic string
	// ForIndex says repro_index writes it too (not only repro_image).
	ForIndex bool
	// Docker says it is `docker load`'s format: it takes --tag (repository
	// tags) and, for an index, --platform; the others take --ref-name.
	Docker bool
}

// OutputFormats lists every output format, in the order the rules declare
// them.
var OutputFormats = []OutputFormat{
	{Name: "layout", Summary: "write an OCI image layout directory for an image or index",
		Directory: true, OutputGroup: "layout", Mnemonic: "ReproLayout", ForIndex: true},
	{Name: "oci-archive", Summary: "write an OCI archive (tar of a layout) for an image or index",
		Extension: ".tar", OutputGroup: "oci_archive", Mnemonic: "ReproOciArchive", ForIndex: true},
	{Name: "docker-archive", Summary: "write a `docker load` / `podman load` archive for an image",
		Extension: ".docker.tar", OutputGroup: "docker_archive", Mnemonic: "ReproDockerArchive", Docker: true},
}
