package flows_test

import (
	"context"
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

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/flows"
	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/router"
	"github.com/bizevents/bizevents/engine/solution"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
)

// receiver is a real HTTP server that records what flows send it and
// answers with the statuses it is told, in turn (then 200).
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []received
	// statuses are answered first, one per request.
	statuses []int
	// block, when set, holds requests until it is closed.
	block chan struct{}
}

type received struct {
	header http.Header
	body   map[string]any
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(data, &body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: body})
		status := http.StatusOK
		if len(rc.statuses) > 0 {
			status, rc.statuses = rc.statuses[0], rc.statuses[1:]
		}
		block := rc.block
		rc.mu.Unlock()
		if block != nil {
			select {
			case <-block:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// shop is an engine with the shop solution imported, its flows running
// on a router.
type shop struct {
	db     storage.DB
	e      *pipeline.Engine
	rt     *flows.Runtime
	thanks *receiver
	env    map[string]string
}

// solutionDir copies testdata/shop to a temporary folder with extra files
// (name → content) added or replaced, e.g. a flows file.
func solutionDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir("testdata/shop")
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("testdata/shop", e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600))
	}
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
	}
	return dir
}

type serviceFunc func(ctx context.Context, req pipeline.Request) (pipeline.Response, error)

func (f serviceFunc) Execute(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
	return f(ctx, req)
}

func setup(t *testing.T, open storagetest.Opener, dir string) *shop {
	t.Helper()
	rc := newReceiver(t)
	s := newShop(t, open, dir, rc.srv.URL+"/thanks")
	s.thanks = rc
	return s
}

// newShop imports the solution in dir into a new database, with
// SHOP_THANKS_URL set to thanks.
func newShop(t testing.TB, open storagetest.Opener, dir, thanks string) *shop {
	t.Helper()
	ctx := context.Background()
	s := &shop{env: map[string]string{"SHOP_THANKS_URL": thanks}}
	s.db = open(t, append(append(append([]storage.Migration{}, tables.Migrations...), jobs.Migrations...), solution.Migrations...)...)
	s.rt = flows.New(flows.Config{
		Service: serviceFunc(func(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
			return s.e.Execute(ctx, req)
		}),
		Log:         s.db.Log(),
		Getenv:      func(k string) string { return s.env[k] },
		InlineDelay: 100 * time.Millisecond,
	})
	s.e = pipeline.New(s.db, pipeline.Config{Handlers: s.rt})
	sol, err := solution.Load(dir)
	require.NoError(t, err)
	_, err = solution.Import(ctx, s.db, sol, pipeline.Caller{})
	require.NoError(t, err)
	require.NoError(t, solution.Activate(ctx, s.e, nil))
	sols, err := solution.Imported(ctx, s.db)
	require.NoError(t, err)
	fs, defs, err := solution.CompileFlows(sols)
	require.NoError(t, err)
	s.rt.SetFlows(fs, defs)
	return s
}

func (s *shop) router(t *testing.T, owner string) *router.Router {
	t.Helper()
	r, err := router.New(s.db, jobs.NewStore(s.db, nil), map[string]router.Runner{flows.KindFlow: s.rt.Runner()},
		router.Config{Owner: owner, Workers: 4, PollInterval: 20 * time.Millisecond, Lease: 2 * time.Second})
	require.NoError(t, err)
	require.NoError(t, r.Sync(s.rt.Subscriptions()))
	require.NoError(t, r.Start(context.Background()))
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	return r
}

func (s *shop) customer(t *testing.T, name string, total float64) uuid.UUID {
	t.Helper()
	resp, err := s.e.Execute(context.Background(), pipeline.Request{Message: pipeline.Create, Table: "customer",
		Target: map[string]any{"name": name, "totalspent": total, "purchases": 0}})
	require.NoError(t, err)
	return resp.ID
}

func (s *shop) row(t *testing.T, id uuid.UUID) map[string]any {
	t.Helper()
	resp, err := s.e.Execute(context.Background(), pipeline.Request{Message: pipeline.Retrieve, Table: "customer", ID: id})
	require.NoError(t, err)
	tb, _ := s.e.Table("customer")
	return tb.Output(resp.Row, nil)
}

