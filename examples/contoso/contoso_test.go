package contoso_test

// TestContoso runs the whole Contoso scenario the way a user does: the
// bizevents binary and the example's plugin are built from source, the
// real `bizevents serve` runs on a temporary SQLite file and on a
// PostgreSQL schema with examples/contoso imported, a real HTTP server
// receives the flow's thank-yous, and the ERP's payments arrive from a
// real RabbitMQ queue.
//
// Why the binary and not the packages: serve is where the engine, the
// plugin host, the router, the flows runtime and the broker inputs are
// wired together, in package main; running it is the honest end-to-end
// test of the example (and of `make run`).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/internal/testbroker"
	"github.com/bizevents/bizevents/internal/testpg"
)

const (
	apiKey  = "bze_contoso_example_test_key_0123456789"
	flow    = "contoso_purchase_totals"
	account = "7a1e2f4c-2b1d-4c55-9a0e-3f1f0c9d2b11"
	timeout = 60 * time.Second
)

// binaries builds bin/bizevents once per test binary, and with it the
// example's plugin module (by `bizevents plugin build`, as make run does).
var binaries = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "bizevents-contoso-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bizevents")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/bizevents").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build bizevents: %v\n%s", err, out)
	}
	wasm := filepath.Join(dir, "contoso_pos_validation.wasm")
	if out, err := exec.Command(bin, "plugin", "build", "plugins/validate_purchase", "-o", wasm).CombinedOutput(); err != nil {
		return "", fmt.Errorf("plugin build: %v\n%s", err, out)
	}
	return dir, nil
})

// solutionDir copies examples/contoso's YAML files into a folder of the
// test's, with the module built from source where plugins.yaml expects it
// and the ERP input reading queue (dead letters to dead).
func solutionDir(t *testing.T, built, queue, dead string) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if path == "inputs.yaml" {
			data = bytes.Replace(data, []byte("queue: contoso.erp.payments\n"), []byte("queue: "+queue+"\n"), 1)
			data = bytes.Replace(data, []byte("deadLetter: contoso.erp.payments.dead\n"), []byte("deadLetter: "+dead+"\n"), 1)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(path)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, path), data, 0o644)
	})
	require.NoError(t, err)
	wasm, err := os.ReadFile(filepath.Join(built, "contoso_pos_validation.wasm"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "modules"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "modules", "contoso_pos_validation.wasm"), wasm, 0o644))
	return dir
}

// thanks is a real HTTP server standing in for the thank-you service.
type thanks struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []map[string]any
}

func newThanks(t *testing.T) *thanks {
	th := &thanks{}
	th.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if r.URL.Path != "/thanks" || dec.Decode(&body) != nil {
			http.Error(w, "want POST /thanks with a JSON object", http.StatusBadRequest)
			return
		}
		th.mu.Lock()
		th.got = append(th.got, body)
		th.mu.Unlock()
		_, _ = io.WriteString(w, `{"thanked":true}`)
	}))
	t.Cleanup(th.srv.Close)
	return th
}

func (th *thanks) received() []map[string]any {
	th.mu.Lock()
	defer th.mu.Unlock()
	return append([]map[string]any(nil), th.got...)
}

// server is a running `bizevents serve`.
type server struct {
	bin, base string
	// db are the --db (and --schema) flags of the server's database.
	db  []string
	env []string
	cmd *exec.Cmd
	// stderr is the server's log so far.
	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan error
}

var servingAt = regexp.MustCompile(`msg=serving component=serve addr=(http://\S+)`)

// start runs serve on db with the solution in dir imported and env set.
func start(t *testing.T, bin string, db []string, dir string, env ...string) *server {
	t.Helper()
	s := &server{bin: bin, db: db, env: append(os.Environ(), append(env, "BIZEVENTS_API_KEY="+apiKey)...), exited: make(chan error, 1)}
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--solution", dir}, db...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = s.env
	pipe, err := s.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, s.cmd.Start())
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stderr.WriteString(line + "\n")
			s.mu.Unlock()
			if m := servingAt.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		s.exited <- s.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("serve's log:\n%s", s.log())
		}
	})
	select {
	case s.base = <-addr:
	case err := <-s.exited:
		t.Fatalf("serve stopped: %v\n%s", err, s.log())
	case <-time.After(timeout):
		t.Fatalf("serve did not start in %s\n%s", timeout, s.log())
	}
	return s
}

