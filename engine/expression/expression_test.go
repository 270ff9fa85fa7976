package expression_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/conf"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/expression"
)

var (
	str   = expression.Type{Kind: expression.String}
	intT  = expression.Type{Kind: expression.Int}
	flt   = expression.Type{Kind: expression.Float}
	boolT = expression.Type{Kind: expression.Bool}
	tm    = expression.Type{Kind: expression.Time}
	dur   = expression.Type{Kind: expression.Duration}
	anyT  = expression.Type{Kind: expression.Any}
)

func obj(fs ...expression.Field) expression.Type {
	return expression.Type{Kind: expression.Object, Fields: fs}
}

func fld(name string, t expression.Type) expression.Field {
	return expression.Field{Name: name, Type: t}
}

func list(t expression.Type) expression.Type { return expression.Type{Kind: expression.List, Elem: &t} }

func mapOf(t expression.Type) expression.Type { return expression.Type{Kind: expression.Map, Elem: &t} }

// setup returns the environment of a CustomerPurchase trigger, as flows
// build it.
func setup(t testing.TB) *expression.Env {
	t.Helper()
	env, err := expression.NewEnv([]expression.Field{
		fld("trigger", obj(
			fld("PrimaryEntityId", str),
			fld("CreatedOn", tm),
			fld("Depth", intT),
			fld("InputParameters", obj(
				fld("Amount", flt),
				fld("Currency", str),
				fld("contoso_totalspent", flt),
				fld("Lines", list(obj(fld("sku", str), fld("qty", intT)))),
				fld("Tags", list(str)),
				fld("Attributes", mapOf(str)),
				fld("Paid", boolT),
				fld("Grace", dur),
			)),
			fld("Extra", anyT),
			fld("Props", mapOf(anyT)),
		)),
		fld("item", anyT),
		fld("variables", obj(fld("count", intT))),
	})
	require.NoError(t, err)
	return env
}

func purchase() map[string]any {
	return map[string]any{
		"PrimaryEntityId": "7d1c",
		"CreatedOn":       "2026-03-01T10:00:00Z",
		"Depth":           1.0,
		"InputParameters": map[string]any{
			"Amount": 150.5, "Currency": "EUR", "contoso_totalspent": json.Number("1200"),
			"Lines":      []any{map[string]any{"sku": "A", "qty": 2.0}, map[string]any{"sku": "B", "qty": json.Number("3")}},
			"Tags":       []any{"vip", "web"},
			"Attributes": map[string]any{"channel": "web"},
			"Paid":       true,
			"Grace":      "1h30m",
		},
		"Extra": map[string]any{"note": "hi", "n": json.Number("2")},
	}
}

func values(t testing.TB, env *expression.Env) *expression.Values {
	t.Helper()
	v, err := env.Values(map[string]any{"trigger": purchase()})
	require.NoError(t, err)
	return v
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	env := setup(t)
	tests := []struct {
		name      string
		src       string
		want      expression.Kind
		line, col int
		msg       string
	}{
		{"nested typo", `trigger.InputParameters.contoso_totalspnt > 100`, expression.Bool, 1, 25, "unknown field contoso_totalspnt of trigger.InputParameters (did you mean contoso_totalspent?)"},
		{"typo on line 2", "trigger.Depth > 0 &&\n  trigger.InputParameters.Amont > 1", expression.Bool, 2, 27, "unknown field Amont of trigger.InputParameters"},
		{"typo in list element", `trigger.InputParameters.Lines[0].skuu == "A"`, expression.Bool, 1, 34, "unknown field skuu of trigger.InputParameters.Lines[0]"},
		{"typo in predicate", `any(trigger.InputParameters.Lines, .qtty > 1)`, expression.Bool, 1, 37, "unknown field qtty of {sku: string, qty: int} (did you mean qty?)"},
		{"wrong case", `trigger.primaryEntityId != ""`, expression.Bool, 1, 9, "did you mean PrimaryEntityId?"},
		{"unknown variable", `trigerr.Depth > 1`, expression.Bool, 1, 1, "unknown name trigerr"},
		{"wrong result kind", `trigger.InputParameters.Currency`, expression.Bool, 1, 1, "the expression gives a string, want a bool (true or false)"},
		{"int for string", `trigger.Depth + 1`, expression.String, 1, 1, "gives an int, want a string"},
		{"mismatched types", `trigger.InputParameters.Currency > 1`, expression.Bool, 1, 34, "invalid operation: > (mismatched types string and int)"},
		{"object in message", `trigger.InputParameters > 1`, expression.Bool, 1, 25, "{Amount: float"},
		{"syntax", `trigger.Depth >`, expression.Bool, 1, 15, "unexpected token EOF"},
		{"empty", `   `, expression.Any, 1, 1, "the expression is empty"},
		{"$env", `$env["trigger"]`, expression.Any, 1, 1, "$env is not available"},
		{"hidden state", `$run`, expression.Any, 1, 1, "unknown name $run"},
		{"internal function", `$tick($run)`, expression.Any, 1, 1, "unknown name $tick"},
		{"too many nodes", strings.Repeat("1 + ", 20000) + "1", expression.Any, 0, 0, "exceeds maximum allowed nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := env.Compile(tt.src, tt.want)
			var ee *expression.Error
			require.ErrorAs(t, err, &ee)
			require.Equal(t, errcode.InvalidExpression, errcode.Of(err))
			require.Contains(t, ee.Msg, tt.msg)
			if tt.line > 0 {
				require.Equal(t, tt.line, ee.Line, ee.Msg)
				require.Equal(t, tt.col, ee.Column, ee.Msg)
			}
			require.NotContains(t, ee.Msg, "F0", "messages name fields, not Go fields")
		})
	}
}

