package bzlexec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/bazelbuild/buildtools/build"
)

// This file is a small Starlark interpreter for the tests of this package:
// values, expressions and statements of the Starlark the pins .bzl files
// use, and the builtins Bazel predeclares for them. Anything else is an
// error naming the file and line.

// Value is a Starlark value: noneType, bool, int64, string, *List, Tuple,
// *Dict, *Struct, *Function, *Builtin, *Label or *Path.
type Value any

type noneType struct{}

// None is Starlark's None.
var None = noneType{}

// List is a mutable list.
type List struct{ elems []Value }

// Tuple is an immutable sequence.
type Tuple []Value

// Dict is an insertion-ordered dictionary; keys are hashed by their repr.
type Dict struct {
	keys, vals []Value
	index      map[string]int
}

func newDict() *Dict { return &Dict{index: map[string]int{}} }

func (d *Dict) get(k Value) (Value, bool) {
	i, ok := d.index[repr(k)]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

func (d *Dict) set(k, v Value) {
	h := repr(k)
	if i, ok := d.index[h]; ok {
		d.vals[i] = v
		return
	}
	d.index[h] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
}

// Struct is struct(...), and the test's mock contexts.
type Struct struct {
	fields map[string]Value
	order  []string
}

// NewStruct returns a struct with the fields in kv (name, value, ...).
func NewStruct(kv ...any) *Struct {
	s := &Struct{fields: map[string]Value{}}
	for i := 0; i < len(kv); i += 2 {
		s.set(kv[i].(string), kv[i+1])
	}
	return s
}

func (s *Struct) set(name string, v Value) {
	if _, ok := s.fields[name]; !ok {
		s.order = append(s.order, name)
	}
	s.fields[name] = v
}

// Function is a def.
type Function struct {
	name   string
	params []param
	body   []build.Expr
	mod    *Module
}

type param struct {
	name             string
	def              Value // nil: required
	star, doubleStar bool
}

// Builtin is a function implemented in Go.
type Builtin struct {
	name string
	fn   func(args []Value, kwargs []kwarg) (Value, error)
}

type kwarg struct {
	name string
	v    Value
}

// Label is Label("@repo//pkg:name").
type Label struct{ repo, pkg, name string }

func (l *Label) String() string { return "@@" + l.repo + "//" + l.pkg + ":" + l.name }

// Path is what repository_ctx.path returns.
type Path struct{ p string }

// Module is a loaded .bzl file.
type Module struct {
	path    string
	globals map[string]Value
}

// FailError is a call of fail().
type FailError struct{ Msg string }

func (e *FailError) Error() string { return "fail: " + e.Msg }

// Interp loads .bzl files of a repository.
type Interp struct {
	root      string                      // the repository's directory
	repoName  string                      // what Label() gives as the repository ("rules_repro+")
	universe  map[string]Value            // predeclared names
	modules   map[string]*Module          // by file path relative to root
	overrides map[string]map[string]Value // modules replaced by the test
}

// NewInterp returns an interpreter for the repository at root.
func NewInterp(root, repoName string, predeclared map[string]Value) *Interp {
	in := &Interp{root: root, repoName: repoName, modules: map[string]*Module{}, overrides: map[string]map[string]Value{}}
	in.universe = universe(in)
	for k, v := range predeclared {
		in.universe[k] = v
	}
	return in
}

// Override makes a load of path (relative to the root) see globals instead
// of the file.
func (in *Interp) Override(path string, globals map[string]Value) { in.overrides[path] = globals }

// labelFile turns a load label of this repository into a path relative to
// the root.
func (in *Interp) labelFile(from, label string) (string, error) {
	rest := label
	for _, p := range []string{"@@" + in.repoName + "//", "@@rules_repro//", "@rules_repro//", "//"} {
		if strings.HasPrefix(label, p) {
			rest = label[len(p):]
			pkg, name, ok := strings.Cut(rest, ":")
			if !ok {
				return "", fmt.Errorf("%s: label %q has no target", from, label)
			}
			return filepath.ToSlash(filepath.Join(pkg, name)), nil
		}
	}
	if strings.HasPrefix(label, ":") {
		return filepath.ToSlash(filepath.Join(filepath.Dir(from), label[1:])), nil
	}
	return "", fmt.Errorf("%s: cannot load %q: not a file of this repository", from, label)
}

// Load executes the file at path (relative to the root) once and returns
// its globals.
func (in *Interp) Load(path string) (*Module, error) {
	if m, ok := in.modules[path]; ok {
		if m == nil {
			return nil, fmt.Errorf("load cycle through %s", path)
		}
		return m, nil
	}
	if g, ok := in.overrides[path]; ok {
		m := &Module{path: path, globals: g}
		in.modules[path] = m
		return m, nil
	}
	data, err := os.ReadFile(filepath.Join(in.root, path))
	if err != nil {
		return nil, err
	}
	return in.Exec(path, data)
}

// Exec executes a .bzl file's text as the module path.
func (in *Interp) Exec(path string, data []byte) (*Module, error) {
	f, err := build.ParseBzl(path, data)
	if err != nil {
		return nil, err
	}
	in.modules[path] = nil
	m := &Module{path: path, globals: map[string]Value{}}
	fr := &frame{in: in, mod: m, vars: m.globals}
	if _, _, err := fr.execStmts(f.Stmt); err != nil {
		delete(in.modules, path)
		return nil, err
	}
	in.modules[path] = m
	return m, nil
}

// Call calls a Starlark function.
func (in *Interp) Call(fn Value, args []Value, kwargs ...kwarg) (Value, error) {
	return in.call(fn, args, kwargs)
}

// KW is a keyword argument for Call.
func KW(name string, v Value) kwarg { return kwarg{name, v} }

// frame is the scope of a function call or of a module.
type frame struct {
	in     *Interp
	mod    *Module
	vars   map[string]Value // locals (the globals at module level)
	parent *frame           // a comprehension's enclosing scope
}

type ctrl int

const (
	ctrlNone ctrl = iota
	ctrlReturn
	ctrlBreak
	ctrlContinue
)

func (fr *frame) errorf(x build.Expr, format string, args ...any) error {
	line := 0
	if x != nil {
		start, _ := x.Span()
		line = start.Line
	}
	return fmt.Errorf("%s:%d: %s", fr.mod.path, line, fmt.Sprintf(format, args...))
}

// wrap adds the position of x to err, unless err is a fail() or has one.
func (fr *frame) wrap(x build.Expr, err error) error {
	var fe *FailError
	if err == nil || errors.As(err, &fe) || strings.HasPrefix(err.Error(), fr.mod.path+":") {
		return err
	}
	return fr.errorf(x, "%v", err)
}

func (fr *frame) lookup(x *build.Ident) (Value, error) {
	for f := fr; f != nil; f = f.parent {
		if v, ok := f.vars[x.Name]; ok {
			return v, nil
		}
	}
	if v, ok := fr.mod.globals[x.Name]; ok {
		return v, nil
	}
	if v, ok := fr.in.universe[x.Name]; ok {
		return v, nil
	}
	return nil, fr.errorf(x, "undefined: %s", x.Name)
}

func (fr *frame) execStmts(stmts []build.Expr) (ctrl, Value, error) {
	for _, s := range stmts {
		c, v, err := fr.exec(s)
		if err != nil || c != ctrlNone {
			return c, v, err
		}
	}
	return ctrlNone, nil, nil
}

func (fr *frame) exec(s build.Expr) (ctrl, Value, error) {
	switch s := s.(type) {
	case *build.CommentBlock:
		return ctrlNone, nil, nil
	case *build.LoadStmt:
		path, err := fr.in.labelFile(fr.mod.path, s.Module.Value)
		if err != nil {
			return ctrlNone, nil, fr.errorf(s, "%v", err)
		}
		m, err := fr.in.Load(path)
		if err != nil {
			return ctrlNone, nil, err
		}
		for i := range s.From {
			v, ok := m.globals[s.To[i].Name]
			if !ok || strings.HasPrefix(s.To[i].Name, "_") {
				return ctrlNone, nil, fr.errorf(s, "%s does not export %s", path, s.To[i].Name)
			}
			fr.vars[s.From[i].Name] = v
		}
		return ctrlNone, nil, nil
	case *build.DefStmt:
		f := &Function{name: s.Name, body: s.Body, mod: fr.mod}
		for _, p := range s.Params {
			switch p := p.(type) {
			case *build.Ident:
				f.params = append(f.params, param{name: p.Name})
			case *build.AssignExpr:
				id, ok := p.LHS.(*build.Ident)
				if !ok {
					return ctrlNone, nil, fr.errorf(p, "unsupported parameter")
				}
				v, err := fr.eval(p.RHS)
				if err != nil {
					return ctrlNone, nil, err
				}
				f.params = append(f.params, param{name: id.Name, def: v})
			case *build.UnaryExpr:
				id, ok := p.X.(*build.Ident)
				if !ok {
					return ctrlNone, nil, fr.errorf(p, "unsupported parameter")
				}
				f.params = append(f.params, param{name: id.Name, star: p.Op == "*", doubleStar: p.Op == "**"})
			default:
				return ctrlNone, nil, fr.errorf(p, "unsupported parameter %T", p)
			}
		}
		fr.vars[s.Name] = f
		return ctrlNone, nil, nil
	case *build.AssignExpr:
		return ctrlNone, nil, fr.assign(s)
	case *build.ReturnStmt:
		if s.Result == nil {
			return ctrlReturn, None, nil
		}
		v, err := fr.eval(s.Result)
		return ctrlReturn, v, err
	case *build.IfStmt:
		c, err := fr.eval(s.Cond)
		if err != nil {
			return ctrlNone, nil, err
		}
		if truth(c) {
			return fr.execStmts(s.True)
		}
		return fr.execStmts(s.False)
	case *build.ForStmt:
		x, err := fr.eval(s.X)
		if err != nil {
			return ctrlNone, nil, err
		}
		elems, err := iterate(x)
		if err != nil {
			return ctrlNone, nil, fr.wrap(s.X, err)
		}
		for _, e := range elems {
			if err := fr.bind(s.Vars, e); err != nil {
				return ctrlNone, nil, err
			}
			c, v, err := fr.execStmts(s.Body)
			if err != nil || c == ctrlReturn {
				return c, v, err
			}
			if c == ctrlBreak {
				break
			}
		}
		return ctrlNone, nil, nil
	case *build.BranchStmt:
		switch s.Token {
		case "pass":
			return ctrlNone, nil, nil
		case "break":
			return ctrlBreak, nil, nil
		case "continue":
			return ctrlContinue, nil, nil
		}
		return ctrlNone, nil, fr.errorf(s, "unsupported %s", s.Token)
	}
	_, err := fr.eval(s)
	return ctrlNone, nil, err
}

// bind assigns v to a target: a name, or a tuple or list of targets.
func (fr *frame) bind(target build.Expr, v Value) error {
	switch t := target.(type) {
	case *build.Ident:
		fr.vars[t.Name] = v
		return nil
	case *build.TupleExpr, *build.ListExpr:
		var targets []build.Expr
		if te, ok := t.(*build.TupleExpr); ok {
			targets = te.List
		} else {
			targets = t.(*build.ListExpr).List
		}
		elems, err := iterate(v)
		if err != nil {
			return fr.wrap(target, err)
		}
		if len(elems) != len(targets) {
			return fr.errorf(target, "cannot unpack %d values into %d", len(elems), len(targets))
		}
		for i, e := range elems {
			if err := fr.bind(targets[i], e); err != nil {
				return err
			}
		}
		return nil
	case *build.ParenExpr:
		return fr.bind(t.X, v)
	case *build.IndexExpr:
		x, err := fr.eval(t.X)
		if err != nil {
			return err
		}
		k, err := fr.eval(t.Y)
		if err != nil {
			return err
		}
		switch x := x.(type) {
		case *Dict:
			x.set(k, v)
			return nil
		case *List:
			i, err := index(k, len(x.elems))
			if err != nil {
				return fr.wrap(t, err)
			}
			x.elems[i] = v
			return nil
		}
		return fr.errorf(t, "cannot assign to an element of %s", typeName(x))
	}
	return fr.errorf(target, "cannot assign to %T", target)
}

func (fr *frame) assign(s *build.AssignExpr) error {
	rhs, err := fr.eval(s.RHS)
	if err != nil {
		return err
	}
	if s.Op == "=" {
		return fr.bind(s.LHS, rhs)
	}
	op := strings.TrimSuffix(s.Op, "=")
	lhs, err := fr.eval(s.LHS)
	if err != nil {
		return err
	}
	if l, ok := lhs.(*List); ok && op == "+" { // += on a list extends it in place
		elems, err := iterate(rhs)
		if err != nil {
			return fr.wrap(s, err)
		}
		l.elems = append(l.elems, elems...)
		return nil
	}
	v, err := binary(op, lhs, rhs)
	if err != nil {
		return fr.wrap(s, err)
	}
	return fr.bind(s.LHS, v)
}

func (fr *frame) evalList(xs []build.Expr) ([]Value, error) {
	out := make([]Value, 0, len(xs))
	for _, x := range xs {
		v, err := fr.eval(x)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (fr *frame) eval(x build.Expr) (Value, error) {
	switch x := x.(type) {
	case *build.Ident:
		return fr.lookup(x)
	case *build.StringExpr:
		return x.Value, nil
	case *build.LiteralExpr:
		n, err := strconv.ParseInt(x.Token, 0, 64)
		if err != nil {
			return nil, fr.errorf(x, "unsupported literal %s", x.Token)
		}
		return n, nil
	case *build.ParenExpr:
		return fr.eval(x.X)
	case *build.ListExpr:
		elems, err := fr.evalList(x.List)
		if err != nil {
			return nil, err
		}
		return &List{elems: elems}, nil
	case *build.TupleExpr:
		elems, err := fr.evalList(x.List)
		if err != nil {
			return nil, err
		}
		return Tuple(elems), nil
	case *build.DictExpr:
		d := newDict()
		for _, kv := range x.List {
			k, err := fr.eval(kv.Key)
			if err != nil {
				return nil, err
			}
			if _, dup := d.get(k); dup {
				return nil, fr.errorf(kv, "duplicate key %s", repr(k))
			}
			v, err := fr.eval(kv.Value)
			if err != nil {
				return nil, err
			}
			d.set(k, v)
		}
		return d, nil
	case *build.Comprehension:
		return fr.comprehension(x)
	case *build.ConditionalExpr:
		c, err := fr.eval(x.Test)
		if err != nil {
			return nil, err
		}
		if truth(c) {
			return fr.eval(x.Then)
		}
		return fr.eval(x.Else)
	case *build.UnaryExpr:
		v, err := fr.eval(x.X)
		if err != nil {
			return nil, err
		}
		switch x.Op {
		case "not":
			return !truth(v), nil
		case "-":
			if n, ok := v.(int64); ok {
				return -n, nil
			}
		case "+":
			if n, ok := v.(int64); ok {
				return n, nil
			}
		}
		return nil, fr.errorf(x, "unsupported unary %s on %s", x.Op, typeName(v))
	case *build.BinaryExpr:
		l, err := fr.eval(x.X)
		if err != nil {
			return nil, err
		}
		switch x.Op { // short circuits
		case "and":
			if !truth(l) {
				return l, nil
			}
			return fr.eval(x.Y)
		case "or":
			if truth(l) {
				return l, nil
			}
			return fr.eval(x.Y)
		}
		r, err := fr.eval(x.Y)
		if err != nil {
			return nil, err
		}
		v, err := binary(x.Op, l, r)
		return v, fr.wrap(x, err)
	case *build.DotExpr:
		v, err := fr.eval(x.X)
		if err != nil {
			return nil, err
		}
		a, err := attr(v, x.Name)
		return a, fr.wrap(x, err)
	case *build.IndexExpr:
		v, err := fr.eval(x.X)
		if err != nil {
			return nil, err
		}
		k, err := fr.eval(x.Y)
		if err != nil {
			return nil, err
		}
		r, err := indexValue(v, k)
		return r, fr.wrap(x, err)
	case *build.SliceExpr:
		return fr.slice(x)
	case *build.CallExpr:
		f, err := fr.eval(x.X)
		if err != nil {
			return nil, err
		}
		var args []Value
		var kwargs []kwarg
		for _, a := range x.List {
			switch a := a.(type) {
			case *build.AssignExpr:
				id, ok := a.LHS.(*build.Ident)
				if !ok || a.Op != "=" {
					return nil, fr.errorf(a, "unsupported argument")
				}
				v, err := fr.eval(a.RHS)
				if err != nil {
					return nil, err
				}
				kwargs = append(kwargs, kwarg{id.Name, v})
			case *build.UnaryExpr:
				if a.Op != "*" && a.Op != "**" {
					v, err := fr.eval(a)
					if err != nil {
						return nil, err
					}
					args = append(args, v)
					continue
				}
				v, err := fr.eval(a.X)
				if err != nil {
					return nil, err
				}
				if a.Op == "*" {
					elems, err := iterate(v)
					if err != nil {
						return nil, fr.wrap(a, err)
					}
					args = append(args, elems...)
					continue
				}
				d, ok := v.(*Dict)
				if !ok {
					return nil, fr.errorf(a, "** of %s", typeName(v))
				}
				for i, k := range d.keys {
					ks, ok := k.(string)
					if !ok {
						return nil, fr.errorf(a, "** key %s is not a string", repr(k))
					}
					kwargs = append(kwargs, kwarg{ks, d.vals[i]})
				}
			default:
				v, err := fr.eval(a)
				if err != nil {
					return nil, err
				}
				args = append(args, v)
			}
		}
		v, err := fr.in.call(f, args, kwargs)
		return v, fr.wrap(x, err)
	}
	return nil, fr.errorf(x, "unsupported expression %T", x)
}

func (fr *frame) slice(x *build.SliceExpr) (Value, error) {
	v, err := fr.eval(x.X)
	if err != nil {
		return nil, err
	}
	if x.Step != nil {
		return nil, fr.errorf(x, "slice steps are not supported")
	}
	var n int
	switch v := v.(type) {
	case string:
		n = len(v)
	case *List:
		n = len(v.elems)
	case Tuple:
		n = len(v)
	default:
		return nil, fr.errorf(x, "cannot slice %s", typeName(v))
	}
	bound := func(e build.Expr, def int) (int, error) {
		if e == nil {
			return def, nil
		}
		b, err := fr.eval(e)
		if err != nil {
			return 0, err
		}
		i, ok := b.(int64)
		if !ok {
			return 0, fr.errorf(e, "slice bound is %s", typeName(b))
		}
		if i < 0 {
			i += int64(n)
		}
		return int(max(0, min(i, int64(n)))), nil
	}
	from, err := bound(x.From, 0)
	if err != nil {
		return nil, err
	}
	to, err := bound(x.To, n)
	if err != nil {
		return nil, err
	}
	if to < from {
		to = from
	}
	switch v := v.(type) {
	case string:
		return v[from:to], nil
	case *List:
		return &List{elems: append([]Value(nil), v.elems[from:to]...)}, nil
	default:
		return append(Tuple(nil), v.(Tuple)[from:to]...), nil
	}
}

func (fr *frame) comprehension(x *build.Comprehension) (Value, error) {
	inner := &frame{in: fr.in, mod: fr.mod, vars: map[string]Value{}, parent: fr}
	var list []Value
	d := newDict()
	var loop func(i int) error
	loop = func(i int) error {
		if i == len(x.Clauses) {
			if x.Curly {
				kv, ok := x.Body.(*build.KeyValueExpr)
				if !ok {
					return fr.errorf(x, "unsupported set comprehension")
				}
				k, err := inner.eval(kv.Key)
				if err != nil {
					return err
				}
				v, err := inner.eval(kv.Value)
				if err != nil {
					return err
				}
				d.set(k, v)
				return nil
			}
			v, err := inner.eval(x.Body)
			if err != nil {
				return err
			}
			list = append(list, v)
			return nil
		}
		switch c := x.Clauses[i].(type) {
		case *build.ForClause:
			xs, err := inner.eval(c.X)
			if err != nil {
				return err
			}
			elems, err := iterate(xs)
			if err != nil {
				return fr.wrap(c, err)
			}
			for _, e := range elems {
				if err := inner.bind(c.Vars, e); err != nil {
					return err
				}
				if err := loop(i + 1); err != nil {
					return err
				}
			}
			return nil
		case *build.IfClause:
			v, err := inner.eval(c.Cond)
			if err != nil {
				return err
			}
			if truth(v) {
				return loop(i + 1)
			}
			return nil
		}
		return fr.errorf(x, "unsupported clause %T", x.Clauses[i])
	}
	if err := loop(0); err != nil {
		return nil, err
	}
	if x.Curly {
		return d, nil
	}
	return &List{elems: list}, nil
}

// call calls a Function or Builtin.
func (in *Interp) call(f Value, args []Value, kwargs []kwarg) (Value, error) {
	switch f := f.(type) {
	case *Builtin:
		return f.fn(args, kwargs)
	case *Function:
		vars := map[string]Value{}
		var rest []Value
		var extra *Dict
		pos := 0
		for _, p := range f.params {
			switch {
			case p.star:
				rest = append(rest, args[min(pos, len(args)):]...)
				pos = len(args)
				vars[p.name] = Tuple(rest)
			case p.doubleStar:
				extra = newDict()
				vars[p.name] = extra
			case pos < len(args):
				vars[p.name] = args[pos]
				pos++
			}
		}
		if pos < len(args) {
			return nil, fmt.Errorf("%s: %d positional arguments, want at most %d", f.name, len(args), pos)
		}
		for _, kw := range kwargs {
			found := false
			for _, p := range f.params {
				if p.name == kw.name && !p.star && !p.doubleStar {
					if _, dup := vars[p.name]; dup {
						return nil, fmt.Errorf("%s: argument %s given twice", f.name, kw.name)
					}
					vars[p.name] = kw.v
					found = true
				}
			}
			if !found {
				if extra == nil {
					return nil, fmt.Errorf("%s: unexpected keyword argument %s", f.name, kw.name)
				}
				extra.set(kw.name, kw.v)
			}
		}
		for _, p := range f.params {
			if _, ok := vars[p.name]; !ok {
				if p.def == nil {
					return nil, fmt.Errorf("%s: missing argument %s", f.name, p.name)
				}
				vars[p.name] = p.def
			}
		}
		fr := &frame{in: in, mod: f.mod, vars: vars}
		c, v, err := fr.execStmts(f.body)
		if err != nil {
			return nil, err
		}
		if c == ctrlReturn {
			return v, nil
		}
		return None, nil
	}
	return nil, fmt.Errorf("%s is not callable", typeName(f))
}

func typeName(v Value) string {
	switch v.(type) {
	case noneType:
		return "NoneType"
	case bool:
		return "bool"
	case int64:
		return "int"
	case string:
		return "string"
	case *List:
		return "list"
	case Tuple:
		return "tuple"
	case *Dict:
		return "dict"
	case *Struct:
		return "struct"
	case *Function, *Builtin:
		return "function"
	case *Label:
		return "Label"
	case *Path:
		return "path"
	}
	return fmt.Sprintf("%T", v)
}

func truth(v Value) bool {
	switch v := v.(type) {
	case noneType:
		return false
	case bool:
		return v
	case int64:
		return v != 0
	case string:
		return v != ""
	case *List:
		return len(v.elems) > 0
	case Tuple:
		return len(v) > 0
	case *Dict:
		return len(v.keys) > 0
	}
	return true
}

func iterate(v Value) ([]Value, error) {
	switch v := v.(type) {
	case *List:
		return append([]Value(nil), v.elems...), nil
	case Tuple:
		return v, nil
	case *Dict:
		return append([]Value(nil), v.keys...), nil
	}
	return nil, fmt.Errorf("%s is not iterable", typeName(v))
}

func index(k Value, n int) (int, error) {
	i, ok := k.(int64)
	if !ok {
		return 0, fmt.Errorf("index is %s", typeName(k))
	}
	if i < 0 {
		i += int64(n)
	}
	if i < 0 || i >= int64(n) {
		return 0, fmt.Errorf("index %d out of range (length %d)", k, n)
	}
	return int(i), nil
}

func indexValue(v, k Value) (Value, error) {
	switch v := v.(type) {
	case *Dict:
		r, ok := v.get(k)
		if !ok {
			return nil, fmt.Errorf("key %s not in dict", repr(k))
		}
		return r, nil
	case *List:
		i, err := index(k, len(v.elems))
		if err != nil {
			return nil, err
		}
		return v.elems[i], nil
	case Tuple:
		i, err := index(k, len(v))
		if err != nil {
			return nil, err
		}
		return v[i], nil
	case string:
		i, err := index(k, len(v))
		if err != nil {
			return nil, err
		}
		return v[i : i+1], nil
	}
	return nil, fmt.Errorf("cannot index %s", typeName(v))
}

func equal(a, b Value) bool { return repr(a) == repr(b) && typeName(a) == typeName(b) }

func compare(a, b Value) (int, error) {
	switch a := a.(type) {
	case string:
		if b, ok := b.(string); ok {
			return strings.Compare(a, b), nil
		}
	case int64:
		if b, ok := b.(int64); ok {
			switch {
			case a < b:
				return -1, nil
			case a > b:
				return 1, nil
			}
			return 0, nil
		}
	case Tuple:
		if b, ok := b.(Tuple); ok {
			for i := 0; i < len(a) && i < len(b); i++ {
				if c, err := compare(a[i], b[i]); err != nil || c != 0 {
					return c, err
				}
			}
			return compare(int64(len(a)), int64(len(b)))
		}
	}
	return 0, fmt.Errorf("cannot compare %s with %s", typeName(a), typeName(b))
}

func binary(op string, l, r Value) (Value, error) {
	switch op {
	case "==":
		return equal(l, r), nil
	case "!=":
		return !equal(l, r), nil
	case "<", ">", "<=", ">=":
		c, err := compare(l, r)
		if err != nil {
			return nil, err
		}
		return map[string]bool{"<": c < 0, ">": c > 0, "<=": c <= 0, ">=": c >= 0}[op], nil
	case "in", "not in":
		var in bool
		switch r := r.(type) {
		case string:
			s, ok := l.(string)
			if !ok {
				return nil, fmt.Errorf("%s in string", typeName(l))
			}
			in = strings.Contains(r, s)
		case *Dict:
			_, in = r.get(l)
		case *List, Tuple:
			elems, _ := iterate(r)
			for _, e := range elems {
				if equal(e, l) {
					in = true
				}
			}
		default:
			return nil, fmt.Errorf("in %s", typeName(r))
		}
		return in == (op == "in"), nil
	case "+":
		switch l := l.(type) {
		case string:
			if r, ok := r.(string); ok {
				return l + r, nil
			}
		case int64:
			if r, ok := r.(int64); ok {
				return l + r, nil
			}
		case *List:
			if r, ok := r.(*List); ok {
				return &List{elems: append(append([]Value(nil), l.elems...), r.elems...)}, nil
			}
		case Tuple:
			if r, ok := r.(Tuple); ok {
				return append(append(Tuple(nil), l...), r...), nil
			}
		}
	case "-", "*", "//":
		if a, ok := l.(int64); ok {
			if b, ok := r.(int64); ok {
				switch op {
				case "-":
					return a - b, nil
				case "*":
					return a * b, nil
				case "//":
					if b == 0 {
						return nil, errors.New("division by zero")
					}
					return a / b, nil
				}
			}
		}
		if s, ok := l.(string); ok && op == "*" {
			if n, ok := r.(int64); ok {
				return strings.Repeat(s, int(max(n, 0))), nil
			}
		}
	case "%":
		if s, ok := l.(string); ok {
			return percent(s, r)
		}
		if a, ok := l.(int64); ok {
			if b, ok := r.(int64); ok && b != 0 {
				return a % b, nil
			}
		}
	}
	return nil, fmt.Errorf("unsupported %s %s %s", typeName(l), op, typeName(r))
}

// percent is the string % operator: %s, %r, %d and %%.
func percent(format string, arg Value) (Value, error) {
	args, ok := arg.(Tuple)
	if !ok {
		args = Tuple{arg}
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(format) {
			return nil, errors.New("incomplete format")
		}
		if format[i] == '%' {
			b.WriteByte('%')
			continue
		}
		if n >= len(args) {
			return nil, errors.New("not enough arguments for format string")
		}
		switch format[i] {
		case 's':
			b.WriteString(str(args[n]))
		case 'r':
			b.WriteString(repr(args[n]))
		case 'd':
			d, ok := args[n].(int64)
			if !ok {
				return nil, fmt.Errorf("%%d of %s", typeName(args[n]))
			}
			b.WriteString(strconv.FormatInt(d, 10))
		default:
			return nil, fmt.Errorf("unsupported format %%%c", format[i])
		}
		n++
	}
	if n != len(args) {
		return nil, errors.New("too many arguments for format string")
	}
	return b.String(), nil
}

// format is str.format: {}, {0}, {name}, {{ and }}.
func format(s string, args []Value, kwargs []kwarg) (Value, error) {
	var b strings.Builder
	auto := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '{' && i+1 < len(s) && s[i+1] == '{':
			b.WriteByte('{')
			i++
		case c == '}' && i+1 < len(s) && s[i+1] == '}':
			b.WriteByte('}')
			i++
		case c == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, errors.New("format: unmatched {")
			}
			field := s[i+1 : i+end]
			i += end
			var v Value
			switch n, err := strconv.Atoi(field); {
			case field == "":
				if auto >= len(args) {
					return nil, errors.New("format: not enough arguments")
				}
				v = args[auto]
				auto++
			case err == nil:
				if n >= len(args) {
					return nil, fmt.Errorf("format: no argument %d", n)
				}
				v = args[n]
			default:
				found := false
				for _, kw := range kwargs {
					if kw.name == field {
						v, found = kw.v, true
					}
				}
				if !found {
					return nil, fmt.Errorf("format: no argument %q", field)
				}
			}
			b.WriteString(str(v))
		case c == '}':
			return nil, errors.New("format: single }")
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// str is Starlark's str().
func str(v Value) string {
	switch v := v.(type) {
	case string:
		return v
	case *Label:
		return v.String()
	case *Path:
		return v.p
	}
	return repr(v)
}

// repr is Starlark's repr(); a string is quoted as Bazel (Java Starlark's
// Printer) quotes it: \" \\ \r \n \t, other characters below U+0020 as
// \xXX, everything else as it is.
func repr(v Value) string {
	switch v := v.(type) {
	case noneType:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(v, 10)
	case string:
		var b strings.Builder
		b.WriteByte('"')
		for _, r := range v {
			switch r {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '\r':
				b.WriteString(`\r`)
			case '\n':
				b.WriteString(`\n`)
			case '\t':
				b.WriteString(`\t`)
			default:
				if r < 0x20 {
					fmt.Fprintf(&b, `\x%02x`, r)
				} else {
					b.WriteRune(r)
				}
			}
		}
		b.WriteByte('"')
		return b.String()
	case *List:
		return "[" + reprAll(v.elems) + "]"
	case Tuple:
		if len(v) == 1 {
			return "(" + repr(v[0]) + ",)"
		}
		return "(" + reprAll(v) + ")"
	case *Dict:
		parts := make([]string, len(v.keys))
		for i := range v.keys {
			parts[i] = repr(v.keys[i]) + ": " + repr(v.vals[i])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case *Struct:
		parts := make([]string, len(v.order))
		for i, k := range v.order {
			parts[i] = k + " = " + repr(v.fields[k])
		}
		return "struct(" + strings.Join(parts, ", ") + ")"
	case *Label:
		return "Label(" + repr(v.String()) + ")"
	case *Path:
		return repr(v.p)
	case *Function:
		return "<function " + v.name + ">"
	case *Builtin:
		return "<built-in function " + v.name + ">"
	}
	return fmt.Sprintf("<%T>", v)
}

func reprAll(vs []Value) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = repr(v)
	}
	return strings.Join(parts, ", ")
}

// args binds a builtin's arguments: names lists the parameters, a name
// ending in "?" is optional. It returns the values in order (nil for absent
// optional ones).
func bindArgs(fn string, args []Value, kwargs []kwarg, names ...string) ([]Value, error) {
	out := make([]Value, len(names))
	if len(args) > len(names) {
		return nil, fmt.Errorf("%s: too many arguments", fn)
	}
	copy(out, args)
	for _, kw := range kwargs {
		found := false
		for i, n := range names {
			if strings.TrimSuffix(n, "?") == kw.name {
				if out[i] != nil {
					return nil, fmt.Errorf("%s: %s given twice", fn, kw.name)
				}
				out[i], found = kw.v, true
			}
		}
		if !found {
			return nil, fmt.Errorf("%s: unexpected keyword argument %s", fn, kw.name)
		}
	}
	for i, n := range names {
		if out[i] == nil && !strings.HasSuffix(n, "?") {
			return nil, fmt.Errorf("%s: missing argument %s", fn, n)
		}
	}
	return out, nil
}

func builtin(name string, fn func(args []Value, kwargs []kwarg) (Value, error)) *Builtin {
	return &Builtin{name: name, fn: fn}
}

// method returns a builtin bound to its receiver.
func method(recv Value, name string, fn func(args []Value, kwargs []kwarg) (Value, error)) *Builtin {
	return builtin(typeName(recv)+"."+name, fn)
}

func wantString(fn string, v Value) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: want a string, got %s", fn, typeName(v))
	}
	return s, nil
}