func (s *shop) purchase(t *testing.T, customer uuid.UUID, amount float64, currency string, items ...string) pipeline.Response {
	t.Helper()
	params := map[string]any{"CustomerId": customer.String(), "Amount": amount, "Currency": currency}
	if items != nil {
		list := make([]any, len(items))
		for i, it := range items {
			list[i] = it
		}
		params["Items"] = list
	}
	resp, err := s.e.Execute(context.Background(), pipeline.Request{Message: "shop_Purchase", Parameters: params})
	require.NoError(t, err)
	return resp
}

// runs waits until the flow has n runs in a final state and returns them.
func (s *shop) runs(t *testing.T, flow string, n int) []jobs.Job {
	t.Helper()
	store := jobs.NewStore(s.db, nil)
	var list []jobs.Job
	require.Eventually(t, func() bool {
		var err error
		list, err = store.List(context.Background(), jobs.Filter{Subscriber: flows.Subscriber(flow), Status: []jobs.Status{jobs.Succeeded, jobs.Failed}})
		require.NoError(t, err)
		return len(list) >= n
	}, 20*time.Second, 20*time.Millisecond, "flow %s: want %d finished runs, have %d", flow, n, len(list))
	return list
}

func (s *shop) run(t *testing.T, id uuid.UUID) *flows.Run {
	t.Helper()
	r, err := flows.ReadRun(context.Background(), s.db.Log(), id.String())
	require.NoError(t, err)
	return r
}

func statuses(r *flows.Run) map[string]string {
	out := map[string]string{}
	for _, a := range r.Actions {
		out[a.Path] = a.Status
	}
	return out
}

func num(t *testing.T, v any) float64 {
	t.Helper()
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		require.NoError(t, err)
		return f
	case float64:
		return n
	case int64:
		return float64(n)
	}
	t.Fatalf("%v (%T) is not a number", v, v)
	return 0
}

func TestPurchaseRunsTheFlow(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		s := setup(t, open, solutionDir(t, nil))
		s.router(t, "a")
		id := s.customer(t, "Ada", 10)
		s.purchase(t, id, 0, "EUR") // the filter refuses it: no run
		s.purchase(t, id, 25.5, "EUR")

		runs := s.runs(t, "shop_totals", 1)
		require.Len(t, runs, 1)
		require.Equal(t, jobs.Succeeded, runs[0].Status, runs[0].LastError)
		row := s.row(t, id)
		require.InDelta(t, 35.5, num(t, row["totalspent"]), 1e-9)
		require.InDelta(t, 1, num(t, row["purchases"]), 0)

		got := s.thanks.requests()
		require.Len(t, got, 1)
		require.Equal(t, "flows", got[0].header.Get("X-Shop"))
		require.Equal(t, runs[0].ID.String()+"/thank_you", got[0].header.Get("Idempotency-Key"))
		require.Equal(t, "Ada", got[0].body["customer"])
		require.InDelta(t, 25.5, num(t, got[0].body["amount"]), 1e-9)
		require.InDelta(t, 35.5, num(t, got[0].body["total"]), 1e-9)

		run := s.run(t, runs[0].ID)
		require.Equal(t, flows.Succeeded, run.Status)
		require.Equal(t, map[string]string{"customer": flows.Succeeded, "add": flows.Succeeded, "thank_you": flows.Succeeded}, statuses(run))
		require.Equal(t, "shop_Purchase", run.Trigger.Type)

		// A second purchase is a second run; the filter let one through.
		s.purchase(t, id, 4.5, "EUR")
		runs = s.runs(t, "shop_totals", 2)
		require.Len(t, runs, 2)
		require.InDelta(t, 40, num(t, s.row(t, id)["totalspent"]), 1e-9)
	})
}