func TestCompileOK(t *testing.T) {
	t.Parallel()
	env := setup(t)
	tests := []struct {
		src  string
		want expression.Kind
		typ  string
	}{
		{`trigger.InputParameters.Amount > 100 && trigger.InputParameters.Currency == "EUR"`, expression.Bool, "bool"},
		{`trigger.InputParameters.Amount`, expression.Float, "float"},
		{`trigger.Depth`, expression.Float, "int"}, // an int is a float
		{`trigger.InputParameters.Lines`, expression.Any, "[]{sku: string, qty: int}"},
		{`trigger.InputParameters.Attributes`, expression.Any, "map[string]string"},
		{`trigger.Extra.anything.goes`, expression.Bool, "any"}, // Any is dynamic: checked at run time
		{`trigger.Props.x`, expression.Any, "any"},
		{`let t = trigger.InputParameters; t.Amount * 2`, expression.Float, "float"},
		{`now()`, expression.Time, "time"},
		{`now() - trigger.CreatedOn`, expression.Duration, "duration"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			t.Parallel()
			p, err := env.Compile(tt.src, tt.want)
			require.NoError(t, err)
			require.Equal(t, tt.typ, p.Type().String())
			require.Equal(t, tt.src, p.Source())
		})
	}
}

func TestNewEnvRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars []expression.Field
		msg  string
	}{
		{"dash", []expression.Field{fld("my-var", str)}, `"my-var" is not a name`},
		{"leading digit", []expression.Field{fld("1x", str)}, `"1x"`},
		{"keyword", []expression.Field{fld("in", str)}, `"in"`},
		{"dollar", []expression.Field{fld("$run", str)}, `"$run"`},
		{"empty", []expression.Field{fld("", str)}, `""`},
		{"nested space", []expression.Field{fld("trigger", obj(fld("a b", str)))}, `trigger: "a b"`},
		{"deep", []expression.Field{fld("t", obj(fld("l", list(obj(fld("x.y", intT))))))}, `t.l[]: "x.y"`},
		{"duplicate", []expression.Field{fld("a", str), fld("a", intT)}, "a: the name is used twice"},
		{"no kind", []expression.Field{fld("a", expression.Type{})}, "a: no kind set"},
		{"function name", []expression.Field{fld("now", str)}, "would hide the function"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := expression.NewEnv(tt.vars)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestValuesConversion(t *testing.T) {
	t.Parallel()
	env, err := expression.NewEnv([]expression.Field{
		fld("s", str), fld("i", intT), fld("f", flt), fld("b", boolT), fld("t", tm), fld("d", dur),
		fld("o", obj(fld("x", intT), fld("y", obj(fld("z", str))))), fld("l", list(intT)), fld("m", mapOf(flt)), fld("a", anyT),
		fld("la", list(anyT)), fld("ma", mapOf(anyT)),
	})
	require.NoError(t, err)
	get := func(t *testing.T, v *expression.Values, src string) any {
		t.Helper()
		p, err := env.Compile(src, expression.Any)
		require.NoError(t, err)
		out, err := p.Run(context.Background(), v)
		require.NoError(t, err)
		return out
	}
	ok := []struct {
		name string
		vars map[string]any
		src  string
		want any
	}{
		{"string", map[string]any{"s": "x"}, `s`, "x"},
		{"int from float64", map[string]any{"i": 3.0}, `i + 1`, int64(4)},
		{"int from json.Number", map[string]any{"i": json.Number("9007199254740993")}, `i`, int64(9007199254740993)},
		{"int from int64", map[string]any{"i": int64(-2)}, `i`, int64(-2)},
		{"float from json.Number", map[string]any{"f": json.Number("12.25")}, `f`, 12.25},
		{"float from int", map[string]any{"f": 2}, `f / 4`, 0.5},
		{"money", map[string]any{"f": 19.99}, `roundTo(f * 3, 2)`, 59.97},
		{"bool", map[string]any{"b": true}, `!b`, false},
		{"time", map[string]any{"t": "2026-03-01T10:00:00+01:00"}, `t`, "2026-03-01T10:00:00+01:00"},
		{"time nanos", map[string]any{"t": "2026-03-01T10:00:00.5Z"}, `t`, "2026-03-01T10:00:00.5Z"},
		{"time value", map[string]any{"t": time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}, `t.Year()`, int64(2026)},
		{"duration", map[string]any{"d": "1h30m"}, `d`, "1h30m0s"},
		{"duration value", map[string]any{"d": 2 * time.Second}, `d.Seconds()`, 2.0},
		{"object", map[string]any{"o": map[string]any{"x": 1.0, "y": map[string]any{"z": "q"}, "extra": "ignored"}}, `o`, map[string]any{"x": int64(1), "y": map[string]any{"z": "q"}}},
		{"object from map[string]string", map[string]any{"o": map[string]any{"y": map[string]string{"z": "w"}}}, `o.y.z`, "w"},
		{"list", map[string]any{"l": []any{1.0, json.Number("2")}}, `l`, []any{int64(1), int64(2)}},
		{"list from []int", map[string]any{"l": []int{5, 6}}, `sum(l)`, int64(11)},
		{"map", map[string]any{"m": map[string]any{"a": 1.5}}, `m.a`, 1.5},
		{"any keeps", map[string]any{"a": map[string]any{"k": []any{"x"}}}, `a.k[0]`, "x"},
		{"any json.Number", map[string]any{"a": map[string]any{"n": json.Number("4")}}, `a.n * 2`, 8.0},
		{"list of any", map[string]any{"la": []any{1.0, "x", nil}}, `len(la)`, int64(3)},
		{"map of any", map[string]any{"ma": map[string]any{"k": true}}, `ma.k`, true},
		{"missing string", map[string]any{}, `s`, ""},
		{"missing int", map[string]any{}, `i`, int64(0)},
		{"missing time", map[string]any{}, `t`, "0001-01-01T00:00:00Z"},
		{"missing object", map[string]any{}, `o.y.z`, ""},
		{"missing list", map[string]any{}, `len(l)`, int64(0)},
		{"missing map", map[string]any{}, `m`, nil},
		{"missing any", map[string]any{}, `a`, nil},
		{"null", map[string]any{"i": nil, "o": nil}, `i`, int64(0)},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := env.Values(tt.vars)
			require.NoError(t, err)
			require.Equal(t, tt.want, get(t, v, tt.src))
		})
	}

	bad := []struct {
		name string
		vars map[string]any
		msg  string
	}{
		{"string for int", map[string]any{"i": "1"}, "i: want integer, got string"},
		{"fraction for int", map[string]any{"i": 1.5}, "i: want integer, got 1.5, not a whole number"},
		{"too large for int", map[string]any{"i": 1e300}, "i: want integer, got 1e+300, too large"},
		{"string for float", map[string]any{"f": "12"}, "f: want number, got string"},
		{"number for string", map[string]any{"s": 1.0}, "s: want string, got number"},
		{"string for bool", map[string]any{"b": "true"}, "b: want boolean, got string"},
		{"bad time", map[string]any{"t": "yesterday"}, `t: want RFC 3339 time string such as 2026-01-02T15:04:05Z, got "yesterday"`},
		{"number for time", map[string]any{"t": 1.0}, "t: want RFC 3339 time string, got number"},
		{"bad duration", map[string]any{"d": "soon"}, `d: want duration string such as 1h30m, got "soon"`},
		{"nested", map[string]any{"o": map[string]any{"y": map[string]any{"z": true}}}, "o.y.z: want string, got boolean"},
		{"array for object", map[string]any{"o": []any{}}, "o: want object, got array"},
		{"list element", map[string]any{"l": []any{1.0, "2"}}, "l[1]: want integer, got string"},
		{"object for list", map[string]any{"l": map[string]any{}}, "l: want array, got object"},
		{"map element", map[string]any{"m": map[string]any{"k": "x"}}, "m.k: want number, got string"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := env.Values(tt.vars)
			require.EqualError(t, err, tt.msg)
			require.Equal(t, errcode.InvalidValue, errcode.Of(err))
			var ve *expression.ValueError
			require.ErrorAs(t, err, &ve)
		})
	}
}

