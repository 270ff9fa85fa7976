package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
)

var (
	account = tables.Table{
		LogicalName: "account", PluralName: "accounts", PrimaryName: "name",
		Columns: []tables.Column{
			{LogicalName: "name", Type: tables.String, Required: true, MaxLength: 50},
			{LogicalName: "revenue", Type: tables.Money},
			{LogicalName: "credit", Type: tables.Integer},
			{LogicalName: "city", Type: tables.String},
		},
	}
	contact = tables.Table{
		LogicalName: "contact", PluralName: "contacts",
		Columns: []tables.Column{
			{LogicalName: "lastname", Type: tables.String, Required: true},
			{LogicalName: "parentcustomerid", Type: tables.Lookup, Target: "account"},
		},
	}
	purchase = customapi.API{
		UniqueName: "contoso_CustomerPurchase", AllowedStepType: customapi.StepsAsyncOnly,
		RequestParameters: []customapi.Parameter{
			{UniqueName: "CustomerId", Type: customapi.GUID},
			{UniqueName: "Amount", Type: customapi.Money},
			{UniqueName: "Items", Type: customapi.StringArray, Optional: true},
		},
	}
	score = customapi.API{
		UniqueName: "contoso_Score", AllowedStepType: customapi.StepsSyncAndAsync, Handler: "score",
		Binding: customapi.TableBound, BoundTable: "account",
		RequestParameters:  []customapi.Parameter{{UniqueName: "Factor", Type: customapi.Integer}},
		ResponseProperties: []customapi.Parameter{{UniqueName: "Score", Type: customapi.Integer}},
	}
	lookupName = customapi.API{
		UniqueName: "contoso_Touch", IsFunction: true, AllowedStepType: customapi.StepsNone, Handler: "touch",
		RequestParameters:  []customapi.Parameter{{UniqueName: "Name", Type: customapi.String}},
		ResponseProperties: []customapi.Parameter{{UniqueName: "Id", Type: customapi.GUID}},
	}
)

// bundle is a test's engine on a fresh database.
type bundle struct {
	db storage.DB
	e  *pipeline.Engine
	h  pipeline.HandlerMap
}

func setup(t *testing.T, open storagetest.Opener, steps ...pipeline.Step) *bundle {
	t.Helper()
	db := open(t, tables.Migrations...)
	h := pipeline.HandlerMap{}
	e := pipeline.New(db, pipeline.Config{Handlers: h})
	defs, err := pipeline.NewDefinitions([]tables.Table{account, contact}, []customapi.API{purchase, score, lookupName}, steps)
	require.NoError(t, err)
	e.SetDefinitions(defs)
	return &bundle{db: db, e: e, h: h}
}

var user = pipeline.Caller{UserID: uuid.MustParse("0196d7c2-0000-7000-8000-000000000001")}

func (b *bundle) create(t *testing.T, table string, target map[string]any) (pipeline.Response, error) {
	t.Helper()
	return b.e.Execute(context.Background(), pipeline.Request{Message: pipeline.Create, Table: table, Target: target, Caller: user})
}

func (b *bundle) events(t *testing.T, stream string) []eventlog.Event {
	t.Helper()
	evs, err := b.db.Log().ReadStream(context.Background(), eventlog.StreamQuery{StreamID: stream})
	if err != nil {
		require.ErrorIs(t, err, eventlog.ErrStreamNotFound)
	}
	return evs
}

func (b *bundle) count(t *testing.T) int64 {
	t.Helper()
	var n int64
	require.NoError(t, storage.ScanOne(context.Background(), b.db, []any{&n}, `SELECT count(*) FROM rows`))
	return n
}

// head is the log's last position once every committed event is sealed.
func (b *bundle) head(t *testing.T) int64 { return storagetest.SealedHead(t, b.db) }

func requireCode(t *testing.T, err error, code errcode.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, errcode.Of(err), "error: %v", err)
}

