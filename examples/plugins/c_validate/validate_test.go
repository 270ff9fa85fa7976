package c_validate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/plugins"
	"github.com/bizevents/bizevents/sdk/go/abi"
)

// These tests build validate.c with clang and wasi-libc and run it on the
// plugin host: the ABI needs nothing of Go's, and the C SDK header agrees
// with sdk/go/abi.

// sdkDir holds bizevents.h, relative to this package.
var sdkDir = filepath.Join("..", "..", "..", "sdk", "c")

// clangFlags build a reactor module: _initialize instead of _start, the
// exports named in the source with export_name, no debug sections (the
// wasi-libc archive carries them).
var clangFlags = []string{"--target=wasm32-wasi", "-O2", "-mexec-model=reactor",
	"-Wall", "-Wextra", "-Werror", "-Wl,--strip-debug"}

// workDir holds what this test binary builds; it lives as long as the
// binary.
var workDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bizevents-c-validate-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var built struct {
	once sync.Once
	wasm []byte
	// missing says which part of the toolchain is missing; err is any
	// other failure.
	missing string
	err     error
}

// module returns validate.c built into a plugin module, built once per
// test binary. Without clang, wasm-ld or wasi-libc the test is skipped,
// except with CI=true, where it fails: in CI the toolchain is installed
// (make test runs scripts/toolchain.sh).
func module(t testing.TB) []byte {
	t.Helper()
	built.once.Do(func() {
		clang, err := exec.LookPath("clang")
		if err != nil {
			built.missing = "clang is not installed"
			return
		}
		// A trivial reactor first, to tell a missing wasm-ld or wasi-libc
		// from a broken validate.c.
		probe := filepath.Join(workDir, "probe.c")
		if err := os.WriteFile(probe, []byte(`__attribute__((export_name("f"))) int f(void) { return 1; }`+"\n"), 0o644); err != nil {
			built.err = err
			return
		}
		if out, err := exec.Command(clang, append(clangFlags, "-o", probe+".wasm", probe)...).CombinedOutput(); err != nil {
			built.missing = fmt.Sprintf("clang cannot build a wasm32-wasi reactor (wasm-ld or wasi-libc missing?): %v\n%s", err, out)
			return
		}
		out := filepath.Join(workDir, "c_validate.wasm")
		args := append(append([]string{}, clangFlags...), "-I", sdkDir, "-o", out, "validate.c")
		if outb, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
			built.err = fmt.Errorf("clang %s: %v\n%s", strings.Join(args, " "), err, outb)
			return
		}
		built.wasm, built.err = os.ReadFile(out)
	})
	if built.missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the C toolchain is required in CI: %s", built.missing)
		}
		t.Skipf("the C toolchain is missing (run scripts/toolchain.sh as root): %s", built.missing)
	}
	require.NoError(t, built.err)
	return built.wasm
}