func TestSet(t *testing.T) {
	t.Parallel()
	env := setup(t)
	v := values(t, env)
	p, err := env.Compile(`variables.count + (item ?? 0)`, expression.Any)
	require.NoError(t, err)
	require.NoError(t, v.Set("variables", map[string]any{"count": int64(2)}))
	require.NoError(t, v.Set("item", 5.0))
	out, err := p.Run(context.Background(), v)
	require.NoError(t, err)
	require.Equal(t, 7.0, out)

	// Set replaces the whole variable: a missing field is zero again.
	require.NoError(t, v.Set("variables", map[string]any{}))
	require.NoError(t, v.Set("item", nil))
	out, err = p.Run(context.Background(), v)
	require.NoError(t, err)
	require.Equal(t, int64(0), out)

	require.EqualError(t, v.Set("variables", map[string]any{"count": "x"}), "variables.count: want integer, got string")
	require.ErrorContains(t, v.Set("nope", 1), "no such variable")

	// What Run returns can be set back.
	p2, err := env.Compile(`trigger`, expression.Any)
	require.NoError(t, err)
	trig, err := p2.Run(context.Background(), v)
	require.NoError(t, err)
	require.NoError(t, v.Set("trigger", trig))
	again, err := p2.Run(context.Background(), v)
	require.NoError(t, err)
	require.Equal(t, trig, again)
}

