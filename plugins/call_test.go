package plugins_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/plugins"
)

func TestNoop(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	m := load(t, rt, "noop")
	res, err := m.Call(context.Background(), "Noop", execution(pipeline.PreOperation, tables.Row{"name": "x"}, nil))
	require.NoError(t, err)
	require.Empty(t, res.Trace)
	require.Equal(t, 1, res.HostCalls) // get("handler"), copied at once
	_, err = m.Call(context.Background(), "Nope", execution(pipeline.PreOperation, tables.Row{"name": "x"}, nil))
	requireCode(t, err, errcode.HandlerFailed)
	require.ErrorContains(t, err, `handler "Nope" is not registered in this module; it has Noop`)
	require.Equal(t, plugins.Stats{Idle: 1, Live: 1, Calls: 2}, m.Stats())
}

// out returns an output parameter as the plugin set it (decoded JSON).
func out(t *testing.T, ex *pipeline.Execution, key string) any {
	t.Helper()
	v, ok := ex.OutputParameters[key]
	require.True(t, ok, "output %q missing; have %v", key, ex.OutputParameters)
	return v
}

func TestReadContext(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	m := load(t, rt, "context")
	parent := uuid.MustParse("0196d7c2-0000-7000-8000-00000000b001")
	cust := uuid.MustParse("0196D7C2-0000-7000-8000-00000000C001")
	ex := execution(pipeline.PreOperation,
		tables.Row{"name": "Contoso \"Ltd\" ✓", "revenue": tables.Number("1000.5"), "parent": tables.Reference{Table: "account", ID: parent}},
		map[string]any{
			"Amount": tables.Number("19.99"), "Count": int64(21), "Flag": false, "Customer": cust,
			"Account": tables.Reference{Table: "account", ID: parent}, "At": time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
			"Items": []string{"pen", "ink"}, "Note": "line1\nline2",
		})
	ex.PreImages["before"] = tables.Row{"revenue": tables.Number("900")}
	ex.SharedVariables["seen"] = json.Number("7")
	res, err := m.Call(context.Background(), "Echo", ex)
	require.NoError(t, err)
	want := map[string]string{
		"handler": "Echo", "message": "Create", "table": "account", "id": rowID.String(), "stage": "20", "mode": "sync",
		"depth": "1", "user": userID.String(), "initiator": userID.String(), "correlation": correlationID.String(),
		"request": requestID.String(), "step": "test-step", "config": "cfg", "secure": "secret",
		"time": "2026-03-14T15:09:26.535897Z", "clock": "2026-03-14T15:09:26.535897Z",
		"amount_plus_one": "20.99", "count": "42", "flag": "true", "customer": strings.ToLower(cust.String()),
		"account_table": "account", "account_id": parent.String(), "at_year": "2025", "items": "pen+ink",
		"note": "line1\nline2", "target_name": "Contoso \"Ltd\" ✓", "target_revenue": "1000.5",
		"target_parent": parent.String(), "missing_is_not_found": "true", "pre_revenue": "900", "shared_seen": "7",
	}
	got := map[string]string{}
	for k, v := range ex.OutputParameters {
		switch v := v.(type) {
		case string:
			got[k] = v
		case json.Number:
			got[k] = v.String()
		case bool:
			got[k] = map[bool]string{true: "true", false: "false"}[v]
		default:
			t.Fatalf("output %s: unexpected %T", k, v)
		}
	}
	require.Equal(t, want, got)
	require.Equal(t, []string{"echoed 31 fields"}, res.Trace)
}