func TestHTTPRetriesAfter500s(t *testing.T) {
	t.Parallel()
	s := setup(t, storagetest.SQLite, solutionDir(t, map[string]string{"flows.yaml": `
flows:
  - name: shop_notify
    trigger:
      action: {catalog: shop, action: shop_Purchase}
    actions:
      - name: notify
        retry: {maxAttempts: 3, initialDelay: 10ms, maxDelay: 50ms}
        http:
          url: env:SHOP_THANKS_URL
          body: {amount: =trigger.InputParameters.Amount}
`}))
	s.thanks.statuses = []int{500, 503}
	s.router(t, "a")
	s.purchase(t, s.customer(t, "Bo", 0), 3, "EUR")
	runs := s.runs(t, "shop_notify", 1)
	require.Equal(t, jobs.Succeeded, runs[0].Status, runs[0].LastError)
	require.Len(t, s.thanks.requests(), 3)
	run := s.run(t, runs[0].ID)
	require.Len(t, run.Actions, 1)
	require.Equal(t, 3, run.Actions[0].Attempts)
	keys := map[string]bool{}
	for _, r := range s.thanks.requests() {
		keys[r.header.Get("Idempotency-Key")] = true
	}
	require.Len(t, keys, 1, "every attempt carries the same idempotency key")

	// After the last attempt the action fails, and so does the run.
	s.thanks.mu.Lock()
	s.thanks.statuses = []int{500, 500, 500}
	s.thanks.mu.Unlock()
	s.purchase(t, s.customer(t, "Cy", 0), 3, "EUR")
	runs = s.runs(t, "shop_notify", 2)
	require.Equal(t, jobs.Failed, runs[1].Status)
	require.Contains(t, runs[1].LastError, "HTTP 500")
	run = s.run(t, runs[1].ID)
	require.Equal(t, flows.Failed, run.Status)
	require.Equal(t, flows.Failed, run.Actions[0].Status)

	// A retry of the failed run's job runs it again from the failed action.
	_, err := jobs.NewStore(s.db, nil).Retry(context.Background(), runs[1].ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		j, err := jobs.NewStore(s.db, nil).Get(context.Background(), runs[1].ID)
		require.NoError(t, err)
		return j.Status == jobs.Succeeded
	}, 10*time.Second, 20*time.Millisecond)
	run = s.run(t, runs[1].ID)
	require.Equal(t, flows.Succeeded, run.Status)
	require.Equal(t, flows.Succeeded, run.Actions[len(run.Actions)-1].Status)
}

// A run that stops mid-way (its engine stops during the HTTP action)
// resumes on another engine where it was: the messages it executed are not
// executed again.
func TestRunResumesAfterCrash(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		s := setup(t, open, solutionDir(t, nil))
		s.thanks.block = make(chan struct{})
		id := s.customer(t, "Dee", 1)
		r1 := s.router(t, "first")
		s.purchase(t, id, 2, "EUR")
		require.Eventually(t, func() bool { return len(s.thanks.requests()) == 1 }, 10*time.Second, 10*time.Millisecond)
		// The first engine stops while the request hangs.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_ = r1.Stop(ctx)
		cancel()
		close(s.thanks.block)
		s.thanks.mu.Lock()
		s.thanks.block = nil
		s.thanks.mu.Unlock()

		s.router(t, "second")
		runs := s.runs(t, "shop_totals", 1)
		require.Equal(t, jobs.Succeeded, runs[0].Status, runs[0].LastError)
		row := s.row(t, id)
		require.InDelta(t, 1, num(t, row["purchases"]), 0, "the Update ran once")
		require.InDelta(t, 3, num(t, row["totalspent"]), 1e-9)
		require.Len(t, s.thanks.requests(), 2)
		run := s.run(t, runs[0].ID)
		require.Equal(t, flows.Succeeded, run.Status)
		n := map[string]int{}
		for _, a := range run.Actions {
			n[a.Path]++
		}
		require.Equal(t, map[string]int{"customer": 1, "add": 1, "thank_you": 1}, n)
	})
}

func TestFlowDefinedAction(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		s := setup(t, open, solutionDir(t, nil))
		ctx := context.Background()
		id := s.customer(t, "Eve", 1234)
		resp, err := s.e.Execute(ctx, pipeline.Request{Message: "shop_Score", Parameters: map[string]any{"CustomerId": id.String()}})
		require.NoError(t, err)
		require.EqualValues(t, 123, resp.Output["Score"])
		require.Equal(t, "gold", resp.Output["Tier"])

		// A failing flow fails the message: nothing is recorded.
		head := storagetest.SealedHead(t, s.db)
		_, err = s.e.Execute(ctx, pipeline.Request{Message: "shop_Score", Parameters: map[string]any{"CustomerId": uuid.NewString()}})
		require.Error(t, err)
		require.Equal(t, head, storagetest.SealedHead(t, s.db))
	})
}

