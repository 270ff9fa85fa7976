package expression

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/vm/runtime"
)

// runState is one evaluation's budget. Compile's patches make every loop
// body (the predicate of map, filter, all, reduce, ...) call tick, and
// every string concatenation go through charge, with the state as their
// first argument (the hidden variable $run).
type runState struct {
	ctx      context.Context
	limits   *Limits
	steps    uint
	strBytes uint
	start    time.Time // taken at the first step or the first now()
	now      time.Time
	exceeded error // the overrun, kept so Run reports it even if swallowed
}

// checkEvery is how many steps pass between two looks at the clock and the
// context: a look costs ~20-40 ns, a step ~50-100 ns.
const checkEvery = 64

func (r *runState) tick() error {
	r.steps++
	if r.steps > r.limits.MaxSteps {
		return r.overrun(fmt.Errorf("the expression took more than %d steps (loop iterations)", r.limits.MaxSteps))
	}
	if r.steps%checkEvery == 1 {
		if r.start.IsZero() {
			r.start = time.Now()
		}
		if err := r.ctx.Err(); err != nil {
			r.exceeded = err
			return err
		}
		if time.Since(r.start) > r.limits.TimeLimit {
			return r.overrun(fmt.Errorf("the expression ran longer than %s", r.limits.TimeLimit))
		}
	}
	return nil
}

func (r *runState) charge(n int) error {
	r.strBytes += uint(n)
	if r.strBytes > r.limits.MaxStringBytes {
		return r.overrun(fmt.Errorf("the expression built more than %d bytes of strings", r.limits.MaxStringBytes))
	}
	return nil
}

func (r *runState) overrun(err error) error {
	be := &budgetError{err}
	r.exceeded = be
	return be
}

type budgetError struct{ err error }

func (e *budgetError) Error() string { return e.err.Error() }

// The functions. Each takes *runState first when it needs the budget or the
// clock; runArgPatcher passes it.
var runStateType = reflect.TypeFor[*runState]()

// userFuncs are the functions users call; internal ones start with '$'.
var userFuncs = map[string]bool{
	"now": true, "coalesce": true, "addDays": true, "addMonths": true, "startOfDay": true,
	"roundTo": true, "daysBetween": true,
}

// runAware are the functions that get the run state as first argument.
var runAware = map[string]bool{"now": true}

func isFunction(name string) bool {
	if userFuncs[name] {
		return true
	}
	_, ok := builtin.Index[name]
	return ok
}

func functionOptions() []expr.Option {
	return []expr.Option{
		// now() is the instant the evaluation first asked for it: every now()
		// of one Run is the same instant. It is not deterministic across
		// runs (Limits.Now can fix it, e.g. in tests or replays).
		expr.Function("now", func(args ...any) (any, error) {
			r := args[0].(*runState)
			if r.now.IsZero() {
				if r.limits.Now != nil {
					r.now = r.limits.Now().UTC()
				} else {
					r.now = time.Now().UTC()
				}
			}
			return r.now, nil
		}, new(func(*runState) time.Time)),

		// coalesce(a, b, ...) is the first argument that is not nil.
		expr.Function("coalesce", func(args ...any) (any, error) {
			for _, a := range args {
				if a != nil {
					return a, nil
				}
			}
			return nil, nil
		}),

		// addDays(t, n) is t moved by n calendar days (in t's zone).
		expr.Function("addDays", func(args ...any) (any, error) {
			return args[0].(time.Time).AddDate(0, 0, args[1].(int)), nil
		}, new(func(time.Time, int) time.Time)),

		// addMonths(t, n) is t moved by n calendar months; Jan 31 + 1 month
		// is Mar 3 (or 2), as Go's time.AddDate normalizes.
		expr.Function("addMonths", func(args ...any) (any, error) {
			return args[0].(time.Time).AddDate(0, args[1].(int), 0), nil
		}, new(func(time.Time, int) time.Time)),

		// startOfDay(t) is midnight of t's day in t's zone.
		expr.Function("startOfDay", func(args ...any) (any, error) {
			t := args[0].(time.Time)
			y, m, d := t.Date()
			return time.Date(y, m, d, 0, 0, 0, 0, t.Location()), nil
		}, new(func(time.Time) time.Time)),

		// daysBetween(a, b) is the number of whole days from a to b
		// (negative when b is before a).
		expr.Function("daysBetween", func(args ...any) (any, error) {
			return int(args[1].(time.Time).Sub(args[0].(time.Time)) / (24 * time.Hour)), nil
		}, new(func(time.Time, time.Time) int)),

		// roundTo(x, digits) rounds x half away from zero to digits
		// decimals, as money is rounded (0 <= digits <= 15).
		expr.Function("roundTo", func(args ...any) (any, error) {
			x, err := toFloat(args[0])
			if err != nil {
				return nil, err
			}
			d := args[1].(int)
			if d < 0 || d > 15 {
				return nil, fmt.Errorf("roundTo: digits %d is outside 0..15", d)
			}
			p := math.Pow10(d)
			return math.Round(x*p) / p, nil
		}, new(func(float64, int) float64), new(func(int, int) float64)),

		// $tick counts one loop step and checks the time limit.
		expr.Function("$tick", func(args ...any) (any, error) {
			if err := args[0].(*runState).tick(); err != nil {
				return nil, err
			}
			return true, nil
		}, new(func(*runState) bool)),

		// $concat is a + b on strings, charged to the string budget.
		expr.Function("$concat", func(args ...any) (any, error) {
			a, b := args[1].(string), args[2].(string)
			if err := args[0].(*runState).charge(len(a) + len(b)); err != nil {
				return nil, err
			}
			return a + b, nil
		}, new(func(*runState, string, string) string)),

		// $add is + where a side's type is known only at run time.
		expr.Function("$add", func(args ...any) (any, error) {
			a, b := args[1], args[2]
			if sa, ok := a.(string); ok {
				if sb, ok := b.(string); ok {
					if err := args[0].(*runState).charge(len(sa) + len(sb)); err != nil {
						return nil, err
					}
					return sa + sb, nil
				}
			}
			return runtime.Add(a, b), nil
		}, new(func(*runState, any, any) any)),
	}
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	}
	return 0, fmt.Errorf("want a number, got %T", v)
}