// newRuntime starts a plugin runtime, closed when the test ends.
func newRuntime(t testing.TB, change ...func(*plugins.Config)) *plugins.Runtime {
	t.Helper()
	cfg := plugins.Config{NoCompilationCache: true}
	for _, f := range change {
		f(&cfg)
	}
	rt, err := plugins.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

var (
	userID = uuid.MustParse("0196d7c2-0000-7000-8000-000000000001")
	opTime = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
)

// purchase is the custom event validate.c checks, as in the Go example.
var purchase = customapi.API{
	UniqueName: "contoso_CustomerPurchase", AllowedStepType: customapi.StepsSyncAndAsync,
	RequestParameters: []customapi.Parameter{
		{UniqueName: "CustomerId", Type: customapi.GUID},
		{UniqueName: "Amount", Type: customapi.Money},
		{UniqueName: "Items", Type: customapi.StringArray, Optional: true},
	},
}

// execution is a PreOperation step's view of a CustomerPurchase with the
// given parameters.
func execution(params map[string]any) *pipeline.Execution {
	return &pipeline.Execution{
		Message: purchase.UniqueName, Stage: pipeline.PreOperation, Mode: pipeline.Sync, Depth: 1,
		UserID: userID, InitiatingUserID: userID, CorrelationID: uuid.New(), RequestID: uuid.New(), OperationTime: opTime,
		InputParameters: params, OutputParameters: map[string]any{}, SharedVariables: map[string]any{},
		PreImages: map[string]tables.Row{}, PostImages: map[string]tables.Row{}, Step: "validate",
	}
}

func TestLoads(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	m, err := rt.Load(context.Background(), "c_validate", module(t))
	require.NoError(t, err, "the C module must pass the host's load checks")
	require.NoError(t, m.Close(context.Background()))
}

func TestHandlers(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	m, err := rt.Load(context.Background(), "c_validate", module(t))
	require.NoError(t, err)
	long := strings.Repeat("a long amount ✓ ", 40) // longer than Echo's stack buffer

	for _, tc := range []struct {
		name    string
		handler string
		params  map[string]any
		// code and msg are the failure; empty for success, then shared
		// and trace are the shared variables and trace lines it leaves.
		code   errcode.Code
		msg    string
		shared map[string]any
		trace  []string
	}{
		{name: "decimal passes", handler: "ValidatePurchase", params: map[string]any{"Amount": tables.Number("19.90")},
			shared: map[string]any{"validated_by": "c"}, trace: []string{"validated amount 19.90"}},
		{name: "zero passes", handler: "ValidatePurchase", params: map[string]any{"Amount": tables.Number("-0.00")},
			shared: map[string]any{"validated_by": "c"}, trace: []string{"validated amount -0.00"}},
		{name: "exponent passes", handler: "ValidatePurchase", params: map[string]any{"Amount": json.Number("1.5e3")},
			shared: map[string]any{"validated_by": "c"}, trace: []string{"validated amount 1.5e3"}},
		{name: "integer passes", handler: "ValidatePurchase", params: map[string]any{"Amount": int64(7)},
			shared: map[string]any{"validated_by": "c"}, trace: []string{"validated amount 7"}},
		{name: "negative fails", handler: "ValidatePurchase", params: map[string]any{"Amount": tables.Number("-5")},
			code: errcode.HandlerFailed, msg: "the amount -5 is negative: a purchase cannot take money back; record a refund instead"},
		{name: "small negative fails", handler: "ValidatePurchase", params: map[string]any{"Amount": tables.Number("-0.01")},
			code: errcode.HandlerFailed, msg: "the amount -0.01 is negative: a purchase cannot take money back; record a refund instead"},
		{name: "missing amount fails", handler: "ValidatePurchase", params: map[string]any{},
			code: errcode.HandlerFailed, msg: "parameter Amount is missing: a purchase needs an amount"},
		{name: "text amount fails", handler: "ValidatePurchase", params: map[string]any{"Amount": "five"},
			code: errcode.HandlerFailed, msg: `parameter Amount: want a number, got "five"`},
		{name: "long amount fails", handler: "ValidatePurchase", params: map[string]any{"Amount": long},
			code: errcode.HandlerFailed, msg: fmt.Sprintf("parameter Amount: want a number, got a value of %d bytes", len(long)+2)},
		{name: "echo copies the amount", handler: "Echo", params: map[string]any{"Amount": tables.Number("19.90")},
			shared: map[string]any{"amount": json.Number("19.90")}, trace: []string{"echoed 5 bytes"}},
		{name: "echo copies a long value", handler: "Echo", params: map[string]any{"Amount": long},
			shared: map[string]any{"amount": long}, trace: []string{fmt.Sprintf("echoed %d bytes", len(long)+2)}},
		{name: "echo without an amount fails", handler: "Echo", params: map[string]any{},
			code: errcode.HandlerFailed, msg: "get input/Amount: bizevents ABI error -1 NOT_FOUND"},
		{name: "unknown handler fails naming it", handler: "Nope", params: map[string]any{"Amount": tables.Number("1")},
			code: errcode.HandlerFailed, msg: `handler "Nope" is not registered in this module; it has ValidatePurchase, Echo`},
		{name: "handler names are decoded JSON", handler: `Nö "pe"`, params: map[string]any{},
			code: errcode.HandlerFailed, msg: `handler "Nö "pe"" is not registered in this module; it has ValidatePurchase, Echo`},
		{name: "a handler name too long to read fails", handler: strings.Repeat("x", 300), params: map[string]any{},
			code: errcode.HandlerFailed, msg: "could not read the handler name: get handler: bizevents ABI error -6 TOO_LARGE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := execution(tc.params)
			res, err := m.Call(context.Background(), tc.handler, ex)
			if tc.code != "" {
				require.Error(t, err)
				require.Equal(t, tc.code, errcode.Of(err), "error: %v", err)
				require.EqualError(t, err, tc.msg)
				require.Empty(t, ex.SharedVariables, "a failed handler set shared variables")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.shared, ex.SharedVariables)
			require.Equal(t, tc.trace, res.Trace)
		})
	}
	require.Zero(t, m.Stats().Discarded, "a handler's failure is no crash")
}

