package expression

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/bizevents/bizevents/engine/errcode"
)

// Error is an expression's failure: a compile error (code
// invalid_expression), a run-time error (expression_failed), a budget or
// time overrun (expression_budget_exceeded) or a cancellation (canceled).
// Line and Column are 1-based and count runes inside the expression's
// source; they are 0 when the failure has no place (a time overrun found
// between two steps still has the place of the step).
type Error struct {
	Code   errcode.Code
	Line   int
	Column int
	Msg    string
	Err    error // the underlying error, if any
}

// Error renders the message with its place.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return e.Msg
}

// ErrorCode returns the error's stable code.
func (e *Error) ErrorCode() errcode.Code { return e.Code }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Env is the environment expressions are compiled against and evaluated in:
// the top-level variables and their types. It is immutable and safe for
// concurrent use.
type Env struct {
	vars     []Field
	rt       reflect.Type // the struct type of the environment
	runIdx   int          // index of the hidden run-state field
	root     *codec
	b        *builder
	names    *strings.Replacer // Go struct type strings → Type strings, for messages
	byString map[string]Type   // Type strings → Types, for suggestions
	limits   Limits
}

// runField is the name of the hidden variable that carries one
// evaluation's budget to the functions. Users cannot write names that
// start with '$': Compile refuses them.
const runField = "$run"

// NewEnv builds the environment: a struct type made with reflect.StructOf
// (Go field names F0.. with `expr:"<name>"` tags, since names like
// contoso_totalspent or PrimaryEntityId must be usable as written) so that
// a misspelled field, at any depth of an Object, is a compile error. Map
// and Any stay dynamic. Names that are not identifiers, duplicate names,
// a zero Kind and top-level names that are functions (now, len...) are
// refused with an error. Programs compiled from it run with
// [Limits.WithDefaults]; see [Env.WithLimits].
func NewEnv(vars []Field) (*Env, error) {
	b := &builder{structs: map[reflect.Type]Type{}}
	for _, v := range vars {
		if isFunction(v.Name) {
			return nil, fmt.Errorf("environment: variable %s would hide the function of that name", v.Name)
		}
	}
	fs, err := b.fields(vars, "")
	if err != nil {
		return nil, err
	}
	fs = append(fs, reflect.StructField{
		Name: "Run",
		Type: reflect.TypeFor[*runState](),
		Tag:  reflect.StructTag(fmt.Sprintf(`expr:%q json:"-"`, runField)),
	})
	rt := reflect.StructOf(fs)
	e := &Env{vars: vars, rt: rt, runIdx: len(fs) - 1, b: b, limits: Limits{}.WithDefaults()}
	e.root = newCodec(Type{Kind: Object, Fields: vars}, rt)
	b.structs[rt] = Type{Kind: Object, Fields: vars}

	// Messages from the checker name Go types; show ours instead, longest
	// first so that an outer struct is replaced before its parts.
	type pair struct{ from, to string }
	var pairs []pair
	e.byString = map[string]Type{}
	for st, t := range b.structs {
		pairs = append(pairs, pair{st.String(), t.String()})
		e.byString[t.String()] = t
	}
	sort.Slice(pairs, func(i, j int) bool { return len(pairs[i].from) > len(pairs[j].from) })
	args := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p.from, p.to)
	}
	e.names = strings.NewReplacer(args...)
	return e, nil
}

// Vars returns the environment's variables as NewEnv got them.
func (e *Env) Vars() []Field { return e.vars }

// WithLimits returns a copy of the environment whose programs run with l
// (zero fields take the defaults). Programs compiled earlier keep theirs.
func (e *Env) WithLimits(l Limits) *Env {
	c := *e
	c.limits = l.WithDefaults()
	return &c
}

// Program is a compiled, type-checked expression. It is immutable and
// safe for concurrent use (each Run needs its own [Values]).
type Program struct {
	env    *Env
	prog   *vm.Program
	src    string
	typ    Type
	want   Kind
	limits Limits
}

// Type returns the result type as the checker inferred it (Any when
// unknown).
func (p *Program) Type() Type { return p.typ }

// Source returns the expression as written.
func (p *Program) Source() string { return p.src }

// Compile type-checks src against the environment. want is the required
// result kind (Bool for conditions and filters; Any for a value; Float
// also takes an Int). Errors are *Error (code invalid_expression) with the
// line and column inside src (1-based) and a message a user understands
// ("unknown field contoso_totalspnt of trigger.InputParameters").
func (e *Env) Compile(src string, want Kind) (*Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Code: errcode.InvalidExpression, Line: 1, Column: 1, Msg: "the expression is empty"}
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, e.compileError(src, err)
	}
	if err := e.precheck(src, tree); err != nil {
		return nil, err
	}
	opts := []expr.Option{
		expr.Env(reflect.New(e.rt).Elem().Interface()),
		expr.Timezone("UTC"),
		expr.DisableBuiltin("now"),
		expr.MaxNodes(e.limits.MaxNodes),
	}
	opts = append(opts, functionOptions()...)
	opts = append(opts,
		expr.Patch(runArgPatcher{}),  // name-based: before types are needed
		expr.Patch(&budgetPatcher{}), // typed: ticks in loops, charged concatenation
	)
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, e.compileError(src, err)
	}
	p := &Program{env: e, prog: prog, src: src, want: want, limits: e.limits}
	p.typ = e.b.typeOf(prog.Node().Type())
	if !fits(p.typ.Kind, want) {
		return nil, &Error{Code: errcode.InvalidExpression, Line: 1, Column: 1,
			Msg: fmt.Sprintf("the expression gives %s, want %s", article(p.typ), wantName(want))}
	}
	return p, nil
}

