package flows

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bizevents/bizevents/engine/catalog"
	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/expression"
	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
)

// Definitions finds the tables and custom APIs a flow names; package
// pipeline's Definitions is one.
type Definitions interface {
	Table(name string) (*tables.Table, bool)
	CustomAPI(name string) (*customapi.API, bool)
}

var _ Definitions = (*pipeline.Definitions)(nil)

// Problem is one thing wrong with a flow definition: where (the path of
// keys and indexes below the flow, as in the flow file, e.g. actions 2
// execute target total) and, for an expression, the line and column inside
// it.
type Problem struct {
	Path         []string
	Line, Column int
	Msg          string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(strings.Join(p.Path, "."))
	if p.Line > 0 {
		fmt.Fprintf(&b, " (expression line %d, column %d)", p.Line, p.Column)
	}
	b.WriteString(": ")
	b.WriteString(p.Msg)
	return b.String()
}

// CompileError lists every problem of a flow definition; its code is
// invalid_solution.
type CompileError struct {
	Flow     string
	Problems []Problem
}

func (e *CompileError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "flow %s: ", e.Flow)
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// ErrorCode is invalid_solution.
func (e *CompileError) ErrorCode() errcode.Code { return errcode.InvalidSolution }

// Trigger kinds.
const (
	TriggerAction   = "action"
	TriggerTable    = "table"
	TriggerSchedule = "schedule"
	TriggerRequest  = "request"
)

// Action statuses.
const (
	Succeeded = "succeeded"
	Failed    = "failed"
	Skipped   = "skipped"
	TimedOut  = "timedOut"
	Canceled  = "canceled"
	// Waiting is a delay that put its run aside until it is due.
	Waiting = "waiting"
)

var runAfterStatuses = []string{Succeeded, Failed, Skipped, TimedOut}

// Flow is a compiled flow: every expression type-checked against the
// trigger's types, ready to run.
type Flow struct {
	Def Def
	// Solution defines the flow.
	Solution string
	// Kind is the trigger's kind: action, table, schedule or request.
	Kind string
	// Events are the event types that start a run (action and table
	// triggers).
	Events []string
	// Table, Messages and Columns narrow a table trigger.
	Table    string
	Messages []string
	Columns  []string
	// Every and Start are a schedule's.
	Every time.Duration
	Start time.Time
	// API is a flow-defined action's custom API.
	API *customapi.API
	// Policy is the run's retry policy.
	Policy jobs.Policy

	env     *expression.Env
	filter  *expression.Program
	orderBy *expression.Program
	vars    []variable
	actions []*action
	// byName finds an action anywhere in the flow.
	byName map[string]*action
}

type variable struct {
	name string
	typ  expression.Type
	init *value
}

// action is a compiled action.
type action struct {
	def      *ActionDef
	name     string
	kind     string
	runAfter []string
	timeout  time.Duration
	retry    jobs.Policy
	// effect is set for kinds whose outcome must be recorded before the next
	// action runs (they change or read the world).
	effect bool

	// execute
	message, table string
	api            *customapi.API
	id, target     *value
	params, filter *value
	owner          *value
	columns        []string
	top            int
	// http
	method                    string
	url, headers, query, body *value
	auth                      *HTTPAuthDef
	accept                    []int
	variable                  string
	val                       *value // setVariable, appendVariable, compose, terminate message, response properties
	cond                      *expression.Program
	then, els                 []*action
	cases                     []switchCase
	items                     *expression.Program
	concurrency               int
	children                  []*action // forEach, scope, switch default
	delay                     time.Duration
	until                     *expression.Program
	status, code              string
	varType                   expression.Type
}

type switchCase struct {
	value   any
	actions []*action
}

// Action kinds, the keys of [ActionDef].
const (
	KindExecute        = "execute"
	KindHTTP           = "http"
	KindSetVariable    = "setVariable"
	KindAppendVariable = "appendVariable"
	KindCompose        = "compose"
	KindCondition      = "condition"
	KindSwitch         = "switch"
	KindForEach        = "forEach"
	KindDelay          = "delay"
	KindTerminate      = "terminate"
	KindScope          = "scope"
	KindResponse       = "response"
)

// compiler holds one Compile's state.
type compiler struct {
	def      *Def
	defs     Definitions
	cats     *catalog.Index
	problems []Problem
	env      *expression.Env
	// outputs are the output types of the actions, by name; filled by a
	// first pass so that an action can read any earlier one's outputs.
	outputs map[string]expression.Type
	vars    map[string]expression.Type
	flow    *Flow
	// parallel says whether the action being compiled is in a forEach with
	// a concurrency above 1.
	parallel bool
}

func (c *compiler) add(path []string, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: slices.Clone(path), Msg: fmt.Sprintf(format, args...)})
}