// TestHeaderMatchesABI keeps sdk/c/bizevents.h in step with sdk/go/abi,
// the one definition of the ABI's names and numbers.
func TestHeaderMatchesABI(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(filepath.Join(sdkDir, "bizevents.h"))
	require.NoError(t, err)
	h := string(src)
	all := func(re string) []string {
		var out []string
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(h, -1) {
			out = append(out, strings.Join(m[1:], " "))
		}
		return out
	}

	var want []string
	for _, e := range abi.Errnos {
		want = append(want, fmt.Sprintf("%s %d", e.Name(), e))
	}
	require.ElementsMatch(t, want, all(`(?m)^#define BIZEVENTS_ERR_([A-Z_]+) \((-\d+)\)$`))
	require.Equal(t, []string{fmt.Sprintf("OK %d", abi.HandleOK), fmt.Sprintf("FAILED %d", abi.HandleFailed)},
		all(`(?m)^#define BIZEVENTS_HANDLE_([A-Z]+) (\d+)$`))
	require.Equal(t, []string{strconv.Itoa(abi.Version)}, all(`(?m)^#define BIZEVENTS_ABI_VERSION (\d+)$`))
	require.Equal(t, []string{abi.ImportModule}, all(`import_module\("(\w+)"\)`))
	require.ElementsMatch(t, []string{abi.FuncGet, abi.FuncResultRead, abi.FuncSet, abi.FuncExecute, abi.FuncTrace, abi.FuncFail},
		all(`BIZEVENTS_IMPORT\("(\w+)"\) `))
	require.Contains(t, all(`BIZEVENTS_EXPORT\("(\w+)"\) `), abi.ExportMarker)
	require.Equal(t, []string{abi.KeyHandler}, all(`bizevents_read_string\("(\w+)"`), "dispatch reads the handler name")
}

// handlerSet finds "go/<name>" handlers in a map and the others in the
// plugin registry, so that a Go step can follow the C one.
type handlerSet struct {
	plugins *plugins.Registry
	native  pipeline.HandlerMap
}

func (s handlerSet) Handler(name string) (pipeline.Handler, bool) {
	if h, ok := s.native[name]; ok {
		return h, true
	}
	return s.plugins.Handler(name)
}

var _ pipeline.Handlers = handlerSet{}

