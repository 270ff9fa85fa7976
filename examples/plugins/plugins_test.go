package plugins_test

// These tests build the example plugins from source, import the example
// solution with them, and run purchases through the real pipeline on
// SQLite and PostgreSQL, and through the HTTP API.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/api"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/security"
	"github.com/bizevents/bizevents/engine/solution"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/engine/tracelog"
	"github.com/bizevents/bizevents/plugins"
)

// modules are the example plugins: the folder of each, and its module name
// in plugins.yaml.
var modules = map[string]string{
	"validate_purchase": "pos_validation",
	"total_spent":       "pos_totals",
	"purchase_audit":    "pos_audit",
}

// buildDir holds the binary's builds of the modules.
var buildDir = sync.OnceValues(func() (string, error) { return os.MkdirTemp("", "bizevents-example-plugins-") })

type built struct {
	once sync.Once
	wasm []byte
	err  error
}

var builds sync.Map // folder + ldflags -> *built

// buildModule builds an example plugin from source with the standard
// toolchain, once per test binary for the same flags.
func buildModule(t testing.TB, folder string, ldflags string) []byte {
	t.Helper()
	v, _ := builds.LoadOrStore(folder+" "+ldflags, &built{})
	b := v.(*built)
	b.once.Do(func() {
		dir, err := buildDir()
		if err != nil {
			b.err = err
			return
		}
		out := filepath.Join(dir, fmt.Sprintf("%s-%d.wasm", folder, len(ldflags)))
		args := []string{"build", "-buildmode=c-shared", "-trimpath", "-o", out}
		if ldflags != "" {
			args = append(args, "-ldflags="+ldflags)
		}
		cmd := exec.Command("go", append(args, "./"+folder)...)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=")
		if outb, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("build %s: %v\n%s", folder, err, outb)
			return
		}
		b.wasm, b.err = os.ReadFile(out)
	})
	require.NoError(t, b.err)
	return b.wasm
}

// solutionDir copies the example solution's YAML files into a folder of
// the test's and puts the modules built from source where plugins.yaml
// expects them. ldflags change the validation module's build.
func solutionDir(t testing.TB, validationFlags string) string {
	t.Helper()
	dir := t.TempDir()
	yamls, err := filepath.Glob("*.yaml")
	require.NoError(t, err)
	for _, f := range yamls {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "modules"), 0o755))
	for folder, name := range modules {
		flags := ""
		if folder == "validate_purchase" {
			flags = validationFlags
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "modules", name+".wasm"), buildModule(t, folder, flags), 0o644))
	}
	return dir
}

// bundle is one test's engine with the example solution imported.
type bundle struct {
	db     storage.DB
	e      *pipeline.Engine
	reg    *plugins.Registry
	traces *tracelog.Writer
	caller pipeline.Caller
}

func setup(t testing.TB, open storagetest.Opener) *bundle {
	t.Helper()
	ctx := context.Background()
	b := &bundle{caller: pipeline.Caller{UserID: uuid.New()}}
	b.db = open(t, slices.Concat(tables.Migrations, solution.Migrations, tracelog.Migrations)...)
	b.traces = tracelog.NewWriter(b.db, tracelog.Config{})
	t.Cleanup(func() { _ = b.traces.Close(context.Background()) })
	rt, err := plugins.New(ctx, plugins.Config{CacheDir: plugins.DefaultCacheDir(), TraceSink: b.traces,
		Tables: func(name string) (*tables.Table, bool) { return b.e.Definitions().Table(name) }})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	b.reg = plugins.NewRegistry(rt)
	b.e = pipeline.New(b.db, pipeline.Config{Handlers: b.reg})
	b.importSolution(t, solutionDir(t, ""))
	return b
}

func (b *bundle) importSolution(t testing.TB, dir string) solution.ImportResult {
	t.Helper()
	ctx := context.Background()
	s, err := solution.Load(dir)
	require.NoError(t, err)
	res, err := solution.Import(ctx, b.db, s, b.caller)
	require.NoError(t, err)
	require.NoError(t, solution.Activate(ctx, b.e, b.reg))
	return res
}

func (b *bundle) customer(t testing.TB, name string) uuid.UUID {
	t.Helper()
	resp, err := b.e.Execute(context.Background(), pipeline.Request{Message: pipeline.Create, Table: "pos_customer",
		Target: map[string]any{"name": name}, Caller: b.caller})
	require.NoError(t, err)
	return resp.ID
}