// expr compiles one expression; a problem is reported at path with its line
// and column inside the expression.
func (c *compiler) expr(src string, want expression.Kind, path []string) *expression.Program {
	if c.env == nil {
		return nil
	}
	p, err := c.env.Compile(src, want)
	if err != nil {
		var ee *expression.Error
		if errors.As(err, &ee) {
			c.problems = append(c.problems, Problem{Path: slices.Clone(path), Line: ee.Line, Column: ee.Column, Msg: ee.Msg})
		} else {
			c.add(path, "%v", err)
		}
		return nil
	}
	return p
}

// Compile checks a flow definition against the definitions and catalogs
// (cats may be nil when there are none) and compiles its expressions. Every
// problem is reported at once, in a *[CompileError].
func Compile(def Def, solution string, defs Definitions, cats *catalog.Index) (*Flow, error) {
	c := &compiler{def: &def, defs: defs, cats: cats, outputs: map[string]expression.Type{}, vars: map[string]expression.Type{}}
	f := &Flow{Def: def, Solution: solution, byName: map[string]*action{}}
	c.flow = f
	if !validName(def.Name) {
		c.add([]string{"name"}, "flow name %q must be letters, digits and underscores, not starting with a digit", def.Name)
	}
	triggerType := c.trigger(f)
	p, err := def.Retry.Policy(jobs.Policy{})
	if err != nil {
		c.add([]string{"retry"}, "%v", err)
	}
	f.Policy = p

	for i, v := range def.Variables {
		path := []string{"variables", strconv.Itoa(i)}
		t, ok := variableTypes[v.Type]
		switch {
		case !validName(v.Name):
			c.add(append(path, "name"), "variable name %q must be letters, digits and underscores, not starting with a digit", v.Name)
		case !ok:
			c.add(append(path, "type"), "variable %s: type %q must be one of string, integer, float, boolean, array, object", v.Name, v.Type)
		case c.vars[v.Name].Kind != 0 || hasVar(f.vars, v.Name):
			c.add(append(path, "name"), "variable %s is declared twice", v.Name)
		default:
			c.vars[v.Name] = t
			f.vars = append(f.vars, variable{name: v.Name, typ: t})
		}
	}

	// First pass: names, kinds and output types, so that expressions can
	// name any action's outputs.
	c.collect(def.Actions, []string{"actions"})
	if len(def.Actions) == 0 {
		c.add([]string{"actions"}, "a flow needs at least one action")
	}
	if len(c.problems) == 0 || triggerType.Kind != 0 {
		c.buildEnv(triggerType)
	}
	// Compose outputs take the type of their value: compile them once to
	// learn it, then build the environment again.
	if c.env != nil {
		saved := c.problems
		changed := false
		walk(def.Actions, func(a *ActionDef) {
			if a.Compose != nil {
				if v := c.compileValue(a.Compose.Value, nil); v != nil && v.typ().Kind != expression.Any {
					c.outputs[a.Name] = v.typ()
					changed = true
				}
			}
		})
		c.problems = saved
		if changed {
			c.buildEnv(triggerType)
		}
	}
	f.env = c.env
	if def.Trigger.Filter != "" {
		f.filter = c.expr(def.Trigger.Filter, expression.Bool, []string{"trigger", "filter"})
		if f.Kind == TriggerRequest {
			c.add([]string{"trigger", "filter"}, "a flow-defined action runs on every call: it takes no filter")
		}
	}
	if def.OrderBy != "" {
		f.orderBy = c.expr(def.OrderBy, expression.Any, []string{"orderBy"})
		if f.Kind == TriggerRequest {
			c.add([]string{"orderBy"}, "a flow-defined action runs in its caller's transaction: it takes no orderBy")
		}
	}
	for i, v := range def.Variables {
		if i < len(f.vars) && f.vars[i].name == v.Name {
			f.vars[i].init = c.compileValue(v.Value, []string{"variables", strconv.Itoa(i), "value"})
		}
	}
	f.actions = c.block(def.Actions, []string{"actions"})
	if len(c.problems) > 0 {
		return nil, &CompileError{Flow: def.Name, Problems: c.problems}
	}
	return f, nil
}

func hasVar(vs []variable, name string) bool {
	return slices.ContainsFunc(vs, func(v variable) bool { return v.name == name })
}

var variableTypes = map[string]expression.Type{
	"string":  stringType,
	"integer": intType,
	"float":   floatType,
	"boolean": boolType,
	"array":   anyListType,
	"object":  anyMapType,
}

// validName reports whether s can name a flow, an action or a variable: an
// identifier, so that expressions can use it (outputs.<name>).
func validName(s string) bool { return len(s) <= 128 && expression.ValidIdent(s) }

