package plugins_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/api"
	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/internal/benchload"
	"github.com/bizevents/bizevents/plugins"
)

// benchClients is how many HTTP clients send at once.
const benchClients = 64

// benchBody is a purchase of about 1 KB.
func benchBody() []byte {
	items := make([]string, 68)
	for i := range items {
		items[i] = fmt.Sprintf("sku-%06d", i)
	}
	b, _ := json.Marshal(map[string]any{"CustomerId": uuid.NewString(), "Amount": json.Number("129.95"), "Currency": "EUR",
		"StoreId": "store-0042", "Items": items})
	return b
}

// BenchmarkInvokeWithPlugin is custom API invocations per second over HTTP
// with one sync WASM step (the validation plugin, PreOperation) next to
// the same custom API with no step, 64 concurrent clients, on each
// backend; the figure is the ratio wasm/baseline of events/s. A third
// sibling, native, runs the same validation as a Go handler in the same
// step: a message with a sync step runs in a transaction, one without
// is appended by the log's group commit, so native/baseline is the price
// of the transaction and wasm/native the price of the sandbox.
func BenchmarkInvokeWithPlugin(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run("backend="+backend, func(b *testing.B) {
			bun := setup(b, storagetest.Backends[backend])
			defs := bun.e.Definitions()
			purchase, ok := defs.CustomAPI("pos_CustomerPurchase")
			require.True(b, ok)
			validate := pipeline.Step{Name: "validate purchase", Message: purchase.UniqueName, Stage: pipeline.PreOperation,
				Mode: pipeline.Sync, Handler: "pos_validation/ValidatePurchase", Config: `{"currencies":["EUR","NOK","USD"]}`}
			native := validate
			native.Handler = "go.ValidatePurchase"
			body := benchBody()
			require.Greater(b, len(body), 1000)
			for _, c := range []struct {
				name  string
				steps []pipeline.Step
			}{{"baseline", nil}, {"native", []pipeline.Step{native}}, {"wasm", []pipeline.Step{validate}}} {
				b.Run(c.name, func(b *testing.B) {
					e := pipeline.New(bun.db, pipeline.Config{Handlers: bothHandlers{bun.reg}})
					d, err := pipeline.NewDefinitions(nil, []customapi.API{*purchase}, c.steps)
					require.NoError(b, err)
					e.SetDefinitions(d)
					srv := serveEngine(b, e, bun)
					client := &http.Client{Transport: &http.Transport{MaxIdleConns: benchClients, MaxIdleConnsPerHost: benchClients}, Timeout: time.Minute}
					post := func() error {
						req, err := http.NewRequest(http.MethodPost, srv.URL+api.DefaultBasePath+"/"+purchase.UniqueName, bytes.NewReader(body))
						if err != nil {
							return err
						}
						req.Header.Set("Authorization", "Bearer "+apiKey)
						req.Header.Set("Content-Type", "application/json")
						resp, err := client.Do(req)
						if err != nil {
							return err
						}
						out, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusNoContent {
							return fmt.Errorf("status %d: %s", resp.StatusCode, out)
						}
						return nil
					}
					require.NoError(b, post(), "the fixture: a valid purchase is recorded")
					benchload.Report(b, benchClients, post)
				})
			}
		})
	}
}

func serveEngine(b *testing.B, e *pipeline.Engine, bun *bundle) *httptest.Server {
	srv, _ := serve(b, e, bun)
	return srv
}

// bothHandlers finds plugins in the registry and the Go handler of the
// native benchmark.
type bothHandlers struct{ reg *plugins.Registry }

func (h bothHandlers) Handler(name string) (pipeline.Handler, bool) {
	if name == "go.ValidatePurchase" {
		return pipeline.HandlerFunc(goValidatePurchase), true
	}
	return h.reg.Handler(name)
}

// goValidatePurchase is validate_purchase's checks as a Go handler.
func goValidatePurchase(_ context.Context, ex *pipeline.Execution) error {
	amount := fmt.Sprint(ex.InputParameters["Amount"])
	if strings.HasPrefix(amount, "-") {
		return pipeline.Fail("the amount %s is negative", amount)
	}
	currency, _ := ex.InputParameters["Currency"].(string)
	if !slices.Contains([]string{"EUR", "NOK", "USD"}, strings.ToUpper(currency)) {
		return pipeline.Fail("currency %q is not accepted", currency)
	}
	if items, ok := ex.InputParameters["Items"].([]string); ok && len(items) > 100 {
		return pipeline.Fail("a purchase has at most 100 items, this one %d", len(items))
	}
	return nil
}
