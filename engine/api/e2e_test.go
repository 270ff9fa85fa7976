package api_test

// The end-to-end tests: real HTTP (httptest.Server) to the real api.Handler,
// over the real pipeline.Engine, over real storage, on SQLite and on
// PostgreSQL. The solution in testdata/e2e is loaded, imported and
// activated as `bizevents serve` does; its steps run Go handlers this file
// registers. Every failure is checked to have written nothing: no row
// (RetrieveMultiple of every table) and no event (the sealed head).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
)

const (
	// e2eMaxBody is the server's body limit, small so that a 413 is cheap.
	e2eMaxBody = 64 << 10
	// e2eWait bounds every wait of a test: an HTTP request, the sealer.
	e2eWait = 20 * time.Second
)

// e2eCheckoutLimit is the largest amount e2e_Checkout takes: large, so that
// amounts with more digits than a float64 holds pass.
var e2eCheckoutLimit = new(big.Rat).SetInt64(1e15)

// e2eSets are the entity sets of the solution, for "nothing was written".
var e2eSets = []string{"e2e_customers", "e2e_stores", "e2e_notes", "e2e_loops"}

// e2eSolution is testdata/e2e, loaded once: a Solution is read-only.
var e2eSolution = sync.OnceValues(func() (*solution.Solution, error) { return solution.Load("testdata/e2e") })

// e2eBundle is one test's server on one backend: a fresh database with the
// solution imported, the engine, and the HTTP server in front of it.
type e2eBundle struct {
	db      storage.DB
	engine  *pipeline.Engine
	srv     *httptest.Server
	client  *http.Client
	keyUser uuid.UUID // the API key's user
	appUser uuid.UUID // the OAuth client's user

	mu sync.Mutex
	// tierRuns are what the "customer tier changed" step saw, in order.
	tierRuns []e2eTierRun
	// asyncRuns counts runs of async steps' handlers: there must be none.
	asyncRuns atomic.Int64
}

type e2eTierRun struct {
	target, before, after tables.Row
}

func e2eSetup(t *testing.T, open storagetest.Opener) *e2eBundle {
	t.Helper()
	sol, err := e2eSolution()
	require.NoError(t, err)
	ctx := t.Context()
	b := &e2eBundle{keyUser: uuid.New(), appUser: uuid.New()}
	b.db = open(t, slices.Concat(tables.Migrations, solution.Migrations)...)
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	b.engine = pipeline.New(b.db, pipeline.Config{Handlers: b.handlers(), Logger: logger})
	res, err := solution.Import(ctx, b.db, sol, pipeline.Caller{UserID: b.keyUser, InitiatingUserID: b.keyUser})
	require.NoError(t, err)
	require.False(t, res.Unchanged)
	require.NoError(t, solution.Activate(ctx, b.engine, nil))

	// apiKey, clientID, clientSecret, clientHash (a cheap 1000-iteration
	// hash) and tokenKey are api_test.go's.
	auth, err := security.New(security.Config{
		APIKeys:   []security.APIKey{{Name: "e2e", Key: apiKey, UserID: b.keyUser}},
		Clients:   []security.Client{{ID: clientID, SecretHash: clientHash, UserID: b.appUser}},
		TokenKeys: [][]byte{tokenKey},
	})
	require.NoError(t, err)
	h, err := api.New(api.Deps{Metadata: b.engine, Service: b.engine, Auth: auth}, api.Config{MaxBodyBytes: e2eMaxBody, Logger: logger})
	require.NoError(t, err)
	b.srv = httptest.NewServer(h)
	b.client = b.srv.Client()
	b.client.Timeout = e2eWait
	t.Cleanup(b.srv.Close)
	t.Cleanup(func() {
		if n := b.asyncRuns.Load(); n != 0 {
			t.Errorf("async steps ran %d times in callers' requests; they must only be recorded", n)
		}
	})
	return b
}

// handlers are the Go handlers the solution's steps and custom APIs name.
func (b *e2eBundle) handlers() pipeline.HandlerMap {
	type fn = func(ctx context.Context, ex *pipeline.Execution) error
	h := func(f fn) pipeline.Handler { return pipeline.HandlerFunc(f) }
	return pipeline.HandlerMap{
		// PreValidation of a customer's Create.
		"e2e.blocklist": h(func(_ context.Context, ex *pipeline.Execution) error {
			if name, _ := ex.Target()["name"].(string); strings.HasPrefix(name, "blocked") {
				return pipeline.Fail("customer %q is on the blocklist", name)
			}
			return nil
		}),
		// PreOperation: changes the Target, leaves a shared variable.
		"e2e.code": h(func(_ context.Context, ex *pipeline.Execution) error {
			target := ex.Target()
			if _, ok := target["code"]; !ok {
				name, _ := target["name"].(string)
				target["code"] = strings.ToUpper(name[:min(3, len(name))])
			}
			ex.SharedVariables["greeting"] = "Welcome"
			return nil
		}),
		// PostOperation, rank 1: a nested Create in the same transaction.
		"e2e.welcome": h(func(ctx context.Context, ex *pipeline.Execution) error {
			greeting, ok := ex.SharedVariables["greeting"].(string)
			if !ok {
				return pipeline.Fail("the PreOperation step left no greeting")
			}
			name, _ := ex.Target()["name"].(string)
			_, err := ex.Service.Execute(ctx, pipeline.Request{Message: pipeline.Create, Table: "e2e_note",
				Target: map[string]any{"text": greeting + ", " + name, "customerid": ex.ID.String()}})
			return err
		}),
		// PostOperation, rank 2: fails after the row and the note are written.
		"e2e.refuse": h(func(_ context.Context, ex *pipeline.Execution) error {
			if ex.Target()["name"] == "rollback me" {
				return pipeline.Fail("customer %q is refused after it was written", "rollback me")
			}
			return nil
		}),
		// PostOperation of an Update that sets tier, with images.
		"e2e.tierchanged": h(func(_ context.Context, ex *pipeline.Execution) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.tierRuns = append(b.tierRuns, e2eTierRun{target: maps.Clone(ex.Target()), before: ex.PreImages["before"], after: ex.PostImages["after"]})
			return nil
		}),
		// Async steps: recorded in the event, never run in the request.
		"e2e.never": h(func(context.Context, *pipeline.Execution) error {
			b.asyncRuns.Add(1)
			return errors.New("an async step ran in the caller's request")
		}),
		// Each loop's Create makes another loop.
		"e2e.loop": h(func(ctx context.Context, ex *pipeline.Execution) error {
			_, err := ex.Service.Execute(ctx, pipeline.Request{Message: pipeline.Create, Table: "e2e_loop",
				Target: map[string]any{"label": fmt.Sprintf("depth %d", ex.Depth+1)}})
			return err
		}),
		// The main operation of e2e_Award: reads and updates the bound row.
		"e2e.award": h(func(ctx context.Context, ex *pipeline.Execution) error {
			points, _ := ex.InputParameters["Points"].(int64)
			if points <= 0 {
				return pipeline.Fail("points must be positive, got %d", points)
			}
			got, err := ex.Service.Execute(ctx, pipeline.Request{Message: pipeline.Retrieve, Table: "e2e_customer", ID: ex.ID, Columns: []string{"visits"}})
			if err != nil {
				return err
			}
			visits, _ := got.Row["visits"].(int64)
			visits += points
			if _, err := ex.Service.Execute(ctx, pipeline.Request{Message: pipeline.Update, Table: "e2e_customer", ID: ex.ID,
				Target: map[string]any{"visits": visits}}); err != nil {
				return err
			}
			ex.OutputParameters["Visits"] = visits
			ex.OutputParameters["Level"] = "silver"
			if visits >= 10 {
				ex.OutputParameters["Level"] = "gold"
			}
			return nil
		}),
		// The main operation of the function e2e_Quote: writes a row, which
		// a function must not keep.
		"e2e.quote": h(func(ctx context.Context, ex *pipeline.Execution) error {
			sku, _ := ex.InputParameters["Sku"].(string)
			qty, _ := ex.InputParameters["Qty"].(int64)
			probe, err := ex.Service.Execute(ctx, pipeline.Request{Message: pipeline.Create, Table: "e2e_store",
				Target: map[string]any{"name": "probe " + sku}})
			if err != nil {
				return err
			}
			ex.OutputParameters["Price"] = new(big.Rat).Mul(big.NewRat(5, 2), big.NewRat(qty, 1)).FloatString(4)
			ex.OutputParameters["ProbeId"] = probe.ID
			return nil
		}),
		// The sync steps of e2e_Checkout, which has no main handler.
		"e2e.checkout.limit": h(func(_ context.Context, ex *pipeline.Execution) error {
			amount, _ := ex.InputParameters["Amount"].(tables.Number)
			if amount.Rat().Cmp(e2eCheckoutLimit) > 0 {
				return pipeline.Fail("amount %s is over the checkout limit of %s", amount, e2eCheckoutLimit.RatString())
			}
			return nil
		}),
		"e2e.checkout.discount": h(func(_ context.Context, ex *pipeline.Execution) error {
			ex.SharedVariables["discount"] = tables.Number("5")
			return nil
		}),
		"e2e.checkout.total": h(func(_ context.Context, ex *pipeline.Execution) error {
			discount, ok := ex.SharedVariables["discount"].(tables.Number)
			if !ok {
				return pipeline.Fail("the PreOperation step left no discount")
			}
			amount, _ := ex.InputParameters["Amount"].(tables.Number)
			total, err := tables.ParseNumber(new(big.Rat).Sub(amount.Rat(), discount.Rat()).FloatString(4))
			if err != nil {
				return err
			}
			// A coupon the step gets wrong: it misspells the property.
			name := "Total"
			if ex.InputParameters["Coupon"] == "TYPO" {
				name = "Totl"
			}
			ex.OutputParameters[name] = total
			return nil
		}),
	}
}