func TestWriteContext(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	m := load(t, rt, "context")
	ex := execution(pipeline.PreOperation, tables.Row{"name": "contoso"}, nil)
	_, err := m.Call(context.Background(), "Write", ex)
	require.NoError(t, err)
	require.Equal(t, "CONTOSO", ex.Target()["name"])
	require.Equal(t, true, ex.SharedVariables["stamped"])
	require.Equal(t, "hello contoso", ex.OutputParameters["Greeting"])

	// Too late to change the Target: the handler gets NOT_ALLOWED and
	// fails with it; the host traced why.
	ex = execution(pipeline.PostOperation, tables.Row{"name": "contoso"}, nil)
	res, err := m.Call(context.Background(), "Write", ex)
	requireCode(t, err, errcode.HandlerFailed)
	require.ErrorContains(t, err, "set target/name: bizevents ABI error -4 NOT_ALLOWED")
	require.Equal(t, "contoso", ex.Target()["name"])
	require.Contains(t, res.Trace, "[bizevents: the Target can change in PreValidation and PreOperation only, not in PostOperation]")
}

func TestABIErrors(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	m := load(t, rt, "context")
	ex := execution(pipeline.PostOperation, tables.Row{"name": "x"}, nil)
	_, err := m.Call(context.Background(), "Errors", ex)
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"get_unknown_root": "invalid_argument", "get_missing_param": "not_found", "get_empty_segment": "invalid_argument",
		"set_readonly": "forbidden", "get_scalar_child": "not_found",
	}, ex.OutputParameters)
}

func TestContextDocument(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	m := load(t, rt, "context")
	ex := execution(pipeline.PreOperation, tables.Row{"name": "x", "credit": int64(3)}, map[string]any{"Amount": tables.Number("1.50")})
	_, err := m.Call(context.Background(), "Context", ex)
	require.NoError(t, err)
	raw, err := json.Marshal(ex.OutputParameters["context"])
	require.NoError(t, err)
	require.JSONEq(t, `{"handler":"Context","message":"Create","table":"account","id":"`+rowID.String()+`",
		"stage":20,"mode":"sync","depth":1,"user_id":"`+userID.String()+`","initiating_user_id":"`+userID.String()+`",
		"correlation_id":"`+correlationID.String()+`","request_id":"`+requestID.String()+`",
		"operation_time":"2026-03-14T15:09:26.535897Z","step":"test-step","config":"cfg","secure_config":"secret",
		"input":{"Target":{"credit":3,"name":"x"},"Amount":1.50},"target":{"credit":3,"name":"x"},
		"output":{},"shared":{},"pre_image":{},"post_image":{}}`, string(raw))
}

func TestSandbox(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()
	rt := newRuntime(t)
	m := load(t, rt, "sandbox")
	ex := execution(pipeline.PreOperation, tables.Row{}, nil)
	ex.Config = ln.Addr().String()
	_, err = m.Call(context.Background(), "Probe", ex)
	require.NoError(t, err)
	for _, k := range []string{"read", "write", "readdir", "dial"} {
		require.NotEqual(t, "allowed", out(t, ex, k), k)
	}
	require.Contains(t, out(t, ex, "read"), "/etc/passwd")
	require.Equal(t, json.Number("0"), out(t, ex, "env"))
	require.Equal(t, json.Number("0"), out(t, ex, "args"))
	require.Equal(t, "2026-03-14T15:09:26.535897Z", out(t, ex, "now"), "the guest's clock is the operation time")
	select {
	case <-accepted:
		t.Fatal("the plugin reached the listener")
	case <-time.After(50 * time.Millisecond):
	}
}