func TestEngine(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		db := open(t, tables.Migrations...)
		sink := plugins.NewMemorySink(0)
		reg := plugins.NewRegistry(newRuntime(t, func(c *plugins.Config) { c.TraceSink = sink }))
		_, err := reg.Load(ctx, "c_validate", module(t))
		require.NoError(t, err)
		// A Go step after the C one sees what the C step shared.
		var mu sync.Mutex
		var seen []any
		audit := pipeline.HandlerFunc(func(_ context.Context, ex *pipeline.Execution) error {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, ex.SharedVariables["validated_by"])
			return nil
		})
		e := pipeline.New(db, pipeline.Config{Handlers: handlerSet{plugins: reg, native: pipeline.HandlerMap{"go/Audit": audit}}})
		defs, err := pipeline.NewDefinitions(nil, []customapi.API{purchase}, []pipeline.Step{
			{Name: "validate", Message: purchase.UniqueName, Stage: pipeline.PreOperation, Mode: pipeline.Sync, Handler: "c_validate/ValidatePurchase"},
			{Name: "audit", Message: purchase.UniqueName, Stage: pipeline.PostOperation, Mode: pipeline.Sync, Handler: "go/Audit"},
		})
		require.NoError(t, err)
		e.SetDefinitions(defs)
		buy := func(amount string) (uuid.UUID, pipeline.Response, error) {
			cid := uuid.New()
			resp, err := e.Execute(ctx, pipeline.Request{Message: purchase.UniqueName, Caller: pipeline.Caller{UserID: userID}, CorrelationID: cid,
				Parameters: map[string]any{"CustomerId": uuid.NewString(), "Amount": json.Number(amount), "Items": []any{"pen"}}})
			return cid, resp, err
		}
		head := func() int64 {
			t.Helper()
			for {
				h, err := db.Log().Head(ctx)
				require.NoError(t, err)
				if h.Unsealed == 0 {
					return h.Position
				}
				require.NoError(t, db.Log().Wait(ctx, h.Position))
			}
		}
		lines := func(cid uuid.UUID) []string {
			var out []string
			for _, tr := range sink.ByCorrelation(cid) {
				out = append(out, tr.Lines...)
			}
			return out
		}

		cid, resp, err := buy("19.90")
		require.NoError(t, err)
		require.NotEqual(t, uuid.Nil, resp.EventID, "a valid purchase is recorded")
		// The engine checks a Money parameter into a canonical decimal
		// before any step sees it: 19.90 arrives as 19.9.
		require.Equal(t, []string{"validated amount 19.9"}, lines(cid))
		require.Equal(t, []any{"c"}, seen)
		before := head()
		require.Positive(t, before)

		cid, _, err = buy("-5")
		require.Error(t, err)
		require.Equal(t, errcode.HandlerFailed, errcode.Of(err), "error: %v", err)
		require.ErrorContains(t, err, "the amount -5 is negative")
		var se *pipeline.StepError
		require.ErrorAs(t, err, &se)
		require.Equal(t, "validate", se.Step)
		require.Equal(t, pipeline.PreOperation, se.Stage)
		require.Empty(t, lines(cid))
		require.Equal(t, before, head(), "a refused purchase left an event")
		require.Equal(t, []any{"c"}, seen, "the step after a refusal ran")
	})
}

// BenchmarkCValidate is the cost of a step written in C: ValidatePurchase
// as a wasm plugin call next to the same check as a Go handler, on the
// same execution. ns/call is per handler call; events/s, for `make
// bench`'s ratio, counts the purchases validated.
func BenchmarkCValidate(b *testing.B) {
	ctx := context.Background()
	report := func(b *testing.B) {
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(ns, "ns/call")
		b.ReportMetric(1e9/ns, "events/s")
	}
	run := func(b *testing.B, h pipeline.Handler) {
		ex := execution(map[string]any{"CustomerId": uuid.New(), "Amount": tables.Number("19.90"), "Items": []string{"pen"}})
		// The fixture: the handler validates and shares, as the tests check.
		require.NoError(b, h.Handle(ctx, ex))
		require.Equal(b, "c", ex.SharedVariables["validated_by"])
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := h.Handle(ctx, ex); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	}

	b.Run("baseline", func(b *testing.B) {
		var trace []string
		run(b, goValidate(&trace))
	})
	b.Run("wasm", func(b *testing.B) {
		m, err := newRuntime(b).Load(ctx, "c_validate", module(b))
		require.NoError(b, err)
		run(b, plugins.Handler(m, "ValidatePurchase"))
	})
}

// goValidate is validate.c's ValidatePurchase as a Go handler, for the
// benchmark's baseline: the same reads, sign check, shared variable and
// trace line (kept in *trace, as the host keeps the plugin's).
func goValidate(trace *[]string) pipeline.HandlerFunc {
	return func(_ context.Context, ex *pipeline.Execution) error {
		v, ok := ex.InputParameters["Amount"]
		if !ok {
			return pipeline.Fail("parameter Amount is missing: a purchase needs an amount")
		}
		amount, ok := v.(tables.Number)
		if !ok {
			return pipeline.Fail("parameter Amount: want a number, got %v", v)
		}
		s := string(amount)
		if strings.HasPrefix(s, "-") && strings.ContainsAny(s, "123456789") {
			return pipeline.Fail("the amount %s is negative: a purchase cannot take money back; record a refund instead", s)
		}
		ex.SharedVariables["validated_by"] = "c"
		*trace = append((*trace)[:0], "validated amount "+s)
		return nil
	}
}