func (s *server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// stop interrupts serve, as Ctrl-C does, and waits for it to end.
func (s *server) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-s.exited:
		require.NoError(t, err, s.log())
	case <-time.After(timeout):
		t.Fatalf("serve did not stop\n%s", s.log())
	}
}

// do sends an authenticated request and returns the status and body.
func (s *server) do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(out)
}

// getJSON GETs path, wants 200 and decodes the body into v.
func (s *server) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	status, body := s.do(t, http.MethodGet, path, "")
	require.Equal(t, http.StatusOK, status, body)
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	require.NoError(t, dec.Decode(v), body)
}

// cli runs a bizevents command on the server's database.
func (s *server) cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(s.bin, append(args, s.db...)...)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "bizevents %s: %s", strings.Join(args, " "), out)
	return string(out)
}

type event struct {
	Position int64           `json:"position"`
	Type     string          `json:"type"`
	Data     json.RawMessage `json:"data"`
}

func (s *server) events(t *testing.T, typ string) []event {
	t.Helper()
	var evs []event
	s.getJSON(t, "/api/log/events?type="+typ, &evs)
	return evs
}

type job struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Position  int64  `json:"position"`
	LastError string `json:"lastError"`
}

// runs waits until the flow has n runs that ended, and returns them.
func (s *server) runs(t *testing.T, n int) []job {
	t.Helper()
	var list struct{ Jobs []job }
	require.Eventually(t, func() bool {
		s.getJSON(t, "/api/jobs?subscriber=flow:"+flow+"&status=succeeded,failed", &list)
		return len(list.Jobs) >= n
	}, timeout, 50*time.Millisecond, "want %d finished runs of %s", n, flow)
	return list.Jobs
}

func (s *server) totalSpent(t *testing.T) string {
	t.Helper()
	var row map[string]any
	s.getJSON(t, "/api/data/v9.2/accounts("+account+")?$select=totalspent", &row)
	return fmt.Sprint(row["totalspent"])
}

func purchase(amount, currency string) string {
	return fmt.Sprintf(`{"CustomerId":%q,"Amount":%s,"Currency":%q,"PurchasedOn":"2026-11-25T10:00:00Z","StoreId":"oslo-1","Items":["coffee","cake"]}`,
		account, amount, currency)
}