func TestEndlessLoop(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, func(c *plugins.Config) {
		c.SyncTimeout = 200 * time.Millisecond
		c.AsyncTimeout = 400 * time.Millisecond
	})
	m := load(t, rt, "loop")
	start := time.Now()
	_, err := m.Call(context.Background(), "Forever", execution(pipeline.PreOperation, tables.Row{}, nil))
	pe := requireKind(t, err, plugins.KindTimeout)
	requireCode(t, err, errcode.HandlerFailed)
	require.Less(t, time.Since(start), 2*time.Second)
	require.Contains(t, pe.Error(), "plugin loop/Forever (sha256:")
	require.Contains(t, pe.Error(), "ran past its deadline of 200ms and was stopped")

	// The module is fine: the next call gets a fresh instance.
	ex := execution(pipeline.PreOperation, tables.Row{}, nil)
	_, err = m.Call(context.Background(), "Quick", ex)
	require.NoError(t, err)
	require.Equal(t, true, ex.OutputParameters["ok"])
	require.Equal(t, int64(1), m.Stats().Discarded)

	// An async step has the longer deadline.
	ex = execution(pipeline.PostOperation, tables.Row{}, nil)
	ex.Mode = pipeline.Async
	_, err = m.Call(context.Background(), "Forever", ex)
	require.ErrorContains(t, err, "ran past its deadline of 400ms")

	// A guest that blocks every goroutine dies at once, not at the deadline.
	_, err = m.Call(context.Background(), "Sleep", execution(pipeline.PreOperation, tables.Row{}, nil))
	requireKind(t, err, plugins.KindPanic)
	require.ErrorContains(t, err, "all goroutines are asleep")

	// The caller's cancellation stops a call too, with code canceled.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = m.Call(ctx, "Forever", execution(pipeline.PreOperation, tables.Row{}, nil))
	requireKind(t, err, plugins.KindCanceled)
	requireCode(t, err, errcode.Canceled)
}

func TestMemoryBomb(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, func(c *plugins.Config) { c.MemoryLimitPages = 512 })
	m := load(t, rt, "membomb")
	_, err := m.Call(context.Background(), "Bomb", execution(pipeline.PreOperation, tables.Row{}, nil))
	requireKind(t, err, plugins.KindOutOfMemory)
	requireCode(t, err, errcode.HandlerFailed)
	require.ErrorContains(t, err, "ran out of memory: the limit is 512 pages (32 MiB) per instance")
	ex := execution(pipeline.PreOperation, tables.Row{}, nil)
	_, err = m.Call(context.Background(), "Small", ex)
	require.NoError(t, err)
	require.Equal(t, true, ex.OutputParameters["ok"])
}

func TestTrapAndPanic(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	trap := load(t, rt, "trap")
	_, err := trap.Call(context.Background(), "OutOfBounds", execution(pipeline.PreOperation, tables.Row{}, nil))
	requireKind(t, err, plugins.KindTrap)
	require.ErrorContains(t, err, "trapped: out of bounds memory access")
	_, err = trap.Call(context.Background(), "Quick", execution(pipeline.PreOperation, tables.Row{}, nil))
	require.NoError(t, err)

	p := load(t, rt, "panic")
	_, err = p.Call(context.Background(), "Panic", execution(pipeline.PreOperation, tables.Row{}, nil))
	pe := requireKind(t, err, plugins.KindPanic)
	requireCode(t, err, errcode.HandlerFailed)
	require.True(t, strings.HasPrefix(pe.Message, "panicked: boom: the ledger is upside down (at "), pe.Message)
	require.Contains(t, pe.Message, "testdata/panic/main.go:9 in main.init.0.func1)")
	require.Equal(t, []string{"about to panic"}, pe.Trace)
	_, err = p.Call(context.Background(), "Nil", execution(pipeline.PreOperation, tables.Row{}, nil))
	requireKind(t, err, plugins.KindPanic)
	require.ErrorContains(t, err, "nil pointer dereference")
	_, err = p.Call(context.Background(), "Quick", execution(pipeline.PreOperation, tables.Row{}, nil))
	require.NoError(t, err)
	require.Equal(t, int64(2), p.Stats().Discarded)
}