func TestTableTriggerWithFilteringColumns(t *testing.T) {
	t.Parallel()
	s := setup(t, storagetest.SQLite, solutionDir(t, map[string]string{"flows.yaml": `
flows:
  - name: shop_tier
    ordered: true
    trigger:
      table: {name: customer, messages: [Update], columns: [totalspent]}
      filter: trigger.Row.totalspent >= 100
    variables:
      - {name: tier, type: string, value: silver}
    actions:
      - name: pick
        condition:
          if: trigger.Row.totalspent >= 1000
          then:
            - name: gold
              setVariable: {name: tier, value: gold}
      - name: save
        execute:
          message: Update
          table: customer
          id: =trigger.PrimaryEntityId
          target: {tier: =variables.tier}
`}))
	s.router(t, "a")
	ctx := context.Background()
	id := s.customer(t, "Fay", 0)
	update := func(target map[string]any) {
		_, err := s.e.Execute(ctx, pipeline.Request{Message: pipeline.Update, Table: "customer", ID: id, Target: target})
		require.NoError(t, err)
	}
	update(map[string]any{"email": "fay@example.com"}) // not a filtering column
	update(map[string]any{"totalspent": 50})           // the filter refuses it
	update(map[string]any{"totalspent": 150})
	runs := s.runs(t, "shop_tier", 1)
	require.Equal(t, jobs.Succeeded, runs[0].Status, runs[0].LastError)
	require.Equal(t, "silver", s.row(t, id)["tier"])
	update(map[string]any{"totalspent": 1500})
	runs = s.runs(t, "shop_tier", 2)
	require.Equal(t, "gold", s.row(t, id)["tier"])
	// The flow's own updates (tier only) started no run.
	time.Sleep(200 * time.Millisecond)
	all, err := jobs.NewStore(s.db, nil).List(ctx, jobs.Filter{Subscriber: flows.Subscriber("shop_tier")})
	require.NoError(t, err)
	require.Len(t, all, 2)
}

func TestControlFlow(t *testing.T) {
	t.Parallel()
	s := setup(t, storagetest.SQLite, solutionDir(t, map[string]string{"flows.yaml": `
flows:
  - name: shop_lines
    trigger:
      action: {catalog: shop, action: shop_Purchase}
    variables:
      - {name: lines, type: array, value: []}
      - {name: count, type: integer, value: 0}
    actions:
      - name: each
        forEach:
          items: trigger.InputParameters.Items
          actions:
            - name: line
              appendVariable: {name: lines, value: =upper(item)}
            - name: counted
              setVariable: {name: count, value: =variables.count + 1}
      - name: parallel
        forEach:
          items: trigger.InputParameters.Items
          concurrency: 3
          actions:
            - name: shout
              compose: {value: '=item + "!"'}
      - name: try
        scope:
          actions:
            - name: call
              retry: {maxAttempts: 1}
              http: {url: env:SHOP_FAIL_URL, method: GET}
      - name: catch
        runAfter: [failed, timedOut]
        compose: {value: handled}
      - name: currency
        switch:
          on: trigger.InputParameters.Currency
          cases:
            - value: EUR
              actions:
                - name: eur
                  compose: {value: =variables.lines}
          default:
            - name: refuse
              terminate: {status: failed, code: invalid_value, message: '="unsupported currency " + trigger.InputParameters.Currency'}
      - name: after
        compose: {value: =variables.count}
`}))
	s.env["SHOP_FAIL_URL"] = "http://127.0.0.1:1/nothing-listens"
	s.router(t, "a")
	id := s.customer(t, "Gus", 0)
	s.purchase(t, id, 1, "EUR", "a", "b", "c")
	runs := s.runs(t, "shop_lines", 1)
	require.Equal(t, jobs.Succeeded, runs[0].Status, runs[0].LastError)
	run := s.run(t, runs[0].ID)
	st := statuses(run)
	require.Equal(t, flows.Succeeded, st["each[2]/line"])
	require.Equal(t, flows.Succeeded, st["parallel[1]/shout"])
	require.Equal(t, flows.Failed, st["call"])
	require.Equal(t, flows.Failed, st["try"])
	require.Equal(t, flows.Succeeded, st["catch"])
	require.Equal(t, flows.Succeeded, st["eur"])
	var eur, after any
	for _, a := range run.Actions {
		switch a.Path {
		case "eur":
			eur = a.Outputs
		case "after":
			after = a.Outputs
		}
	}
	require.Equal(t, []any{"A", "B", "C"}, eur)
	require.InDelta(t, 3, num(t, after), 0)

	// Another currency: the switch's default terminates the run, failed.
	s.purchase(t, id, 1, "NOK", "x")
	runs = s.runs(t, "shop_lines", 2)
	require.Equal(t, jobs.Failed, runs[1].Status)
	require.Contains(t, runs[1].LastError, "unsupported currency NOK")
	run = s.run(t, runs[1].ID)
	require.Equal(t, flows.Failed, run.Status)
	require.Equal(t, "invalid_value", run.Error.Code)
	_, ranAfter := statuses(run)["after"]
	require.False(t, ranAfter, "nothing runs after terminate")
}

