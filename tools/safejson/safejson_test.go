package safejson

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCheckDepth(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	cases := []struct {
		name string
		in   string
		bad  bool
	}{
		{"flat", `{"a":1,"b":[1,2,3]}`, false},
		{"at the limit", deep(MaxDepth), false},
		{"one past the limit", deep(MaxDepth + 1), true},
		{"objects past the limit", strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1), true},
		{"brackets inside strings do not count", `{"a":"` + strings.Repeat("[", 1000) + `"}`, false},
		{"escaped quote keeps the string open", `{"a":"\"` + strings.Repeat("{", 1000) + `"}`, false},
		{"deep after a string with escaped backslash", `["\\",` + deep(MaxDepth) + `]`, true},
		{"unbalanced closers are not negative depth", strings.Repeat("]", 100) + deep(MaxDepth+1), true},
	}
	for _, c := range cases {
		err := CheckDepth([]byte(c.in))
		var de *DepthError
		if got := errors.As(err, &de); got != c.bad {
			t.Errorf("%s: CheckDepth error = %v, want error: %v", c.name, err, c.bad)
		}
	}
}

func TestUnmarshalRefusesDeepInputQuickly(t *testing.T) {
	// 200,000 levels in 400 KB: refused by the linear pass before any
	// decoder sees it.
	in := strings.Repeat("[", 200000) + strings.Repeat("]", 200000)
	var v any
	err := Unmarshal([]byte(in), &v)
	if err == nil || !strings.Contains(err.Error(), "nested deeper than 64") {
		t.Fatalf("Unmarshal of 200,000 levels: %v", err)
	}
	if err := Unmarshal([]byte(`{"a":[{"b":1}]}`), &v); err != nil {
		t.Fatalf("Unmarshal of a shallow document: %v", err)
	}
}

func FuzzCheckDepth(f *testing.F) {
	f.Add([]byte(`{"a":["b",{"c":"]"}]}`))
	f.Add([]byte(`"\\"`))
	f.Add([]byte(strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		// For valid JSON, CheckDepth refuses exactly the documents whose
		// nesting (counted by encoding/json's tokenizer) exceeds MaxDepth.
		err := CheckDepth(data)
		if !json.Valid(data) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		depth, deepest := 0, 0
		for {
			tok, terr := dec.Token()
			if terr != nil {
				break
			}
			if d, ok := tok.(json.Delim); ok {
				if d == '[' || d == '{' {
					depth++
					deepest = max(deepest, depth)
				} else {
					depth--
				}
			}
		}
		if (deepest > MaxDepth) != (err != nil) {
			t.Fatalf("depth %d, CheckDepth: %v", deepest, err)
		}
	})
}

func TestPath(t *testing.T) {
	top := &Path{Index: -1, Key: "images"}
	base := &Path{Parent: top, Index: -1, Key: "base"}
	odd := &Path{Parent: top, Index: -1, Key: "a\nb"}
	cases := []struct {
		p    *Path
		want string
	}{
		{nil, ""},
		{top, "images"},
		{&Path{Parent: base, Index: -1, Key: "platforms"}, "images.base.platforms"},
		{&Path{Parent: &Path{Index: -1, Key: "rules"}, Index: 2}, "rules[2]"},
		{odd, `images["a\nb"]`},
		{&Path{Index: -1, Key: "x y"}, `["x y"]`},
	}
	for _, c := range cases {
		if got := c.p.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}
}