func (b *bundle) purchase(customer uuid.UUID, amount, currency string) (pipeline.Response, error) {
	return b.e.Execute(context.Background(), pipeline.Request{Message: "pos_CustomerPurchase", Caller: b.caller,
		Parameters: map[string]any{"CustomerId": customer.String(), "Amount": json.Number(amount), "Currency": currency,
			"StoreId": "oslo-1", "Items": []any{"coffee", "cake"}}})
}

// head is the log's last position once every committed event is sealed.
func (b *bundle) head(t testing.TB) int64 { return storagetest.SealedHead(t, b.db) }

func (b *bundle) totals(t testing.TB, customer uuid.UUID) (string, int64) {
	t.Helper()
	resp, err := b.e.Execute(context.Background(), pipeline.Request{Message: pipeline.Retrieve, Table: "pos_customer", ID: customer, Caller: b.caller})
	require.NoError(t, err)
	n, _ := resp.Row["purchases"].(int64)
	return fmt.Sprint(resp.Row["totalspent"]), n
}

func requireCode(t *testing.T, err error, code errcode.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, errcode.Of(err), "error: %v", err)
}

func TestPurchasesThroughThePipeline(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		alice := b.customer(t, "Alice")
		head := b.head(t)

		// Refused in PreOperation: nothing is stored.
		for _, c := range []struct{ amount, currency, want string }{
			{"-5", "EUR", "the amount -5 is negative"},
			{"10", "XYZ", `currency "XYZ" is not accepted; want one of EUR, NOK, USD`},
		} {
			_, err := b.purchase(alice, c.amount, c.currency)
			requireCode(t, err, errcode.HandlerFailed)
			require.ErrorContains(t, err, c.want)
			var se *pipeline.StepError
			require.ErrorAs(t, err, &se)
			require.Equal(t, "validate purchase", se.Step)
			require.Equal(t, pipeline.PreOperation, se.Stage)
		}
		// Refused in PostOperation by the organization service: the
		// customer does not exist, so the purchase rolls back.
		_, err := b.purchase(uuid.New(), "10", "EUR")
		requireCode(t, err, errcode.HandlerFailed)
		require.ErrorContains(t, err, "does not exist")
		require.Equal(t, head, b.head(t), "refused purchases left events")
		total, n := b.totals(t, alice)
		require.Equal(t, int64(0), n)
		require.Equal(t, "<nil>", total)

		// Two purchases: the customer's totals change in their transactions.
		first, err := b.purchase(alice, "19.90", "EUR")
		require.NoError(t, err)
		_, err = b.purchase(alice, "5.15", "nok")
		require.NoError(t, err)
		total, n = b.totals(t, alice)
		require.Equal(t, int64(2), n)
		require.Equal(t, "25.05", total)

		// The purchase and the customer's update are events of one
		// correlation; the update one level deeper, caused by the purchase.
		require.Equal(t, head+4, b.head(t))
		evs, err := b.db.Log().Read(ctx, eventlog.ReadQuery{After: head, Limit: 10})
		require.NoError(t, err)
		require.Len(t, evs, 4)
		purchase, update := evs[0], evs[1]
		if purchase.Type != "pos_CustomerPurchase" {
			purchase, update = update, purchase
		}
		require.Equal(t, "pos_CustomerPurchase", purchase.Type)
		require.Equal(t, first.EventID, purchase.ID)
		require.Equal(t, "pos_customer.Update", update.Type)
		require.Equal(t, "pos_customer/"+alice.String(), update.StreamID)
		require.Equal(t, purchase.Metadata.CorrelationID, update.Metadata.CorrelationID)
		require.Equal(t, 2, update.Metadata.Depth)
		require.Equal(t, purchase.ID.String(), update.Metadata.CausationID)
		var data struct {
			AsyncSteps      []string       `json:"asyncSteps"`
			InputParameters map[string]any `json:"inputParameters"`
		}
		require.NoError(t, json.Unmarshal(purchase.Data, &data))
		require.Equal(t, []string{"audit purchase"}, data.AsyncSteps, "the async step is recorded for the router")

		// The async step, run as the router runs it: after commit, from
		// the event, in async mode.
		correlation := uuid.MustParse(purchase.Metadata.CorrelationID)
		_, err = b.reg.Call(ctx, "pos_audit", "AuditPurchase", &pipeline.Execution{
			Message: purchase.Type, Stage: pipeline.PostOperation, Mode: pipeline.Async, Depth: 1, Step: "audit purchase",
			UserID: b.caller.UserID, InitiatingUserID: b.caller.UserID, CorrelationID: correlation, OperationTime: purchase.Metadata.Time,
			InputParameters: data.InputParameters,
		})
		require.NoError(t, err)

		// The plugin trace log has each plugin's lines, by correlation and by step.
		require.NoError(t, b.traces.Flush(ctx))
		recs, err := tracelog.Query(ctx, b.db, tracelog.Filter{CorrelationID: correlation})
		require.NoError(t, err)
		var lines []string
		for _, r := range recs {
			lines = append(lines, r.Lines...)
			require.Equal(t, purchase.Metadata.CorrelationID, r.CorrelationID)
		}
		require.Contains(t, lines, "purchase of 19.9 EUR is valid")
		require.Contains(t, lines, fmt.Sprintf("customer %s has spent 19.9 in 1 purchases", alice))
		audit, err := tracelog.Query(ctx, b.db, tracelog.Filter{Step: "audit purchase"})
		require.NoError(t, err)
		require.Len(t, audit, 1)
		require.Equal(t, "async", audit[0].Mode)
		require.Contains(t, audit[0].Lines[0], fmt.Sprintf("audit: purchase of 19.9 EUR by customer %s in oslo-1, recorded by user %s", alice, b.caller.UserID))
		failed, err := tracelog.Query(ctx, b.db, tracelog.Filter{FailedOnly: true, Since: time.Now().Add(-time.Hour)})
		require.NoError(t, err)
		require.Len(t, failed, 3, "the traces of refused purchases are kept, though their messages rolled back")
		require.Equal(t, string(errcode.HandlerFailed), failed[0].ErrorCode)
		require.Contains(t, failed[0].Error, "the amount -5 is negative")
	})
}

