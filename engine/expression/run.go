package expression

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/bizevents/bizevents/engine/errcode"
)

// The default limits.
const (
	// DefaultMemoryBudget is expr's VM budget: the number of elements of
	// the arrays, maps and ranges an evaluation creates (1..n counts n),
	// and the bytes of repeat(). expr's own default.
	DefaultMemoryBudget uint = 1_000_000
	// DefaultMaxStringBytes bounds the bytes of strings an evaluation
	// builds with +.
	DefaultMaxStringBytes uint = 1 << 20
	// DefaultMaxSteps bounds the loop iterations of an evaluation: the
	// predicate calls of map, filter, all, any, count, reduce, ...
	DefaultMaxSteps uint = 1_000_000
	// DefaultTimeLimit bounds an evaluation's time, checked between loop
	// iterations.
	DefaultTimeLimit = 500 * time.Millisecond
	// DefaultMaxNodes bounds the size of an expression's syntax tree at
	// compile time. expr's own default.
	DefaultMaxNodes uint = 10_000
)

// Limits bound one evaluation. A zero field takes its default.
//
// What is bounded: memory in arrays, maps and ranges the expression creates
// (MemoryBudget, counted by expr's VM); bytes of strings built by +
// (MaxStringBytes); loop iterations (MaxSteps); time, checked every 64
// loop iterations against TimeLimit and the context. An expression without
// loops runs a number of instructions bounded by its size (MaxNodes).
//
// What is not: a single built-in call runs to its end, so its time and
// memory are bounded only by its inputs: sort, join, toJSON, flatten,
// replace or split of large values (the inputs themselves are bounded by the
// event size and the budgets above); replace(s, "", s) or
// join(map(1..n, s)) grow quadratically in one step. No CPU preemption
// exists in expr: the time limit is checked between iterations, never
// inside one.
type Limits struct {
	MemoryBudget   uint          // default DefaultMemoryBudget
	MaxStringBytes uint          // default DefaultMaxStringBytes
	MaxSteps       uint          // default DefaultMaxSteps
	TimeLimit      time.Duration // default DefaultTimeLimit; a context deadline also stops a run
	MaxNodes       uint          // compile time; default DefaultMaxNodes
	// Now is the clock of now(); default time.Now. Set it for deterministic
	// runs (tests, replays).
	Now func() time.Time
}

// WithDefaults returns a copy with zero fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	if l.MemoryBudget == 0 {
		l.MemoryBudget = DefaultMemoryBudget
	}
	if l.MaxStringBytes == 0 {
		l.MaxStringBytes = DefaultMaxStringBytes
	}
	if l.MaxSteps == 0 {
		l.MaxSteps = DefaultMaxSteps
	}
	if l.TimeLimit == 0 {
		l.TimeLimit = DefaultTimeLimit
	}
	if l.MaxNodes == 0 {
		l.MaxNodes = DefaultMaxNodes
	}
	return l
}

// WithLimits returns a copy of the program that runs with l (zero fields
// take the defaults; MaxNodes has no effect after compiling).
func (p *Program) WithLimits(l Limits) *Program {
	c := *p
	c.limits = l.WithDefaults()
	return &c
}

var vms = sync.Pool{New: func() any { return new(vm.VM) }}

// Run evaluates the program on v with the program's [Limits]. The result
// is converted to JSON-shaped Go values: map[string]any, []any, float64,
// int64, string, bool, nil; a time.Time becomes an RFC 3339 string (UTC
// kept as Z, nanoseconds when present) and a time.Duration its String()
// ("1h30m0s"). Failures are *[Error]: expression_budget_exceeded for a
// memory, string, step or time overrun, canceled when ctx is done,
// expression_failed for a run-time error (nil dereference, division by
// zero, a wrong type at run time in an Any part, a result JSON cannot
// hold).
func (p *Program) Run(ctx context.Context, v *Values) (any, error) {
	out, err := p.run(ctx, v)
	if err != nil {
		return nil, err
	}
	if p.want != Any && p.want != Float && out != nil {
		if got := p.env.b.typeOf(reflect.TypeOf(out)).Kind; got != p.want {
			return nil, &Error{Code: errcode.ExpressionFailed, Msg: fmt.Sprintf("the expression gave %s, want %s", article(Type{Kind: got}), wantName(p.want))}
		}
	}
	res, err := toJSON(out, p.env.b)
	if err != nil {
		return nil, &Error{Code: errcode.ExpressionFailed, Msg: err.Error(), Err: err}
	}
	return res, nil
}

