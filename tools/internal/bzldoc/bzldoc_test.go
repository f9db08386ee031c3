package bzldoc

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// repoFS is a small repository: a rules/ package with the given files.
func repoFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{
		"rules/BUILD.bazel":         {Data: []byte("")},
		"rules/private/BUILD.bazel": {Data: []byte("")},
	}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

func extract(t *testing.T, files map[string]string, public ...string) (*Reference, error) {
	t.Helper()
	if len(public) == 0 {
		public = []string{"rules/defs.bzl"}
	}
	return Extract(repoFS(files), public, WithRepoName("r"))
}

func TestExtractRules(t *testing.T) {
	common := `"""Common attributes."""

COMMON_ATTRS = {
    "stamp": attr.int(doc = "Stamp " +
                            "or not.", default = -1, values = [-1, 0, 1]),
    "_flag": attr.label(default = Label("//rules/private:flag")),
}
`
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []*Attr
	}{
		{
			name: "dict merges across loads",
			files: map[string]string{
				"rules/private/common.bzl": common,
				"rules/private/x.bzl": `load("//rules/private:common.bzl", "COMMON_ATTRS")

A = {
    "srcs": attr.label_list(doc = "Sources.", mandatory = True),
    "mode": attr.string(doc = "Mode.", default = "fast"),
}
MODES = ["fast", "slow"]
_B = {"mode": attr.string(doc = "Overridden mode.", default = "slow", values = MODES)}

def _impl(ctx):
    pass

x = rule(implementation = _impl, doc = "X.", attrs = dict(dict(A, **_B), **COMMON_ATTRS))
`,
				"rules/defs.bzl": `load("//rules/private:x.bzl", _x = "x")

x = _x
`,
			},
			want: []*Attr{
				{Name: "srcs", Type: "List of labels", Mandatory: true, Doc: "Sources."},
				{Name: "mode", Type: "String", Default: `"slow"`, Values: []string{`"fast"`, `"slow"`}, Doc: "Overridden mode."},
				{Name: "stamp", Type: "Integer", Default: "-1", Values: []string{"-1", "0", "1"}, Doc: "Stamp or not."},
			},
		},
		{
			name: "comprehensions that yield private attributes only",
			files: map[string]string{
				"rules/defs.bzl": `_OS = {"linux": "linux", "windows": "windows"}
_CPU = ["x86_64", "aarch64"]

_PLATFORM_ATTRS = dict(
    [("_os_" + k, attr.label(default = Label("@platforms//os:" + k))) for k in _OS] +
    [("_cpu_" + c, attr.label(default = Label("@platforms//cpu:" + c))) for c in _CPU],
)
_MORE = {"_v_" + k: attr.string(default = v) for k, v in _OS.items() if k != "windows"}

def _impl(ctx):
    pass

x = rule(
    implementation = _impl,
    doc = "X.",
    attrs = dict({"out": attr.output(doc = "Output.")}, **_PLATFORM_ATTRS) | _MORE,
)
`,
			},
			want: []*Attr{{Name: "out", Type: "Output label", Default: "None", Doc: "Output."}},
		},
		{
			name: "comprehension that yields public attributes",
			files: map[string]string{
				"rules/defs.bzl": `_FLAGS = ["color", "verbose"]

def _impl(ctx):
    pass

x = rule(
    implementation = _impl,
    doc = "X.",
    attrs = {f: attr.bool(doc = "Enables " + f + ".", default = True) for f in _FLAGS},
)
`,
			},
			want: []*Attr{
				{Name: "color", Type: "Boolean", Default: "True", Doc: "Enables color."},
				{Name: "verbose", Type: "Boolean", Default: "True", Doc: "Enables verbose."},
			},
		},
		{
			// Calls of functions, % formatting and a dict updated in place:
			// the files are executed, not read.
			name: "functions, formatting and mutation",
			files: map[string]string{
				"rules/defs.bzl": `def _attrs(kind):
    """The attributes of a kind."""
    return {"src": attr.label(doc = "The %s source." % kind, allow_single_file = True)}

_ATTRS = _attrs("main")

_ATTRS.update({"n": attr.int(doc = "N, %d at most." % 3)})

def _impl(ctx):
    pass

x = rule(implementation = _impl, doc = "X.", attrs = _ATTRS)
`,
			},
			want: []*Attr{
				{Name: "src", Type: "Label", Default: "None", Doc: "The main source."},
				{Name: "n", Type: "Integer", Default: "0", Doc: "N, 3 at most."},
			},
		},
		{
			// A package of its own under rules/private (relative load and
			// Label resolve in it), and a load from another repository
			// whose value is used only when the rule runs.
			name: "subpackage and another repository",
			files: map[string]string{
				"rules/private/common/BUILD.bazel": "",
				"rules/private/common/paths.bzl":   "PREFIX = \"/blobs\"\n",
				"rules/private/common/blobs.bzl": `load(":paths.bzl", "PREFIX")

BLOB_ATTRS = {"blobs": attr.label_list(doc = "Blobs under " + PREFIX + ".", default = [Label(":default_blobs")])}
`,
				"rules/private/x.bzl": `load("@rules_repro_features//:features.bzl", "ACTION_TOOLCHAIN_PARAM")
load("//rules/private/common:blobs.bzl", "BLOB_ATTRS")

def _impl(ctx):
    if ACTION_TOOLCHAIN_PARAM:
        pass

x = rule(implementation = _impl, doc = "X.", attrs = BLOB_ATTRS)
`,
				"rules/defs.bzl": `load("//rules/private:x.bzl", _x = "x")

x = _x
`,
			},
			want: []*Attr{
				{Name: "blobs", Type: "List of labels", Default: `[Label("@r//rules/private/common:default_blobs")]`, Doc: "Blobs under /blobs."},
			},
		},
		{
			name: "defaults",
			files: map[string]string{
				"rules/defs.bzl": `_DEFAULT = "//rules:tool"

def _impl(ctx):
    pass

x = rule(
    implementation = _impl,
    doc = "X.",
    attrs = {
        "tool": attr.label(doc = "Tool.", default = Label(_DEFAULT)),
        "tags2": attr.string_list(doc = "Tags.", default = ["a", "b"] + ["c"]),
        "env": attr.string_dict(doc = "Env.", default = {"A": "1"}),
        "n": attr.int(doc = "N.", default = 0x10),
    },
)
`,
			},
			want: []*Attr{
				{Name: "tool", Type: "Label", Default: `Label("@r//rules:tool")`, Doc: "Tool."},
				{Name: "tags2", Type: "List of strings", Default: `["a", "b", "c"]`, Doc: "Tags."},
				{Name: "env", Type: "Dictionary: String → String", Default: `{"A": "1"}`, Doc: "Env."},
				{Name: "n", Type: "Integer", Default: "16", Doc: "N."},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := extract(t, tc.files)
			if err != nil {
				t.Fatal(err)
			}
			if len(ref.Rules) != 1 {
				t.Fatalf("got %d rules, want 1", len(ref.Rules))
			}
			if got := ref.Rules[0].Attrs; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("attrs:\n%s\nwant\n%s", dump(got), dump(tc.want))
			}
		})
	}
}

