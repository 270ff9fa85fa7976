package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
)

// TestServeDeliversToAWebhook: a solution's endpoint step delivers each
// committed row to a real receiver, signed with a secret read from the
// environment; the catalogs of the imported solutions are discoverable.
func TestServeDeliversToAWebhook(t *testing.T) {
	t.Parallel()
	b := setup(t)
	secret := endpoints.NewSecret()
	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r.Clone(r.Context())), append(bodies, body)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer rc.Close()

	dir := t.TempDir()
	files := map[string]string{
		"solution.yaml":  "name: erp_link\nversion: 1.0.0\n",
		"tables.yaml":    "tables:\n  - logicalName: invoice\n    pluralName: invoices\n    primaryName: number\n    columns:\n      - logicalName: number\n        type: string\n      - logicalName: total\n        type: money\n",
		"endpoints.yaml": "endpoints:\n  - name: erp\n    kind: webhook\n    url: " + rc.URL + "/hooks\n    format: cloudevents-structured\n    secrets: [\"env:ERP_SECRET\"]\n    retry: {maxAttempts: 3, initialDelay: 50ms}\n    ordered: true\n",
		"steps.yaml":     "steps:\n  - name: invoice to erp\n    message: Create\n    table: invoice\n    stage: PostOperation\n    mode: async\n    endpoint: erp\n",
	}
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	contoso := filepath.Join("..", "..", "internal", "testdata", "contoso")
	srv := startServe(t, b.ctx, serveOptions{DB: b.db, APIKey: testAPIKey, Solutions: []string{dir, contoso},
		getenv: func(k string) string {
			if k == "ERP_SECRET" {
				return secret
			}
			return ""
		}})
	do := func(method, path, body string) (int, string) { t.Helper(); return srv.do(t, b.ctx, method, path, body) }
	status, body := do(http.MethodPost, "/api/data/v9.2/invoices", `{"number":"INV-1","total":99.50}`)
	require.Equal(t, http.StatusNoContent, status, body)

	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 }, 20*time.Second, 10*time.Millisecond)
	mu.Lock()
	req, raw := got[0], bodies[0]
	mu.Unlock()
	require.NoError(t, endpoints.Verify(secret, req.Header, raw, time.Now(), time.Minute))
	require.Equal(t, "application/cloudevents+json", req.Header.Get("Content-Type"))
	var ce struct {
		SpecVersion string `json:"specversion"`
		Type        string `json:"type"`
		Data        struct {
			MessageName, PrimaryEntityName, StepName string
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(raw, &ce))
	require.Equal(t, "1.0", ce.SpecVersion)
	require.Equal(t, "bizevents.invoice.Create", ce.Type)
	require.Equal(t, "invoice to erp", ce.Data.StepName)

	require.Eventually(t, func() bool {
		_, body := do(http.MethodGet, "/api/jobs?kind=endpoint&status=succeeded", "")
		return strings.Contains(body, `"subscriber":"step:invoice to erp"`) && strings.Contains(body, `"ordered":true`)
	}, 10*time.Second, 20*time.Millisecond)

	// Discovery of the imported catalogs.
	status, body = do(http.MethodGet, "/api/catalogs", "")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "contoso_customers")
	require.NoError(t, srv.stop(t))
}