func fits(got, want Kind) bool {
	return want == Any || got == Any || got == want || (want == Float && got == Int)
}

func wantName(k Kind) string {
	if k == Bool {
		return "a bool (true or false)"
	}
	return article(Type{Kind: k})
}

func article(t Type) string {
	switch t.Kind {
	case Int, Object, Any:
		return "an " + t.String()
	}
	return "a " + t.String()
}

// compileError turns the parser's or checker's error into an *Error with
// our type names and a 1-based column.
func (e *Env) compileError(src string, err error) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return &Error{Code: errcode.InvalidExpression, Msg: err.Error(), Err: err}
	}
	line, col := place(src, fe.From)
	msg := e.names.Replace(fe.Message)
	msg = strings.ReplaceAll(msg, "*expression.runState", "internal state")
	// The checker's "type T has no field x" for fields the precheck could
	// not place (inside predicates): say it as the precheck does.
	if m := noField.FindStringSubmatch(msg); m != nil {
		msg = "unknown field " + m[2] + " of " + m[1]
		if t, ok := e.byString[m[1]]; ok {
			msg += suggest(m[2], t.Fields)
		}
	}
	return &Error{Code: errcode.InvalidExpression, Line: line, Column: col, Msg: msg, Err: err}
}

var noField = regexp.MustCompile(`^type (.*) has no field (\S+)$`)

// place returns the 1-based line and column of the rune at offset from.
func place(src string, from int) (line, col int) {
	line, col = 1, 1
	n := 0
	for _, r := range src {
		if n == from {
			break
		}
		n++
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// precheck walks the parsed tree before the checker does, to refuse names
// users may not write and to report an unknown field with its path, which
// the checker can only name by its Go struct type.
func (e *Env) precheck(src string, tree *parser.Tree) error {
	pc := &prechecker{env: e, lets: map[string]bool{}, collectOnly: true}
	ast.Walk(&tree.Node, pc) // collects let names first: they shadow variables
	pc.collectOnly = false
	ast.Walk(&tree.Node, pc)
	if pc.err != nil {
		line, col := place(src, pc.errAt.From)
		return &Error{Code: errcode.InvalidExpression, Line: line, Column: col, Msg: pc.err.Error()}
	}
	return nil
}

type prechecker struct {
	env         *Env
	lets        map[string]bool
	collectOnly bool
	err         error
	errAt       file.Location
}

func (pc *prechecker) fail(loc file.Location, format string, args ...any) {
	if pc.err == nil {
		pc.err, pc.errAt = fmt.Errorf(format, args...), loc
	}
}

func (pc *prechecker) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.VariableDeclaratorNode:
		pc.lets[n.Name] = true
		if strings.HasPrefix(n.Name, "$") {
			pc.fail(n.Location(), "names starting with $ are reserved")
		}
	case *ast.IdentifierNode:
		if pc.collectOnly {
			return
		}
		if n.Value == "$env" {
			pc.fail(n.Location(), "$env is not available: name the variable instead")
		} else if strings.HasPrefix(n.Value, "$") {
			pc.fail(n.Location(), "unknown name %s", n.Value)
		}
	case *ast.MemberNode:
		if pc.collectOnly {
			return
		}
		pc.member(n)
	}
}

// member resolves a chain like trigger.InputParameters.Amount through the
// declared Types and reports the first unknown field of an Object.
func (pc *prechecker) member(n *ast.MemberNode) {
	prop, ok := n.Property.(*ast.StringNode)
	if !ok {
		return
	}
	t, path, ok := pc.resolve(n.Node)
	if !ok || t.Kind != Object {
		return
	}
	for _, f := range t.Fields {
		if f.Name == prop.Value {
			return
		}
	}
	pc.fail(n.Property.Location(), "unknown field %s of %s%s", prop.Value, path, suggest(prop.Value, t.Fields))
}

// resolve returns the declared type of a chain of variables and constant
// members, and its path; ok is false where the chain is not static.
func (pc *prechecker) resolve(node ast.Node) (Type, string, bool) {
	switch n := node.(type) {
	case *ast.IdentifierNode:
		if pc.lets[n.Value] {
			return Type{}, "", false
		}
		for _, v := range pc.env.vars {
			if v.Name == n.Value {
				return v.Type, v.Name, true
			}
		}
	case *ast.MemberNode:
		if n.Optional {
			return Type{}, "", false
		}
		t, path, ok := pc.resolve(n.Node)
		if !ok {
			return Type{}, "", false
		}
		switch p := n.Property.(type) {
		case *ast.StringNode:
			if t.Kind != Object {
				return Type{}, "", false
			}
			for _, f := range t.Fields {
				if f.Name == p.Value {
					return f.Type, path + "." + p.Value, true
				}
			}
		case *ast.IntegerNode:
			if t.Kind == List {
				return t.elem(), fmt.Sprintf("%s[%d]", path, p.Value), true
			}
		}
	case *ast.ChainNode:
		return pc.resolve(n.Node)
	}
	return Type{}, "", false
}

// suggest names a field that differs from name only in case, or by one or
// two edits.
func suggest(name string, fs []Field) string {
	best, bestD := "", 3
	for _, f := range fs {
		if strings.EqualFold(f.Name, name) {
			return fmt.Sprintf(" (did you mean %s?)", f.Name)
		}
		if d := distance(strings.ToLower(f.Name), strings.ToLower(name)); d < bestD {
			best, bestD = f.Name, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	return ""
}

// distance is the Levenshtein distance of two short strings.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