// RunBool evaluates a condition: like Run, but the result must be a bool
// (a nil or other result is an expression_failed *Error).
func (p *Program) RunBool(ctx context.Context, v *Values) (bool, error) {
	out, err := p.run(ctx, v)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		if out == nil {
			return false, &Error{Code: errcode.ExpressionFailed, Msg: errNilBool.Error(), Err: errNilBool}
		}
		return false, &Error{Code: errcode.ExpressionFailed, Msg: fmt.Sprintf("the condition gave %s, want a bool (true or false)", jsonKind(out))}
	}
	return b, nil
}

func (p *Program) run(ctx context.Context, v *Values) (any, error) {
	if v == nil || v.env.root != p.env.root {
		return nil, errors.New("expression: the values were made by another environment")
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{Code: errcode.Canceled, Msg: "the evaluation was canceled: " + err.Error(), Err: err}
	}
	v.run = runState{ctx: ctx, limits: &p.limits}
	m := vms.Get().(*vm.VM)
	m.MemoryBudget = p.limits.MemoryBudget
	out, err := m.Run(p.prog, v.iface)
	clear(m.Variables) // let go of the last run's values
	vms.Put(m)
	if err != nil {
		return nil, p.runError(err, v.run.exceeded)
	}
	return out, nil
}

// runError classifies a VM error. expr reports its memory budget by a
// panic with the text "memory budget exceeded", which Run recovers into a
// *file.Error with that message: there is no sentinel to match.
func (p *Program) runError(err error, exceeded error) error {
	e := &Error{Code: errcode.ExpressionFailed, Msg: err.Error(), Err: err}
	var fe *file.Error
	if errors.As(err, &fe) {
		e.Msg = p.env.names.Replace(fe.Message)
		e.Line, e.Column = place(p.src, fe.From)
	}
	var be *budgetError
	switch {
	case errors.As(err, &be) || (exceeded != nil && errors.As(exceeded, &be)):
		e.Code, e.Msg = errcode.ExpressionBudget, be.Error()
	case exceeded != nil && (errors.Is(exceeded, context.Canceled) || errors.Is(exceeded, context.DeadlineExceeded)):
		e.Code, e.Msg, e.Err = errcode.Canceled, "the evaluation was canceled: "+exceeded.Error(), exceeded
	case strings.Contains(e.Msg, "memory budget exceeded"):
		e.Code = errcode.ExpressionBudget
		e.Msg = fmt.Sprintf("the expression used more memory than its budget (%d elements)", p.limits.MemoryBudget)
	}
	return e
}

// toJSON converts a result to JSON-shaped Go values.
func toJSON(v any, b *builder) (any, error) {
	switch x := v.(type) {
	case nil, string, bool, float64:
		if f, ok := x.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			return nil, fmt.Errorf("the result %v is not a finite number", f)
		}
		return x, nil
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case time.Duration:
		return x.String(), nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			j, err := toJSON(e, b)
			if err != nil {
				return nil, err
			}
			out[k] = j
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			j, err := toJSON(e, b)
			if err != nil {
				return nil, err
			}
			out[i] = j
		}
		return out, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return float64(u), nil
		}
		return int64(u), nil
	case reflect.Float32, reflect.Float64:
		return toJSON(rv.Float(), b)
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		return toJSON(rv.Elem().Interface(), b)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return []any{}, nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			j, err := toJSON(rv.Index(i).Interface(), b)
			if err != nil {
				return nil, err
			}
			out[i] = j
		}
		return out, nil
	case reflect.Map:
		if rv.IsNil() {
			return nil, nil
		}
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			j, err := toJSON(it.Value().Interface(), b)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(it.Key().Interface())] = j
		}
		return out, nil
	case reflect.Struct:
		t, ok := b.structs[rv.Type()]
		if !ok {
			return nil, fmt.Errorf("the result's type %s has no JSON form", rv.Type())
		}
		out := make(map[string]any, len(t.Fields))
		for i, f := range t.Fields {
			j, err := toJSON(rv.Field(i).Interface(), b)
			if err != nil {
				return nil, err
			}
			out[f.Name] = j
		}
		return out, nil
	}
	return nil, fmt.Errorf("the result's type %T has no JSON form", v)
}
