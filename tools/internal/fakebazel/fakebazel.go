// Package fakebazel executes .bzl files the way Bazel loads them, without
// Bazel: go.starlark.net runs them in the dialect of Bazel's .bzl files,
// against recording stubs of what Bazel predeclares (rule, attr, provider,
// repository_rule, module_extension, tag_class, Label, select, struct,
// json, native, ...), as Stardoc does with its fake build API.
//
// A stub records its arguments and where it was called; what a build
// rule's implementation would do is not run. A name the fake does not
// predeclare is an error when the file is loaded, so a .bzl file that
// starts using one cannot silently escape the tools built on it (the
// reference generator tools/internal/bzldoc and the tests of
// tools/internal/bzlexec).
//
// go.starlark.net is not Bazel: its repr() of a string escapes control
// and non-printable characters differently, its repr() of a Label is the
// Label's str(), and it has a few built-ins Bazel lacks.
package fakebazel

import (
	"errors"
	"fmt"
	"path"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Dialect is the dialect of Bazel's .bzl files, go.starlark.net's
// defaults: no while, no recursion, no if or for at the top level, no
// reassigned globals, load() binds file-local names.
var Dialect = &syntax.FileOptions{}

// labelKey is the thread-local that holds the label of the file a thread
// executes.
const labelKey = "fakebazel.label"

// ErrNotRead is what a Loader's Read returns (wrapped) for a file it
// does not read: the names loaded from it are bound to values that fail
// when used (see Unread), so that a file can be executed as long as it
// does not use them at load time.
var ErrNotRead = errors.New("not read")

// Loader executes .bzl files once each and records what they define.
type Loader struct {
	// Own is the canonical name of the repository whose files are at the
	// root of Read's paths ("" for the main repository).
	Own string
	// Apparent maps apparent repository names (as written in "@NAME//")
	// to canonical ones; a name it does not map is taken as canonical.
	Apparent map[string]string
	// Read returns the source of the file that the label names.
	Read func(l *Label) ([]byte, error)
	// Predeclared are the names every file sees; New fills it with the
	// stubs, which the caller may replace.
	Predeclared starlark.StringDict
	// CallRule instantiates a rule or repository rule; nil: the call
	// does nothing and returns None.
	CallRule func(thread *starlark.Thread, r *Rule, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)
	// Print receives print() output; nil drops it.
	Print func(thread *starlark.Thread, msg string)

	modules map[Label]*Module
	byPath  map[string]*Label
}

// Module is an executed (or failed) .bzl file.
type Module struct {
	Label   *Label
	Path    string
	Globals starlark.StringDict
	Err     error
	// Lines are the lines where the file binds its globals (the first
	// binding of each).
	Lines map[string]int

	done  bool
	loads map[string][]string // module string -> names loaded from it
}

// New returns a Loader with the stubs predeclared.
func New(own string, read func(l *Label) ([]byte, error)) *Loader {
	ld := &Loader{Own: own, Read: read, modules: map[Label]*Module{}, byPath: map[string]*Label{}}
	ld.Predeclared = ld.stubs()
	return ld
}

// Path is where the loader finds the file of the label: relative to the
// root for the own repository, under external/REPO/ for others.
func (ld *Loader) Path(l *Label) string {
	p := path.Join(l.Pkg, l.Name)
	if l.Repo == ld.Own {
		return p
	}
	return "external/" + l.Repo + "/" + p
}

// NewThread returns a thread that executes code as if written in the file
// of the label (nil: the main repository's root package).
func (ld *Loader) NewThread(l *Label) *starlark.Thread {
	if l == nil {
		l = &Label{}
	}
	th := &starlark.Thread{Name: l.String(), Load: ld.load}
	if ld.Print != nil {
		th.Print = ld.Print
	}
	th.SetLocal(labelKey, l)
	return th
}

// Parse parses a label as written in the file of base.
func (ld *Loader) Parse(base *Label, s string) (*Label, error) {
	return parseLabel(base, s, func(name string) string {
		if c, ok := ld.Apparent[name]; ok {
			return c
		}
		return name
	})
}

// CallerLabel is the label of the file whose Starlark code called the
// running built-in.
func (ld *Loader) CallerLabel(thread *starlark.Thread) *Label {
	if thread.CallStackDepth() >= 2 {
		if l, ok := ld.byPath[thread.CallFrame(1).Pos.Filename()]; ok {
			return l
		}
	}
	l, _ := thread.Local(labelKey).(*Label)
	if l == nil {
		l = &Label{}
	}
	return l
}

// load is the threads' Load: the label is resolved relative to the file
// that loads it.
func (ld *Loader) load(thread *starlark.Thread, module string) (starlark.StringDict, error) {
	from, _ := thread.Local(labelKey).(*Label)
	if from == nil {
		from = &Label{}
	}
	l, err := ld.Parse(from, module)
	if err != nil {
		return nil, err
	}
	var names []string
	if m := ld.modules[*from]; m != nil {
		names = m.loads[module]
	}
	m := ld.module(l, module, names)
	return m.Globals, m.Err
}

// Module executes the file of the label once and returns it.
func (ld *Loader) Module(l *Label) *Module {
	return ld.module(l, l.String(), nil)
}

func (ld *Loader) module(l *Label, written string, names []string) *Module {
	if m, ok := ld.modules[*l]; ok {
		if !m.done {
			return &Module{Label: l, Err: fmt.Errorf("load cycle through %s", written)}
		}
		if m.Err != nil && errors.Is(m.Err, ErrNotRead) {
			m.bindUnread(written, names)
			return &Module{Label: l, Globals: m.Globals}
		}
		return m
	}
	m := &Module{Label: l, Path: ld.Path(l), loads: map[string][]string{}, Lines: map[string]int{}}
	ld.modules[*l] = m
	ld.byPath[m.Path] = l
	defer func() { m.done = true }()
	src, err := ld.Read(l)
	if errors.Is(err, ErrNotRead) {
		m.Err = err
		m.Globals = starlark.StringDict{}
		m.bindUnread(written, names)
		return &Module{Label: l, Globals: m.Globals}
	}
	if err != nil {
		// Not kept: the file may exist later (a repository written by a
		// test, for example).
		delete(ld.modules, *l)
		delete(ld.byPath, m.Path)
		m.Err = err
		return m
	}
	m.Globals, m.Err = ld.exec(m, src)
	return m
}

// bindUnread binds the names loaded from a file that is not read.
func (m *Module) bindUnread(written string, names []string) {
	for _, n := range names {
		if _, ok := m.Globals[n]; !ok {
			m.Globals[n] = &Unread{Sym: n, From: written, Why: m.Err}
		}
	}
}

func (ld *Loader) exec(m *Module, src []byte) (starlark.StringDict, error) {
	f, err := Dialect.Parse(m.Path, src, syntax.RetainComments)
	if err != nil {
		return nil, positioned(err)
	}
	for _, stmt := range f.Stmts {
		switch s := stmt.(type) {
		case *syntax.LoadStmt:
			for _, id := range s.From {
				m.loads[s.ModuleName()] = append(m.loads[s.ModuleName()], id.Name)
			}
		case *syntax.DefStmt:
			m.bind(s.Name)
		case *syntax.AssignStmt:
			syntax.Walk(s.LHS, func(n syntax.Node) bool {
				if id, ok := n.(*syntax.Ident); ok {
					m.bind(id)
				}
				return true
			})
		}
	}
	prog, err := starlark.FileProgram(f, ld.Predeclared.Has)
	if err != nil {
		return nil, positioned(err)
	}
	g, err := prog.Init(ld.NewThread(m.Label), ld.Predeclared)
	if err != nil {
		return nil, positioned(err)
	}
	// As Bazel does, a rule or provider is named by the global it is
	// first exported as.
	for _, name := range g.Keys() {
		switch v := g[name].(type) {
		case *Rule:
			if v.Exported == "" {
				v.Exported = name
			}
		case *Provider:
			if v.Exported == "" {
				v.Exported = name
			}
		}
	}
	return g, nil
}

func (m *Module) bind(id *syntax.Ident) {
	if _, ok := m.Lines[id.Name]; !ok {
		m.Lines[id.Name] = int(id.NamePos.Line)
	}
}

// PosError is an error at a line of a .bzl file.
type PosError struct {
	File string
	Line int
	Msg  string
	// Err is the error it stands for, if any (a *FailError, say).
	Err error
}

func (e *PosError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }
func (e *PosError) Unwrap() error { return e.Err }

// Errorf returns a *PosError at pos.
func Errorf(pos syntax.Position, format string, args ...any) error {
	return &PosError{File: pos.Filename(), Line: int(pos.Line), Msg: fmt.Sprintf(format, args...)}
}

// positioned turns a Starlark error into a *PosError at the innermost
// Starlark frame, for messages that name the file and line.
func positioned(err error) error {
	var pe *PosError
	if errors.As(err, &pe) {
		return err
	}
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		for i := 0; i < len(ee.CallStack); i++ {
			if pos := ee.CallStack.At(i).Pos; pos.IsValid() && pos.Filename() != "<builtin>" {
				return &PosError{File: pos.Filename(), Line: int(pos.Line), Msg: ee.Msg, Err: ee}
			}
		}
		return err
	}
	var el resolve.ErrorList
	if errors.As(err, &el) && len(el) > 0 {
		errs := make([]error, len(el))
		for i, e := range el {
			errs[i] = Errorf(e.Pos, "%s", e.Msg)
		}
		return errors.Join(errs...)
	}
	var se syntax.Error
	if errors.As(err, &se) {
		return Errorf(se.Pos, "%s", se.Msg)
	}
	return err
}