func TestContoso(t *testing.T) {
	t.Parallel()
	built, err := binaries()
	require.NoError(t, err)
	bin := filepath.Join(built, "bizevents")
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			db := []string{"--db", filepath.Join(t.TempDir(), "contoso.db")}
			if backend == "postgres" {
				db = []string{"--db", testpg.URL(t), "--schema", testpg.Schema(t)}
			}
			amqpURL := testbroker.AMQPURL(t)
			queue, dead := testbroker.Queue(t), testbroker.Queue(t)
			th := newThanks(t)
			s := start(t, bin, db, solutionDir(t, built, queue, dead),
				"CONTOSO_THANKS_URL="+th.srv.URL+"/thanks", "CONTOSO_ERP_AMQP_URL="+amqpURL)
			require.Contains(t, s.log(), "plugin module loaded")
			require.Contains(t, s.log(), "input started")

			status, body := s.do(t, http.MethodPost, "/api/data/v9.2/accounts", `{"accountid":"`+account+`","name":"Fourth Coffee"}`)
			require.Equal(t, http.StatusNoContent, status, body)

			// A valid purchase is recorded; the flow adds it to the
			// account's total and thanks the customer.
			status, body = s.do(t, http.MethodPost, "/api/data/v9.2/contoso_CustomerPurchase", purchase("19.90", "EUR"))
			require.Equal(t, http.StatusNoContent, status, body)
			runs := s.runs(t, 1)
			require.Len(t, runs, 1)
			require.Equal(t, "succeeded", runs[0].Status, runs[0].LastError)
			require.Equal(t, "19.9", s.totalSpent(t))
			got := th.received()
			require.Len(t, got, 1)
			require.Equal(t, "Fourth Coffee", got[0]["customer"])
			require.Equal(t, account, got[0]["accountId"])
			require.Equal(t, "EUR", got[0]["currency"])
			require.EqualValues(t, "19.9", fmt.Sprint(got[0]["amount"]))
			require.EqualValues(t, "19.9", fmt.Sprint(got[0]["totalSpent"]))

			// Invalid purchases are refused by the sync plugin, with its
			// message, and nothing is recorded.
			for _, c := range []struct{ body, want string }{
				{purchase("-5", "EUR"), "the amount -5 is not positive"},
				{purchase("10", "XYZ"), `currency \"XYZ\" is not accepted; want one of EUR, NOK, USD`},
				{strings.Replace(purchase("10", "EUR"), account, "00000000-0000-4000-8000-000000000001", 1), "customer 00000000-0000-4000-8000-000000000001 is not an account"},
			} {
				status, body = s.do(t, http.MethodPost, "/api/data/v9.2/contoso_CustomerPurchase", c.body)
				require.Equal(t, http.StatusBadRequest, status, body)
				require.Contains(t, body, `"bizeventsCode":"handler_failed"`)
				require.Contains(t, body, c.want)
			}
			require.Len(t, s.events(t, "contoso_CustomerPurchase"), 1, "refused purchases are not recorded")

			// A second purchase: a second run, the total grows.
			status, body = s.do(t, http.MethodPost, "/api/data/v9.2/contoso_CustomerPurchase", purchase("5.10", "NOK"))
			require.Equal(t, http.StatusNoContent, status, body)
			runs = s.runs(t, 2)
			for _, r := range runs {
				require.Equal(t, "succeeded", r.Status, r.LastError)
			}
			require.Equal(t, "25", s.totalSpent(t))
			require.Len(t, th.received(), 2)

			// The ERP publishes a vendor payment to its queue: an event.
			conn, err := amqp.Dial(amqpURL)
			require.NoError(t, err)
			defer conn.Close()
			ch, err := conn.Channel()
			require.NoError(t, err)
			require.NoError(t, ch.Confirm(false))
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, true, false, amqp.Publishing{
				MessageId: "erp-pay-4711", ContentType: "application/json", DeliveryMode: amqp.Persistent,
				Body: []byte(`{"VendorId":"V-100","InvoiceNumber":"INV-4711","Amount":1250.00,"PaidOn":"2026-11-25T12:00:00Z"}`)})
			require.NoError(t, err)
			ok, err := conf.WaitContext(ctx)
			require.NoError(t, err)
			require.True(t, ok)
			var payments []event
			require.Eventually(t, func() bool { payments = s.events(t, "contoso_VendorPaymentPosted"); return len(payments) == 1 },
				timeout, 50*time.Millisecond)
			require.Contains(t, string(payments[0].Data), `"InvoiceNumber":"INV-4711"`)

			// What examples/README.md shows, from the command line.
			require.Contains(t, s.cli(t, "jobs", "ls", "--subscriber", "flow:"+flow), "succeeded")
			require.Contains(t, s.cli(t, "log", "read", "--type", "contoso_VendorPaymentPosted"), "contoso_VendorPaymentPosted")

			s.stop(t)
		})
	}
}

// TestContosoWithoutERP: without CONTOSO_ERP_AMQP_URL the ERP input is not
// configured; serve runs without it and says so.
func TestContosoWithoutERP(t *testing.T) {
	t.Parallel()
	built, err := binaries()
	require.NoError(t, err)
	db := []string{"--db", filepath.Join(t.TempDir(), "contoso.db")}
	s := start(t, filepath.Join(built, "bizevents"), db, solutionDir(t, built, "contoso.erp.payments", "contoso.erp.payments.dead"),
		"CONTOSO_THANKS_URL=http://127.0.0.1:1/thanks", "CONTOSO_ERP_AMQP_URL=")
	s.stop(t)
	require.Contains(t, s.log(), `msg="input not configured, skipped" component=inputs input=contoso_erp_payments solution=contoso_customers variable=CONTOSO_ERP_AMQP_URL`)
}