// attr is v.name: a struct field or a method of a builtin type.
func attr(v Value, name string) (Value, error) {
	switch v := v.(type) {
	case *Struct:
		if f, ok := v.fields[name]; ok {
			return f, nil
		}
	case *Label:
		switch name {
		case "name":
			return v.name, nil
		case "package":
			return v.pkg, nil
		case "workspace_name", "repo_name":
			return v.repo, nil
		}
	case *Path:
		switch name {
		case "basename":
			return filepath.Base(v.p), nil
		case "dirname":
			return &Path{filepath.Dir(v.p)}, nil
		}
	case string:
		return stringMethod(v, name)
	case *List:
		return listMethod(v, name)
	case *Dict:
		return dictMethod(v, name)
	}
	return nil, fmt.Errorf("%s has no attribute %s", typeName(v), name)
}

func stringMethod(s, name string) (Value, error) {
	oneString := func(f func(arg string) Value) *Builtin {
		return method(s, name, func(args []Value, kwargs []kwarg) (Value, error) {
			a, err := bindArgs(name, args, kwargs, "x")
			if err != nil {
				return nil, err
			}
			x, err := wantString(name, a[0])
			if err != nil {
				return nil, err
			}
			return f(x), nil
		})
	}
	noArgs := func(f func() Value) *Builtin {
		return method(s, name, func(args []Value, kwargs []kwarg) (Value, error) {
			if _, err := bindArgs(name, args, kwargs); err != nil {
				return nil, err
			}
			return f(), nil
		})
	}
	strip := func(trim func(string, string) string, space func(string) string) *Builtin {
		return method(s, name, func(args []Value, kwargs []kwarg) (Value, error) {
			a, err := bindArgs(name, args, kwargs, "chars?")
			if err != nil {
				return nil, err
			}
			if a[0] == nil || a[0] == None {
				return space(s), nil
			}
			chars, err := wantString(name, a[0])
			if err != nil {
				return nil, err
			}
			return trim(s, chars), nil
		})
	}
	all := func(pred func(rune) bool) *Builtin {
		return noArgs(func() Value {
			if s == "" {
				return false
			}
			for _, r := range s {
				if !pred(r) {
					return false
				}
			}
			return true
		})
	}
	isAlpha := func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
	isDigit := func(r rune) bool { return r >= '0' && r <= '9' }
	switch name {
	case "format":
		return method(s, name, func(args []Value, kwargs []kwarg) (Value, error) { return format(s, args, kwargs) }), nil
	case "join":
		return method(s, name, func(args []Value, kwargs []kwarg) (Value, error) {
			a, err := bindArgs(name, args, kwargs, "elements")
			if err != nil {
				return nil, err
			}
			elems, err := iterate(a[0])
			if err != nil {
				return nil, err
			}
			parts := make([]string, len(elems))
			for i, e := range elems {
				if parts[i], err = wantString(name, e); err != nil {
					return nil, err
				}
			}
			return strings.Join(parts, s), nil
		}), nil
	case "split", "rsplit":
		return method(s, name, func(args []Value, kwargs []kwarg) (Value, error) {
			a, err := bindArgs(name, args, kwargs, "sep?", "maxsplit?")
			if err != nil {
				return nil, err
			}
			if a[0] == nil || a[0] == None {
				return nil, errors.New(name + " without a separator is not supported")
			}
			sep, err := wantString(name, a[0])
			if err != nil {
				return nil, err
			}
			n := -1
			if a[1] != nil {
				m, ok := a[1].(int64)
				if !ok {
					return nil, errors.New(name + ": maxsplit is not an int")
				}
				n = int(m) + 1
			}
			var parts []string
			if name == "split" {
				parts = strings.SplitN(s, sep, n)
			} else {
				parts = rsplitN(s, sep, n)
			}
			out := &List{}
			for _, p := range parts {
				out.elems = append(out.elems, p)
			}
			return out, nil
		}), nil
	case "find", "rfind", "count", "startswith", "endswith":
		return oneString(func(x string) Value {
			switch name {
			case "find":
				return int64(strings.Index(s, x))
			case "rfind":
				return int64(strings.LastIndex(s, x))
			case "count":
				return int64(strings.Count(s, x))
			case "startswith":
				return strings.HasPrefix(s, x)
			}
			return strings.HasSuffix(s, x)
		}), nil
	case "replace":
		return method(s, name, func(args []Value, kwargs []kwarg) (Value, error) {
			a, err := bindArgs(name, args, kwargs, "old", "new")
			if err != nil {
				return nil, err
			}
			o, err := wantString(name, a[0])
			if err != nil {
				return nil, err
			}
			n, err := wantString(name, a[1])
			if err != nil {
				return nil, err
			}
			return strings.ReplaceAll(s, o, n), nil
		}), nil
	case "strip":
		return strip(func(s, c string) string { return strings.Trim(s, c) }, strings.TrimSpace), nil
	case "lstrip":
		return strip(func(s, c string) string { return strings.TrimLeft(s, c) }, func(s string) string { return strings.TrimLeft(s, " \t\n\r") }), nil
	case "rstrip":
		return strip(func(s, c string) string { return strings.TrimRight(s, c) }, func(s string) string { return strings.TrimRight(s, " \t\n\r") }), nil
	case "lower":
		return noArgs(func() Value { return strings.ToLower(s) }), nil
	case "upper":
		return noArgs(func() Value { return strings.ToUpper(s) }), nil
	case "isalpha":
		return all(isAlpha), nil
	case "isdigit":
		return all(isDigit), nil
	case "isalnum":
		return all(func(r rune) bool { return isAlpha(r) || isDigit(r) }), nil
	case "elems":
		return noArgs(func() Value {
			out := &List{}
			for i := 0; i < len(s); i++ {
				out.elems = append(out.elems, s[i:i+1])
			}
			return out
		}), nil
	}
	return nil, fmt.Errorf("string has no method %s", name)
}