// buildEnv makes the expression environment: trigger, variables,
// outputs, item and run.
func (c *compiler) buildEnv(trigger expression.Type) {
	if trigger.Kind == 0 {
		trigger = anyMapType
	}
	vars := make([]expression.Field, 0, len(c.flow.vars))
	for _, v := range c.flow.vars {
		vars = append(vars, field(v.name, v.typ))
	}
	var outs []expression.Field
	walk(c.def.Actions, func(a *ActionDef) {
		if t, ok := c.outputs[a.Name]; ok && !slices.ContainsFunc(outs, func(f expression.Field) bool { return f.Name == a.Name }) {
			outs = append(outs, field(a.Name, t))
		}
	})
	env, err := expression.NewEnv([]expression.Field{
		field("trigger", trigger),
		field("variables", object(vars...)),
		field("outputs", object(outs...)),
		field("item", anyType),
		field("run", object(field("id", stringType), field("flow", stringType), field("attempt", intType))),
	})
	if err != nil {
		c.add(nil, "%v", err)
		return
	}
	c.env = env
}

// walk calls fn for every action, depth first, in file order.
func walk(as []ActionDef, fn func(*ActionDef)) {
	for i := range as {
		a := &as[i]
		fn(a)
		switch {
		case a.Condition != nil:
			walk(a.Condition.Then, fn)
			walk(a.Condition.Else, fn)
		case a.Switch != nil:
			for _, cs := range a.Switch.Cases {
				walk(cs.Actions, fn)
			}
			walk(a.Switch.Default, fn)
		case a.ForEach != nil:
			walk(a.ForEach.Actions, fn)
		case a.Scope != nil:
			walk(a.Scope.Actions, fn)
		}
	}
}

// kindOf returns the one kind an action has, or "" and a problem.
func kindOf(a *ActionDef) (string, int) {
	kinds := []struct {
		name string
		set  bool
	}{
		{KindExecute, a.Execute != nil}, {KindHTTP, a.HTTP != nil}, {KindSetVariable, a.SetVariable != nil},
		{KindAppendVariable, a.AppendVariable != nil}, {KindCompose, a.Compose != nil}, {KindCondition, a.Condition != nil},
		{KindSwitch, a.Switch != nil}, {KindForEach, a.ForEach != nil}, {KindDelay, a.Delay != nil},
		{KindTerminate, a.Terminate != nil}, {KindScope, a.Scope != nil}, {KindResponse, a.Response != nil},
	}
	kind, n := "", 0
	for _, k := range kinds {
		if k.set {
			kind = k.name
			n++
		}
	}
	return kind, n
}

// collect checks names and kinds and notes each action's output type.
func (c *compiler) collect(as []ActionDef, path []string) {
	seen := map[string]bool{}
	for name := range c.outputs {
		seen[name] = true
	}
	var rec func(as []ActionDef, path []string)
	rec = func(as []ActionDef, path []string) {
		for i := range as {
			a := &as[i]
			p := append(slices.Clip(path), strconv.Itoa(i))
			if !validName(a.Name) {
				c.add(append(p, "name"), "action name %q must be letters, digits and underscores, not starting with a digit", a.Name)
			} else if seen[a.Name] {
				c.add(append(p, "name"), "action %s: the name is used twice in the flow", a.Name)
			}
			seen[a.Name] = true
			kind, n := kindOf(a)
			if n != 1 {
				c.add(p, "action %s: set exactly one of execute, http, setVariable, appendVariable, compose, condition, switch, forEach, delay, terminate, scope, response", a.Name)
				continue
			}
			c.outputs[a.Name] = c.outputTypeOf(kind, a)
			switch kind {
			case KindCondition:
				rec(a.Condition.Then, append(p, kind, "then"))
				rec(a.Condition.Else, append(p, kind, "else"))
			case KindSwitch:
				for k, cs := range a.Switch.Cases {
					rec(cs.Actions, append(p, kind, "cases", strconv.Itoa(k), "actions"))
				}
				rec(a.Switch.Default, append(p, kind, "default"))
			case KindForEach:
				rec(a.ForEach.Actions, append(p, kind, "actions"))
			case KindScope:
				rec(a.Scope.Actions, append(p, kind, "actions"))
			}
		}
	}
	rec(as, path)
}

// outputTypeOf is the type of an action's outputs, as far as it is known
// before its expressions are compiled.
func (c *compiler) outputTypeOf(kind string, a *ActionDef) expression.Type {
	switch kind {
	case KindExecute:
		t, _ := c.defs.Table(a.Execute.Table)
		api, _ := c.defs.CustomAPI(a.Execute.Message)
		return executeOutputType(t, api, c.defs.Table)
	case KindHTTP:
		return httpOutputType()
	case KindCondition:
		return object(field("result", boolType))
	case KindSetVariable, KindAppendVariable:
		if a.SetVariable != nil {
			return object(field("value", c.vars[a.SetVariable.Name]))
		}
		return object(field("value", c.vars[a.AppendVariable.Name]))
	case KindDelay:
		return object(field("until", timeType))
	}
	return anyType
}
