package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestServeRunsFlows: serve runs a solution's flow on each catalogued
// event (its HTTP action reaches a real receiver), answers a flow-defined
// action, and shows the runs over HTTP and on the command line, where a
// run can be resubmitted.
func TestServeRunsFlows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var mu sync.Mutex
	var got []map[string]any
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		got = append(got, body)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer rc.Close()
	received := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }

	dir := t.TempDir()
	files := map[string]string{
		"solution.yaml": "name: pos\nversion: 1.0.0\n",
		"apis.yaml": `customApis:
  - uniqueName: pos_Sale
    binding: Global
    allowedStepType: AsyncOnly
    requestParameters:
      - {uniqueName: Amount, type: Money}
      - {uniqueName: Store, type: String}
`,
		"catalog.yaml": `catalogs:
  - uniqueName: pos
    displayName: Point of sale
    categories:
      - uniqueName: pos_sales
        displayName: Sales
        assignments:
          - customApi: pos_Sale
          - flow: pos_double
`,
		"flows.yaml": `flows:
  - name: pos_thanks
    trigger:
      action: {catalog: pos, action: pos_Sale}
      filter: trigger.InputParameters.Amount > 1
    actions:
      - name: send
        http:
          url: env:POS_THANKS_URL
          body: {store: =trigger.InputParameters.Store, amount: =trigger.InputParameters.Amount}
  - name: pos_double
    trigger:
      request:
        uniqueName: pos_Double
        requestParameters: [{uniqueName: X, type: Integer}]
        responseProperties: [{uniqueName: Y, type: Integer}]
    actions:
      - name: answer
        response: {properties: {Y: =trigger.InputParameters.X * 2}}
`,
	}
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	srv := startServe(t, b.ctx, serveOptions{DB: b.db, APIKey: testAPIKey, Solutions: []string{dir},
		getenv: func(k string) string {
			if k == "POS_THANKS_URL" {
				return rc.URL + "/thanks"
			}
			return ""
		}})
	do := func(method, path, body string) (int, string) { t.Helper(); return srv.do(t, b.ctx, method, path, body) }
	status, body := do(http.MethodPost, "/api/data/v9.2/pos_Sale", `{"Amount": 12.5, "Store": "Oslo"}`)
	require.Less(t, status, 300, body)
	require.Eventually(t, func() bool { return received() == 1 }, 20*time.Second, 10*time.Millisecond)
	mu.Lock()
	require.Equal(t, "Oslo", got[0]["store"])
	mu.Unlock()

	// The flow-defined action answers in the request.
	status, body = do(http.MethodPost, "/api/data/v9.2/pos_Double", `{"X": 21}`)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"Y":42`)

	// The runs, over HTTP.
	var runs struct {
		Runs []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"runs"`
	}
	require.Eventually(t, func() bool {
		status, body := do(http.MethodGet, "/api/flows/pos_thanks/runs?status=succeeded", "")
		require.Equal(t, http.StatusOK, status, body)
		require.NoError(t, json.Unmarshal([]byte(body), &runs))
		return len(runs.Runs) == 1
	}, 10*time.Second, 20*time.Millisecond)
	status, body = do(http.MethodGet, "/api/flows", "")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"name":"pos_thanks"`)
	require.Contains(t, body, `"customApi":"pos_Double"`)
	status, body = do(http.MethodGet, "/api/flowruns/"+runs.Runs[0].ID, "")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"status":"succeeded"`)
	require.Contains(t, body, `"path":"send"`)
	status, body = do(http.MethodGet, "/api/flowruns/not-a-guid", "")
	require.Equal(t, http.StatusBadRequest, status, body)
	status, body = do(http.MethodPost, "/api/flowruns/"+runs.Runs[0].ID+"/resubmit", "")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"replay":"resubmit:`+runs.Runs[0].ID+`"`)
	require.Eventually(t, func() bool { return received() == 2 }, 20*time.Second, 10*time.Millisecond)

	// And on the command line.
	code, out, errOut := b.cli(t, "", "flows", "ls")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "pos_thanks: action trigger on pos_Sale;")
	require.Contains(t, out, "pos_double: request trigger on custom API pos_Double")
	require.Eventually(t, func() bool {
		code, out, errOut := b.cli(t, "", "flows", "runs", "--status", "succeeded", "pos_thanks")
		require.Equal(t, 0, code, errOut)
		return strings.Count(out, "succeeded flow:pos_thanks pos_Sale") == 2
	}, 10*time.Second, 20*time.Millisecond, "the run and its resubmit are listed")
	code, out, errOut = b.cli(t, "", "flows", "show", "-v", runs.Runs[0].ID)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "succeeded send (http)")
	require.Contains(t, out, `"store":"Oslo"`)
	code, _, errOut = b.cli(t, "", "flows", "show", "01a23445-0000-7000-8000-000000000000")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "not_found")
	require.NoError(t, srv.stop(t))
}
