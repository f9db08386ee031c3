package bzldoc

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/bazelbuild/buildtools/build"
)

// This file is a small symbolic evaluator for the parts of Starlark that
// rule definitions use: literals, module-level names (across load()s),
// dict() merges, comprehensions, and calls of rule(), provider(), attr.*()
// and friends. Values are computed lazily, so a private attribute whose
// default cannot be evaluated (for example Label("@platforms//os:" + k)) is
// never looked at. Anything else is an error that names the file and line.

// posError is an error at a position of a .bzl file.
type posError struct {
	file string
	line int
	msg  string
}

func (e *posError) Error() string { return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg) }

// errorf returns a *posError at the start of expr.
func (m *module) errorf(expr build.Expr, format string, args ...any) error {
	line := 0
	if expr != nil {
		start, _ := expr.Span()
		line = start.Line
	}
	return &posError{file: m.path, line: line, msg: fmt.Sprintf(format, args...)}
}

// source is expr as Starlark text, shortened for error messages.
func source(expr build.Expr) string {
	s := strings.Join(strings.Fields(build.FormatString(expr)), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// value is an evaluated Starlark value: string, int64, bool, noneValue,
// labelValue, *listValue, *dictValue, *lazy (not yet forced), or one of the
// documented kinds (*ruleValue, *providerValue, *functionValue,
// *extensionValue, *tagClassValue, *attrValue).
type value any

type noneValue struct{}

// labelValue is the argument of Label("...").
type labelValue string

type listValue struct {
	elems []value
	tuple bool
}

// dictValue is an insertion-ordered dict with string or int keys.
type dictValue struct {
	keys   []value
	values map[string]value // by keyID
}

func newDict() *dictValue { return &dictValue{values: map[string]value{}} }

func keyID(k value) string { return fmt.Sprintf("%T:%v", k, k) }

// set inserts or replaces k, keeping the position of an existing key
// (as Starlark's dict.update does).
func (d *dictValue) set(k, v value) {
	id := keyID(k)
	if _, ok := d.values[id]; !ok {
		d.keys = append(d.keys, k)
	}
	d.values[id] = v
}

func (d *dictValue) get(k value) (value, bool) {
	v, ok := d.values[keyID(k)]
	return v, ok
}

// lazy is an expression evaluated when first needed.
type lazy struct {
	expr  build.Expr
	env   *env
	state int // 0 new, 1 evaluating, 2 done
	v     value
	err   error
}

// call is a call of a builtin whose arguments are evaluated on demand.
type call struct {
	mod        *module
	expr       *build.CallExpr
	positional []value
	kwargs     map[string]value
	kwOrder    []string
}

func (c *call) kwarg(name string) (value, bool) {
	v, ok := c.kwargs[name]
	return v, ok
}

type ruleValue struct {
	call
	repository bool
}

type providerValue struct{ call }

type extensionValue struct{ call }

type tagClassValue struct{ call }

type attrValue struct {
	call
	typ string
}

type functionValue struct {
	mod *module
	def *build.DefStmt
}

// attrTypes are the attr module's functions: a readable type name and the
// default Bazel uses when none is given.
var attrTypes = map[string]struct{ name, def string }{
	"bool":                    {"Boolean", "False"},
	"int":                     {"Integer", "0"},
	"int_list":                {"List of integers", "[]"},
	"label":                   {"Label", "None"},
	"label_keyed_string_dict": {"Dictionary: Label → String", "{}"},
	"label_list":              {"List of labels", "[]"},
	"output":                  {"Output label", "None"},
	"output_list":             {"List of output labels", "[]"},
	"string":                  {"String", `""`},
	"string_dict":             {"Dictionary: String → String", "{}"},
	"string_keyed_label_dict": {"Dictionary: String → Label", "{}"},
	"string_list":             {"List of strings", "[]"},
	"string_list_dict":        {"Dictionary: String → List of strings", "{}"},
}

// env is a scope: comprehension variables over a module's globals.
type env struct {
	mod    *module
	locals map[string]value
	parent *env
}

func (e *env) lookup(name string) (value, bool) {
	for s := e; s != nil; s = s.parent {
		if v, ok := s.locals[name]; ok {
			return v, true
		}
	}
	return nil, false
}

// global is a module-level binding.
type global struct {
	name string
	stmt build.Expr // the statement that binds it

	expr      build.Expr     // assignment: the right-hand side
	def       *build.DefStmt // def
	loadLabel string         // load: the module label
	loadName  string         // load: the name in that module
	bad       string         // a binding bzldoc cannot evaluate: why

	state int
	v     value
	err   error
}

// module is a parsed .bzl file.
type module struct {
	path    string // relative to the repository root, with slashes
	file    *build.File
	doc     string
	globals map[string]*global
	order   []string // globals in statement order
	env     *env
}

// evaluator loads modules from the repository and evaluates their globals.
type evaluator struct {
	fsys    fs.FS
	repo    string
	modules map[string]*module
}

// module parses the .bzl file at p (relative to the repository root).
func (ev *evaluator) module(p string) (*module, error) {
	if m, ok := ev.modules[p]; ok {
		return m, nil
	}
	data, err := fs.ReadFile(ev.fsys, p)
	if err != nil {
		return nil, err
	}
	f, err := build.ParseBzl(p, data)
	if err != nil {
		return nil, err
	}
	m := &module{path: p, file: f, globals: map[string]*global{}}
	m.env = &env{mod: m}
	var bad []error
	bind := func(g *global) {
		if prev, ok := m.globals[g.name]; ok {
			start, _ := prev.stmt.Span()
			prev.bad = fmt.Sprintf("%s is bound twice (also at line %d)", g.name, start.Line)
			return
		}
		m.globals[g.name] = g
		m.order = append(m.order, g.name)
	}
	var mutations []build.Expr
	for i, stmt := range f.Stmt {
		switch s := stmt.(type) {
		case *build.CommentBlock:
		case *build.StringExpr:
			if i == 0 || (i == 1 && isComment(f.Stmt[0])) {
				m.doc = cleandoc(s.Value)
			}
		case *build.LoadStmt:
			for j := range s.To {
				bind(&global{name: s.To[j].Name, stmt: s, loadLabel: s.Module.Value, loadName: s.From[j].Name})
			}
		case *build.DefStmt:
			bind(&global{name: s.Name, stmt: s, def: s})
		case *build.AssignExpr:
			id, ok := s.LHSIdent()
			switch {
			case ok && s.Op == "=":
				bind(&global{name: id.Name, stmt: s, expr: s.RHS})
			case ok:
				mutations = append(mutations, s)
			default:
				if targets, ok := identList(s.LHS); ok && s.Op == "=" {
					for _, t := range targets {
						bind(&global{name: t.Name, stmt: s, bad: fmt.Sprintf("%s is bound by a tuple assignment, which bzldoc does not evaluate", t.Name)})
					}
				} else {
					mutations = append(mutations, s)
				}
			}
		case *build.IfStmt, *build.ForStmt:
			bad = append(bad, m.errorf(s, "%s statement at the top level; Bazel does not allow it in a .bzl file", strings.Fields(source(s))[0]))
		default:
			// An expression statement such as X.update(...) or f(X) may
			// mutate the globals it names: those cannot be trusted.
			mutations = append(mutations, s)
		}
	}
	for _, s := range mutations {
		start, _ := s.Span()
		build.Walk(s, func(x build.Expr, _ []build.Expr) {
			if id, ok := x.(*build.Ident); ok {
				if g, ok := m.globals[id.Name]; ok && g.bad == "" {
					g.bad = fmt.Sprintf("%s may be modified by the statement at line %d (%s), which bzldoc does not evaluate", id.Name, start.Line, source(s))
				}
			}
		})
	}
	if err := errors.Join(bad...); err != nil {
		return nil, err
	}
	ev.modules[p] = m
	return m, nil
}

func isComment(e build.Expr) bool {
	_, ok := e.(*build.CommentBlock)
	return ok
}

// identList returns the identifiers of a tuple or list assignment target.
func identList(e build.Expr) ([]*build.Ident, bool) {
	var list []build.Expr
	switch t := e.(type) {
	case *build.TupleExpr:
		list = t.List
	case *build.ListExpr:
		list = t.List
	case *build.ParenExpr:
		return identList(t.X)
	default:
		return nil, false
	}
	var ids []*build.Ident
	for _, x := range list {
		id, ok := x.(*build.Ident)
		if !ok {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

// resolveLabel turns a load() label into a path relative to the repository
// root. from is the loading file.
func (ev *evaluator) resolveLabel(from, label string) (string, error) {
	l := label
	switch {
	case strings.HasPrefix(l, "@@//"), strings.HasPrefix(l, "@//"):
		l = l[strings.Index(l, "//"):]
	case ev.repo != "" && (strings.HasPrefix(l, "@"+ev.repo+"//") || strings.HasPrefix(l, "@@"+ev.repo+"//")):
		l = l[strings.Index(l, "//"):]
	case strings.HasPrefix(l, "@"):
		return "", fmt.Errorf("it comes from another repository (%s), which bzldoc cannot read", label)
	}
	var pkg, name string
	switch {
	case strings.HasPrefix(l, "//"):
		i := strings.Index(l, ":")
		if i < 0 {
			return "", fmt.Errorf("label %q has no ':'", label)
		}
		pkg, name = l[2:i], l[i+1:]
	case strings.HasPrefix(l, ":"):
		pkg, name = path.Dir(from), l[1:]
	default:
		return "", fmt.Errorf("label %q is neither absolute nor relative to the package", label)
	}
	return path.Clean(path.Join(pkg, name)), nil
}

// global evaluates the module-level name.
func (ev *evaluator) global(m *module, g *global, use build.Expr) (value, error) {
	switch g.state {
	case 1:
		return nil, m.errorf(use, "%s refers to itself", g.name)
	case 2:
		return g.v, g.err
	}
	g.state = 1
	g.v, g.err = ev.evalGlobal(m, g)
	g.state = 2
	return g.v, g.err
}

func (ev *evaluator) evalGlobal(m *module, g *global) (value, error) {
	switch {
	case g.bad != "":
		return nil, m.errorf(g.stmt, "%s", g.bad)
	case g.def != nil:
		return &functionValue{mod: m, def: g.def}, nil
	case g.loadLabel != "":
		p, err := ev.resolveLabel(m.path, g.loadLabel)
		if err != nil {
			return nil, m.errorf(g.stmt, "cannot follow %s: %v", g.name, err)
		}
		lm, err := ev.module(p)
		if err != nil {
			return nil, m.errorf(g.stmt, "loading %s for %s: %v", g.loadLabel, g.name, err)
		}
		lg, ok := lm.globals[g.loadName]
		if !ok || strings.HasPrefix(g.loadName, "_") {
			return nil, m.errorf(g.stmt, "%s does not export %s", g.loadLabel, g.loadName)
		}
		return ev.global(lm, lg, lg.stmt)
	default:
		return ev.eval(g.expr, m.env)
	}
}

// force evaluates a lazy value (recursively) and returns what it stands for.
func (ev *evaluator) force(v value) (value, error) {
	for {
		l, ok := v.(*lazy)
		if !ok {
			return v, nil
		}
		switch l.state {
		case 1:
			return nil, l.env.mod.errorf(l.expr, "%s refers to itself", source(l.expr))
		case 0:
			l.state = 1
			l.v, l.err = ev.eval(l.expr, l.env)
			l.state = 2
		}
		if l.err != nil {
			return nil, l.err
		}
		v = l.v
	}
}

func (ev *evaluator) evalForce(e build.Expr, en *env) (value, error) {
	v, err := ev.eval(e, en)
	if err != nil {
		return nil, err
	}
	return ev.force(v)
}

func typeName(v value) string {
	switch v := v.(type) {
	case string:
		return "string"
	case int64:
		return "int"
	case bool:
		return "bool"
	case noneValue:
		return "None"
	case labelValue:
		return "Label"
	case *listValue:
		if v.tuple {
			return "tuple"
		}
		return "list"
	case *dictValue:
		return "dict"
	case *ruleValue:
		if v.repository {
			return "repository rule"
		}
		return "rule"
	case *providerValue:
		return "provider"
	case *extensionValue:
		return "module extension"
	case *tagClassValue:
		return "tag class"
	case *attrValue:
		return "attr." + v.typ
	case *functionValue:
		return "function"
	}
	return fmt.Sprintf("%T", v)
}

// eval evaluates e in en. Elements of lists and dicts stay lazy.
func (ev *evaluator) eval(e build.Expr, en *env) (value, error) {
	m := en.mod
	switch x := e.(type) {
	case *build.StringExpr:
		return x.Value, nil
	case *build.LiteralExpr:
		n, err := strconv.ParseInt(strings.ReplaceAll(x.Token, "_", ""), 0, 64)
		if err != nil {
			return nil, m.errorf(x, "unsupported number %s", x.Token)
		}
		return n, nil
	case *build.Ident:
		if v, ok := en.lookup(x.Name); ok {
			return v, nil
		}
		if g, ok := m.globals[x.Name]; ok {
			return ev.global(m, g, x)
		}
		switch x.Name {
		case "True":
			return true, nil
		case "False":
			return false, nil
		case "None":
			return noneValue{}, nil
		}
		return nil, m.errorf(x, "%s is not defined at the top level of %s (bzldoc evaluates module-level names and load()s only)", x.Name, m.path)
	case *build.ParenExpr:
		return ev.eval(x.X, en)
	case *build.UnaryExpr:
		v, err := ev.evalForce(x.X, en)
		if err != nil {
			return nil, err
		}
		switch n, isInt := v.(int64); {
		case x.Op == "-" && isInt:
			return -n, nil
		case x.Op == "+" && isInt:
			return n, nil
		case x.Op == "not":
			t, err := ev.truth(v)
			return !t, err
		}
		return nil, m.errorf(x, "unsupported operator %s on %s in %s", x.Op, typeName(v), source(x))
	case *build.BinaryExpr:
		return ev.binary(x, en)
	case *build.ConditionalExpr:
		c, err := ev.evalForce(x.Test, en)
		if err != nil {
			return nil, err
		}
		t, err := ev.truth(c)
		if err != nil {
			return nil, err
		}
		if t {
			return ev.eval(x.Then, en)
		}
		return ev.eval(x.Else, en)
	case *build.ListExpr:
		l := &listValue{}
		for _, el := range x.List {
			l.elems = append(l.elems, &lazy{expr: el, env: en})
		}
		return l, nil
	case *build.TupleExpr:
		l := &listValue{tuple: true}
		for _, el := range x.List {
			l.elems = append(l.elems, &lazy{expr: el, env: en})
		}
		return l, nil
	case *build.DictExpr:
		d := newDict()
		for _, kv := range x.List {
			k, err := ev.key(kv.Key, en)
			if err != nil {
				return nil, err
			}
			if _, dup := d.get(k); dup {
				return nil, m.errorf(kv.Key, "duplicate key %s in dict literal", repr(k))
			}
			d.set(k, &lazy{expr: kv.Value, env: en})
		}
		return d, nil
	case *build.Comprehension:
		return ev.comprehension(x, en)
	case *build.IndexExpr:
		c, err := ev.evalForce(x.X, en)
		if err != nil {
			return nil, err
		}
		k, err := ev.evalForce(x.Y, en)
		if err != nil {
			return nil, err
		}
		switch c := c.(type) {
		case *dictValue:
			if v, ok := c.get(k); ok {
				return v, nil
			}
			return nil, m.errorf(x, "key %s not found in %s", repr(k), source(x.X))
		case *listValue:
			i, ok := k.(int64)
			if ok && i < 0 {
				i += int64(len(c.elems))
			}
			if !ok || i < 0 || i >= int64(len(c.elems)) {
				return nil, m.errorf(x, "bad index %s into %s", repr(k), source(x.X))
			}
			return c.elems[i], nil
		}
		return nil, m.errorf(x, "cannot index a %s in %s", typeName(c), source(x))
	case *build.CallExpr:
		return ev.call(x, en)
	}
	return nil, m.errorf(e, "unsupported expression %s (bzldoc evaluates literals, module-level names, +, dict(), comprehensions and rule/provider/attr calls)", source(e))
}

// key evaluates a dict key, which must be a string or an int.
func (ev *evaluator) key(e build.Expr, en *env) (value, error) {
	k, err := ev.evalForce(e, en)
	if err != nil {
		return nil, err
	}
	switch k.(type) {
	case string, int64, bool:
		return k, nil
	}
	return nil, en.mod.errorf(e, "unsupported dict key of type %s: %s", typeName(k), source(e))
}

func (ev *evaluator) truth(v value) (bool, error) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case string:
		return v != "", nil
	case int64:
		return v != 0, nil
	case noneValue:
		return false, nil
	case *listValue:
		return len(v.elems) > 0, nil
	case *dictValue:
		return len(v.keys) > 0, nil
	}
	return true, nil
}

func (ev *evaluator) binary(x *build.BinaryExpr, en *env) (value, error) {
	m := en.mod
	a, err := ev.evalForce(x.X, en)
	if err != nil {
		return nil, err
	}
	b, err := ev.evalForce(x.Y, en)
	if err != nil {
		return nil, err
	}
	switch x.Op {
	case "+":
		switch a := a.(type) {
		case string:
			if b, ok := b.(string); ok {
				return a + b, nil
			}
		case int64:
			if b, ok := b.(int64); ok {
				return a + b, nil
			}
		case *listValue:
			if b, ok := b.(*listValue); ok && a.tuple == b.tuple {
				return &listValue{elems: append(append([]value{}, a.elems...), b.elems...), tuple: a.tuple}, nil
			}
		}
	case "|":
		if a, ok := a.(*dictValue); ok {
			if b, ok := b.(*dictValue); ok {
				d := newDict()
				for _, src := range []*dictValue{a, b} {
					for _, k := range src.keys {
						v, _ := src.get(k)
						d.set(k, v)
					}
				}
				return d, nil
			}
		}
	case "==", "!=":
		ka, okA := a.(string)
		kb, okB := b.(string)
		if okA && okB {
			return (ka == kb) == (x.Op == "=="), nil
		}
	}
	return nil, m.errorf(x, "unsupported operation %s %s %s in %s", typeName(a), x.Op, typeName(b), source(x))
}

// comprehension evaluates [body for ... if ...] or {k: v for ...}.
func (ev *evaluator) comprehension(x *build.Comprehension, en *env) (value, error) {
	m := en.mod
	out := &listValue{}
	d := newDict()
	var loop func(i int, en *env) error
	loop = func(i int, en *env) error {
		if i == len(x.Clauses) {
			if x.Curly {
				kv, ok := x.Body.(*build.KeyValueExpr)
				if !ok {
					return m.errorf(x, "set comprehensions are not Starlark")
				}
				k, err := ev.key(kv.Key, en)
				if err != nil {
					return err
				}
				d.set(k, &lazy{expr: kv.Value, env: en})
				return nil
			}
			out.elems = append(out.elems, &lazy{expr: x.Body, env: en})
			return nil
		}
		switch c := x.Clauses[i].(type) {
		case *build.ForClause:
			it, err := ev.evalForce(c.X, en)
			if err != nil {
				return err
			}
			var elems []value
			switch it := it.(type) {
			case *listValue:
				elems = it.elems
			case *dictValue:
				elems = it.keys
			default:
				return m.errorf(c.X, "cannot iterate over a %s: %s", typeName(it), source(c.X))
			}
			for _, el := range elems {
				inner := &env{mod: m, locals: map[string]value{}, parent: en}
				if err := ev.bindVars(c.Vars, el, inner); err != nil {
					return err
				}
				if err := loop(i+1, inner); err != nil {
					return err
				}
			}
			return nil
		case *build.IfClause:
			v, err := ev.evalForce(c.Cond, en)
			if err != nil {
				return err
			}
			t, err := ev.truth(v)
			if err != nil || !t {
				return err
			}
			return loop(i+1, en)
		}
		return m.errorf(x, "unsupported comprehension clause in %s", source(x))
	}
	if err := loop(0, en); err != nil {
		return nil, err
	}
	if x.Curly {
		return d, nil
	}
	return out, nil
}

// bindVars binds the loop variables of a for clause.
func (ev *evaluator) bindVars(vars build.Expr, v value, en *env) error {
	if id, ok := vars.(*build.Ident); ok {
		en.locals[id.Name] = v
		return nil
	}
	ids, ok := identList(vars)
	if !ok {
		return en.mod.errorf(vars, "unsupported loop variables %s", source(vars))
	}
	fv, err := ev.force(v)
	if err != nil {
		return err
	}
	l, ok := fv.(*listValue)
	if !ok || len(l.elems) != len(ids) {
		return en.mod.errorf(vars, "cannot unpack a %s into %s", typeName(fv), source(vars))
	}
	for i, id := range ids {
		en.locals[id.Name] = l.elems[i]
	}
	return nil
}

// args splits a call's arguments; keyword arguments and **kwargs stay lazy.
func (ev *evaluator) args(x *build.CallExpr, en *env) (*call, error) {
	m := en.mod
	c := &call{mod: m, expr: x, kwargs: map[string]value{}}
	setKw := func(name string, v value, at build.Expr) error {
		if _, dup := c.kwargs[name]; dup {
			return m.errorf(at, "argument %s given twice in %s", name, source(x))
		}
		c.kwargs[name] = v
		c.kwOrder = append(c.kwOrder, name)
		return nil
	}
	for _, a := range x.List {
		switch a := a.(type) {
		case *build.AssignExpr:
			id, ok := a.LHS.(*build.Ident)
			if !ok || a.Op != "=" {
				return nil, m.errorf(a, "unsupported argument %s", source(a))
			}
			if err := setKw(id.Name, &lazy{expr: a.RHS, env: en}, a); err != nil {
				return nil, err
			}
		case *build.UnaryExpr:
			if a.Op != "**" {
				return nil, m.errorf(a, "unsupported argument %s", source(a))
			}
			v, err := ev.evalForce(a.X, en)
			if err != nil {
				return nil, err
			}
			d, ok := v.(*dictValue)
			if !ok {
				return nil, m.errorf(a, "**%s is a %s, not a dict", source(a.X), typeName(v))
			}
			for _, k := range d.keys {
				name, ok := k.(string)
				if !ok {
					return nil, m.errorf(a, "**%s has a non-string key %s", source(a.X), repr(k))
				}
				v, _ := d.get(k)
				if err := setKw(name, v, a); err != nil {
					return nil, err
				}
			}
		default:
			if len(c.kwOrder) > 0 {
				return nil, m.errorf(a, "positional argument after keyword arguments in %s", source(x))
			}
			c.positional = append(c.positional, &lazy{expr: a, env: en})
		}
	}
	return c, nil
}

// builtins are the functions bzldoc understands; the value says how many
// positional arguments each takes and which keyword the first one stands for.
var builtins = map[string][]string{
	"dict":             nil, // handled apart
	"Label":            {"label"},
	"rule":             {"implementation"},
	"repository_rule":  {"implementation"},
	"provider":         {"doc"},
	"module_extension": {"implementation"},
	"tag_class":        {"attrs"},
}

func (ev *evaluator) call(x *build.CallExpr, en *env) (value, error) {
	m := en.mod
	switch fn := x.X.(type) {
	case *build.Ident:
		_, local := en.lookup(fn.Name)
		_, global := m.globals[fn.Name]
		if local || global {
			v, err := ev.evalForce(fn, en)
			if err != nil {
				return nil, err
			}
			return nil, m.errorf(x, "unsupported call of the %s %s in %s: bzldoc does not run functions", typeName(v), fn.Name, source(x))
		}
		pos, ok := builtins[fn.Name]
		if !ok {
			return nil, m.errorf(x, "unsupported call %s (bzldoc understands dict, Label, rule, repository_rule, provider, module_extension, tag_class and attr.*)", source(x))
		}
		c, err := ev.args(x, en)
		if err != nil {
			return nil, err
		}
		if fn.Name == "dict" {
			return ev.dictCall(c)
		}
		if len(c.positional) > len(pos) {
			return nil, m.errorf(x, "%s takes at most %d positional argument(s): %s", fn.Name, len(pos), source(x))
		}
		for i, p := range c.positional {
			if _, dup := c.kwargs[pos[i]]; dup {
				return nil, m.errorf(x, "%s given twice in %s", pos[i], source(x))
			}
			c.kwargs[pos[i]] = p
			c.kwOrder = append(c.kwOrder, pos[i])
		}
		c.positional = nil
		switch fn.Name {
		case "Label":
			v, ok := c.kwargs["label"]
			if !ok {
				return nil, m.errorf(x, "Label() needs a label")
			}
			s, err := ev.forceString(c, v, "label")
			if err != nil {
				return nil, err
			}
			return labelValue(s), nil
		case "rule":
			return &ruleValue{call: *c}, nil
		case "repository_rule":
			return &ruleValue{call: *c, repository: true}, nil
		case "provider":
			return &providerValue{call: *c}, nil
		case "module_extension":
			return &extensionValue{call: *c}, nil
		case "tag_class":
			return &tagClassValue{call: *c}, nil
		}
	case *build.DotExpr:
		if id, ok := fn.X.(*build.Ident); ok && id.Name == "attr" {
			if _, global := m.globals["attr"]; !global {
				if _, ok := attrTypes[fn.Name]; !ok {
					return nil, m.errorf(x, "unknown attribute type attr.%s", fn.Name)
				}
				c, err := ev.args(x, en)
				if err != nil {
					return nil, err
				}
				if len(c.positional) > 0 {
					return nil, m.errorf(x, "attr.%s takes keyword arguments only", fn.Name)
				}
				return &attrValue{call: *c, typ: fn.Name}, nil
			}
		}
		recv, err := ev.evalForce(fn.X, en)
		if err != nil {
			return nil, err
		}
		return ev.method(x, fn.Name, recv, en)
	}
	return nil, m.errorf(x, "unsupported call %s", source(x))
}

// method evaluates the few methods that attribute and doc definitions use.
func (ev *evaluator) method(x *build.CallExpr, name string, recv value, en *env) (value, error) {
	m := en.mod
	c, err := ev.args(x, en)
	if err != nil {
		return nil, err
	}
	switch r := recv.(type) {
	case *dictValue:
		if len(c.positional) == 0 && len(c.kwargs) == 0 {
			l := &listValue{}
			for _, k := range r.keys {
				v, _ := r.get(k)
				switch name {
				case "keys":
					l.elems = append(l.elems, k)
				case "values":
					l.elems = append(l.elems, v)
				case "items":
					l.elems = append(l.elems, &listValue{elems: []value{k, v}, tuple: true})
				default:
					return nil, m.errorf(x, "unsupported dict method %s in %s", name, source(x))
				}
			}
			return l, nil
		}
	case string:
		if name == "join" && len(c.positional) == 1 && len(c.kwargs) == 0 {
			v, err := ev.force(c.positional[0])
			if err != nil {
				return nil, err
			}
			l, ok := v.(*listValue)
			if !ok {
				return nil, m.errorf(x, "join of a %s in %s", typeName(v), source(x))
			}
			parts := make([]string, len(l.elems))
			for i, el := range l.elems {
				s, err := ev.forceString(c, el, "element")
				if err != nil {
					return nil, err
				}
				parts[i] = s
			}
			return strings.Join(parts, r), nil
		}
	}
	return nil, m.errorf(x, "unsupported method call %s on a %s", source(x), typeName(recv))
}

// dictCall evaluates dict(positional, k = v, **kwargs) with Starlark's
// update semantics: later keys replace earlier ones in place.
func (ev *evaluator) dictCall(c *call) (value, error) {
	m := c.mod
	d := newDict()
	if len(c.positional) > 1 {
		return nil, m.errorf(c.expr, "dict takes at most one positional argument: %s", source(c.expr))
	}
	if len(c.positional) == 1 {
		v, err := ev.force(c.positional[0])
		if err != nil {
			return nil, err
		}
		switch v := v.(type) {
		case *dictValue:
			for _, k := range v.keys {
				val, _ := v.get(k)
				d.set(k, val)
			}
		case *listValue:
			for _, el := range v.elems {
				pair, err := ev.force(el)
				if err != nil {
					return nil, err
				}
				p, ok := pair.(*listValue)
				if !ok || len(p.elems) != 2 {
					return nil, m.errorf(c.expr, "dict() of a list whose element is a %s, not a pair: %s", typeName(pair), source(c.expr))
				}
				k, err := ev.force(p.elems[0])
				if err != nil {
					return nil, err
				}
				switch k.(type) {
				case string, int64, bool:
				default:
					return nil, m.errorf(c.expr, "unsupported dict key of type %s in %s", typeName(k), source(c.expr))
				}
				d.set(k, p.elems[1])
			}
		default:
			return nil, m.errorf(c.expr, "dict() of a %s: %s", typeName(v), source(c.expr))
		}
	}
	for _, name := range c.kwOrder {
		d.set(name, c.kwargs[name])
	}
	return d, nil
}

// forceString forces v and checks that it is a string.
func (ev *evaluator) forceString(c *call, v value, what string) (string, error) {
	f, err := ev.force(v)
	if err != nil {
		return "", err
	}
	s, ok := f.(string)
	if !ok {
		return "", c.mod.errorf(c.expr, "%s is a %s, not a string, in %s", what, typeName(f), source(c.expr))
	}
	return s, nil
}

// repr is the Starlark text of a fully evaluable value; lazy parts are
// forced.
func (ev *evaluator) repr(v value) (string, error) {
	v, err := ev.force(v)
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case *listValue:
		parts := make([]string, len(v.elems))
		for i, el := range v.elems {
			if parts[i], err = ev.repr(el); err != nil {
				return "", err
			}
		}
		if v.tuple {
			if len(parts) == 1 {
				return "(" + parts[0] + ",)", nil
			}
			return "(" + strings.Join(parts, ", ") + ")", nil
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	case *dictValue:
		parts := make([]string, len(v.keys))
		for i, k := range v.keys {
			val, _ := v.get(k)
			s, err := ev.repr(val)
			if err != nil {
				return "", err
			}
			parts[i] = repr(k) + ": " + s
		}
		return "{" + strings.Join(parts, ", ") + "}", nil
	case labelValue:
		l := string(v)
		if ev.repo != "" && strings.HasPrefix(l, "//") {
			l = "@" + ev.repo + l
		}
		return "Label(" + strconv.Quote(l) + ")", nil
	case string, int64, bool, noneValue:
		return repr(v), nil
	}
	return "", fmt.Errorf("a %s has no literal form", typeName(v))
}

// repr is the Starlark text of a scalar.
func repr(v value) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		if v {
			return "True"
		}
		return "False"
	case noneValue:
		return "None"
	}
	return typeName(v)
}