func TestRun(t *testing.T) {
	t.Parallel()
	env := setup(t).WithLimits(expression.Limits{Now: func() time.Time { return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) }})
	tests := []struct {
		src  string
		want any
	}{
		{`trigger.InputParameters.Amount > 100 && trigger.InputParameters.Currency == "EUR"`, true},
		{`trigger.InputParameters.contoso_totalspent`, 1200.0},
		{`sum(trigger.InputParameters.Lines, .qty)`, int64(5)},
		{`map(trigger.InputParameters.Lines, .sku)`, []any{"A", "B"}},
		{`trigger.InputParameters.Lines[1]`, map[string]any{"sku": "B", "qty": int64(3)}},
		{`"vip" in trigger.InputParameters.Tags`, true},
		{`trigger.InputParameters.Attributes.channel`, "web"},
		{`trigger.InputParameters.Paid ? "paid" : "open"`, "paid"},
		{`trigger.Extra.note + "!"`, "hi!"},
		{`trigger.Extra.n + 1`, 3.0},
		{`trigger.Extra.missing ?? "default"`, "default"},
		{`coalesce(trigger.Extra.missing, trigger.Extra.note)`, "hi"},
		{`trigger.PrimaryEntityId + "-" + trigger.InputParameters.Currency`, "7d1c-EUR"},
		{`now()`, "2026-03-02T10:00:00Z"},
		{`now() - trigger.CreatedOn`, "24h0m0s"},
		{`now() - trigger.CreatedOn > duration("23h")`, true},
		{`trigger.CreatedOn + trigger.InputParameters.Grace`, "2026-03-01T11:30:00Z"},
		{`trigger.CreatedOn < now() && trigger.CreatedOn >= date("2026-03-01")`, true},
		{`addDays(trigger.CreatedOn, 30)`, "2026-03-31T10:00:00Z"},
		{`addMonths(trigger.CreatedOn, -1)`, "2026-02-01T10:00:00Z"},
		{`startOfDay(trigger.CreatedOn)`, "2026-03-01T00:00:00Z"},
		{`daysBetween(trigger.CreatedOn, now())`, int64(1)},
		{`trigger.CreatedOn.Format("2006-01-02")`, "2026-03-01"},
		{`{"amount": trigger.InputParameters.Amount, "tags": trigger.InputParameters.Tags, "at": trigger.CreatedOn, "n": nil}`,
			map[string]any{"amount": 150.5, "tags": []any{"vip", "web"}, "at": "2026-03-01T10:00:00Z", "n": nil}},
		{`[1, 2.5, "x", true, nil]`, []any{int64(1), 2.5, "x", true, nil}},
		{`filter(1..10, # % 3 == 0)`, []any{int64(3), int64(6), int64(9)}},
		{`reduce(1..5, #acc + #, 0)`, int64(15)},
		{`upper(trigger.InputParameters.Currency)`, "EUR"},
		{`let a = 2; a * trigger.Depth`, int64(2)},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			t.Parallel()
			p, err := env.Compile(tt.src, expression.Any)
			require.NoError(t, err)
			out, err := p.Run(context.Background(), values(t, env))
			require.NoError(t, err)
			require.Equal(t, tt.want, out)
			// Results are JSON: they marshal, and a round trip keeps them.
			b, err := json.Marshal(out)
			require.NoError(t, err)
			var back any
			require.NoError(t, json.Unmarshal(b, &back))
			b2, err := json.Marshal(back)
			require.NoError(t, err)
			require.JSONEq(t, string(b), string(b2))
		})
	}
}