func TestCRUD(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		resp, err := b.create(t, "account", map[string]any{"name": "Contoso", "revenue": json.Number("1000.50"), "credit": json.Number("3")})
		require.NoError(t, err)
		id := resp.ID
		require.NotEqual(t, uuid.Nil, id)
		require.Equal(t, int64(1), resp.Version)

		got, err := b.e.Execute(ctx, pipeline.Request{Message: pipeline.Retrieve, Table: "account", ID: id, Caller: user})
		require.NoError(t, err)
		require.Equal(t, "Contoso", got.Row["name"])
		require.Equal(t, tables.Number("1000.5"), got.Row["revenue"])
		require.Equal(t, user.UserID, got.Row[tables.ColumnOwnerID])

		resp, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Update, Table: "account", ID: id, Target: map[string]any{"city": "Oslo"}, Caller: user})
		require.NoError(t, err)
		require.Equal(t, int64(2), resp.Version)
		_, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Update, Table: "account", ID: id, Target: map[string]any{"city": "Bergen"}, ExpectedVersion: 1, Caller: user})
		requireCode(t, err, errcode.VersionConflict)

		owner := uuid.New()
		_, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Assign, Table: "account", ID: id, Owner: owner, Caller: user})
		require.NoError(t, err)
		got, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Retrieve, Table: "account", ID: id, Columns: []string{"city", "ownerid"}, Caller: user})
		require.NoError(t, err)
		require.Equal(t, "Oslo", got.Row["city"])
		require.Equal(t, owner, got.Row[tables.ColumnOwnerID])
		require.NotContains(t, got.Row, "name")

		list, err := b.e.Execute(ctx, pipeline.Request{Message: pipeline.RetrieveMultiple, Table: "account", Caller: user})
		require.NoError(t, err)
		require.Len(t, list.Rows, 1)

		_, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Delete, Table: "account", ID: id, Caller: user})
		require.NoError(t, err)
		_, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Retrieve, Table: "account", ID: id, Caller: user})
		requireCode(t, err, errcode.NotFound)

		evs := b.events(t, "account/"+id.String())
		require.Len(t, evs, 4)
		for i, typ := range []string{"account.Create", "account.Update", "account.Assign", "account.Delete"} {
			require.Equal(t, typ, evs[i].Type)
			require.Equal(t, int64(i+1), evs[i].StreamVersion)
			require.Equal(t, user.UserID.String(), evs[i].Metadata.UserID)
			require.Equal(t, 1, evs[i].Metadata.Depth)
		}
		// A deleted row's id is not reused.
		_, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Create, Table: "account", ID: id, Target: map[string]any{"name": "again"}, Caller: user})
		require.Error(t, err)
	})
}

func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		tests := []struct {
			name string
			req  pipeline.Request
			code errcode.Code
		}{
			{"unknown table", pipeline.Request{Message: pipeline.Create, Table: "nope", Target: map[string]any{}}, errcode.NotFound},
			{"unknown message", pipeline.Request{Message: "contoso_Nope"}, errcode.NotFound},
			{"wrong type", pipeline.Request{Message: pipeline.Create, Table: "account", Target: map[string]any{"name": "x", "credit": "three"}}, errcode.InvalidValue},
			{"unknown column", pipeline.Request{Message: pipeline.Create, Table: "account", Target: map[string]any{"name": "x", "colour": "red"}}, errcode.InvalidValue},
			{"too long", pipeline.Request{Message: pipeline.Create, Table: "account", Target: map[string]any{"name": strings.Repeat("x", 51)}}, errcode.InvalidValue},
			{"required missing", pipeline.Request{Message: pipeline.Create, Table: "account", Target: map[string]any{"city": "Oslo"}}, errcode.InvalidValue},
			{"update of a missing row", pipeline.Request{Message: pipeline.Update, Table: "account", ID: uuid.New(), Target: map[string]any{"city": "Oslo"}}, errcode.NotFound},
			{"param missing", pipeline.Request{Message: "contoso_CustomerPurchase", Parameters: map[string]any{"Amount": json.Number("1")}}, errcode.InvalidValue},
			{"param wrong type", pipeline.Request{Message: "contoso_CustomerPurchase", Parameters: map[string]any{"CustomerId": "not a guid", "Amount": json.Number("1")}}, errcode.InvalidValue},
			{"param unknown", pipeline.Request{Message: "contoso_CustomerPurchase", Parameters: map[string]any{"CustomerId": uuid.NewString(), "Amount": json.Number("1"), "Tip": json.Number("2")}}, errcode.InvalidValue},
		}
		for _, tt := range tests {
			tt.req.Caller = user
			_, err := b.e.Execute(ctx, tt.req)
			requireCode(t, err, tt.code)
		}
		require.Zero(t, b.count(t))
		require.Zero(t, b.head(t))
	})
}