func rsplitN(s, sep string, n int) []string {
	if n < 0 {
		return strings.Split(s, sep)
	}
	var parts []string
	for len(parts) < n-1 {
		i := strings.LastIndex(s, sep)
		if i < 0 {
			break
		}
		parts = append([]string{s[i+len(sep):]}, parts...)
		s = s[:i]
	}
	return append([]string{s}, parts...)
}

func listMethod(l *List, name string) (Value, error) {
	switch name {
	case "append":
		return method(l, name, func(args []Value, kwargs []kwarg) (Value, error) {
			a, err := bindArgs(name, args, kwargs, "x")
			if err != nil {
				return nil, err
			}
			l.elems = append(l.elems, a[0])
			return None, nil
		}), nil
	case "extend":
		return method(l, name, func(args []Value, kwargs []kwarg) (Value, error) {
			a, err := bindArgs(name, args, kwargs, "x")
			if err != nil {
				return nil, err
			}
			elems, err := iterate(a[0])
			if err != nil {
				return nil, err
			}
			l.elems = append(l.elems, elems...)
			return None, nil
		}), nil
	}
	return nil, fmt.Errorf("list has no method %s", name)
}

func dictMethod(d *Dict, name string) (Value, error) {
	switch name {
	case "get":
		return method(d, name, func(args []Value, kwargs []kwarg) (Value, error) {
			a, err := bindArgs(name, args, kwargs, "key", "default?")
			if err != nil {
				return nil, err
			}
			if v, ok := d.get(a[0]); ok {
				return v, nil
			}
			if a[1] == nil {
				return None, nil
			}
			return a[1], nil
		}), nil
	case "keys", "values", "items":
		return method(d, name, func(args []Value, kwargs []kwarg) (Value, error) {
			if _, err := bindArgs(name, args, kwargs); err != nil {
				return nil, err
			}
			out := &List{}
			for i := range d.keys {
				switch name {
				case "keys":
					out.elems = append(out.elems, d.keys[i])
				case "values":
					out.elems = append(out.elems, d.vals[i])
				default:
					out.elems = append(out.elems, Tuple{d.keys[i], d.vals[i]})
				}
			}
			return out, nil
		}), nil
	}
	return nil, fmt.Errorf("dict has no method %s", name)
}