func TestNowIsOnePerRun(t *testing.T) {
	t.Parallel()
	env := setup(t)
	p, err := env.Compile(`now() == now() && now() > trigger.CreatedOn`, expression.Bool)
	require.NoError(t, err)
	ok, err := p.RunBool(context.Background(), values(t, env))
	require.NoError(t, err)
	require.True(t, ok)
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	env := setup(t)
	tests := []struct {
		name string
		src  string
		want expression.Kind
		code errcode.Code
		msg  string
		col  int
	}{
		{"nil dereference", `trigger.Extra.missing.deeper == 1`, expression.Bool, errcode.ExpressionFailed, "cannot fetch deeper from <nil>", 23},
		{"integer division by zero", `trigger.Depth % 0`, expression.Any, errcode.ExpressionFailed, "integer divide by zero", 0},
		{"wrong type in Any", `trigger.Extra.note > 5`, expression.Bool, errcode.ExpressionFailed, "invalid operation: string > int", 0},
		{"string plus nil", `trigger.Extra.missing + "x"`, expression.Any, errcode.ExpressionFailed, "invalid operation", 0},
		{"infinity", `trigger.InputParameters.Amount / 0`, expression.Any, errcode.ExpressionFailed, "not a finite number", 0},
		{"nil condition", `trigger.Extra.missing`, expression.Bool, errcode.ExpressionFailed, "the condition gave nil", 0},
		{"non-bool condition", `trigger.Extra.note`, expression.Bool, errcode.ExpressionFailed, "the condition gave string", 0},
		{"index out of range", `trigger.InputParameters.Lines[5].sku`, expression.Any, errcode.ExpressionFailed, "out of range", 0},
		{"huge range", `map(1..100000000, # * 2)`, expression.Any, errcode.ExpressionBudget, "more memory than its budget", 6},
		{"huge range, count", `count(1..100000000, # > 0) > 0`, expression.Bool, errcode.ExpressionBudget, "more memory", 0},
		{"string doubling", `reduce(1..60, #acc + #acc, "xx")`, expression.Any, errcode.ExpressionBudget, "bytes of strings", 0},
		{"string doubling, Any", `reduce(1..60, #acc + #acc, trigger.Extra.note)`, expression.Any, errcode.ExpressionBudget, "bytes of strings", 0},
		{"repeat", `repeat("x", 100000000)`, expression.Any, errcode.ExpressionBudget, "memory", 0},
		{"nested loops", `count(1..999, all(1..999, any(1..999, # < 0)))`, expression.Any, errcode.ExpressionBudget, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := env.Compile(tt.src, tt.want)
			require.NoError(t, err)
			v := values(t, env)
			if tt.want == expression.Bool {
				_, err = p.RunBool(context.Background(), v)
			} else {
				_, err = p.Run(context.Background(), v)
			}
			var ee *expression.Error
			require.ErrorAs(t, err, &ee)
			require.Equal(t, tt.code, errcode.Of(err), ee.Msg)
			require.Contains(t, ee.Msg, tt.msg)
			if tt.col > 0 {
				require.Equal(t, 1, ee.Line)
				require.Equal(t, tt.col, ee.Column)
			}
		})
	}
}