func TestSyncStepsAndRollback(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		var order []string
		var mu sync.Mutex
		note := func(s string) {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, s)
		}
		b := setup(t, open,
			pipeline.Step{Name: "upper", Message: pipeline.Create, Table: "account", Stage: pipeline.PreOperation, Mode: pipeline.Sync, Rank: 2, Handler: "upper"},
			pipeline.Step{Name: "stamp", Message: pipeline.Create, Table: "account", Stage: pipeline.PreOperation, Mode: pipeline.Sync, Rank: 1, Handler: "stamp"},
			pipeline.Step{Name: "check", Message: pipeline.Create, Table: "account", Stage: pipeline.PreValidation, Mode: pipeline.Sync, Handler: "check"},
			pipeline.Step{Name: "audit", Message: pipeline.Create, Table: "account", Stage: pipeline.PostOperation, Mode: pipeline.Sync, Handler: "audit"},
			pipeline.Step{Name: "notify", Message: pipeline.Create, Table: "account", Stage: pipeline.PostOperation, Mode: pipeline.Async, Handler: "notify"},
		)
		b.h["check"] = pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
			note("check")
			if ex.Target()["name"] == "forbidden" {
				return pipeline.Fail("the name %q is not allowed", "forbidden")
			}
			return nil
		})
		b.h["stamp"] = pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
			note("stamp")
			ex.SharedVariables["stamped"] = true
			ex.Target()["city"] = "Stamped"
			return nil
		})
		b.h["upper"] = pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
			note("upper")
			ex.Target()["name"] = strings.ToUpper(ex.Target()["name"].(string))
			return nil
		})
		b.h["audit"] = pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
			note("audit")
			if ex.SharedVariables["stamped"] != true {
				return fmt.Errorf("shared variable lost")
			}
			if ex.Target()["name"] == "BOOM" {
				return pipeline.Fail("audit refused %s", ex.ID)
			}
			if ex.Target()["name"] == "PANIC" {
				panic("audit exploded")
			}
			return nil
		})
		resp, err := b.create(t, "account", map[string]any{"name": "contoso"})
		require.NoError(t, err)
		require.Equal(t, []string{"check", "stamp", "upper", "audit"}, order)
		require.Equal(t, "CONTOSO", resp.Row["name"])
		require.Equal(t, "Stamped", resp.Row["city"])
		evs := b.events(t, "account/"+resp.ID.String())
		require.Len(t, evs, 1)
		require.Contains(t, string(evs[0].Data), `"asyncSteps":["notify"]`)

		for name, code := range map[string]errcode.Code{"forbidden": errcode.HandlerFailed, "boom": errcode.HandlerFailed, "panic": errcode.HandlerFailed} {
			_, err := b.create(t, "account", map[string]any{"name": name})
			requireCode(t, err, code)
		}
		_, err = b.create(t, "account", map[string]any{"name": "boom"})
		require.ErrorContains(t, err, "audit refused")
		var se *pipeline.StepError
		require.ErrorAs(t, err, &se)
		require.Equal(t, "audit", se.Step)
		require.Equal(t, pipeline.PostOperation, se.Stage)
		require.Equal(t, int64(1), b.count(t), "failed messages left rows")
		require.Equal(t, int64(1), b.head(t), "failed messages left events")

		// A PreOperation handler that sets a Target value that does not fit fails the message.
		b.h["upper"] = pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
			ex.Target()["credit"] = "lots"
			return nil
		})
		_, err = b.create(t, "account", map[string]any{"name": "x"})
		requireCode(t, err, errcode.InvalidValue)
		require.Equal(t, int64(1), b.count(t))
	})
}