func TestDelaySnoozesTheRun(t *testing.T) {
	t.Parallel()
	s := setup(t, storagetest.SQLite, solutionDir(t, map[string]string{"flows.yaml": `
flows:
  - name: shop_later
    trigger:
      action: {catalog: shop, action: shop_Purchase}
    actions:
      - name: wait
        delay: {for: 1500ms}
      - name: done
        compose: {value: done}
`}))
	s.router(t, "a")
	start := time.Now()
	s.purchase(t, s.customer(t, "Hal", 0), 1, "EUR")
	runs := s.runs(t, "shop_later", 1)
	require.GreaterOrEqual(t, time.Since(start), 1500*time.Millisecond)
	require.Equal(t, jobs.Succeeded, runs[0].Status, runs[0].LastError)
	atts, err := jobs.NewStore(s.db, nil).Attempts(context.Background(), runs[0].ID)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(atts), 2, "the delay put the run aside at least once")
	st := statuses(s.run(t, runs[0].ID))
	require.Equal(t, flows.Succeeded, st["wait"])
	require.Equal(t, flows.Succeeded, st["done"])
}

func TestScheduleTicksOnce(t *testing.T) {
	t.Parallel()
	s := setup(t, storagetest.SQLite, solutionDir(t, map[string]string{"flows.yaml": `
flows:
  - name: shop_tick
    trigger:
      schedule: {every: 1s}
    actions:
      - name: at
        compose: {value: =trigger.ScheduledTime}
`}))
	s.router(t, "a")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Two engines schedule the same flow: each tick is appended once.
	go s.rt.Schedule(ctx, s.db.Log(), 50*time.Millisecond, nil)
	go s.rt.Schedule(ctx, s.db.Log(), 50*time.Millisecond, nil)
	runs := s.runs(t, "shop_tick", 2)
	cancel()
	// Each tick is its own event, so the runs' positions differ anyway: the
	// scheduled times they saw must differ too.
	seen := map[string]bool{}
	for _, r := range runs {
		require.Equal(t, jobs.Succeeded, r.Status, r.LastError)
		run := s.run(t, r.ID)
		require.Len(t, run.Actions, 1)
		at, _ := run.Actions[0].Outputs.(string)
		require.NotEmpty(t, at)
		require.False(t, seen[at], "two runs for the tick at %s", at)
		seen[at] = true
	}
}

func TestResubmit(t *testing.T) {
	t.Parallel()
	s := setup(t, storagetest.SQLite, solutionDir(t, nil))
	s.router(t, "a")
	id := s.customer(t, "Ida", 0)
	s.purchase(t, id, 5, "EUR")
	runs := s.runs(t, "shop_totals", 1)
	again, err := flows.Resubmit(context.Background(), jobs.NewStore(s.db, nil), s.db, runs[0], jobs.Policy{}.WithDefaults())
	require.NoError(t, err)
	require.NotEqual(t, runs[0].ID, again.ID)
	require.Equal(t, flows.ResubmitPrefix+runs[0].ID.String(), again.Replay)
	runs = s.runs(t, "shop_totals", 2)
	require.Equal(t, jobs.Succeeded, runs[1].Status, runs[1].LastError)
	require.InDelta(t, 10, num(t, s.row(t, id)["totalspent"]), 1e-9, "a resubmitted run runs again")
	got := s.thanks.requests()
	require.Len(t, got, 2)
	require.NotEqual(t, got[0].header.Get("Idempotency-Key"), got[1].header.Get("Idempotency-Key"))
}

func TestCompileErrorsPointAtTheirLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, flow string
		line       int
		want       string
	}{
		{"misspelled trigger field", `
flows:
  - name: f
    trigger:
      action: {catalog: shop, action: shop_Purchase}
      filter: trigger.InputParameters.Amont > 0
    actions:
      - name: a
        compose: {value: 1}
`, 6, "Amont"},
		{"misspelled output column", `
flows:
  - name: f
    trigger:
      action: {catalog: shop, action: shop_Purchase}
    actions:
      - name: c
        execute: {message: Retrieve, table: customer, id: =trigger.InputParameters.CustomerId}
      - name: d
        compose:
          value: =outputs.c.row.totalspnt
`, 11, "totalspnt"},
		{"unknown column in a target", `
flows:
  - name: f
    trigger:
      action: {catalog: shop, action: shop_Purchase}
    actions:
      - name: u
        execute:
          message: Update
          table: customer
          id: =trigger.InputParameters.CustomerId
          target:
            nickname: x
`, 13, "no column nickname"},
		{"undeclared variable", `
flows:
  - name: f
    trigger:
      action: {catalog: shop, action: shop_Purchase}
    actions:
      - name: s
        setVariable: {name: nope, value: 1}
`, 8, "not declared"},
		{"unknown event", `
flows:
  - name: f
    trigger:
      action: {catalog: shop, action: shop_Refund}
    actions:
      - name: a
        compose: {value: 1}
`, 5, "no event shop_Refund"},
		{"condition not boolean", `
flows:
  - name: f
    trigger:
      action: {catalog: shop, action: shop_Purchase}
    actions:
      - name: a
        condition:
          if: trigger.InputParameters.Amount
`, 9, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := solution.Load(solutionDir(t, map[string]string{"flows.yaml": tc.flow}))
			require.Error(t, err)
			var se *solution.Error
			require.ErrorAs(t, err, &se)
			found := false
			for _, p := range se.Problems {
				if p.File == "flows.yaml" && p.Line == tc.line && (tc.want == "" || strings.Contains(p.Message, tc.want)) {
					found = true
				}
			}
			require.True(t, found, "want a problem at flows.yaml:%d about %q, got %v", tc.line, tc.want, se.Problems)
		})
	}
}

// An action that runs over its timeout is timedOut; an action after it with
// runAfter [timedOut] handles it. HTTP auth and query values reach the
// receiver; a secret read from the environment is not in the record.
func TestTimeoutAuthAndDisabled(t *testing.T) {
	t.Parallel()
	s := setup(t, storagetest.SQLite, solutionDir(t, map[string]string{"flows.yaml": `
flows:
  - name: shop_slow
    trigger:
      action: {catalog: shop, action: shop_Purchase}
    actions:
      - name: slow
        timeout: 200ms
        retry: {maxAttempts: 1}
        http: {url: env:SHOP_THANKS_URL, method: GET, query: {currency: =trigger.InputParameters.Currency}, auth: {type: bearer, value: env:SHOP_TOKEN}}
      - name: fallback
        runAfter: [timedOut]
        compose: {value: late}
  - name: shop_off
    disabled: true
    trigger:
      action: {catalog: shop, action: shop_Purchase}
    actions:
      - name: never
        compose: {value: 1}
`, "score.yaml": `
flows:
  - name: shop_score
    disabled: true
    trigger:
      request:
        uniqueName: shop_Score
        requestParameters: [{uniqueName: CustomerId, type: Guid}]
    actions:
      - name: nothing
        compose: {value: 1}
`}))
	s.env["SHOP_TOKEN"] = "s3cret"
	s.thanks.block = make(chan struct{})
	defer close(s.thanks.block)
	s.router(t, "a")
	s.purchase(t, s.customer(t, "Jo", 0), 1, "EUR")
	runs := s.runs(t, "shop_slow", 1)
	require.Equal(t, jobs.Succeeded, runs[0].Status, runs[0].LastError)
	run := s.run(t, runs[0].ID)
	st := statuses(run)
	require.Equal(t, flows.TimedOut, st["slow"])
	require.Equal(t, flows.Succeeded, st["fallback"])
	got := s.thanks.requests()
	require.Len(t, got, 1)
	require.Equal(t, "Bearer s3cret", got[0].header.Get("Authorization"))
	raw, err := json.Marshal(run)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "s3cret")
	require.Contains(t, string(raw), "currency=EUR")

	// A disabled flow has no subscription; a disabled flow-defined action
	// refuses calls.
	for _, sub := range s.rt.Subscriptions() {
		require.NotEqual(t, flows.Subscriber("shop_off"), sub.Name)
	}
	_, err = s.e.Execute(context.Background(), pipeline.Request{Message: "shop_Score", Parameters: map[string]any{"CustomerId": uuid.NewString()}})
	require.Error(t, err)
	require.Equal(t, errcode.StateConflict, errcode.Of(err), err.Error())
}