// TestLimits checks each budget stops a run with the budget code.
func TestLimits(t *testing.T) {
	t.Parallel()
	env := setup(t)
	v := values(t, env)
	loop := func(t *testing.T, l expression.Limits, src string) error {
		t.Helper()
		p, err := env.WithLimits(l).Compile(src, expression.Any)
		require.NoError(t, err)
		_, err = p.Run(context.Background(), v)
		return err
	}
	t.Run("steps", func(t *testing.T) {
		err := loop(t, expression.Limits{MaxSteps: 100}, `count(trigger.InputParameters.Tags, all(1..100, true))`)
		require.Equal(t, errcode.ExpressionBudget, errcode.Of(err))
		require.ErrorContains(t, err, "more than 100 steps")
		require.NoError(t, loop(t, expression.Limits{MaxSteps: 1000}, `count(trigger.InputParameters.Tags, all(1..100, true))`))
	})
	t.Run("memory", func(t *testing.T) {
		require.Equal(t, errcode.ExpressionBudget, errcode.Of(loop(t, expression.Limits{MemoryBudget: 10}, `1..20`)))
	})
	t.Run("strings", func(t *testing.T) {
		err := loop(t, expression.Limits{MaxStringBytes: 8}, `trigger.PrimaryEntityId + trigger.PrimaryEntityId + "x"`)
		require.Equal(t, errcode.ExpressionBudget, errcode.Of(err))
	})
	t.Run("time", func(t *testing.T) {
		start := time.Now()
		err := loop(t, expression.Limits{TimeLimit: 20 * time.Millisecond, MaxSteps: 1 << 40, MemoryBudget: 1 << 40},
			`count(1..100000, all(1..100000, true))`)
		require.Equal(t, errcode.ExpressionBudget, errcode.Of(err))
		require.ErrorContains(t, err, "ran longer than 20ms")
		require.Less(t, time.Since(start), 2*time.Second)
	})
	t.Run("context", func(t *testing.T) {
		p, err := env.WithLimits(expression.Limits{MaxSteps: 1 << 40, MemoryBudget: 1 << 40, TimeLimit: time.Hour}).
			Compile(`count(1..100000, all(1..100000, true))`, expression.Any)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err = p.Run(ctx, v)
		require.Equal(t, errcode.Canceled, errcode.Of(err))
		require.True(t, errors.Is(err, context.DeadlineExceeded))

		done, cancel2 := context.WithCancel(context.Background())
		cancel2()
		_, err = p.Run(done, v)
		require.Equal(t, errcode.Canceled, errcode.Of(err))
	})
	t.Run("defaults", func(t *testing.T) {
		l := expression.Limits{}.WithDefaults()
		require.Equal(t, expression.DefaultMemoryBudget, l.MemoryBudget)
		require.Equal(t, conf.DefaultMemoryBudget, expression.DefaultMemoryBudget, "expr's default")
		require.Equal(t, conf.DefaultMaxNodes, expression.DefaultMaxNodes, "expr's default")
		require.Equal(t, expression.DefaultTimeLimit, l.TimeLimit)
		require.Equal(t, expression.DefaultMaxSteps, l.MaxSteps)
		require.Equal(t, expression.DefaultMaxStringBytes, l.MaxStringBytes)
	})
}

func TestValuesFromAnotherEnv(t *testing.T) {
	t.Parallel()
	a, b := setup(t), setup(t)
	p, err := a.Compile(`1`, expression.Any)
	require.NoError(t, err)
	_, err = p.Run(context.Background(), values(t, b))
	require.ErrorContains(t, err, "another environment")
}

// TestConcurrentPrograms runs one program from many goroutines, each with
// its own Values.
func TestConcurrentPrograms(t *testing.T) {
	t.Parallel()
	env := setup(t)
	p, err := env.Compile(`sum(map(trigger.InputParameters.Lines, .qty)) + len(trigger.PrimaryEntityId + "x")`, expression.Int)
	require.NoError(t, err)
	done := make(chan error, 8)
	for range 8 {
		go func() {
			v := values(t, env)
			for range 200 {
				out, err := p.Run(context.Background(), v)
				if err == nil && out != int64(10) {
					err = errors.New("wrong result")
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		require.NoError(t, <-done)
	}
}

func TestTypeString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "{a: []int, b: map[string]any, c: []any}",
		obj(fld("a", list(intT)), fld("b", expression.Type{Kind: expression.Map}), fld("c", expression.Type{Kind: expression.List})).String())
	require.Equal(t, "duration", dur.String())
}