func dump(attrs []*Attr) string {
	var b strings.Builder
	for _, a := range attrs {
		fmt.Fprintf(&b, "%+v\n", *a)
	}
	return b.String()
}

// TestRuleKinds: executable, test and build-setting rules, and repository
// rules.
func TestRuleKinds(t *testing.T) {
	ref, err := extract(t, map[string]string{
		"rules/defs.bzl": `def _impl(ctx):
    pass

flag = rule(implementation = _impl, doc = "F.", build_setting = config.string_list(flag = True, repeatable = True))
check_test = rule(implementation = _impl, doc = "T.", test = True)
tool = rule(implementation = _impl, doc = "E.", executable = True)
repo = repository_rule(implementation = _impl, doc = "R.", attrs = {"url": attr.string(doc = "U.", mandatory = True)})
`,
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range append(ref.Rules, ref.RepositoryRules...) {
		got = append(got, fmt.Sprintf("%s executable=%v test=%v build_setting=%q attrs=%d", r.Name, r.Executable, r.Test, r.BuildSetting, len(r.Attrs)))
	}
	want := []string{
		`check_test executable=false test=true build_setting="" attrs=0`,
		`flag executable=false test=false build_setting="config.string_list(flag = True, repeatable = True)" attrs=0`,
		`tool executable=true test=false build_setting="" attrs=0`,
		`repo executable=false test=false build_setting="" attrs=1`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestFunctionParams: parameters in the order of the def, defaults as
// Starlark text.
func TestFunctionParams(t *testing.T) {
	ref, err := extract(t, map[string]string{
		"rules/defs.bzl": `def f(a, b = Label("//x:y"), *args, c, d = {"k": [1, (2,)]}, **kwargs):
    """F.

    Args:
      a: A.
      b: B.
      *args: More.
      c: C.
      d: D.
      **kwargs: Rest.
    """

def g(a, *, b = None):
    """G.

    Args:
      a: A.
      b: B.
    """
`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ref.Functions) != 2 {
		t.Fatalf("got %d functions, want 2", len(ref.Functions))
	}
	for i, want := range [][]Param{
		{{"a", "", "A."}, {"b", `Label("@r//x:y")`, "B."}, {"*args", "", "More."}, {"c", "", "C."}, {"d", `{"k": [1, (2,)]}`, "D."}, {"**kwargs", "", "Rest."}},
		{{"a", "", "A."}, {"b", "None", "B."}},
	} {
		if got := ref.Functions[i].Params; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", ref.Functions[i].Name, got, want)
		}
	}
}

// TestMarkdown pins the whole output for a small rule set: every kind of
// symbol, a symbol exported by two files, and verbatim docs.
func TestMarkdown(t *testing.T) {
	files := map[string]string{
		"rules/private/providers.bzl": `DOC = """\
What a thing is.
"""

FIELDS = {
    "path": "string: where it is, for example ` + "`/a|b`" + `.",
    "n": "int: how many <things>.",
}

ThingInfo = provider(doc = DOC, fields = FIELDS)
`,
		"rules/private/thing.bzl": `load(":providers.bzl", "ThingInfo")

def _impl(ctx):
    pass

thing = rule(
    implementation = _impl,
    doc = """\
Makes a thing.

` + "```starlark" + `
thing(name = "t")
` + "```" + `
""",
    attrs = {"deps": attr.label_list(doc = "Other things.", providers = [ThingInfo])},
    executable = True,
)
`,
		"rules/thing.bzl": `"""Public API: thing."""

load("//rules/private:thing.bzl", _thing = "thing")

thing = _thing
`,
		"rules/defs.bzl": `"""Everything."""

load("//rules/private:providers.bzl", _ThingInfo = "ThingInfo")
load(":thing.bzl", _thing = "thing")

thing = _thing
ThingInfo = _ThingInfo

def things(name, count = 2, **kwargs):
    """Makes several things.

    Args:
      name: prefix of the
        targets' names.
      count: how many.
      **kwargs: passed to each thing.

    Returns:
      Nothing.
    """
    pass

def _ext_impl(mctx):
    pass

ext = module_extension(
    implementation = _ext_impl,
    doc = "Things for MODULE.bazel.",
    tag_classes = {"add": tag_class(doc = "Adds one.", attrs = {"name": attr.string(doc = "Its name.", mandatory = True)})},
)
`,
	}
	ref, err := Extract(repoFS(files), []string{"rules/thing.bzl", "rules/defs.bzl"}, WithRepoName("r"))
	if err != nil {
		t.Fatal(err)
	}
	want := "<!-- Generated by tools/internal/bzldoc from the docstrings of the public .bzl files: edit those, not this. -->\n" + `
### Rules

Every rule also takes ` + "`name`" + ` (mandatory) and Bazel's common attributes (` + "`tags`, `visibility`, `testonly`, `target_compatible_with`" + ` and others), which are not listed.

#### ` + "`thing`" + `

Load with ` + "`load(\"@r//rules:thing.bzl\", \"thing\")`; also exported by `@r//rules:defs.bzl`" + `.

Makes a thing.

` + "```starlark" + `
thing(name = "t")
` + "```" + `

This rule is executable: ` + "`bazel run`" + ` runs its targets.

| Attribute | Type | Default | Mandatory | Description |
| --- | --- | --- | --- | --- |
| ` + "`deps` | List of labels | `[]`" + ` | no | Other things. |

### Providers

#### ` + "`ThingInfo`" + `

Load with ` + "`load(\"@r//rules:defs.bzl\", \"ThingInfo\")`" + `.

What a thing is.

| Field | Description |
| --- | --- |
| ` + "`path` | string: where it is, for example `/a\\|b`." + ` |
| ` + "`n`" + ` | int: how many &lt;things&gt;. |

### Functions

#### ` + "`things`" + `

Load with ` + "`load(\"@r//rules:defs.bzl\", \"things\")`" + `.

` + "```starlark" + `
things(name, count = 2, **kwargs)
` + "```" + `

Makes several things.

| Argument | Default | Description |
| --- | --- | --- |
| ` + "`name`" + ` | mandatory | prefix of the targets' names. |
| ` + "`count` | `2`" + ` | how many. |
| ` + "`**kwargs`" + ` | — | passed to each thing. |

**Returns:** Nothing.

### Module extensions

#### ` + "`ext`" + `

Use in MODULE.bazel: ` + "`ext = use_extension(\"@r//rules:defs.bzl\", \"ext\")`" + `.

Things for MODULE.bazel.

##### Tag class ` + "`ext.add`" + `

Adds one.

| Attribute | Type | Default | Mandatory | Description |
| --- | --- | --- | --- | --- |
| ` + "`name`" + ` | String | — | yes | Its name. |
`
	if got := string(ref.Markdown()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Errorf("first difference at line %d:\ngot  %q\nwant %q", i+1, gl[i], wl[i])
				break
			}
		}
	}
}

// TestExtractErrors: constructs bzldoc cannot document are errors that
// name the file and line, never silently wrong docs.
func TestExtractErrors(t *testing.T) {
	rule := func(attrs string) map[string]string {
		return map[string]string{
			"rules/private/x.bzl": `"""X."""

load("@other//:defs.bzl", "OTHER_ATTRS")

ATTRS = {"a": attr.string(doc = "A.")}

def _impl(ctx):
    pass

x = rule(
    implementation = _impl,
    doc = "X.",
    attrs = ` + attrs + `,
)
`,
			"rules/defs.bzl": `load("//rules/private:x.bzl", _x = "x")

x = _x
`,
		}
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error
	}{
		{
			name:  "merge with attributes from another repository",
			files: rule("dict(ATTRS, **OTHER_ATTRS)"),
			want:  []string{"rules/private/x.bzl:13: argument after ** must be a mapping, not OTHER_ATTRS (loaded from @other//:defs.bzl: another repository, not read by bzldoc)"},
		},
		{
			name:  "unknown attribute type",
			files: rule(`{"b": attr.regex(doc = "B.")}`),
			want:  []string{"rules/private/x.bzl:13: unknown attr.regex"},
		},
		{
			name:  "public attribute without doc",
			files: rule(`dict(ATTRS, b = attr.string())`),
			want:  []string{"documenting x of rules/defs.bzl: rules/private/x.bzl:13: rule x: attribute b has no doc"},
		},
		{
			name:  "undefined name",
			files: rule(`dict(ATTRS, **MISSING)`),
			want:  []string{"rules/private/x.bzl:13: undefined: MISSING"},
		},
		{
			name: "exported constant and undocumented rule, reported together",
			files: map[string]string{
				"rules/defs.bzl": `VERSION = "1.0"

def _impl(ctx):
    pass

x = rule(implementation = _impl)
`,
			},
			want: []string{
				"rules/defs.bzl:1: VERSION is a string; bzldoc documents rules",
				"rules/defs.bzl:6: rule x has no doc",
			},
		},
		{
			name: "predeclared outputs",
			files: map[string]string{
				"rules/defs.bzl": `def _impl(ctx):
    pass

x = rule(implementation = _impl, doc = "X.", outputs = {"out": "%{name}.txt"})
`,
			},
			want: []string{"rules/defs.bzl:4: rule x: unsupported argument outputs"},
		},
		{
			name: "provider without field docs",
			files: map[string]string{
				"rules/defs.bzl": `XInfo = provider(doc = "X.", fields = ["a", "b"])
`,
			},
			want: []string{"rules/defs.bzl:1: provider XInfo: fields is a list; give a dict"},
		},
		{
			name: "function docstring out of date",
			files: map[string]string{
				"rules/defs.bzl": `def setup(name, register = True):
    """Sets up.

    Args:
      name: the name.
      regster: whether to register.
    """
`,
			},
			want: []string{"rules/defs.bzl:1: function setup: the Args: section of the docstring does not document register"},
		},
		{
			name: "function without docstring",
			files: map[string]string{
				"rules/defs.bzl": `def setup(name):
    pass
`,
			},
			want: []string{"rules/defs.bzl:1: function setup (def setup) has no docstring"},
		},
		{
			name: "provider with an initializer",
			files: map[string]string{
				"rules/defs.bzl": `def _init(a):
    return {"a": a}

XInfo, _new_xinfo = provider(doc = "X.", fields = {"a": "A."}, init = _init)
`,
			},
			want: []string{"rules/defs.bzl:4: provider XInfo: unsupported argument init"},
		},
		{
			name: "loaded name that the file does not define",
			files: map[string]string{
				"rules/private/x.bzl": `y = 1
`,
				"rules/defs.bzl": `load("//rules/private:x.bzl", _x = "x")

x = _x
`,
			},
			want: []string{"rules/defs.bzl:1: load: name x not found in module //rules/private:x.bzl"},
		},
		{
			name:  "code block in an attribute doc",
			files: rule(`{"b": attr.string(doc = "B:\n` + "```" + `\nb = 1\n` + "```" + `\n")}`),
			want:  []string{"rules/private/x.bzl:13: rule x: attribute b: the doc has a code block"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := extract(t, tc.files)
			if err == nil {
				t.Fatalf("got %+v, want an error", ref)
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain\n%s", err, w)
				}
			}
		})
	}
}

func TestParseDocstring(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      *Docstring
		wantErr   string
	}{
		{
			name: "description only",
			doc:  "One line.\n\nMore text.\n    indented",
			want: &Docstring{Description: "One line.\n\nMore text.\n    indented"},
		},
		{
			name: "args and returns",
			doc:  "Summary.\n\nArgs:\n  a: first\n    continued.\n\n    Second paragraph.\n  *args: rest.\n  b (int): typed.\n\nReturns:\n  A value.\n",
			want: &Docstring{
				Description: "Summary.",
				Args: []DocArg{
					{Name: "a", Doc: "first continued.\n\nSecond paragraph."},
					{Name: "*args", Doc: "rest."},
					{Name: "b", Doc: "typed."},
				},
				Sections: []DocSection{{Title: "Returns", Text: "A value."}},
			},
		},
		{
			name:    "malformed args",
			doc:     "Summary.\n\nArgs:\n  a first\n",
			wantErr: `line "a first" is not of the form`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseDocstring(tc.doc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestCleandoc(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"One line.", "One line."},
		{"\n    Indented\n      more\n    back\n    ", "Indented\n  more\nback"},
		{"First.\n\n    Body  \n", "First.\n\nBody"},
		{"First.\n\tTabbed", "First.\nTabbed"},
	} {
		if got := cleandoc(tc.in); got != tc.want {
			t.Errorf("cleandoc(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCell(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a\nb", "a b"},
		{"a\n\nb", "a<br><br>b"},
		{"x|y `a|b`", `x\|y ` + "`a\\|b`"},
		{"NAME_<os> `<os>`", "NAME_&lt;os&gt; `<os>`"},
		{"it`s <b>", "it`s &lt;b&gt;"},
	} {
		if got := cell(tc.in); got != tc.want {
			t.Errorf("cell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