func TestTraces(t *testing.T) {
	t.Parallel()
	sink := plugins.NewMemorySink(0)
	rt := newRuntime(t, func(c *plugins.Config) { c.TraceSink = sink })
	m := load(t, rt, "flood")
	ex := execution(pipeline.PreOperation, tables.Row{}, nil)
	res, err := m.Call(context.Background(), "Few", ex)
	require.NoError(t, err)
	require.Equal(t, []string{"one", "two", "four", "three"}, res.Trace)

	res, err = m.Call(context.Background(), "Flood", ex)
	require.NoError(t, err, "a flood of traces is capped, not an error")
	require.Len(t, res.Trace, plugins.DefaultMaxTraceLines+1)
	require.Equal(t, "line 0", res.Trace[0])
	require.Greater(t, res.Dropped, 20_000)
	require.Contains(t, res.Trace[len(res.Trace)-1], "more trace lines dropped: the limit is 1000 lines and 65536 bytes per call")

	traces := sink.ByCorrelation(correlationID)
	require.Len(t, traces, 2)
	tr := traces[1]
	require.Equal(t, "flood", tr.Module)
	require.Equal(t, "Flood", tr.Handler)
	require.Equal(t, "test-step", tr.Step)
	require.Equal(t, pipeline.PreOperation, tr.Stage)
	require.Equal(t, opTime, tr.OperationTime)
	require.Equal(t, res.Dropped, tr.Dropped)
	require.NoError(t, tr.Err)

	// Bytes are capped as well as lines.
	rt = newRuntime(t, func(c *plugins.Config) { c.MaxTraceLines = 100_000; c.MaxTraceBytes = 1000 })
	m = load(t, rt, "flood")
	res, err = m.Call(context.Background(), "Flood", ex)
	require.NoError(t, err)
	n := 0
	for _, l := range res.Trace[:len(res.Trace)-1] {
		n += len(l)
	}
	require.LessOrEqual(t, n, 1000+len("…"))
}

func TestHostCallBudget(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, func(c *plugins.Config) { c.MaxHostCalls = 1000 })
	m := load(t, rt, "budget")
	_, err := m.Call(context.Background(), "Spin", execution(pipeline.PreOperation, tables.Row{}, nil))
	requireKind(t, err, plugins.KindHostCalls)
	require.ErrorContains(t, err, "made more than 1000 host calls (the last was get) and was stopped")
}

func TestPreWarmAndPool(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, func(c *plugins.Config) { c.PoolSize = 2; c.PreWarm = 2 })
	m := load(t, rt, "noop")
	require.Equal(t, plugins.Stats{Idle: 2, Live: 2}, m.Stats())
	for range 5 {
		_, err := m.Call(context.Background(), "Noop", execution(pipeline.PreOperation, tables.Row{}, nil))
		require.NoError(t, err)
	}
	require.Equal(t, plugins.Stats{Idle: 2, Live: 2, Calls: 5}, m.Stats())
	require.NoError(t, m.Close(context.Background()))
	require.Equal(t, plugins.Stats{Idle: 0, Live: 0, Calls: 5}, m.Stats())
	_, err := m.Call(context.Background(), "Noop", execution(pipeline.PreOperation, tables.Row{}, nil))
	requireKind(t, err, plugins.KindClosed)
}

func TestEntityValues(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	m := load(t, rt, "context")
	tbl := (&tables.Table{LogicalName: "account", PluralName: "accounts"}).WithDefaults()
	ex := execution(pipeline.PreOperation, tables.Row{"name": "x"}, map[string]any{
		"Amount": tables.Number("0"),
		"Entity": customapi.EntityValue{Table: &tbl, Row: tables.Row{"name": "inner"}},
	})
	_, err := m.Call(context.Background(), "Context", ex)
	require.NoError(t, err)
	doc := ex.OutputParameters["context"].(map[string]any)
	require.Equal(t, map[string]any{"name": "inner", "@odata.type": "Microsoft.Dynamics.CRM.account"},
		doc["input"].(map[string]any)["Entity"])
}

func TestPluginErrorIsAnError(t *testing.T) {
	var pe *plugins.PluginError
	err := error(&plugins.PluginError{Module: "m", Hash: strings.Repeat("ab", 32), Handler: "h", Kind: plugins.KindTrap,
		Message: "trapped: unreachable", Trace: []string{"a", "b"}, Err: errors.New("wasm error: unreachable")})
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "plugin m/h (sha256:abababababab): trapped: unreachable; trace ends: a | b", err.Error())
	require.Equal(t, errcode.HandlerFailed, errcode.Of(err))
}
