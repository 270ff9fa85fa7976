package plugins_test

import (
	"context"
	"encoding/json"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/plugins"
)

// benchExecution is a purchase with about 1 KB of context: the Target-less
// input of a custom API, as a PreOperation step gets it.
func benchExecution() *pipeline.Execution {
	ex := execution(pipeline.PreOperation, tables.Row{"name": "Fourth Coffee", "city": "Oslo"}, map[string]any{
		"CustomerId": uuid.NewString(), "Amount": tables.Number("129.95"), "Items": []any{"pen", "paper"},
		"Note": strings.Repeat("receipt line; ", 64),
	})
	return ex
}

// latencies runs fn b.N times and reports ns/call, p50-ns and p99-ns, and
// calls/s as events/s for make bench's ratio.
func latencies(b *testing.B, fn func() error) {
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(ns, "ns/call")
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(1e9/ns, "events/s")
}

// BenchmarkCall is the per-call overhead of a plugin: a no-op handler with
// a 1 KB context, as a wasm call and as a native Go handler; and a
// realistic validation plugin (it reads three parameters, walks a list and
// traces a line) next to the same logic in Go.
func BenchmarkCall(b *testing.B) {
	ctx := context.Background()
	rt := newRuntime(b)
	b.Run("noop", func(b *testing.B) {
		b.Run("baseline", func(b *testing.B) {
			h := pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error { return nil })
			ex := benchExecution()
			latencies(b, func() error { return h.Handle(ctx, ex) })
		})
		b.Run("wasm", func(b *testing.B) {
			m, err := rt.Load(ctx, "noop", guest(b, "noop"))
			require.NoError(b, err)
			h := plugins.Handler(m, "Noop")
			ex := benchExecution()
			latencies(b, func() error { return h.Handle(ctx, ex) })
		})
	})
	b.Run("validate", func(b *testing.B) {
		b.Run("baseline", func(b *testing.B) {
			h := pipeline.HandlerFunc(goValidate)
			ex := benchExecution()
			require.NoError(b, h.Handle(ctx, ex))
			latencies(b, func() error { return h.Handle(ctx, ex) })
		})
		b.Run("wasm", func(b *testing.B) {
			m, err := rt.Load(ctx, "validate", guest(b, "validate"))
			require.NoError(b, err)
			h := plugins.Handler(m, "ValidatePurchase")
			ex := benchExecution()
			// The fixture: the plugin accepts the purchase and traces it.
			res, err := m.Call(ctx, "ValidatePurchase", ex)
			require.NoError(b, err)
			require.Len(b, res.Trace, 1)
			latencies(b, func() error { return h.Handle(ctx, ex) })
		})
	})
}

// goValidate is testdata/validate's handler as native Go, for the
// baseline: the same reads, checks and trace line.
func goValidate(_ context.Context, ex *pipeline.Execution) error {
	amount, ok := ex.InputParameters["Amount"].(tables.Number)
	if !ok {
		return pipeline.Fail("amount is missing")
	}
	if strings.HasPrefix(string(amount), "-") {
		return pipeline.Fail("the amount %s is negative", amount)
	}
	customer, ok := ex.InputParameters["CustomerId"].(string)
	if !ok {
		return pipeline.Fail("customer is missing")
	}
	if items, ok := ex.InputParameters["Items"].([]any); ok && len(items) > 100 {
		return pipeline.Fail("a purchase has at most 100 items, this one %d", len(items))
	}
	_ = "purchase of " + string(amount) + " by " + customer + " is valid"
	return nil
}

// BenchmarkColdStart is a module's first call after it is loaded: compile
// (or read from the compilation cache), instantiate, call. Each iteration
// starts a runtime of its own.
func BenchmarkColdStart(b *testing.B) {
	ctx := context.Background()
	wasm := guest(b, "noop")
	for _, c := range []struct {
		name  string
		cache func(b *testing.B) string
	}{
		{"cache=none", func(*testing.B) string { return "" }},
		{"cache=disk", func(b *testing.B) string {
			dir := b.TempDir()
			warm, err := plugins.New(ctx, plugins.Config{CacheDir: dir})
			require.NoError(b, err)
			_, err = warm.Load(ctx, "noop", wasm)
			require.NoError(b, err)
			require.NoError(b, warm.Close(ctx))
			return dir
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			dir := c.cache(b)
			b.ResetTimer()
			for range b.N {
				cfg := plugins.Config{CacheDir: dir, NoCompilationCache: dir == ""}
				rt, err := plugins.New(ctx, cfg)
				if err != nil {
					b.Fatal(err)
				}
				m, err := rt.Load(ctx, "noop", wasm)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := m.Call(ctx, "Noop", execution(pipeline.PreOperation, tables.Row{}, nil)); err != nil {
					b.Fatal(err)
				}
				_ = rt.Close(ctx)
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/start")
		})
	}
}

// BenchmarkInstanceMemory is the memory one pooled instance of a Go guest
// holds: the Go heap's growth when a second module of the same compiled
// code pre-warms its instances, after a GC, over their number.
func BenchmarkInstanceMemory(b *testing.B) {
	ctx := context.Background()
	const instances = 16
	rt := newRuntime(b, func(c *plugins.Config) { c.PoolSize = instances; c.PreWarm = instances })
	wasm := guest(b, "noop")
	first, err := rt.Load(ctx, "noop", wasm) // compiles, and warms its own pool
	require.NoError(b, err)
	defer first.Close(ctx)
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse + ms.StackInuse
	}
	b.ResetTimer()
	for range b.N {
		before := heap()
		m, err := rt.Load(ctx, "noop", wasm)
		require.NoError(b, err)
		after := heap()
		require.Equal(b, instances, m.Stats().Live)
		b.ReportMetric(float64(after-before)/instances/(1<<20), "MiB/instance")
		require.NoError(b, m.Close(ctx))
	}
}

// TestBenchFixtures checks what the benchmarks lean on, so that a
// benchmark measuring a failure cannot pass for a fast one.
func TestBenchFixtures(t *testing.T) {
	t.Parallel()
	ex := benchExecution()
	b, err := json.Marshal(ex.InputParameters)
	require.NoError(t, err)
	require.Greater(t, len(b), 1000, "the context is about 1 KB")
	require.NoError(t, goValidate(context.Background(), ex))
	ex.InputParameters["Amount"] = tables.Number("-1")
	require.Error(t, goValidate(context.Background(), ex))
}