// e2eResponse is an HTTP response, its body read.
type e2eResponse struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request to the Web API with the API key. path is below the
// base path, or an absolute URL (a next link). headers are name, value
// pairs; an empty value removes the header (X-Api-Key too).
func (b *e2eBundle) do(t *testing.T, method, path, body string, headers ...string) e2eResponse {
	t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = b.srv.URL + base + path
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set(security.HeaderAPIKey, apiKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	return b.send(t, req)
}

func (b *e2eBundle) send(t *testing.T, req *http.Request) e2eResponse {
	t.Helper()
	resp, err := b.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return e2eResponse{status: resp.StatusCode, header: resp.Header, body: data}
}

// url is an absolute URL below the service root.
func (b *e2eBundle) url(path string) string { return b.srv.URL + base + path }

// object decodes the body as a JSON object, numbers as json.Number.
func (r e2eResponse) object(t *testing.T) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	var m map[string]any
	require.NoError(t, dec.Decode(&m), "body: %s", r.body)
	return m
}

// requireStatus checks the status, showing the body when it differs.
func (r e2eResponse) requireStatus(t *testing.T, status int) {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
}

// requireError checks an error response: the status, the headers, the
// body {"error":{"code":hex,"message","bizeventsCode"}} and nothing else,
// and that the message mentions each of mentions.
func (r e2eResponse) requireError(t *testing.T, status int, code errcode.Code, mentions ...string) {
	t.Helper()
	r.requireStatus(t, status)
	require.Equal(t, string(code), r.header.Get(api.HeaderErrorCode))
	require.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
	require.NotEmpty(t, r.header.Get(api.HeaderRequestID))
	require.NotEmpty(t, r.header.Get(api.HeaderCorrelationID))
	require.Equal(t, "4.0", r.header.Get("OData-Version"))
	var e struct {
		Error struct {
			Code          string       `json:"code"`
			Message       string       `json:"message"`
			BizeventsCode errcode.Code `json:"bizeventsCode"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&e), "body: %s", r.body)
	entry, ok := errcode.Lookup(code)
	require.True(t, ok)
	require.Equal(t, entry.Hex, e.Error.Code)
	require.Equal(t, code, e.Error.BizeventsCode)
	for _, m := range mentions {
		require.Contains(t, e.Error.Message, m)
	}
}

// entityID checks a write's OData-EntityId and returns the row's id.
func (b *e2eBundle) entityID(t *testing.T, r e2eResponse, set string) uuid.UUID {
	t.Helper()
	loc := r.header.Get(api.HeaderEntityID)
	rest, ok := strings.CutPrefix(loc, b.url("/"+set+"("))
	require.True(t, ok, "OData-EntityId %q of %s", loc, set)
	id, err := uuid.Parse(strings.TrimSuffix(rest, ")"))
	require.NoError(t, err)
	return id
}

// create creates a row and returns its id.
func (b *e2eBundle) create(t *testing.T, set, body string, headers ...string) uuid.UUID {
	t.Helper()
	r := b.do(t, http.MethodPost, "/"+set, body, headers...)
	r.requireStatus(t, http.StatusNoContent)
	return b.entityID(t, r, set)
}

// get retrieves a row, which must exist.
func (b *e2eBundle) get(t *testing.T, set string, id uuid.UUID, query string) map[string]any {
	t.Helper()
	correlation := uuid.New()
	r := b.do(t, http.MethodGet, fmt.Sprintf("/%s(%s)%s", set, id, query), "", api.HeaderCorrelationID, correlation.String())
	r.requireStatus(t, http.StatusOK)
	require.Equal(t, "application/json; odata.metadata=minimal; charset=utf-8", r.header.Get("Content-Type"))
	require.Equal(t, "4.0", r.header.Get("OData-Version"))
	require.Equal(t, correlation.String(), r.header.Get(api.HeaderCorrelationID))
	require.NotEmpty(t, r.header.Get(api.HeaderRequestID))
	row := r.object(t)
	require.Equal(t, row["@odata.etag"], r.header.Get("ETag"))
	return row
}

// e2ePage is a RetrieveMultiple response.
type e2ePage struct {
	Context  string           `json:"@odata.context"`
	Value    []map[string]any `json:"value"`
	NextLink string           `json:"@odata.nextLink"`
}

func (r e2eResponse) page(t *testing.T) e2ePage {
	t.Helper()
	r.requireStatus(t, http.StatusOK)
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var p e2ePage
	require.NoError(t, dec.Decode(&p), "body: %s", r.body)
	return p
}

// list returns every row of a RetrieveMultiple, following the next links.
func (b *e2eBundle) list(t *testing.T, set string, query url.Values, headers ...string) []map[string]any {
	t.Helper()
	path := "/" + set
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	var rows []map[string]any
	for pages := 0; path != ""; pages++ {
		require.Less(t, pages, 100, "next links do not end")
		p := b.do(t, http.MethodGet, path, "", headers...).page(t)
		rows = append(rows, p.Value...)
		path = p.NextLink
	}
	return rows
}

// sealedHead waits until every committed event is sealed and returns the
// head: comparing heads then compares every committed event.
func (b *e2eBundle) sealedHead(t *testing.T) eventlog.Head {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), e2eWait)
	defer cancel()
	for {
		h, err := b.db.Log().Head(ctx)
		require.NoError(t, err)
		if h.Unsealed == 0 {
			return h
		}
		require.NoError(t, b.db.Log().Wait(ctx, h.Position), "wait for the sealer")
	}
}

// e2eState is what a request may change: the log and every table's rows.
type e2eState struct {
	head eventlog.Head
	rows map[string][]map[string]any
}

func (b *e2eBundle) state(t *testing.T) e2eState {
	t.Helper()
	s := e2eState{head: b.sealedHead(t), rows: map[string][]map[string]any{}}
	for _, set := range e2eSets {
		s.rows[set] = b.list(t, set, nil)
	}
	return s
}

// requireUnchanged checks that nothing was written since before: no event
// (the sealed head is the same and nothing is unsealed) and no row.
func (b *e2eBundle) requireUnchanged(t *testing.T, before e2eState) {
	t.Helper()
	after := b.state(t)
	require.Equal(t, before.head, after.head, "the log changed")
	require.Equal(t, before.rows, after.rows, "the rows changed")
}

// events returns the events of one correlation id, sealed.
func (b *e2eBundle) events(t *testing.T, correlation uuid.UUID) []eventlog.Event {
	t.Helper()
	b.sealedHead(t)
	evs, err := b.db.Log().Read(t.Context(), eventlog.ReadQuery{CorrelationID: correlation.String()})
	require.NoError(t, err)
	return evs
}

// stream returns a stream's committed events; none when it has none.
func (b *e2eBundle) stream(t *testing.T, id string) []eventlog.Event {
	t.Helper()
	evs, err := b.db.Log().ReadStream(t.Context(), eventlog.StreamQuery{StreamID: id})
	if errors.Is(err, eventlog.ErrStreamNotFound) {
		return nil
	}
	require.NoError(t, err)
	return evs
}

// e2eEventData is the part of a message's event data the tests read.
type e2eEventData struct {
	MessageName      string         `json:"messageName"`
	Depth            int            `json:"depth"`
	InputParameters  map[string]any `json:"inputParameters"`
	OutputParameters map[string]any `json:"outputParameters"`
	Row              map[string]any `json:"row"`
	AsyncSteps       []string       `json:"asyncSteps"`
}

func e2eData(t *testing.T, ev eventlog.Event) e2eEventData {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(ev.Data))
	dec.UseNumber()
	var d e2eEventData
	require.NoError(t, dec.Decode(&d), "event %s: %s", ev.Type, ev.Data)
	return d
}

// requireRebuildSame rebuilds the rows from the log and checks that every
// table reads the same as before, and that the log did not change.
func (b *e2eBundle) requireRebuildSame(t *testing.T) {
	t.Helper()
	before := b.state(t)
	var n int
	for _, rows := range before.rows {
		n += len(rows)
	}
	require.NotZero(t, n, "a rebuild of nothing proves nothing")
	rep, err := b.engine.Rebuild(t.Context())
	require.NoError(t, err)
	require.Equal(t, int64(n), rep.Rows)
	require.Equal(t, before.head.Position, rep.Position)
	b.requireUnchanged(t, before)
}

// withoutTimes checks a row's createdon and modifiedon are RFC 3339 times
// and returns the row without them.
func e2eWithoutTimes(t *testing.T, row map[string]any) map[string]any {
	t.Helper()
	out := maps.Clone(row)
	for _, c := range []string{tables.ColumnCreatedOn, tables.ColumnModifiedOn} {
		s, ok := out[c].(string)
		require.True(t, ok, "%s is %v", c, out[c])
		_, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		delete(out, c)
	}
	return out
}

func e2eNum(s string) json.Number { return json.Number(s) }

func TestE2ERows(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := e2eSetup(t, open)

		// Create: 204, OData-EntityId and the version's ETag.
		r := b.do(t, http.MethodPost, "/e2e_stores", `{"name":"Downtown","city":"Oslo"}`)
		r.requireStatus(t, http.StatusNoContent)
		require.Empty(t, r.body)
		require.Equal(t, `W/"1"`, r.header.Get("ETag"))
		require.Equal(t, "4.0", r.header.Get("OData-Version"))
		store := b.entityID(t, r, "e2e_stores")
		require.Equal(t, map[string]any{
			"@odata.context": b.url("/$metadata#e2e_stores/$entity"), "@odata.etag": `W/"1"`,
			"e2e_storeid": store.String(), "name": "Downtown", "city": "Oslo", "ownerid": nil, "versionnumber": e2eNum("1"),
		}, e2eWithoutTimes(t, b.get(t, "e2e_stores", store, "")), "an organization-owned row has no owner")

		// Create with every column type and a lookup bound by
		// @odata.bind: 201 and the row as stored.
		extID := uuid.New()
		r = b.do(t, http.MethodPost, "/e2e_customers", fmt.Sprintf(`{"name":"Alice","visits":3,"rating":4.50,
			"balance":"1234.5678","score":0.25,"active":true,"birthday":"1990-02-03T05:05:06.789+01:00",
			"externalid":%q,"tier":2,"homestoreid@odata.bind":"/e2e_stores(%s)"}`, extID, store),
			"Prefer", "return=representation")
		r.requireStatus(t, http.StatusCreated)
		require.Equal(t, "return=representation", r.header.Get("Preference-Applied"))
		alice := b.entityID(t, r, "e2e_customers")
		require.Equal(t, r.header.Get(api.HeaderEntityID), r.header.Get("Location"))
		require.Equal(t, `W/"1"`, r.header.Get("ETag"))
		wantAlice := map[string]any{
			"@odata.context": b.url("/$metadata#e2e_customers/$entity"), "@odata.etag": `W/"1"`,
			"e2e_customerid": alice.String(), "name": "Alice",
			"code":   "ALI", // set by the PreOperation step
			"visits": e2eNum("3"), "rating": e2eNum("4.5"), "balance": e2eNum("1234.5678"), "score": e2eNum("0.25"),
			"active": true, "birthday": "1990-02-03T04:05:06.789Z", "externalid": extID.String(), "tier": e2eNum("2"),
			"homestoreid": store.String(), "ownerid": b.keyUser.String(), "versionnumber": e2eNum("1"),
		}
		require.Equal(t, wantAlice, e2eWithoutTimes(t, r.object(t)))
		require.Equal(t, wantAlice, e2eWithoutTimes(t, b.get(t, "e2e_customers", alice, "")))

		// Retrieve with $select: the key, those columns and the ETag.
		r = b.do(t, http.MethodGet, fmt.Sprintf("/e2e_customers(%s)?$select=name,tier,_homestoreid_value", alice), "")
		r.requireStatus(t, http.StatusOK)
		require.Equal(t, `W/"1"`, r.header.Get("ETag"))
		require.Equal(t, map[string]any{
			"@odata.context": b.url("/$metadata#e2e_customers(name,tier,homestoreid)/$entity"), "@odata.etag": `W/"1"`,
			"e2e_customerid": alice.String(), "name": "Alice", "tier": e2eNum("2"), "homestoreid": store.String(),
		}, r.object(t))
		r = b.do(t, http.MethodGet, fmt.Sprintf("/e2e_customers(e2e_customerid=%s)", alice), "", "If-None-Match", `W/"1"`)
		r.requireStatus(t, http.StatusNotModified)
		require.Empty(t, r.body)

		// PATCH changes only what it names; a null clears.
		r = b.do(t, http.MethodPatch, fmt.Sprintf("/e2e_customers(%s)", alice), `{"visits":4,"score":null}`)
		r.requireStatus(t, http.StatusNoContent)
		require.Equal(t, `W/"2"`, r.header.Get("ETag"))
		require.Equal(t, alice, b.entityID(t, r, "e2e_customers"))
		got := e2eWithoutTimes(t, b.get(t, "e2e_customers", alice, ""))
		wantAlice["visits"], wantAlice["score"], wantAlice["versionnumber"], wantAlice["@odata.etag"] = e2eNum("4"), nil, e2eNum("2"), `W/"2"`
		require.Equal(t, wantAlice, got)

		// A lookup changes by @odata.bind, and with return=representation.
		store2 := b.create(t, "e2e_stores", `{"name":"Harbour"}`)
		r = b.do(t, http.MethodPatch, fmt.Sprintf("/e2e_customers(%s)?$select=homestoreid,versionnumber", alice),
			fmt.Sprintf(`{"homestoreid@odata.bind":"%s"}`, b.url(fmt.Sprintf("/e2e_stores(%s)", store2))), "Prefer", "return=representation")
		r.requireStatus(t, http.StatusOK)
		require.Equal(t, map[string]any{
			"@odata.context": b.url("/$metadata#e2e_customers(homestoreid,versionnumber)/$entity"), "@odata.etag": `W/"3"`,
			"e2e_customerid": alice.String(), "homestoreid": store2.String(), "versionnumber": e2eNum("3"),
		}, r.object(t))

		// A stale If-Match is 412, and writes nothing; a current one passes.
		before := b.state(t)
		b.do(t, http.MethodPatch, fmt.Sprintf("/e2e_customers(%s)", alice), `{"visits":99}`, "If-Match", `W/"2"`).
			requireError(t, http.StatusPreconditionFailed, errcode.VersionConflict, alice.String(), "expected at version 2, is at 3")
		b.do(t, http.MethodDelete, fmt.Sprintf("/e2e_customers(%s)", alice), "", "If-Match", `W/"1"`).
			requireError(t, http.StatusPreconditionFailed, errcode.VersionConflict)
		b.requireUnchanged(t, before)
		r = b.do(t, http.MethodPatch, fmt.Sprintf("/e2e_customers(%s)", alice), `{"visits":5}`, "If-Match", `W/"3"`)
		r.requireStatus(t, http.StatusNoContent)
		require.Equal(t, `W/"4"`, r.header.Get("ETag"))

		// Assign: ownerid@odata.bind alone in a PATCH.
		owner := uuid.New()
		r = b.do(t, http.MethodPatch, fmt.Sprintf("/e2e_customers(%s)", alice), fmt.Sprintf(`{"ownerid@odata.bind":"/systemusers(%s)"}`, owner))
		r.requireStatus(t, http.StatusNoContent)
		require.Equal(t, `W/"5"`, r.header.Get("ETag"))
		got = b.get(t, "e2e_customers", alice, "?$select=ownerid,visits")
		require.Equal(t, owner.String(), got["ownerid"])
		require.Equal(t, e2eNum("5"), got["visits"])

		// Refused writes of existing rows write nothing.
		before = b.state(t)
		b.do(t, http.MethodPatch, fmt.Sprintf("/e2e_stores(%s)", store), fmt.Sprintf(`{"ownerid@odata.bind":"/systemusers(%s)"}`, owner)).
			requireError(t, http.StatusBadRequest, errcode.InvalidArgument, "e2e_store", "organization-owned")
		b.do(t, http.MethodPatch, fmt.Sprintf("/e2e_customers(%s)", alice), fmt.Sprintf(`{"name":"Al","ownerid@odata.bind":"/systemusers(%s)"}`, owner)).
			requireError(t, http.StatusBadRequest, errcode.InvalidValue, "ownerid@odata.bind", "alone")
		b.do(t, http.MethodPatch, fmt.Sprintf("/e2e_customers(%s)", uuid.New()), `{"visits":1}`).
			requireError(t, http.StatusNotFound, errcode.NotFound)
		b.requireUnchanged(t, before)

		// Concurrent writers with one If-Match: one wins, the others get 412.
		const writers = 4
		statuses := make(chan int, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPatch, b.url(fmt.Sprintf("/e2e_customers(%s)", alice)), strings.NewReader(fmt.Sprintf(`{"visits":%d}`, 10+i)))
				if err != nil {
					panic(err)
				}
				req.Header.Set(security.HeaderAPIKey, apiKey)
				req.Header.Set("If-Match", `W/"5"`)
				resp, err := b.client.Do(req)
				if err != nil {
					statuses <- -1
					return
				}
				_ = resp.Body.Close()
				statuses <- resp.StatusCode
			})
		}
		wg.Wait()
		close(statuses)
		var won, lost int
		for s := range statuses {
			switch s {
			case http.StatusNoContent:
				won++
			case http.StatusPreconditionFailed:
				lost++
			default:
				t.Fatalf("a concurrent PATCH answered %d", s)
			}
		}
		require.Equal(t, 1, won)
		require.Equal(t, writers-1, lost)
		require.Equal(t, e2eNum("6"), b.get(t, "e2e_customers", alice, "")["versionnumber"])

		// A Create of an id that exists is a duplicate.
		before = b.state(t)
		b.do(t, http.MethodPost, "/e2e_customers", fmt.Sprintf(`{"e2e_customerid":%q,"name":"Twin"}`, alice)).
			requireError(t, http.StatusConflict, errcode.Duplicate, alice.String())
		b.requireUnchanged(t, before)

		// Delete, then the row is gone.
		r = b.do(t, http.MethodDelete, fmt.Sprintf("/e2e_customers(%s)", alice), "", "If-Match", `W/"6"`)
		r.requireStatus(t, http.StatusNoContent)
		require.Empty(t, r.body)
		b.do(t, http.MethodGet, fmt.Sprintf("/e2e_customers(%s)", alice), "").requireError(t, http.StatusNotFound, errcode.NotFound, alice.String())
		b.do(t, http.MethodDelete, fmt.Sprintf("/e2e_customers(%s)", alice), "").requireError(t, http.StatusNotFound, errcode.NotFound, alice.String())
		require.Empty(t, b.list(t, "e2e_customers", nil))
		// A deleted row's id is not used again.
		before = b.state(t)
		b.do(t, http.MethodPost, "/e2e_customers", fmt.Sprintf(`{"e2e_customerid":%q,"name":"Again"}`, alice)).
			requireError(t, http.StatusConflict, errcode.Duplicate, alice.String())
		b.requireUnchanged(t, before)

		// The row's stream holds each write, in order, at its version.
		evs := b.stream(t, "e2e_customer/"+alice.String())
		types := make([]string, len(evs))
		for i, ev := range evs {
			types[i] = ev.Type
			require.Equal(t, int64(i+1), ev.StreamVersion)
			require.Equal(t, b.keyUser.String(), ev.Metadata.UserID)
		}
		require.Equal(t, []string{"e2e_customer.Create", "e2e_customer.Update", "e2e_customer.Update", "e2e_customer.Update",
			"e2e_customer.Assign", "e2e_customer.Update", "e2e_customer.Delete"}, types)

		b.requireRebuildSame(t)
	})
}

func TestE2ERetrieveMultiple(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := e2eSetup(t, open)
		const n = 12
		for i := range n {
			b.create(t, "e2e_customers", fmt.Sprintf(`{"name":"C%02d","visits":%d,"active":%t,"tier":%d,"balance":%d.25}`, i, i, i%2 == 0, i%3+1, i))
		}
		names := func(rows []map[string]any) []string {
			out := make([]string, len(rows))
			for i, r := range rows {
				out[i], _ = r["name"].(string)
			}
			return out
		}

		// $select, $filter, $orderby and $top in one query, one page.
		q := url.Values{"$select": {"name,visits"}, "$filter": {"active eq true and visits ge 4"}, "$orderby": {"visits desc"}, "$top": {"3"}}
		p := b.do(t, http.MethodGet, "/e2e_customers?"+q.Encode(), "").page(t)
		require.Equal(t, b.url("/$metadata#e2e_customers(name,visits)"), p.Context)
		require.Empty(t, p.NextLink)
		require.Equal(t, []string{"C10", "C08", "C06"}, names(p.Value))
		for _, row := range p.Value {
			require.ElementsMatch(t, []string{"@odata.etag", "e2e_customerid", "name", "visits"}, slices.Collect(maps.Keys(row)))
		}

		// Pages of a size the client prefers, followed to the end: every
		// row once, in order.
		tests := []struct {
			name  string
			query url.Values
			size  int
			want  []string
		}{
			{"all by name", url.Values{"$orderby": {"name"}}, 5,
				[]string{"C00", "C01", "C02", "C03", "C04", "C05", "C06", "C07", "C08", "C09", "C10", "C11"}},
			{"top across pages", url.Values{"$orderby": {"balance desc"}, "$top": {"7"}}, 3,
				[]string{"C11", "C10", "C09", "C08", "C07", "C06", "C05"}},
			{"filtered", url.Values{"$filter": {"tier eq 2 or name eq 'C00'"}, "$orderby": {"tier desc,name"}}, 2,
				[]string{"C01", "C04", "C07", "C10", "C00"}},
			{"by id", url.Values{"$select": {"name"}}, 1, nil},
		}
		for _, tt := range tests {
			var seen []string
			var pages int
			path := "/e2e_customers"
			if len(tt.query) > 0 {
				path += "?" + tt.query.Encode()
			}
			for path != "" {
				r := b.do(t, http.MethodGet, path, "", "Prefer", fmt.Sprintf("odata.maxpagesize=%d", tt.size))
				require.Equal(t, fmt.Sprintf("odata.maxpagesize=%d", tt.size), r.header.Get("Preference-Applied"), tt.name)
				p := r.page(t)
				require.LessOrEqual(t, len(p.Value), tt.size, tt.name)
				for _, row := range p.Value {
					id, _ := row["e2e_customerid"].(string)
					require.NotContains(t, seen, id, "%s: a row on two pages", tt.name)
					seen = append(seen, id)
				}
				if p.NextLink != "" {
					require.True(t, strings.HasPrefix(p.NextLink, b.url("/e2e_customers?")), p.NextLink)
					require.Len(t, p.Value, tt.size, "%s: only the last page is short", tt.name)
					require.Contains(t, p.NextLink, "%24skiptoken=")
				}
				pages++
				path = p.NextLink
			}
			want := len(tt.want)
			if tt.want == nil {
				want = n
			}
			require.Len(t, seen, want, tt.name)
			require.Equal(t, (want+tt.size-1)/tt.size, pages, tt.name)
			if tt.want != nil {
				rows := b.list(t, "e2e_customers", tt.query, "Prefer", fmt.Sprintf("odata.maxpagesize=%d", tt.size))
				require.Equal(t, tt.want, names(rows), tt.name)
			}
		}

		// The nested Creates of the welcome step made one note each,
		// found by their lookup.
		customer := b.list(t, "e2e_customers", url.Values{"$filter": {"name eq 'C07'"}})
		require.Len(t, customer, 1)
		notes := b.list(t, "e2e_notes", url.Values{"$filter": {fmt.Sprintf("_customerid_value eq %s", customer[0]["e2e_customerid"])}})
		require.Len(t, notes, 1)
		require.Equal(t, "Welcome, C07", notes[0]["text"])
		require.Len(t, b.list(t, "e2e_notes", url.Values{"$filter": {"startswith(text,'Welcome, C')"}}, "Prefer", "odata.maxpagesize=5"), n)
	})
}

func TestE2EInvalidValues(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := e2eSetup(t, open)
		store := b.create(t, "e2e_stores", `{"name":"Downtown"}`)
		carol := b.create(t, "e2e_customers", `{"name":"Carol","visits":1}`)
		before := b.state(t)

		tests := []struct {
			name, method, path, body string
			status                   int
			code                     errcode.Code
			mentions                 []string
		}{
			{"wrong type", http.MethodPost, "/e2e_customers", `{"name":"X","visits":"three"}`,
				400, errcode.InvalidValue, []string{`column "visits"`, `the string "three"`}},
			{"float for an integer", http.MethodPost, "/e2e_customers", `{"name":"X","visits":1.5}`,
				400, errcode.InvalidValue, []string{`column "visits"`}},
			{"below the minimum", http.MethodPost, "/e2e_customers", `{"name":"X","visits":-1}`,
				400, errcode.InvalidValue, []string{`column "visits"`, "minimum"}},
			{"too many decimals", http.MethodPost, "/e2e_customers", `{"name":"X","rating":1.234}`,
				400, errcode.InvalidValue, []string{`column "rating"`, "precision 2"}},
			{"not a boolean", http.MethodPost, "/e2e_customers", `{"name":"X","active":"yes"}`,
				400, errcode.InvalidValue, []string{`column "active"`}},
			{"not a time", http.MethodPost, "/e2e_customers", `{"name":"X","birthday":"last year"}`,
				400, errcode.InvalidValue, []string{`column "birthday"`, "RFC 3339"}},
			{"not a GUID", http.MethodPost, "/e2e_customers", `{"name":"X","externalid":"42"}`,
				400, errcode.InvalidValue, []string{`column "externalid"`}},
			{"not an option", http.MethodPost, "/e2e_customers", `{"name":"X","tier":7}`,
				400, errcode.InvalidValue, []string{`column "tier"`, "options"}},
			{"unknown column", http.MethodPost, "/e2e_customers", `{"name":"X","colour":"red"}`,
				400, errcode.InvalidValue, []string{`column "colour"`, "not a column"}},
			{"system column", http.MethodPost, "/e2e_customers", `{"name":"X","versionnumber":7}`,
				400, errcode.InvalidValue, []string{`column "versionnumber"`}},
			{"over-long string", http.MethodPost, "/e2e_customers", fmt.Sprintf(`{"name":%q}`, strings.Repeat("é", 41)),
				400, errcode.InvalidValue, []string{`column "name"`, "41 characters", "max length 40"}},
			{"over-long string a step would not touch", http.MethodPost, "/e2e_customers", `{"name":"X","code":"ABCDEFGHIJK"}`,
				400, errcode.InvalidValue, []string{`column "code"`, "max length 10"}},
			{"missing required", http.MethodPost, "/e2e_customers", `{"code":"X"}`,
				400, errcode.InvalidValue, []string{`column "name"`, "required"}},
			{"every problem at once", http.MethodPost, "/e2e_customers", `{"visits":"x","tier":9}`,
				400, errcode.InvalidValue, []string{`column "name"`, `column "visits"`, `column "tier"`}},
			{"lookup bound to another table", http.MethodPost, "/e2e_customers", fmt.Sprintf(`{"name":"X","homestoreid@odata.bind":"/e2e_customers(%s)"}`, carol),
				400, errcode.InvalidValue, []string{`column "homestoreid"`, "e2e_store"}},
			{"lookup bound to an unknown set", http.MethodPost, "/e2e_customers", fmt.Sprintf(`{"name":"X","homestoreid@odata.bind":"/shops(%s)"}`, store),
				400, errcode.InvalidValue, []string{"homestoreid@odata.bind", `"shops"`}},
			{"lookup not a GUID", http.MethodPost, "/e2e_customers", `{"name":"X","homestoreid":"downtown"}`,
				400, errcode.InvalidValue, []string{`column "homestoreid"`}},
			{"bad id in the body", http.MethodPost, "/e2e_customers", `{"name":"X","e2e_customerid":"nope"}`,
				400, errcode.InvalidValue, []string{"e2e_customerid"}},
			{"update: wrong type", http.MethodPatch, fmt.Sprintf("/e2e_customers(%s)", carol), `{"score":"high"}`,
				400, errcode.InvalidValue, []string{`column "score"`}},
			{"update: clear a required column", http.MethodPatch, fmt.Sprintf("/e2e_customers(%s)", carol), `{"name":null}`,
				400, errcode.InvalidValue, []string{`column "name"`, "required"}},
			{"update: unknown column", http.MethodPatch, fmt.Sprintf("/e2e_customers(%s)", carol), `{"visits":2,"colour":"red"}`,
				400, errcode.InvalidValue, []string{`column "colour"`}},
			{"filter: unknown column", http.MethodGet, "/e2e_customers?$filter=" + url.QueryEscape("colour eq 'red'"), "",
				400, errcode.InvalidArgument, []string{"$filter", "colour"}},
			{"filter: type mismatch", http.MethodGet, "/e2e_customers?$filter=" + url.QueryEscape("visits eq 'many'"), "",
				400, errcode.InvalidArgument, []string{"$filter", "visits"}},
			{"filter: malformed", http.MethodGet, "/e2e_customers?$filter=" + url.QueryEscape("visits eq"), "",
				400, errcode.InvalidArgument, []string{"$filter"}},
			{"select: unknown column", http.MethodGet, "/e2e_customers?$select=name,colour", "",
				400, errcode.InvalidArgument, []string{"$select", "colour"}},
			{"orderby: unknown column", http.MethodGet, "/e2e_customers?$orderby=" + url.QueryEscape("colour desc"), "",
				400, errcode.InvalidArgument, []string{"$orderby", "colour"}},
			{"top: not a number", http.MethodGet, "/e2e_customers?$top=all", "",
				400, errcode.InvalidArgument, []string{"$top"}},
			{"skiptoken: forged", http.MethodGet, "/e2e_customers?$skiptoken=forged", "",
				400, errcode.InvalidArgument, []string{"$skiptoken"}},
			{"retrieve: unknown column", http.MethodGet, fmt.Sprintf("/e2e_customers(%s)?$select=colour", carol), "",
				400, errcode.InvalidArgument, []string{"colour"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b.do(t, tt.method, tt.path, tt.body).requireError(t, tt.status, tt.code, tt.mentions...)
			})
		}
		b.requireUnchanged(t, before)
	})
}

func TestE2EBadRequests(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := e2eSetup(t, open)
		carol := b.create(t, "e2e_customers", `{"name":"Carol"}`)
		before := b.state(t)

		tests := []struct {
			name, method, path, body string
			headers                  []string
			status                   int
			code                     errcode.Code
			mentions                 []string
		}{
			{"malformed JSON", http.MethodPost, "/e2e_customers", `{"name":`, nil,
				400, errcode.InvalidArgument, []string{"not valid JSON"}},
			{"an array body", http.MethodPost, "/e2e_customers", `[{"name":"X"}]`, nil,
				400, errcode.InvalidArgument, []string{"JSON object"}},
			{"an array body of an action", http.MethodPost, "/e2e_Checkout", `[{"Amount":1}]`, nil,
				400, errcode.InvalidArgument, []string{"JSON object"}},
			{"a name twice", http.MethodPost, "/e2e_customers", `{"name":"X","name":"Y"}`, nil,
				400, errcode.InvalidArgument, []string{`"name" twice`}},
			{"data after the object", http.MethodPost, "/e2e_customers", `{"name":"X"} {}`, nil,
				400, errcode.InvalidArgument, []string{"after"}},
			{"not JSON", http.MethodPost, "/e2e_customers", `name=X`, []string{"Content-Type", "application/x-www-form-urlencoded"},
				400, errcode.InvalidArgument, []string{"application/json"}},
			{"oversized body", http.MethodPost, "/e2e_customers", fmt.Sprintf(`{"name":"X","code":%q}`, strings.Repeat("x", e2eMaxBody)), nil,
				413, errcode.RequestTooLarge, []string{fmt.Sprint(e2eMaxBody)}},
			{"oversized action body", http.MethodPost, "/e2e_OrderPlaced", fmt.Sprintf(`{"Lines":[%q]}`, strings.Repeat("x", e2eMaxBody)), nil,
				413, errcode.RequestTooLarge, nil},
			{"unknown entity set", http.MethodPost, "/e2e_shops", `{"name":"X"}`, nil,
				404, errcode.NotFound, []string{`"e2e_shops"`}},
			{"unknown entity set, GET", http.MethodGet, "/e2e_shops", "", nil,
				404, errcode.NotFound, []string{`"e2e_shops"`}},
			{"unknown API", http.MethodPost, "/e2e_Refund", `{}`, nil,
				404, errcode.NotFound, []string{`"e2e_Refund"`}},
			{"unknown bound API", http.MethodPost, fmt.Sprintf("/e2e_customers(%s)/Microsoft.Dynamics.CRM.e2e_Refund", carol), `{}`, nil,
				404, errcode.NotFound, []string{`"e2e_Refund"`}},
			{"POST to a function", http.MethodPost, "/e2e_Quote", `{"Sku":"pen","Qty":1}`, nil,
				405, errcode.MethodNotAllowed, []string{"e2e_Quote"}},
			{"GET on an action", http.MethodGet, "/e2e_Checkout", "", nil,
				405, errcode.MethodNotAllowed, []string{"e2e_Checkout"}},
			{"GET on an external event", http.MethodGet, "/e2e_OrderPlaced", "", nil,
				405, errcode.MethodNotAllowed, []string{"e2e_OrderPlaced"}},
			{"PUT on a row", http.MethodPut, fmt.Sprintf("/e2e_customers(%s)", carol), `{"name":"X"}`, nil,
				405, errcode.MethodNotAllowed, nil},
			{"a key that is not a GUID", http.MethodGet, "/e2e_customers(carol)", "", nil,
				400, errcode.InvalidArgument, []string{"carol"}},
			{"no credentials", http.MethodPost, "/e2e_customers", `{"name":"X"}`, []string{security.HeaderAPIKey, ""},
				401, errcode.Unauthenticated, nil},
			{"a wrong API key", http.MethodPost, "/e2e_customers", `{"name":"X"}`, []string{security.HeaderAPIKey, "bze_wrong-key-0123456789abcdefghij"},
				401, errcode.Unauthenticated, nil},
			{"a bad token", http.MethodPost, "/e2e_customers", `{"name":"X"}`, []string{security.HeaderAPIKey, "", "Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"},
				401, errcode.Unauthenticated, nil},
			{"a token of another scheme", http.MethodGet, "/e2e_customers", "", []string{security.HeaderAPIKey, "", "Authorization", "Basic ZTJlOmUyZQ=="},
				401, errcode.Unauthenticated, nil},
			{"an idempotency key on PATCH", http.MethodPatch, fmt.Sprintf("/e2e_customers(%s)", carol), `{"visits":1}`, []string{api.HeaderIdempotencyKey, "k1"},
				400, errcode.InvalidArgument, []string{api.HeaderIdempotencyKey}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := b.do(t, tt.method, tt.path, tt.body, tt.headers...)
				r.requireError(t, tt.status, tt.code, tt.mentions...)
				switch tt.code {
				case errcode.MethodNotAllowed:
					require.NotEmpty(t, r.header.Get("Allow"))
					require.NotContains(t, r.header.Get("Allow"), tt.method)
				case errcode.Unauthenticated:
					challenge := r.header.Get("WWW-Authenticate")
					require.True(t, strings.HasPrefix(challenge, `Bearer realm="bizevents"`), challenge)
					if strings.Contains(tt.name, "token") {
						require.Contains(t, challenge, `error="invalid_token"`)
					}
				}
			})
		}
		b.do(t, http.MethodPost, "/e2e_Quote", "").requireError(t, 405, errcode.MethodNotAllowed)
		require.Equal(t, "GET", b.do(t, http.MethodPost, "/e2e_Quote", "").header.Get("Allow"))
		require.Equal(t, "POST", b.do(t, http.MethodGet, "/e2e_Checkout", "").header.Get("Allow"))
		b.requireUnchanged(t, before)

		// A client gets a token at the token endpoint, and works with it as
		// its application user.
		token := func(secret string) e2eResponse {
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.srv.URL+api.DefaultTokenPath, strings.NewReader(form.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return b.send(t, req)
		}
		r := token("not the secret")
		r.requireStatus(t, http.StatusUnauthorized)
		require.Equal(t, "invalid_client", r.object(t)["error"])
		r = token(clientSecret)
		r.requireStatus(t, http.StatusOK)
		require.Equal(t, "no-store", r.header.Get("Cache-Control"))
		tok := r.object(t)
		require.Equal(t, "Bearer", tok["token_type"])
		require.Equal(t, e2eNum("3600"), tok["expires_in"])
		bearer := []string{security.HeaderAPIKey, "", "Authorization", "Bearer " + tok["access_token"].(string)}

		r = b.do(t, http.MethodGet, "/WhoAmI", "", bearer...)
		r.requireStatus(t, http.StatusOK)
		require.Equal(t, b.appUser.String(), r.object(t)["UserId"])
		dave := b.create(t, "e2e_customers", `{"name":"Dave"}`, bearer...)
		require.Equal(t, b.appUser.String(), b.get(t, "e2e_customers", dave, "?$select=ownerid")["ownerid"])
		evs := b.stream(t, "e2e_customer/"+dave.String())
		require.Len(t, evs, 1)
		require.Equal(t, b.appUser.String(), evs[0].Metadata.UserID)
		require.Equal(t, b.appUser.String(), evs[0].Metadata.InitiatingUserID)
	})
}

func TestE2ECustomAPIs(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := e2eSetup(t, open)
		bob := b.create(t, "e2e_customers", `{"name":"Bob","visits":3}`)

		// The external event: appended with its parameters typed, its
		// async step recorded and not run.
		order, correlation, request := uuid.New(), uuid.New(), uuid.New()
		before := b.sealedHead(t)
		r := b.do(t, http.MethodPost, "/e2e_OrderPlaced", fmt.Sprintf(`{"OrderId":%q,"Amount":12.50,
			"PlacedOn":"2026-01-02T03:04:05+01:00","Quantity":3,"Express":true,"Weight":1.5,"Lines":["pen","ink"],
			"Customer":{"@odata.type":"Microsoft.Dynamics.CRM.e2e_customer","e2e_customerid":%q}}`, order, bob),
			api.HeaderCorrelationID, correlation.String(), api.HeaderRequestID, request.String())
		r.requireStatus(t, http.StatusNoContent)
		require.Empty(t, r.body)
		require.Empty(t, r.header.Get(api.HeaderReplayed))
		require.Equal(t, correlation.String(), r.header.Get(api.HeaderCorrelationID))
		require.Equal(t, request.String(), r.header.Get(api.HeaderRequestID))
		evs := b.events(t, correlation)
		require.Len(t, evs, 1)
		ev := evs[0]
		require.Equal(t, before.Position+1, ev.Position)
		require.Equal(t, "e2e_OrderPlaced", ev.Type)
		require.True(t, strings.HasPrefix(ev.StreamID, "e2e_OrderPlaced/"), ev.StreamID)
		require.Equal(t, eventlog.Metadata{UserID: b.keyUser.String(), InitiatingUserID: b.keyUser.String(),
			CorrelationID: correlation.String(), RequestID: request.String(), Depth: 1,
			Solution: ev.Metadata.Solution, Time: ev.Metadata.Time}, ev.Metadata)
		require.JSONEq(t, fmt.Sprintf(`{"messageName":"e2e_OrderPlaced","depth":1,"inputParameters":{
			"OrderId":%q,"Amount":12.5,"PlacedOn":"2026-01-02T02:04:05Z","Quantity":3,"Express":true,"Weight":1.5,
			"Lines":["pen","ink"],"Customer":{"table":"e2e_customer","id":%q}},
			"asyncSteps":["order to erp"]}`, order, bob), string(ev.Data))
		require.Equal(t, e2eNum("12.5"), e2eData(t, ev).InputParameters["Amount"], "money keeps its exact digits")

		// Bad parameters: 400 invalid_value naming each, nothing appended.
		valid := func(edit func(map[string]any)) string {
			p := map[string]any{"OrderId": order.String(), "Amount": 1, "PlacedOn": "2026-01-02", "Quantity": 1, "Express": false}
			edit(p)
			data, err := json.Marshal(p)
			require.NoError(t, err)
			return string(data)
		}
		state := b.state(t)
		for _, tt := range []struct {
			name     string
			body     string
			mentions []string
		}{
			{"missing", valid(func(p map[string]any) { delete(p, "Amount") }), []string{`"Amount"`, "missing"}},
			{"null", valid(func(p map[string]any) { p["Quantity"] = nil }), []string{`"Quantity"`, "missing"}},
			{"wrong type", valid(func(p map[string]any) { p["Quantity"] = "three" }), []string{`"Quantity"`}},
			{"not an integer", valid(func(p map[string]any) { p["Quantity"] = 2.5 }), []string{`"Quantity"`}},
			{"not a GUID", valid(func(p map[string]any) { p["OrderId"] = "order-1" }), []string{`"OrderId"`}},
			{"not a time", valid(func(p map[string]any) { p["PlacedOn"] = "today" }), []string{`"PlacedOn"`}},
			{"not a boolean", valid(func(p map[string]any) { p["Express"] = 1 }), []string{`"Express"`}},
			{"not strings", valid(func(p map[string]any) { p["Lines"] = []any{"pen", 2} }), []string{`"Lines"`, "item 1"}},
			{"another table", valid(func(p map[string]any) { p["Customer"] = map[string]any{"table": "e2e_store", "id": bob.String()} }), []string{`"Customer"`, "e2e_store"}},
			{"unknown", valid(func(p map[string]any) { p["Tip"] = 2 }), []string{`"Tip"`}},
			{"all at once", `{"Amount":"lots"}`, []string{`"OrderId"`, `"Amount"`, `"PlacedOn"`, `"Quantity"`, `"Express"`}},
		} {
			t.Run("external event/"+tt.name, func(t *testing.T) {
				b.do(t, http.MethodPost, "/e2e_OrderPlaced", tt.body).requireError(t, 400, errcode.InvalidValue, tt.mentions...)
			})
		}
		b.requireUnchanged(t, state)

		// The bound action: its main handler's response, and its nested
		// Update stored with it.
		award := fmt.Sprintf("/e2e_customers(%s)/Microsoft.Dynamics.CRM.e2e_Award", bob)
		correlation = uuid.New()
		r = b.do(t, http.MethodPost, award, `{"Points":4}`, api.HeaderCorrelationID, correlation.String())
		r.requireStatus(t, http.StatusOK)
		require.Equal(t, map[string]any{"@odata.context": b.url("/$metadata#Microsoft.Dynamics.CRM.e2e_AwardResponse"),
			"Visits": e2eNum("7"), "Level": "silver"}, r.object(t))
		require.Equal(t, e2eNum("7"), b.get(t, "e2e_customers", bob, "")["visits"])
		evs = b.events(t, correlation)
		require.Len(t, evs, 2)
		require.Equal(t, "e2e_customer.Update", evs[0].Type)
		require.Equal(t, 2, evs[0].Metadata.Depth)
		require.Equal(t, evs[1].ID.String(), evs[0].Metadata.CausationID)
		require.Equal(t, "e2e_Award", evs[1].Type)
		require.Equal(t, 1, evs[1].Metadata.Depth)
		data := e2eData(t, evs[1])
		require.Equal(t, map[string]any{"Visits": e2eNum("7"), "Level": "silver"}, data.OutputParameters)
		require.Equal(t, map[string]any{"Points": e2eNum("4"), "Target": map[string]any{"table": "e2e_customer", "id": bob.String()}}, data.InputParameters)
		r = b.do(t, http.MethodPost, award, `{"Points":10}`)
		r.requireStatus(t, http.StatusOK)
		require.Equal(t, "gold", r.object(t)["Level"])

		state = b.state(t)
		b.do(t, http.MethodPost, award, `{"Points":0}`).requireError(t, 400, errcode.HandlerFailed, "points must be positive")
		b.do(t, http.MethodPost, award, `{"Points":"ten"}`).requireError(t, 400, errcode.InvalidValue, `"Points"`)
		b.do(t, http.MethodPost, award, `{}`).requireError(t, 400, errcode.InvalidValue, `"Points"`, "missing")
		b.do(t, http.MethodPost, fmt.Sprintf("/e2e_customers(%s)/Microsoft.Dynamics.CRM.e2e_Award", uuid.New()), `{"Points":1}`).
			requireError(t, 404, errcode.NotFound)
		b.do(t, http.MethodPost, "/e2e_Award", `{"Points":1}`).requireError(t, 404, errcode.NotFound, "bound to a row")
		b.do(t, http.MethodPost, "/e2e_customers/Microsoft.Dynamics.CRM.e2e_Award", `{"Points":1}`).requireError(t, 404, errcode.NotFound)
		b.requireUnchanged(t, state)

		// The function: its response, and nothing its handler wrote.
		r = b.do(t, http.MethodGet, "/e2e_Quote(Sku=@s,Qty=3)?@s='pen'", "")
		r.requireStatus(t, http.StatusOK)
		quote := r.object(t)
		require.Equal(t, e2eNum("7.5"), quote["Price"])
		probe, err := uuid.Parse(quote["ProbeId"].(string))
		require.NoError(t, err)
		b.do(t, http.MethodGet, fmt.Sprintf("/e2e_stores(%s)", probe), "").requireError(t, 404, errcode.NotFound)
		r = b.do(t, http.MethodGet, "/e2e_Quote?Sku='ink'&Qty=2", "")
		r.requireStatus(t, http.StatusOK)
		require.Equal(t, e2eNum("5"), r.object(t)["Price"])
		b.do(t, http.MethodGet, "/e2e_Quote(Sku='pen')", "").requireError(t, 400, errcode.InvalidValue, `"Qty"`, "missing")
		b.do(t, http.MethodGet, "/e2e_Quote(Sku='pen',Qty='many')", "").requireError(t, 400, errcode.InvalidValue, `"Qty"`)
		b.do(t, http.MethodGet, "/e2e_Quote(Sku=3,Qty=1)", "").requireError(t, 400, errcode.InvalidValue, `"Sku"`)
		b.do(t, http.MethodGet, "/e2e_Quote(Sku='pen',Qty=1,Colour='red')", "").requireError(t, 400, errcode.InvalidValue, `"Colour"`)
		b.requireUnchanged(t, state)

		// The unbound action without a main handler: its PostOperation
		// step answers with what its PreOperation step shared.
		correlation = uuid.New()
		r = b.do(t, http.MethodPost, "/e2e_Checkout", `{"Amount":100}`, api.HeaderCorrelationID, correlation.String())
		r.requireStatus(t, http.StatusOK)
		require.Equal(t, map[string]any{"@odata.context": b.url("/$metadata#Microsoft.Dynamics.CRM.e2e_CheckoutResponse"), "Total": e2eNum("95")}, r.object(t))
		evs = b.events(t, correlation)
		require.Len(t, evs, 1)
		require.Equal(t, "e2e_Checkout", evs[0].Type)
		require.Equal(t, map[string]any{"Total": e2eNum("95")}, e2eData(t, evs[0]).OutputParameters)
		state = b.state(t)
		b.do(t, http.MethodPost, "/e2e_Checkout", `{"Amount":1000000000000000.01}`).
			requireError(t, 400, errcode.HandlerFailed, "amount 1000000000000000.01 is over the checkout limit of 1000000000000000", "checkout limit", "PreValidation")
		b.do(t, http.MethodPost, "/e2e_Checkout", `{"Coupon":"HALF"}`).requireError(t, 400, errcode.InvalidValue, `"Amount"`)
		// A step's response is checked against the response properties,
		// as a main handler's is.
		b.do(t, http.MethodPost, "/e2e_Checkout", `{"Amount":10,"Coupon":"TYPO"}`).
			requireError(t, 400, errcode.HandlerFailed, "e2e_Checkout", `"Totl"`)
		b.requireUnchanged(t, state)

		b.requireRebuildSame(t)
	})
}

func TestE2ESteps(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := e2eSetup(t, open)

		// PreValidation rejects, with its message, before anything runs.
		before := b.state(t)
		b.do(t, http.MethodPost, "/e2e_customers", `{"name":"blocked Bob"}`).
			requireError(t, 400, errcode.HandlerFailed, `customer "blocked Bob" is on the blocklist`, "customer blocklist", "PreValidation")
		b.requireUnchanged(t, before)

		// PreOperation changes the Target; PostOperation creates a note
		// through the service, with the greeting PreOperation shared. Both
		// events carry the client's correlation id; the nested one is at
		// depth 2, caused by the outer one.
		correlation, request := uuid.New(), uuid.New()
		r := b.do(t, http.MethodPost, "/e2e_customers", `{"name":"Alice"}`, api.HeaderCorrelationID, correlation.String(), api.HeaderRequestID, request.String())
		r.requireStatus(t, http.StatusNoContent)
		require.Equal(t, correlation.String(), r.header.Get(api.HeaderCorrelationID))
		alice := b.entityID(t, r, "e2e_customers")
		require.Equal(t, "ALI", b.get(t, "e2e_customers", alice, "")["code"])
		notes := b.list(t, "e2e_notes", nil)
		require.Len(t, notes, 1)
		require.Equal(t, "Welcome, Alice", notes[0]["text"])
		require.Equal(t, alice.String(), notes[0]["customerid"])
		require.Equal(t, b.keyUser.String(), notes[0]["ownerid"])
		evs := b.events(t, correlation)
		require.Len(t, evs, 2)
		outer, nested := evs[1], evs[0]
		if evs[0].Type == "e2e_customer.Create" {
			outer, nested = evs[0], evs[1]
		}
		require.Equal(t, "e2e_customer.Create", outer.Type)
		require.Equal(t, "e2e_customer/"+alice.String(), outer.StreamID)
		require.Equal(t, 1, outer.Metadata.Depth)
		require.Empty(t, outer.Metadata.CausationID)
		require.Equal(t, "e2e_note.Create", nested.Type)
		require.Equal(t, "e2e_note/"+notes[0]["e2e_noteid"].(string), nested.StreamID)
		require.Equal(t, 2, nested.Metadata.Depth)
		require.Equal(t, 2, e2eData(t, nested).Depth)
		require.Equal(t, outer.ID.String(), nested.Metadata.CausationID)
		for _, ev := range evs {
			require.Equal(t, correlation.String(), ev.Metadata.CorrelationID)
			require.Equal(t, request.String(), ev.Metadata.RequestID)
			require.Equal(t, b.keyUser.String(), ev.Metadata.UserID)
		}
		require.Equal(t, "ALI", e2eData(t, outer).Row["code"], "the event has the row the PreOperation step made")
		// A code the caller gives is kept.
		ben := b.create(t, "e2e_customers", `{"name":"Ben","code":"B-1"}`)
		require.Equal(t, "B-1", b.get(t, "e2e_customers", ben, "")["code"])

		// A PostOperation failure rolls back the row, the nested note and
		// both events.
		before = b.state(t)
		b.do(t, http.MethodPost, "/e2e_customers", `{"name":"rollback me"}`).
			requireError(t, 400, errcode.HandlerFailed, "refused after it was written", "customer late refusal", "PostOperation")
		b.requireUnchanged(t, before)
		// The same with a chosen id: its stream stays empty.
		id := uuid.New()
		b.do(t, http.MethodPost, "/e2e_customers", fmt.Sprintf(`{"e2e_customerid":%q,"name":"rollback me"}`, id)).
			requireError(t, 400, errcode.HandlerFailed)
		require.Empty(t, b.stream(t, "e2e_customer/"+id.String()))
		b.do(t, http.MethodGet, fmt.Sprintf("/e2e_customers(%s)", id), "").requireError(t, 404, errcode.NotFound)
		b.requireUnchanged(t, before)

		// A handler that recurses without end hits the depth limit, and
		// nothing of its eight levels is stored.
		b.do(t, http.MethodPost, "/e2e_loops", `{"label":"depth 1"}`).
			requireError(t, 508, errcode.DepthExceeded, "depth 9", "limit of 8")
		b.requireUnchanged(t, before)

		// Filtering columns and images: the tier step runs only when tier
		// changes, and sees the row before (its columns) and after.
		carol := b.create(t, "e2e_customers", `{"name":"Carol","tier":1,"visits":1}`)
		runs := func() []e2eTierRun {
			b.mu.Lock()
			defer b.mu.Unlock()
			return slices.Clone(b.tierRuns)
		}
		patch := func(body string) {
			t.Helper()
			b.do(t, http.MethodPatch, fmt.Sprintf("/e2e_customers(%s)", carol), body).requireStatus(t, http.StatusNoContent)
		}
		patch(`{"visits":2}`)
		require.Empty(t, runs(), "tier is not in the Target")
		patch(`{"tier":2,"visits":3}`)
		require.Len(t, runs(), 1)
		run := runs()[0]
		require.Equal(t, tables.Row{"tier": int64(2), "visits": int64(3)}, run.target)
		require.Equal(t, tables.Row{"e2e_customerid": carol, "tier": int64(1), "name": "Carol"}, run.before)
		require.Equal(t, "Carol", run.after["name"])
		require.Equal(t, int64(2), run.after["tier"])
		require.Equal(t, int64(3), run.after["visits"])
		require.Equal(t, int64(3), run.after[tables.ColumnVersion])
		require.Equal(t, carol, run.after["e2e_customerid"])
		require.Equal(t, "CAR", run.after["code"])
		patch(`{"tier":2}`)
		require.Len(t, runs(), 1, "tier is in the Target, unchanged")
		patch(`{"tier":3,"name":"Caroline"}`)
		require.Len(t, runs(), 2)
		run = runs()[1]
		require.Equal(t, tables.Row{"e2e_customerid": carol, "tier": int64(2), "name": "Carol"}, run.before)
		require.Equal(t, "Caroline", run.after["name"])
		require.Equal(t, int64(3), run.after["tier"])
		require.Equal(t, int64(5), run.after[tables.ColumnVersion])

		// The async step is in the event's asyncSteps when its filtering
		// column changes, and runs nowhere in the request.
		correlation = uuid.New()
		b.do(t, http.MethodPatch, fmt.Sprintf("/e2e_customers(%s)", carol), `{"balance":10}`, api.HeaderCorrelationID, correlation.String()).
			requireStatus(t, http.StatusNoContent)
		evs = b.events(t, correlation)
		require.Len(t, evs, 1)
		require.Equal(t, []string{"customer balance to erp"}, e2eData(t, evs[0]).AsyncSteps)
		correlation = uuid.New()
		b.do(t, http.MethodPatch, fmt.Sprintf("/e2e_customers(%s)", carol), `{"visits":9}`, api.HeaderCorrelationID, correlation.String()).
			requireStatus(t, http.StatusNoContent)
		evs = b.events(t, correlation)
		require.Len(t, evs, 1)
		require.Empty(t, e2eData(t, evs[0]).AsyncSteps)
		require.Zero(t, b.asyncRuns.Load())

		b.requireRebuildSame(t)
	})
}

func TestE2EIdempotency(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := e2eSetup(t, open)

		// An external event sent twice with one key is one event; the
		// retry gets the first answer, marked replayed.
		body := fmt.Sprintf(`{"OrderId":%q,"Amount":20,"PlacedOn":"2026-03-01","Quantity":1,"Express":false}`, uuid.New())
		key := "pos-17-receipt-" + uuid.NewString()
		head := b.sealedHead(t)
		r := b.do(t, http.MethodPost, "/e2e_OrderPlaced", body, api.HeaderIdempotencyKey, key)
		r.requireStatus(t, http.StatusNoContent)
		require.Empty(t, r.header.Get(api.HeaderReplayed))
		r = b.do(t, http.MethodPost, "/e2e_OrderPlaced", body, api.HeaderIdempotencyKeyMSCRM, key)
		r.requireStatus(t, http.StatusNoContent)
		require.Equal(t, "true", r.header.Get(api.HeaderReplayed))
		evs := b.stream(t, "e2e_OrderPlaced/key/"+key)
		require.Len(t, evs, 1)
		require.Equal(t, head.Position+1, b.sealedHead(t).Position)

		// The same key with other parameters is refused.
		before := b.state(t)
		b.do(t, http.MethodPost, "/e2e_OrderPlaced", strings.Replace(body, `"Amount":20`, `"Amount":21`, 1), api.HeaderIdempotencyKey, key).
			requireError(t, 400, errcode.InvalidArgument, key, "different request")
		b.requireUnchanged(t, before)
		require.Len(t, b.stream(t, "e2e_OrderPlaced/key/"+key), 1)

		// A Create sent twice with one key is one row (and one welcome
		// note: the steps do not run again).
		key = "signup-" + uuid.NewString()
		r = b.do(t, http.MethodPost, "/e2e_customers", `{"name":"Idem","visits":1}`, api.HeaderIdempotencyKey, key)
		r.requireStatus(t, http.StatusNoContent)
		require.Empty(t, r.header.Get(api.HeaderReplayed))
		first := b.entityID(t, r, "e2e_customers")
		before = b.state(t)
		r = b.do(t, http.MethodPost, "/e2e_customers", `{"visits":1,"name":"Idem"}`, api.HeaderIdempotencyKey, key, "Prefer", "return=representation")
		require.Contains(t, []int{http.StatusCreated, http.StatusNoContent}, r.status, "body: %s", r.body)
		require.Equal(t, "true", r.header.Get(api.HeaderReplayed))
		require.Equal(t, first, b.entityID(t, r, "e2e_customers"))
		b.requireUnchanged(t, before)
		require.Len(t, b.list(t, "e2e_customers", url.Values{"$filter": {"name eq 'Idem'"}}), 1)
		require.Len(t, b.list(t, "e2e_notes", nil), 1)
		require.Len(t, b.stream(t, "e2e_customer/"+first.String()), 1)
		b.do(t, http.MethodPost, "/e2e_customers", `{"name":"Idem","visits":2}`, api.HeaderIdempotencyKey, key).
			requireError(t, 400, errcode.InvalidArgument, "different request")
		b.requireUnchanged(t, before)

		// Another key is another row.
		other := b.create(t, "e2e_customers", `{"name":"Idem","visits":1}`, api.HeaderIdempotencyKey, key+"-2")
		require.NotEqual(t, first, other)
		require.Len(t, b.list(t, "e2e_customers", url.Values{"$filter": {"name eq 'Idem'"}}), 2)

		// The retry of a Create that asked for the row gets the row, as
		// the first attempt did.
		key = "signup-" + uuid.NewString()
		r = b.do(t, http.MethodPost, "/e2e_customers", `{"name":"Rep","balance":12345678901234.5678}`, api.HeaderIdempotencyKey, key, "Prefer", "return=representation")
		r.requireStatus(t, http.StatusCreated)
		firstBody := r.object(t)
		before = b.state(t)
		r = b.do(t, http.MethodPost, "/e2e_customers", `{"name":"Rep","balance":12345678901234.5678}`, api.HeaderIdempotencyKey, key, "Prefer", "return=representation")
		r.requireStatus(t, http.StatusCreated)
		require.Equal(t, "true", r.header.Get(api.HeaderReplayed))
		require.Equal(t, `W/"1"`, r.header.Get("ETag"))
		require.Equal(t, firstBody, r.object(t))
		b.requireUnchanged(t, before)

		// The retry of an action gets its response exactly, however many
		// digits it has.
		key = "checkout-" + uuid.NewString()
		r = b.do(t, http.MethodPost, "/e2e_Checkout", `{"Amount":12345678901234.5678}`, api.HeaderIdempotencyKey, key)
		r.requireStatus(t, http.StatusOK)
		require.Equal(t, e2eNum("12345678901229.5678"), r.object(t)["Total"])
		firstBody = r.object(t)
		before = b.state(t)
		r = b.do(t, http.MethodPost, "/e2e_Checkout", `{"Amount":12345678901234.5678}`, api.HeaderIdempotencyKey, key)
		r.requireStatus(t, http.StatusOK)
		require.Equal(t, "true", r.header.Get(api.HeaderReplayed))
		require.Equal(t, firstBody, r.object(t))
		b.requireUnchanged(t, before)

		// A key is for one request: the same action and parameters on
		// another row are another request, refused, not replayed.
		bob := b.create(t, "e2e_customers", `{"name":"Bob","visits":1}`)
		carol := b.create(t, "e2e_customers", `{"name":"Carol","visits":1}`)
		key = "award-" + uuid.NewString()
		r = b.do(t, http.MethodPost, fmt.Sprintf("/e2e_customers(%s)/Microsoft.Dynamics.CRM.e2e_Award", bob), `{"Points":2}`, api.HeaderIdempotencyKey, key)
		r.requireStatus(t, http.StatusOK)
		require.Equal(t, e2eNum("3"), r.object(t)["Visits"])
		before = b.state(t)
		b.do(t, http.MethodPost, fmt.Sprintf("/e2e_customers(%s)/Microsoft.Dynamics.CRM.e2e_Award", carol), `{"Points":2}`, api.HeaderIdempotencyKey, key).
			requireError(t, 400, errcode.InvalidArgument, "different request")
		b.requireUnchanged(t, before)
		require.Equal(t, e2eNum("1"), b.get(t, "e2e_customers", carol, "")["visits"])

		// Concurrent retries: one runs, the others replay it.
		const retries = 4
		for _, tt := range []struct {
			path, body string
			events     int64
		}{
			{"/e2e_OrderPlaced", fmt.Sprintf(`{"OrderId":%q,"Amount":3,"PlacedOn":"2026-03-02","Quantity":2,"Express":true}`, uuid.New()), 1},
			{"/e2e_customers", `{"name":"Race"}`, 2}, // the row and its welcome note
		} {
			key := "race-" + uuid.NewString()
			before := b.sealedHead(t)
			results := make(chan e2eResponse, retries)
			var wg sync.WaitGroup
			for range retries {
				wg.Go(func() {
					req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.url(tt.path), strings.NewReader(tt.body))
					if err != nil {
						panic(err)
					}
					req.Header.Set(security.HeaderAPIKey, apiKey)
					req.Header.Set(api.HeaderIdempotencyKey, key)
					resp, err := b.client.Do(req)
					if err != nil {
						results <- e2eResponse{status: -1, body: []byte(err.Error())}
						return
					}
					defer resp.Body.Close()
					data, _ := io.ReadAll(resp.Body)
					results <- e2eResponse{status: resp.StatusCode, header: resp.Header, body: data}
				})
			}
			wg.Wait()
			close(results)
			replayed := 0
			for r := range results {
				r.requireStatus(t, http.StatusNoContent)
				if r.header.Get(api.HeaderReplayed) == "true" {
					replayed++
				}
			}
			require.Equal(t, retries-1, replayed, tt.path)
			require.Equal(t, before.Position+tt.events, b.sealedHead(t).Position, tt.path)
		}
		require.Len(t, b.list(t, "e2e_customers", url.Values{"$filter": {"name eq 'Race'"}}), 1)

		b.requireRebuildSame(t)
	})
}