func TestNestedMessagesAndDepth(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open,
			pipeline.Step{Name: "primary-contact", Message: pipeline.Create, Table: "account", Stage: pipeline.PostOperation, Mode: pipeline.Sync, Handler: "contact"},
			pipeline.Step{Name: "loop", Message: pipeline.Create, Table: "contact", Stage: pipeline.PostOperation, Mode: pipeline.Sync, Handler: "loop"},
		)
		ctx := context.Background()
		b.h["contact"] = pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
			_, err := ex.Service.Execute(ctx, pipeline.Request{Message: pipeline.Create, Table: "contact",
				Target: map[string]any{"lastname": ex.Target()["name"], "parentcustomerid": ex.ID.String()}})
			if err != nil {
				return err
			}
			if ex.Target()["name"] == "fail-after" {
				return pipeline.Fail("changed my mind")
			}
			return nil
		})
		b.h["loop"] = pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
			if ex.Target()["lastname"] != "loop" {
				return nil
			}
			_, err := ex.Service.Execute(ctx, pipeline.Request{Message: pipeline.Create, Table: "contact", Target: map[string]any{"lastname": "loop"}})
			return err
		})
		resp, err := b.create(t, "account", map[string]any{"name": "Fabrikam"})
		require.NoError(t, err)
		require.Equal(t, int64(2), b.count(t))
		list, err := b.e.Execute(ctx, pipeline.Request{Message: pipeline.RetrieveMultiple, Table: "contact", Caller: user})
		require.NoError(t, err)
		require.Len(t, list.Rows, 1)
		cid := list.Rows[0]["contactid"].(uuid.UUID)
		require.Equal(t, tables.Reference{Table: "account", ID: resp.ID}, list.Rows[0]["parentcustomerid"])
		cev := b.events(t, "contact/"+cid.String())
		require.Len(t, cev, 1)
		require.Equal(t, 2, cev[0].Metadata.Depth)
		require.Equal(t, resp.EventID.String(), cev[0].Metadata.CausationID)
		aev := b.events(t, "account/"+resp.ID.String())
		require.Equal(t, aev[0].Metadata.CorrelationID, cev[0].Metadata.CorrelationID)

		// The outer message fails after the nested one succeeded: both are gone.
		_, err = b.create(t, "account", map[string]any{"name": "fail-after"})
		requireCode(t, err, errcode.HandlerFailed)
		require.Equal(t, int64(2), b.count(t))

		// A handler that calls itself forever hits the depth limit; nothing stays.
		_, err = b.create(t, "contact", map[string]any{"lastname": "loop"})
		requireCode(t, err, errcode.DepthExceeded)
		require.ErrorContains(t, err, "depth")
		require.Equal(t, int64(2), b.count(t))
		require.Equal(t, int64(2), b.head(t))
	})
}

func TestFilteringColumnsAndImages(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open, pipeline.Step{
			Name: "revenue-changed", Message: pipeline.Update, Table: "account", Stage: pipeline.PostOperation, Mode: pipeline.Sync,
			FilteringColumns: []string{"revenue"}, Handler: "watch",
			PreImages:  []pipeline.Image{{Name: "before", Columns: []string{"revenue"}}},
			PostImages: []pipeline.Image{{Name: "after"}},
		})
		var seen []pipeline.Execution
		b.h["watch"] = pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
			seen = append(seen, *ex)
			return nil
		})
		ctx := context.Background()
		resp, err := b.create(t, "account", map[string]any{"name": "A", "revenue": json.Number("10")})
		require.NoError(t, err)
		update := func(target map[string]any) {
			_, err := b.e.Execute(ctx, pipeline.Request{Message: pipeline.Update, Table: "account", ID: resp.ID, Target: target, Caller: user})
			require.NoError(t, err)
		}
		update(map[string]any{"city": "Oslo"})                                 // no filtering column: skipped
		update(map[string]any{"revenue": json.Number("10.00")})                // same value: no change, skipped
		update(map[string]any{"revenue": json.Number("12.5"), "city": "Rome"}) // runs
		require.Len(t, seen, 1)
		ex := seen[0]
		require.Equal(t, tables.Row{"accountid": resp.ID, "revenue": tables.Number("10")}, ex.PreImages["before"])
		require.Equal(t, tables.Number("12.5"), ex.PostImages["after"]["revenue"])
		require.Equal(t, "Rome", ex.PostImages["after"]["city"])
		require.Equal(t, "A", ex.PostImages["after"]["name"])
	})
}

