package fakebazel

import (
	"errors"
	"io/fs"
	"path"
	"strings"
	"testing"
	"testing/fstest"

	"go.starlark.net/starlark"
)

// loader reads the main repository's files from files; other
// repositories are not read.
func loader(files map[string]string) *Loader {
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return New("", func(l *Label) ([]byte, error) {
		if l.Repo != "" {
			return nil, ErrNotRead
		}
		return fs.ReadFile(fsys, path.Join(l.Pkg, l.Name))
	})
}

func TestRecordedDefinitions(t *testing.T) {
	ld := loader(map[string]string{
		"pkg/sub/defs.bzl": `load("//pkg:impl.bzl", "impl")

_ATTRS = {"dep": attr.label(default = ":d", mandatory = True)}

r = rule(impl, doc = "R.", attrs = _ATTRS)

_ATTRS["late"] = attr.string()

Info = provider("I.", fields = ["a"])

def label_here():
    return Label(":x")
`,
		"pkg/impl.bzl": `def impl(ctx):
    pass

def label_there(f):
    return f()
`,
	})
	m := ld.Module(&Label{Pkg: "pkg/sub", Name: "defs.bzl"})
	if m.Err != nil {
		t.Fatal(Describe(m.Err))
	}
	r, ok := m.Globals["r"].(*Rule)
	if !ok {
		t.Fatalf("r is a %T", m.Globals["r"])
	}
	if r.Exported != "r" || r.Repository || r.Pos.Line != 5 || r.File.String() != "@@//pkg/sub:defs.bzl" {
		t.Errorf("rule recorded as %q, repository %v, at %v in %v", r.Exported, r.Repository, r.Pos, r.File)
	}
	if got := strings.Join(r.KwNames(), ","); got != "implementation,doc,attrs" {
		t.Errorf("arguments %s, want the positional one named implementation", got)
	}
	attrs, _ := r.Kwarg("attrs")
	if d := attrs.(*starlark.Dict); d.Len() != 1 {
		t.Errorf("attrs %v: the dict was not copied when rule() was called", d)
	} else if a := d.Items()[0][1].(*Attr); a.Kind != "label" || !a.Mandatory() {
		t.Errorf("attribute %+v", a)
	}
	p := m.Globals["Info"].(*Provider)
	if doc, _ := p.Kwarg("doc"); p.Exported != "Info" || doc != starlark.String("I.") {
		t.Errorf("provider %q with doc %v", p.Exported, doc)
	}

	// Label() is relative to the file whose code calls it.
	th := ld.NewThread(nil)
	impl := ld.Module(&Label{Pkg: "pkg", Name: "impl.bzl"})
	v, err := starlark.Call(th, impl.Globals["label_there"], starlark.Tuple{m.Globals["label_here"]}, nil)
	if err != nil {
		t.Fatal(Describe(err))
	}
	if got := v.String(); got != "@@//pkg/sub:x" {
		t.Errorf("Label(\":x\") = %s, want @@//pkg/sub:x", got)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{
			name: "name from a repository that is not read, used at load time",
			files: map[string]string{"defs.bzl": `load("@other//:x.bzl", "X")

Y = X.field
`},
			want: "defs.bzl:3: X (loaded from @other//:x.bzl: not read) cannot be used",
		},
		{
			name:  "unknown attribute type",
			files: map[string]string{"defs.bzl": "A = attr.regex()\n"},
			want:  "defs.bzl:1: unknown attr.regex",
		},
		{
			name:  "name Bazel does not predeclare",
			files: map[string]string{"defs.bzl": "A = cc_common.x\n"},
			want:  "defs.bzl:1: undefined: cc_common",
		},
		{
			name: "load cycle",
			files: map[string]string{
				"defs.bzl": `load("//:a.bzl", "A")
`,
				"a.bzl": `load("//:defs.bzl", "B")
A = 1
`,
			},
			want: "load cycle through //:defs.bzl",
		},
		{
			name:  "fail",
			files: map[string]string{"defs.bzl": "def f():\n    fail(\"no\", attr = \"x\")\n\nX = f()\n"},
			want:  "defs.bzl:2: fail: attribute x: no",
		},
		{
			name:  "argument given twice",
			files: map[string]string{"defs.bzl": "def _i(ctx):\n    pass\n\nr = rule(_i, implementation = _i)\n"},
			want:  "defs.bzl:4: rule: argument implementation given twice",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := loader(tc.files).Module(&Label{Name: "defs.bzl"})
			if m.Err == nil {
				t.Fatalf("got %v, want an error", m.Globals)
			}
			if !strings.Contains(m.Err.Error(), tc.want) {
				t.Errorf("error\n%v\ndoes not contain\n%s", m.Err, tc.want)
			}
			if tc.name == "fail" {
				var fe *FailError
				if !errors.As(m.Err, &fe) {
					t.Errorf("%v is not a *FailError", m.Err)
				}
			}
		})
	}
}