// Execute actions create, query, update and delete rows and invoke custom
// APIs (here the flow-defined action of the shop), each output typed.
func TestExecuteMessages(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		s := setup(t, open, solutionDir(t, map[string]string{"flows.yaml": `
flows:
  - name: shop_guest
    trigger:
      action: {catalog: shop, action: shop_Purchase}
    actions:
      - name: guest
        execute:
          message: Create
          table: customer
          target: {name: guest, totalspent: =trigger.InputParameters.Amount, purchases: 1}
      - name: score
        execute:
          message: shop_Score
          parameters: {CustomerId: =outputs.guest.id}
      - name: found
        execute:
          message: RetrieveMultiple
          table: customer
          filter: '="name eq ''guest''"'
      - name: gone
        execute: {message: Delete, table: customer, id: =outputs.guest.id}
      - name: summary
        compose:
          value: {score: =outputs.score.output.Score, tier: =outputs.score.output.Tier, found: =len(outputs.found.rows)}
`}))
		s.router(t, "a")
		s.purchase(t, s.customer(t, "Kim", 0), 2500, "EUR")
		runs := s.runs(t, "shop_guest", 1)
		require.Equal(t, jobs.Succeeded, runs[0].Status, runs[0].LastError)
		run := s.run(t, runs[0].ID)
		var guest string
		var summary map[string]any
		for _, a := range run.Actions {
			switch a.Path {
			case "guest":
				guest = a.Outputs.(map[string]any)["id"].(string)
			case "summary":
				summary = a.Outputs.(map[string]any)
			}
		}
		require.InDelta(t, 250, num(t, summary["score"]), 0)
		require.Equal(t, "gold", summary["tier"])
		require.InDelta(t, 1, num(t, summary["found"]), 0)
		_, err := s.e.Execute(context.Background(), pipeline.Request{Message: pipeline.Retrieve, Table: "customer", ID: uuid.MustParse(guest)})
		require.Equal(t, errcode.NotFound, errcode.Of(err), "the guest row was deleted")
	})
}

// orderBy runs the runs of one customer one at a time: concurrent purchases
// of one customer, each read and written by its run, add up.
func TestOrderByKeepsReadModifyWriteSafe(t *testing.T) {
	t.Parallel()
	s := setup(t, storagetest.SQLite, solutionDir(t, map[string]string{"flows.yaml": `
flows:
  - name: shop_totals
    orderBy: trigger.InputParameters.CustomerId
    trigger:
      action: {catalog: shop, action: shop_Purchase}
    actions:
      - name: customer
        execute: {message: Retrieve, table: customer, id: =trigger.InputParameters.CustomerId}
      - name: add
        execute:
          message: Update
          table: customer
          id: =trigger.InputParameters.CustomerId
          target: {totalspent: =outputs.customer.row.totalspent + trigger.InputParameters.Amount}
`}))
	a, b := s.customer(t, "Lu", 0), s.customer(t, "Mo", 0)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := a
			if i%2 == 1 {
				id = b
			}
			s.purchase(t, id, 1, "EUR")
		}()
	}
	wg.Wait()
	s.router(t, "a")
	runs := s.runs(t, "shop_totals", 20)
	keys := map[string]bool{}
	for _, r := range runs {
		require.Equal(t, jobs.Succeeded, r.Status, r.LastError)
		keys[r.StreamID] = true
	}
	require.Len(t, keys, 2, "one order key per customer")
	require.InDelta(t, 10, num(t, s.row(t, a)["totalspent"]), 1e-9)
	require.InDelta(t, 10, num(t, s.row(t, b)["totalspent"]), 1e-9)
}
