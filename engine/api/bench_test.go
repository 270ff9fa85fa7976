package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/api"
	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/security"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/internal/benchload"
)

// benchClients is how many clients send at once.
const benchClients = 64

// benchEvent is an external event, as a point-of-sale system reports it.
var benchEvent = customapi.API{
	UniqueName: "bench_CustomerPurchase", AllowedStepType: customapi.StepsAsyncOnly,
	RequestParameters: []customapi.Parameter{
		{UniqueName: "CustomerId", Type: customapi.GUID},
		{UniqueName: "Amount", Type: customapi.Money},
		{UniqueName: "StoreId", Type: customapi.String},
		{UniqueName: "Note", Type: customapi.String},
	},
}

// benchParams are about 1 KB of parameters.
func benchParams() map[string]any {
	return map[string]any{
		"CustomerId": uuid.NewString(), "Amount": json.Number("129.95"), "StoreId": "store-0042",
		"Note": strings.Repeat("receipt line; ", 66),
	}
}

// BenchmarkInvoke compares external events sent through the whole engine
// over HTTP (authentication, routing, parameter checks, the pipeline, the
// append) with bare appends of the same events to the log, with 64
// concurrent clients, on each backend. The figure is the ratio http/baseline
// of events/s; p50-ms and p99-ms are the HTTP requests' latencies.
func BenchmarkInvoke(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run("backend="+backend, func(b *testing.B) {
			db := storagetest.Backends[backend](b, tables.Migrations...)
			e := pipeline.New(db, pipeline.Config{})
			defs, err := pipeline.NewDefinitions(nil, []customapi.API{benchEvent}, nil)
			require.NoError(b, err)
			e.SetDefinitions(defs)
			const key = "bze_bench_key_0123456789abcdefghij"
			auth, err := security.New(security.Config{APIKeys: []security.APIKey{{Name: "bench", Key: key, UserID: uuid.New()}}})
			require.NoError(b, err)
			h, err := api.New(api.Deps{Metadata: e, Service: e, Auth: auth}, api.Config{})
			require.NoError(b, err)
			srv := httptest.NewServer(h)
			b.Cleanup(srv.Close)
			client := &http.Client{Transport: &http.Transport{MaxIdleConns: benchClients, MaxIdleConnsPerHost: benchClients}, Timeout: time.Minute}
			ctx := context.Background()
			body, err := json.Marshal(benchParams())
			require.NoError(b, err)

			b.Run("baseline", func(b *testing.B) {
				// The event the engine appends, built once.
				data, err := json.Marshal(map[string]any{"messageName": benchEvent.UniqueName, "depth": 1, "inputParameters": benchParams()})
				require.NoError(b, err)
				_, elapsed := benchload.Run(b, benchClients, func() error {
					_, err := db.Log().Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{{
						ID: uuid.Must(uuid.NewV7()), StreamID: benchEvent.UniqueName + "/" + uuid.NewString(), Type: benchEvent.UniqueName, Data: data,
						Metadata: eventlog.Metadata{UserID: "u", InitiatingUserID: "u", CorrelationID: uuid.NewString(), RequestID: uuid.NewString(), Depth: 1},
					}}})
					return err
				})
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			})
			b.Run("engine", func(b *testing.B) {
				_, elapsed := benchload.Run(b, benchClients, func() error {
					_, err := e.Execute(ctx, pipeline.Request{Message: benchEvent.UniqueName, Parameters: benchParams()})
					return err
				})
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			})
			b.Run("http", func(b *testing.B) {
				benchload.Report(b, benchClients, func() error {
					req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+api.DefaultBasePath+"/"+benchEvent.UniqueName, bytes.NewReader(body))
					if err != nil {
						return err
					}
					req.Header.Set("Authorization", "Bearer "+key)
					req.Header.Set("Content-Type", "application/json")
					resp, err := client.Do(req)
					if err != nil {
						return err
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusNoContent {
						return fmt.Errorf("status %d", resp.StatusCode)
					}
					return nil
				})
			})
		})
	}
}
