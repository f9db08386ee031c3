package bzlexec

import (
	"reflect"
	"testing"

	"github.com/bazelbuild/buildtools/build"
)

// TestInterpreter checks the interpreter on the constructs the pins .bzl
// files rely on, with the results Bazel gives.
func TestInterpreter(t *testing.T) {
	src := `
def f(a, b = 2, *args, **kwargs):
    return [a, b, list(args), kwargs]

def first_even(xs):
    for x in xs:
        if x % 2 == 1:
            continue
        return x
    return None

d = {"b": 1, "a": 2}
d["c"] = 3
results = {
    "call": f(1, c = 3),
    "call2": f(1, 4, 5),
    "order": list(d.keys()),
    "sorted": sorted(d.keys()),
    "items": [k + "=" + str(v) for k, v in d.items() if v > 1],
    "dictcomp": {k: v for k, v in [("x", 1), ("y", 2)]},
    "strip": ["abc".strip("abc"), "abxc".strip("abc"), "  x ".strip()],
    "slice": ["abcdef"[1:3], "abcdef"[:-2], "abcdef"[4:]],
    "find": ["a/b:c".rfind(":"), "a/b".rfind(":"), "a:b".find(":")],
    "split": ["a@b@c".split("@"), "a@b@c".split("@")[0]],
    "percent": "%s=%r (%d%%)" % ("k", "v\"", 5),
    "format": "{a}-{{x}}-{b}".format(a = 1, b = "two"),
    "join": "\n".join(["a", "b"]),
    "in": ["b" in "abc", "z" in {"z": 1}, 3 in [1, 2]],
    "cond": "yes" if len("ab") == 2 and not False else "no",
    "elems": "ab".elems(),
    "enumerate": enumerate(["x", "y"]),
    "first_even": first_even([1, 3, 4, 5]),
    "type": [type(""), type({}), type([]), type(None)],
    "isalpha": ["a".isalpha(), "1".isalpha(), "".isalpha()],
    "json": json.decode('{"z": [1, true, null], "a": "s"}'),
    "label": [str(Label("@x//p/q:r")), Label("//p:r").name],
}
`
	in := NewInterp(repoRoot, "rules_repro+", nil)
	m, err := in.Exec("test.bzl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"call":       []any{int64(1), int64(2), []any{}, map[string]any{"c": int64(3)}},
		"call2":      []any{int64(1), int64(4), []any{int64(5)}, map[string]any{}},
		"order":      []any{"b", "a", "c"},
		"sorted":     []any{"a", "b", "c"},
		"items":      []any{"a=2", "c=3"},
		"dictcomp":   map[string]any{"x": int64(1), "y": int64(2)},
		"strip":      []any{"", "x", "x"},
		"slice":      []any{"bc", "abcd", "ef"},
		"find":       []any{int64(3), int64(-1), int64(1)},
		"split":      []any{[]any{"a", "b", "c"}, "a"},
		"percent":    `k="v\"" (5%)`,
		"format":     "1-{x}-two",
		"join":       "a\nb",
		"in":         []any{true, true, false},
		"cond":       "yes",
		"elems":      []any{"a", "b"},
		"enumerate":  []any{[]any{int64(0), "x"}, []any{int64(1), "y"}},
		"first_even": int64(4),
		"type":       []any{"string", "dict", "list", "NoneType"},
		"isalpha":    []any{true, false, false},
		"json":       map[string]any{"z": []any{int64(1), true, nil}, "a": "s"},
		"label":      []any{"@@x//p/q:r", "r"},
	}
	got := goValue(m.globals["results"]).(map[string]any)
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
	if _, err := in.Exec("bad.bzl", []byte("x = undefined_name\n")); err == nil {
		t.Error("an undefined name is not an error")
	}
	if _, err := in.Exec("bad2.bzl", []byte("x = 1 if True else 2\ny = lambda: 1\n")); err == nil {
		t.Error("an unsupported expression is not an error")
	}
}

// TestReprRoundTrips checks that repr() of any string is a literal that
// buildtools (and so Bazel) reads back as the same string.
func TestReprRoundTrips(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "new\nline\r\t", "\x00\x01\x1f\x7f", ")\n]\n}\n#", "ünïcode ✓", `\x41\n`} {
		f, err := build.ParseBzl("x.bzl", []byte("x = "+repr(s)+"\n"))
		if err != nil {
			t.Errorf("repr(%q) = %s does not parse: %v", s, repr(s), err)
			continue
		}
		if got := f.Stmt[0].(*build.AssignExpr).RHS.(*build.StringExpr).Value; got != s {
			t.Errorf("repr(%q) = %s reads back as %q", s, repr(s), got)
		}
	}
}