// TestModuleSwap imports a new build of a module: the next purchase runs
// on it, without a restart.
func TestModuleSwap(t *testing.T) {
	t.Parallel()
	b := setup(t, storagetest.SQLite)
	alice := b.customer(t, "Alice")
	old, ok := b.reg.Module("pos_validation")
	require.True(t, ok)

	// A build of the validation plugin that accepts one currency less.
	dir := solutionDir(t, "")
	steps, err := os.ReadFile(filepath.Join(dir, "steps.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "steps.yaml"), bytes.Replace(steps, []byte(`"NOK",`), nil, 1), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "modules", "pos_validation.wasm"), buildModule(t, "validate_purchase", "-X main.unused=2"), 0o644))
	res := b.importSolution(t, dir)
	require.Contains(t, res.Changes.String(), "changed plugin pos_validation: hash:")
	cur, ok := b.reg.Module("pos_validation")
	require.True(t, ok)
	require.NotEqual(t, old.Hash(), cur.Hash())
	_, err = b.purchase(alice, "5", "NOK")
	require.ErrorContains(t, err, "want one of EUR, USD")
	_, err = old.Call(context.Background(), "ValidatePurchase", &pipeline.Execution{})
	require.ErrorContains(t, err, "the module was closed", "the old module closes after its last call")
}

func TestPurchasesOverHTTP(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		srv, key := serve(t, b.e, b)
		alice := b.customer(t, "Alice")
		post := func(amount string) (int, string) {
			body := fmt.Sprintf(`{"CustomerId":%q,"Amount":%s,"Currency":"EUR"}`, alice, amount)
			req, err := http.NewRequest(http.MethodPost, srv.URL+api.DefaultBasePath+"/pos_CustomerPurchase", strings.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			out, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			return resp.StatusCode, string(out)
		}
		status, body := post("12.50")
		require.Equal(t, http.StatusNoContent, status, body)
		status, body = post("-1")
		require.Equal(t, http.StatusBadRequest, status, body)
		require.Contains(t, body, `"bizeventsCode":"handler_failed"`)
		require.Contains(t, body, "the amount -1 is negative")
		total, n := b.totals(t, alice)
		require.Equal(t, "12.5", total)
		require.Equal(t, int64(1), n)
	})
}

const apiKey = "bze_example_plugins_key_0123456789"

// serve runs the HTTP API in front of e, for the API key of b's caller.
func serve(t testing.TB, e *pipeline.Engine, b *bundle) (*httptest.Server, string) {
	t.Helper()
	auth, err := security.New(security.Config{APIKeys: []security.APIKey{{Name: "examples", Key: apiKey, UserID: b.caller.UserID}}})
	require.NoError(t, err)
	h, err := api.New(api.Deps{Metadata: e, Service: e, Auth: auth}, api.Config{})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, apiKey
}