func TestCustomAPIs(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		b.h["score"] = pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
			ref := ex.InputParameters["Target"].(tables.Reference)
			got, err := ex.Service.Execute(ctx, pipeline.Request{Message: pipeline.Retrieve, Table: ref.Table, ID: ref.ID})
			if err != nil {
				return err
			}
			credit, _ := got.Row["credit"].(int64)
			ex.OutputParameters["Score"] = credit * ex.InputParameters["Factor"].(int64)
			if credit < 0 {
				ex.OutputParameters["Score"] = "negative"
			}
			return nil
		})
		b.h["touch"] = pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
			r, err := ex.Service.Execute(ctx, pipeline.Request{Message: pipeline.Create, Table: "account", Target: map[string]any{"name": ex.InputParameters["Name"]}})
			if err != nil {
				return err
			}
			ex.OutputParameters["Id"] = r.ID
			return nil
		})

		// An external event: typed, appended, nothing else.
		cust := uuid.New()
		resp, err := b.e.Execute(ctx, pipeline.Request{Message: "contoso_CustomerPurchase", Caller: user,
			Parameters: map[string]any{"CustomerId": cust.String(), "Amount": json.Number("19.90"), "Items": []any{"pen", "ink"}}})
		require.NoError(t, err)
		require.NotEqual(t, uuid.Nil, resp.EventID)
		require.Equal(t, int64(1), b.head(t))
		evs, err := b.db.Log().Read(ctx, eventlog.ReadQuery{Types: []string{"contoso_CustomerPurchase"}})
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.JSONEq(t, fmt.Sprintf(`{"messageName":"contoso_CustomerPurchase","depth":1,
			"inputParameters":{"CustomerId":%q,"Amount":19.9,"Items":["pen","ink"]}}`, cust), string(evs[0].Data))

		// Idempotency: the same key twice stores one event.
		req := pipeline.Request{Message: "contoso_CustomerPurchase", Caller: user, IdempotencyKey: "pos-17-receipt-4411",
			Parameters: map[string]any{"CustomerId": cust.String(), "Amount": json.Number("5")}}
		first, err := b.e.Execute(ctx, req)
		require.NoError(t, err)
		again, err := b.e.Execute(ctx, req)
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, first.EventID, again.EventID)
		require.Equal(t, int64(2), b.head(t))
		req.Parameters["Amount"] = json.Number("6")
		_, err = b.e.Execute(ctx, req)
		requireCode(t, err, errcode.InvalidArgument)

		// A bound action with a main handler and a response.
		acc, err := b.create(t, "account", map[string]any{"name": "A", "credit": json.Number("7")})
		require.NoError(t, err)
		out, err := b.e.Execute(ctx, pipeline.Request{Message: "contoso_Score", Table: "account", ID: acc.ID, Caller: user, Parameters: map[string]any{"Factor": json.Number("3")}})
		require.NoError(t, err)
		require.Equal(t, map[string]any{"Score": int64(21)}, out.Output)
		_, err = b.e.Execute(ctx, pipeline.Request{Message: "contoso_Score", Table: "account", ID: uuid.New(), Caller: user, Parameters: map[string]any{"Factor": json.Number("3")}})
		requireCode(t, err, errcode.NotFound)
		neg, err := b.create(t, "account", map[string]any{"name": "N", "credit": json.Number("-1")})
		require.NoError(t, err)
		_, err = b.e.Execute(ctx, pipeline.Request{Message: "contoso_Score", Table: "account", ID: neg.ID, Caller: user, Parameters: map[string]any{"Factor": json.Number("3")}})
		requireCode(t, err, errcode.HandlerFailed)

		// A function's side effects are rolled back.
		rows := b.count(t)
		fn, err := b.e.Execute(ctx, pipeline.Request{Message: "contoso_Touch", Caller: user, Parameters: map[string]any{"Name": "ghost"}})
		require.NoError(t, err)
		require.IsType(t, uuid.UUID{}, fn.Output["Id"])
		require.Equal(t, rows, b.count(t))
	})
}

func TestConcurrentUpdatesOfOneRow(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		resp, err := b.create(t, "account", map[string]any{"name": "hot", "credit": json.Number("0")})
		require.NoError(t, err)
		const writers, each = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					_, err := b.e.Execute(ctx, pipeline.Request{Message: pipeline.Update, Table: "account", ID: resp.ID, Caller: user,
						Target: map[string]any{"city": fmt.Sprintf("w%d-%d", w, i)}})
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got, err := b.e.Execute(ctx, pipeline.Request{Message: pipeline.Retrieve, Table: "account", ID: resp.ID, Caller: user})
		require.NoError(t, err)
		require.Equal(t, int64(1+writers*each), got.Version)
		require.Len(t, b.events(t, "account/"+resp.ID.String()), 1+writers*each)
	})
}