// runArgPatcher passes the hidden run state to the run-aware functions:
// now() becomes now($run).
type runArgPatcher struct{}

func (runArgPatcher) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || !runAware[id.Value] {
		return
	}
	if len(call.Arguments) > 0 {
		if a, ok := call.Arguments[0].(*ast.IdentifierNode); ok && a.Value == runField {
			return // already patched
		}
	}
	ast.Patch(node, &ast.CallNode{
		Callee:    call.Callee,
		Arguments: append([]ast.Node{&ast.IdentifierNode{Value: runField}}, call.Arguments...),
	})
}

// budgetPatcher makes loops and string concatenation count against the
// run's budget: the body of every predicate (map, filter, all, any, one,
// none, count, sum, find..., groupBy, sortBy, reduce) becomes
// `$tick($run); body`, and a + b on strings becomes $concat($run, a, b)
// ($add when a side's type is unknown). It runs after a type check, so the
// types of a and b are known.
type budgetPatcher struct{}

func (*budgetPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.PredicateNode:
		if s, ok := n.Node.(*ast.SequenceNode); ok && len(s.Nodes) > 0 && isTick(s.Nodes[0]) {
			return
		}
		tick := &ast.CallNode{Callee: &ast.IdentifierNode{Value: "$tick"}, Arguments: []ast.Node{&ast.IdentifierNode{Value: runField}}}
		tick.SetLocation(n.Node.Location())
		seq := &ast.SequenceNode{Nodes: []ast.Node{tick, n.Node}}
		seq.SetLocation(n.Node.Location())
		n.Node = seq
	case *ast.BinaryNode:
		if n.Operator != "+" {
			return
		}
		lt, rt := n.Left.Type(), n.Right.Type()
		var fn string
		switch {
		case isKind(lt, reflect.String) && isKind(rt, reflect.String):
			fn = "$concat"
		case isUnknown(lt) && !isNumeric(rt), isUnknown(rt) && !isNumeric(lt):
			fn = "$add" // may be strings at run time
		}
		if fn == "" {
			return
		}
		ast.Patch(node, &ast.CallNode{
			Callee:    &ast.IdentifierNode{Value: fn},
			Arguments: []ast.Node{&ast.IdentifierNode{Value: runField}, n.Left, n.Right},
		})
	}
}

func isTick(n ast.Node) bool {
	c, ok := n.(*ast.CallNode)
	if !ok {
		return false
	}
	id, ok := c.Callee.(*ast.IdentifierNode)
	return ok && id.Value == "$tick"
}

func isKind(t reflect.Type, k reflect.Kind) bool { return t != nil && t.Kind() == k }

func isUnknown(t reflect.Type) bool { return t == nil || t.Kind() == reflect.Interface }

func isNumeric(t reflect.Type) bool {
	if t == nil {
		return false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

var errNilBool = errors.New("the condition gave nil, want true or false")
