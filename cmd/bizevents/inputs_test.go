package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/inputs"
	"github.com/bizevents/bizevents/internal/testbroker"
)

// TestServeRunsAQueueInput: a solution's input on a real RabbitMQ queue
// turns each published message into an event of its custom API, read back
// through GET /api/log/events; a bad message lands in the dead-letter
// queue with its reason. The broker's URL comes from the environment.
func TestServeRunsAQueueInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	url := testbroker.AMQPURL(t)
	queue := testbroker.Queue(t)
	dlq := testbroker.Queue(t)

	dir := t.TempDir()
	user := uuid.New()
	files := map[string]string{
		"solution.yaml": "name: erp_link\nversion: 1.0.0\n",
		"apis.yaml": "customApis:\n  - uniqueName: erp_InvoicePosted\n    allowedStepType: AsyncOnly\n    requestParameters:\n" +
			"      - { uniqueName: InvoiceNumber, type: String }\n      - { uniqueName: Amount, type: Money }\n",
		"inputs.yaml": "inputs:\n  - name: erp_invoices\n    kind: queue\n    url: env:ERP_AMQP_URL\n    queue: " + queue +
			"\n    deadLetter: " + dlq + "\n    message: erp_InvoicePosted\n    user: " + user.String() + "\n",
	}
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	srv := startServe(t, b.ctx, serveOptions{DB: b.db, APIKey: testAPIKey, Solutions: []string{dir},
		getenv: func(k string) string {
			if k == "ERP_AMQP_URL" {
				return url
			}
			return ""
		}})

	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.Confirm(false))
	publish := func(id, body string) {
		t.Helper()
		conf, err := ch.PublishWithDeferredConfirmWithContext(b.ctx, "", queue, true, false,
			amqp.Publishing{MessageId: id, Body: []byte(body), ContentType: "application/json", DeliveryMode: amqp.Persistent})
		require.NoError(t, err)
		ok, err := conf.WaitContext(b.ctx)
		require.NoError(t, err)
		require.True(t, ok)
	}
	publish("inv-1", `{"InvoiceNumber": "INV-1", "Amount": 99.5}`)
	publish("inv-1", `{"InvoiceNumber": "INV-1", "Amount": 99.5}`) // delivered twice
	publish("inv-2", `{"InvoiceNumber": "INV-2", "Amount": "lots"}`)

	events := func() []eventJSON {
		t.Helper()
		req, err := http.NewRequestWithContext(b.ctx, http.MethodGet, srv.base+"/api/log/events?type=erp_InvoicePosted", nil)
		require.NoError(t, err)
		req.Header.Set("X-Api-Key", testAPIKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		var evs []eventJSON
		require.NoError(t, json.Unmarshal(body, &evs))
		return evs
	}
	var evs []eventJSON
	require.Eventually(t, func() bool { evs = events(); return len(evs) >= 1 }, testTimeout, 20*time.Millisecond)
	require.Contains(t, string(evs[0].Data), `"InvoiceNumber":"INV-1"`)
	require.Equal(t, user.String(), evs[0].Metadata.UserID)

	var dead amqp.Delivery
	require.Eventually(t, func() bool {
		d, ok, err := ch.Get(dlq, true)
		require.NoError(t, err)
		dead = d
		return ok
	}, testTimeout, 20*time.Millisecond)
	require.Equal(t, "inv-2", dead.MessageId)
	require.Equal(t, "invalid_value", dead.Headers[inputs.HeaderErrorCode])
	require.Contains(t, dead.Headers[inputs.HeaderError], "Amount")
	require.Equal(t, "erp_invoices", dead.Headers[inputs.HeaderInput])

	// inv-2 ran after both deliveries of inv-1: one event for them.
	require.Len(t, events(), 1, "the message delivered twice is one event")

	require.NoError(t, srv.stop(t))
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	require.NoError(t, err)
	require.Zero(t, q.Messages, "every message was acked")
	require.Contains(t, srv.stderr.String(), "input started")
	require.NotContains(t, srv.stderr.String(), strings.TrimPrefix(url, "amqp://guest:"), "no password in the logs")
}

// TestServeFailsWhenAnInputsBrokerIsDown: serve does not start with an
// input it cannot run, and says which and where.
func TestServeFailsWhenAnInputsBrokerIsDown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	dir := t.TempDir()
	files := map[string]string{
		"solution.yaml": "name: erp_link\nversion: 1.0.0\n",
		"apis.yaml":     "customApis:\n  - uniqueName: erp_Ping\n    allowedStepType: AsyncOnly\n",
		"inputs.yaml":   "inputs:\n  - name: erp_pings\n    kind: stream\n    url: nats://127.0.0.1:1\n    subject: erp.pings\n    message: erp_Ping\n",
	}
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	var stderr strings.Builder
	err := runServe(b.ctx, serveOptions{DB: b.db, APIKey: testAPIKey, Addr: "127.0.0.1:0", Solutions: []string{dir}}, io.Discard, &stderr)
	require.Error(t, err)
	require.Contains(t, err.Error(), "input erp_pings")
	require.Contains(t, err.Error(), "127.0.0.1:1")
}

// TestServeSkipsAnInputNotConfigured: an input whose URL is env:NAME with
// NAME not set is not configured; serve runs without it, and its log says
// so.
func TestServeSkipsAnInputNotConfigured(t *testing.T) {
	t.Parallel()
	b := setup(t)
	dir := t.TempDir()
	files := map[string]string{
		"solution.yaml": "name: erp_link\nversion: 1.0.0\n",
		"apis.yaml":     "customApis:\n  - uniqueName: erp_Ping\n    allowedStepType: AsyncOnly\n",
		"inputs.yaml":   "inputs:\n  - name: erp_pings\n    kind: queue\n    url: env:ERP_AMQP_URL\n    queue: erp.pings\n    message: erp_Ping\n",
	}
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	srv := startServe(t, b.ctx, serveOptions{DB: b.db, APIKey: testAPIKey, Solutions: []string{dir},
		getenv: func(string) string { return "" }})
	// A later import (the definitions change) does not repeat the line.
	files["apis.yaml"] += "  - uniqueName: erp_Pong\n    allowedStepType: AsyncOnly\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "apis.yaml"), []byte(files["apis.yaml"]), 0o644))
	code, out, errOut := b.cli(t, "", "solution", "import", dir)
	require.Equal(t, 0, code, out+errOut)
	time.Sleep(3 * solutionWatchInterval / 2) // bounded: one watch interval and a half
	require.NoError(t, srv.stop(t))
	log := srv.stderr.String()
	require.Equal(t, 1, strings.Count(log, "input not configured"), log)
	require.Contains(t, log, `msg="input not configured, skipped" component=inputs input=erp_pings solution=erp_link variable=ERP_AMQP_URL`)
	require.NotContains(t, log, "input started")
}
