package expression_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/expression"
)

const benchCondition = `trigger.InputParameters.Amount > 100 && trigger.InputParameters.Currency == "EUR"`

// benchTrigger is a CustomerPurchase trigger as the router decodes it.
func benchTrigger(b *testing.B) map[string]any {
	b.Helper()
	var m map[string]any
	require.NoError(b, json.Unmarshal([]byte(`{"PrimaryEntityId":"7d1c","CreatedOn":"2026-03-01T10:00:00Z","Depth":1,
		"InputParameters":{"Amount":150.5,"Currency":"EUR","contoso_totalspent":1200,"Paid":true,"Grace":"1h",
		"Lines":[{"sku":"A","qty":2},{"sku":"B","qty":3}],"Tags":["vip","web"],"Attributes":{"channel":"web"}},
		"Extra":{"note":"hi"}}`), &m))
	return m
}

// goCondition is benchCondition written in Go on the decoded map.
func goCondition(trigger map[string]any) bool {
	in, _ := trigger["InputParameters"].(map[string]any)
	amount, _ := in["Amount"].(float64)
	currency, _ := in["Currency"].(string)
	return amount > 100 && currency == "EUR"
}

// BenchmarkCondition is the cost of one evaluation of a typical condition
// per event: .../go is the same condition in Go on the decoded map (the
// baseline), .../expr converts the map with Values and runs RunBool,
// .../expr-run runs RunBool on values converted once.
func BenchmarkCondition(b *testing.B) {
	env := setup(b)
	p, err := env.Compile(benchCondition, expression.Bool)
	require.NoError(b, err)
	trig := benchTrigger(b)
	ctx := context.Background()

	b.Run("go", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			if goCondition(trig) {
				n++
			}
		}
		require.Equal(b, b.N, n)
	})
	b.Run("expr", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := env.Values(map[string]any{"trigger": trig})
			if err != nil {
				b.Fatal(err)
			}
			ok, err := p.RunBool(ctx, v)
			if err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("expr-run", func(b *testing.B) {
		b.ReportAllocs()
		v, err := env.Values(map[string]any{"trigger": trig})
		require.NoError(b, err)
		for b.Loop() {
			ok, err := p.RunBool(ctx, v)
			if err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
}

// BenchmarkValues is the cost of converting one decoded trigger to the
// environment's struct.
func BenchmarkValues(b *testing.B) {
	env := setup(b)
	trig := benchTrigger(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := env.Values(map[string]any{"trigger": trig}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMapping is the cost of a mapping that builds a JSON object.
func BenchmarkMapping(b *testing.B) {
	env := setup(b)
	p, err := env.Compile(`{"id": trigger.PrimaryEntityId, "total": sum(trigger.InputParameters.Lines, .qty), "at": trigger.CreatedOn}`, expression.Any)
	require.NoError(b, err)
	v, err := env.Values(map[string]any{"trigger": benchTrigger(b)})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Run(context.Background(), v); err != nil {
			b.Fatal(err)
		}
	}
}