// jsonDecode is json.decode: objects become dicts in document order.
func jsonDecode(s string) (Value, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var value func() (Value, error)
	value = func() (Value, error) {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				d := newDict()
				for dec.More() {
					k, err := dec.Token()
					if err != nil {
						return nil, err
					}
					v, err := value()
					if err != nil {
						return nil, err
					}
					d.set(k.(string), v)
				}
				_, err := dec.Token()
				return d, err
			case '[':
				l := &List{}
				for dec.More() {
					v, err := value()
					if err != nil {
						return nil, err
					}
					l.elems = append(l.elems, v)
				}
				_, err := dec.Token()
				return l, err
			}
		case string:
			return t, nil
		case bool:
			return t, nil
		case nil:
			return None, nil
		case json.Number:
			n, err := t.Int64()
			if err != nil {
				return nil, fmt.Errorf("json.decode: non-integer %s is not supported", t)
			}
			return n, nil
		}
		return nil, fmt.Errorf("json.decode: unexpected %v", tok)
	}
	v, err := value()
	if err != nil {
		return nil, fmt.Errorf("json.decode: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("json.decode: data after the value")
	}
	return v, nil
}

// universe is what Bazel predeclares in a .bzl file, as far as the tests
// need it; the test adds repository_rule, attr and the like.
func universe(in *Interp) map[string]Value {
	u := map[string]Value{
		"True":  true,
		"False": false,
		"None":  None,
	}
	u["len"] = builtin("len", func(args []Value, kwargs []kwarg) (Value, error) {
		a, err := bindArgs("len", args, kwargs, "x")
		if err != nil {
			return nil, err
		}
		switch v := a[0].(type) {
		case string:
			return int64(len(v)), nil
		case *List:
			return int64(len(v.elems)), nil
		case Tuple:
			return int64(len(v)), nil
		case *Dict:
			return int64(len(v.keys)), nil
		}
		return nil, fmt.Errorf("len of %s", typeName(a[0]))
	})
	u["str"] = builtin("str", func(args []Value, kwargs []kwarg) (Value, error) {
		a, err := bindArgs("str", args, kwargs, "x")
		if err != nil {
			return nil, err
		}
		return str(a[0]), nil
	})
	u["repr"] = builtin("repr", func(args []Value, kwargs []kwarg) (Value, error) {
		a, err := bindArgs("repr", args, kwargs, "x")
		if err != nil {
			return nil, err
		}
		return repr(a[0]), nil
	})
	u["type"] = builtin("type", func(args []Value, kwargs []kwarg) (Value, error) {
		a, err := bindArgs("type", args, kwargs, "x")
		if err != nil {
			return nil, err
		}
		return typeName(a[0]), nil
	})
	u["sorted"] = builtin("sorted", func(args []Value, kwargs []kwarg) (Value, error) {
		a, err := bindArgs("sorted", args, kwargs, "iterable", "key?", "reverse?")
		if err != nil {
			return nil, err
		}
		if a[1] != nil || a[2] != nil {
			return nil, errors.New("sorted: key and reverse are not supported")
		}
		elems, err := iterate(a[0])
		if err != nil {
			return nil, err
		}
		var cmpErr error
		sort.SliceStable(elems, func(i, j int) bool {
			c, err := compare(elems[i], elems[j])
			if err != nil {
				cmpErr = err
			}
			return c < 0
		})
		return &List{elems: elems}, cmpErr
	})
	u["list"] = builtin("list", func(args []Value, kwargs []kwarg) (Value, error) {
		a, err := bindArgs("list", args, kwargs, "x?")
		if err != nil {
			return nil, err
		}
		if a[0] == nil {
			return &List{}, nil
		}
		elems, err := iterate(a[0])
		return &List{elems: elems}, err
	})
	u["dict"] = builtin("dict", func(args []Value, kwargs []kwarg) (Value, error) {
		d := newDict()
		if len(args) > 1 {
			return nil, errors.New("dict: too many arguments")
		}
		if len(args) == 1 {
			src, ok := args[0].(*Dict)
			if !ok {
				return nil, errors.New("dict: only a dict argument is supported")
			}
			for i := range src.keys {
				d.set(src.keys[i], src.vals[i])
			}
		}
		for _, kw := range kwargs {
			d.set(kw.name, kw.v)
		}
		return d, nil
	})
	u["enumerate"] = builtin("enumerate", func(args []Value, kwargs []kwarg) (Value, error) {
		a, err := bindArgs("enumerate", args, kwargs, "x")
		if err != nil {
			return nil, err
		}
		elems, err := iterate(a[0])
		if err != nil {
			return nil, err
		}
		out := &List{}
		for i, e := range elems {
			out.elems = append(out.elems, Tuple{int64(i), e})
		}
		return out, nil
	})
	u["hasattr"] = builtin("hasattr", func(args []Value, kwargs []kwarg) (Value, error) {
		a, err := bindArgs("hasattr", args, kwargs, "x", "name")
		if err != nil {
			return nil, err
		}
		name, err := wantString("hasattr", a[1])
		if err != nil {
			return nil, err
		}
		_, err = attr(a[0], name)
		return err == nil, nil
	})
	u["fail"] = builtin("fail", func(args []Value, kwargs []kwarg) (Value, error) {
		parts := make([]string, len(args))
		for i, a := range args {
			parts[i] = str(a)
		}
		return nil, &FailError{Msg: strings.Join(parts, " ")}
	})
	u["print"] = builtin("print", func(args []Value, kwargs []kwarg) (Value, error) { return None, nil })
	u["struct"] = builtin("struct", func(args []Value, kwargs []kwarg) (Value, error) {
		if len(args) > 0 {
			return nil, errors.New("struct: positional arguments")
		}
		s := NewStruct()
		for _, kw := range kwargs {
			s.set(kw.name, kw.v)
		}
		return s, nil
	})
	u["Label"] = builtin("Label", func(args []Value, kwargs []kwarg) (Value, error) {
		a, err := bindArgs("Label", args, kwargs, "input")
		if err != nil {
			return nil, err
		}
		if l, ok := a[0].(*Label); ok {
			return l, nil
		}
		s, err := wantString("Label", a[0])
		if err != nil {
			return nil, err
		}
		return parseLabel(in.repoName, s)
	})
	u["json"] = NewStruct("decode", builtin("json.decode", func(args []Value, kwargs []kwarg) (Value, error) {
		a, err := bindArgs("json.decode", args, kwargs, "x")
		if err != nil {
			return nil, err
		}
		s, err := wantString("json.decode", a[0])
		if err != nil {
			return nil, err
		}
		return jsonDecode(s)
	}))
	return u
}

