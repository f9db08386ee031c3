package fakebazel

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Label is a Label: @@Repo//Pkg:Name, Repo "" being the main repository.
type Label struct{ Repo, Pkg, Name string }

var (
	_ starlark.HasAttrs   = (*Label)(nil)
	_ starlark.Comparable = (*Label)(nil)
)

// String is str(label); Bazel's repr() would be Label("...").
func (l *Label) String() string        { return "@@" + l.Repo + "//" + l.Pkg + ":" + l.Name }
func (l *Label) Type() string          { return "Label" }
func (l *Label) Freeze()               {}
func (l *Label) Truth() starlark.Bool  { return true }
func (l *Label) Hash() (uint32, error) { return starlark.String(l.String()).Hash() }
func (l *Label) AttrNames() []string {
	return []string{"name", "package", "repo_name", "workspace_name"}
}

func (l *Label) Attr(name string) (starlark.Value, error) {
	switch name {
	case "name":
		return starlark.String(l.Name), nil
	case "package":
		return starlark.String(l.Pkg), nil
	case "repo_name", "workspace_name":
		return starlark.String(l.Repo), nil
	}
	return nil, nil
}

func (l *Label) CompareSameType(op syntax.Token, y starlark.Value, _ int) (bool, error) {
	switch op {
	case syntax.EQL:
		return l.String() == y.String(), nil
	case syntax.NEQ:
		return l.String() != y.String(), nil
	}
	return false, fmt.Errorf("Label %s Label is not supported", op)
}

// parseLabel parses s as written in the file of base; repo maps the
// repository names written in labels to canonical ones.
func parseLabel(base *Label, s string, repo func(string) string) (*Label, error) {
	l := &Label{Repo: base.Repo, Pkg: base.Pkg}
	rest := s
	if strings.HasPrefix(s, "@") {
		r, after, ok := strings.Cut(strings.TrimLeft(s, "@"), "//")
		if !ok {
			return nil, fmt.Errorf("invalid label %q", s)
		}
		l.Repo, rest = repo(r), "//"+after
	}
	switch {
	case strings.HasPrefix(rest, "//"):
		p, n, ok := strings.Cut(rest[2:], ":")
		if !ok {
			n = p[strings.LastIndex(p, "/")+1:]
		}
		l.Pkg, l.Name = p, n
	case strings.HasPrefix(rest, ":"):
		l.Name = rest[1:]
	default:
		return nil, fmt.Errorf("invalid label %q: not absolute and not :name", s)
	}
	if l.Name == "" {
		return nil, fmt.Errorf("invalid label %q: no target name", s)
	}
	return l, nil
}

// ToLabel is a Label, or a string parsed as a label written in the file
// that called the running built-in (as Label() does).
func (ld *Loader) ToLabel(thread *starlark.Thread, v starlark.Value) (*Label, error) {
	switch v := v.(type) {
	case *Label:
		return v, nil
	case starlark.String:
		return ld.Parse(ld.CallerLabel(thread), string(v))
	}
	return nil, fmt.Errorf("got %s, want a Label or a string", v.Type())
}

// labelBuiltin is Label(input).
func (ld *Loader) labelBuiltin(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var input starlark.Value
	if err := starlark.UnpackPositionalArgs("Label", args, kwargs, 1, &input); err != nil {
		return nil, err
	}
	return ld.ToLabel(thread, input)
}
