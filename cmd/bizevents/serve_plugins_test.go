package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// examplePlugins copies examples/plugins (its YAML files) into a folder
// and builds its modules from source there, as its solution.yaml says.
func examplePlugins(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "examples", "plugins")
	dir := t.TempDir()
	yamls, err := filepath.Glob(filepath.Join(src, "*.yaml"))
	require.NoError(t, err)
	for _, f := range yamls {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644))
	}
	for folder, module := range map[string]string{"validate_purchase": "pos_validation", "total_spent": "pos_totals", "purchase_audit": "pos_audit"} {
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", filepath.Join(dir, "modules", module+".wasm"), "./"+folder)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "build %s: %s", folder, out)
	}
	return dir
}

// TestServeWithPlugins walks the plugin path of the README: validate and
// import a solution that ships plugins, serve it, send purchases, read the
// plugin trace log over HTTP and from the command line.
func TestServeWithPlugins(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var stop context.CancelFunc
	b.ctx, stop = context.WithTimeout(t.Context(), 2*time.Minute) // module builds take a while
	defer stop()
	dir := examplePlugins(t)

	code, out, errOut := b.cli(t, "", "solution", "validate", dir)
	require.Equal(t, 0, code, out+errOut)
	code, out, errOut = b.cli(t, "", "solution", "import", dir)
	require.Equal(t, 0, code, out+errOut)
	require.Contains(t, out, "imported: pos_plugins 1.0.0")

	// A module the host refuses is refused at import, with the host's reason.
	broken := t.TempDir()
	require.NoError(t, exec.Command("cp", "-r", dir+"/.", broken).Run())
	require.NoError(t, os.WriteFile(filepath.Join(broken, "modules", "pos_audit.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644))
	code, _, errOut = b.cli(t, "", "solution", "import", broken)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "plugin pos_audit (modules/pos_audit.wasm)")
	require.Contains(t, errOut, "it is not a bizevents plugin")

	srv := startServe(t, b.ctx, serveOptions{DB: b.db, APIKey: testAPIKey})
	base, stderr := srv.base, srv.stderr
	require.Contains(t, stderr.String(), "plugin module loaded")

	client := &http.Client{Timeout: 30 * time.Second}
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(b.ctx, method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-Api-Key", testAPIKey)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		if loc := resp.Header.Get("OData-EntityId"); loc != "" {
			return resp.StatusCode, loc
		}
		return resp.StatusCode, string(out)
	}
	status, loc := do(http.MethodPost, "/api/data/v9.2/pos_customers", `{"name":"Alice"}`)
	require.Equal(t, http.StatusNoContent, status, loc)
	id := loc[strings.LastIndex(loc, "(")+1 : len(loc)-1]

	purchase := func(amount string) (int, string) {
		return do(http.MethodPost, "/api/data/v9.2/pos_CustomerPurchase", fmt.Sprintf(`{"CustomerId":%q,"Amount":%s,"Currency":"EUR"}`, id, amount))
	}
	status, body := purchase("-3")
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "the amount -3 is negative")
	status, body = purchase("42.10")
	require.Equal(t, http.StatusNoContent, status, body)
	status, body = do(http.MethodGet, "/api/data/v9.2/pos_customers("+id+")?$select=totalspent,purchases", "")
	require.Equal(t, http.StatusOK, status, body)
	var row map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &row))
	require.EqualValues(t, 42.1, row["totalspent"])
	require.EqualValues(t, 1, row["purchases"])

	// The trace log, over HTTP: it is written in batches after the call.
	var traces struct {
		Traces []struct {
			Step, Module, ErrorCode string
			Lines                   []string
		}
	}
	require.Eventually(t, func() bool {
		status, body := do(http.MethodGet, "/api/traces?module=pos_validation", "")
		require.Equal(t, http.StatusOK, status, body)
		require.NoError(t, json.Unmarshal([]byte(body), &traces))
		return len(traces.Traces) == 2
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "validate purchase", traces.Traces[0].Step)
	require.Equal(t, "handler_failed", traces.Traces[0].ErrorCode)
	require.Equal(t, []string{"purchase of 42.1 EUR is valid"}, traces.Traces[1].Lines)
	status, body = do(http.MethodGet, "/api/traces?stage=20", "")
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "unknown parameter")

	// The async step ran after commit, as a job, and wrote its trace.
	var jobList struct {
		Jobs []struct {
			ID, Subscriber, Status string
			Attempts               int
		}
	}
	require.Eventually(t, func() bool {
		status, body := do(http.MethodGet, "/api/jobs?subscriber="+url.QueryEscape("step:audit purchase")+"&status=succeeded", "")
		require.Equal(t, http.StatusOK, status, body)
		require.NoError(t, json.Unmarshal([]byte(body), &jobList))
		return len(jobList.Jobs) == 1
	}, 20*time.Second, 20*time.Millisecond)
	require.Equal(t, 1, jobList.Jobs[0].Attempts)
	status, body = do(http.MethodGet, "/api/jobs/"+jobList.Jobs[0].ID, "")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"attempts":[{`)
	status, body = do(http.MethodPost, "/api/jobs/"+jobList.Jobs[0].ID+"/retry", "")
	require.Equal(t, http.StatusConflict, status, "a succeeded job is not retried: %s", body)
	require.Contains(t, body, `"bizeventsCode":"state_conflict"`)
	require.Eventually(t, func() bool {
		_, body := do(http.MethodGet, "/api/traces?step="+url.QueryEscape("audit purchase"), "")
		return strings.Contains(body, "audit: purchase of 42.1 EUR by customer "+id)
	}, 10*time.Second, 20*time.Millisecond)

	require.NoError(t, srv.stop(t))

	// And from the command line, once the server has stored what it had.
	code, out, errOut = b.cli(t, "", "trace", "list", "--step", "add to total spent")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `pos_totals/AddToTotalSpent step "add to total spent" pos_CustomerPurchase stage 40 sync depth 1`)
	require.Contains(t, out, "has spent 42.1 in 1 purchases")
	code, out, _ = b.cli(t, "", "trace", "list", "--failed", "--json")
	require.Equal(t, 0, code)
	require.Equal(t, 1, strings.Count(out, "\n"), out)
	require.Contains(t, out, `"errorCode":"handler_failed"`)
	code, _, errOut = b.cli(t, "", "trace", "list", "--correlation-id", "nope")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "want a GUID")

	// The jobs from the command line, and a replay of the purchase to the
	// audit step.
	code, out, errOut = b.cli(t, "", "jobs", "ls", "--status", "succeeded")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "succeeded step:audit purchase pos_CustomerPurchase")
	code, out, errOut = b.cli(t, "", "replay", "deliver", "--subscriber", "step:audit purchase", "--from", "1")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `^replay-[0-9a-f-]+: 1 jobs for step:audit purchase\n$`, out)
	code, out, _ = b.cli(t, "", "jobs", "ls", "--status", "waiting")
	require.Equal(t, 0, code)
	require.Contains(t, out, "waiting   step:audit purchase")
	code, _, errOut = b.cli(t, "", "replay", "deliver", "--subscriber", "step:nope", "--from", "1")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "[not_found]")
}