// parseLabel parses an absolute label; repo is the repository of "//...".
func parseLabel(repo, s string) (*Label, error) {
	rest := s
	switch {
	case strings.HasPrefix(s, "@@"):
		r, after, ok := strings.Cut(s[2:], "//")
		if !ok {
			return nil, fmt.Errorf("Label: invalid label %q", s)
		}
		repo, rest = r, "//"+after
	case strings.HasPrefix(s, "@"):
		r, after, ok := strings.Cut(s[1:], "//")
		if !ok {
			return nil, fmt.Errorf("Label: invalid label %q", s)
		}
		repo, rest = r, "//"+after
	}
	if !strings.HasPrefix(rest, "//") {
		return nil, fmt.Errorf("Label: relative label %q is not supported", s)
	}
	pkg, name, ok := strings.Cut(rest[2:], ":")
	if !ok {
		name = pkg[strings.LastIndex(pkg, "/")+1:]
	}
	return &Label{repo: repo, pkg: pkg, name: name}, nil
}

// goValue converts a Starlark value to Go for comparisons in tests:
// map[string]any, []any, string, int64, bool, nil.
func goValue(v Value) any {
	switch v := v.(type) {
	case noneType:
		return nil
	case *List:
		out := []any{}
		for _, e := range v.elems {
			out = append(out, goValue(e))
		}
		return out
	case Tuple:
		out := []any{}
		for _, e := range v {
			out = append(out, goValue(e))
		}
		return out
	case *Dict:
		out := map[string]any{}
		for i, k := range v.keys {
			out[str(k)] = goValue(v.vals[i])
		}
		return out
	case *Label:
		return v.String()
	}
	return v
}