// Describe is an error with its Starlark stack, where it has one.
func Describe(err error) string {
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		return ee.Backtrace()
	}
	return fmt.Sprint(err)
}

// Unread is a name loaded from a file that is not read (ErrNotRead):
// using it fails with a message that says where it comes from.
type Unread struct {
	Sym, From string
	Why       error
}

var (
	_ starlark.HasAttrs = (*Unread)(nil)
	_ starlark.Callable = (*Unread)(nil)
)

func (u *Unread) String() string { return u.Type() }

// Type is what Starlark's error messages name: the name and why it
// cannot be used.
func (u *Unread) Type() string {
	return fmt.Sprintf("%s (loaded from %s: %v)", u.Sym, u.From, u.Why)
}
func (u *Unread) Freeze()               {}
func (u *Unread) Truth() starlark.Bool  { return true }
func (u *Unread) Hash() (uint32, error) { return 0, u.err() }
func (u *Unread) Attr(string) (starlark.Value, error) {
	return nil, u.err()
}
func (u *Unread) AttrNames() []string { return nil }
func (u *Unread) CallInternal(*starlark.Thread, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return nil, u.err()
}
func (u *Unread) Name() string { return u.Sym }
func (u *Unread) err() error   { return errors.New(u.Type() + " cannot be used") }
