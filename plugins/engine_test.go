package plugins_test

import (
	"context"
	"encoding/json"
	"strings"
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
	"github.com/bizevents/bizevents/plugins"
)

// These tests run plugins as steps of a real engine, on SQLite and
// PostgreSQL: what a plugin does through the organization service is in
// the message's transaction, and a failure rolls it all back.

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
	score = customapi.API{
		UniqueName: "contoso_Score", AllowedStepType: customapi.StepsSyncAndAsync, Handler: "service/Score",
		Binding: customapi.TableBound, BoundTable: "account",
		RequestParameters:  []customapi.Parameter{{UniqueName: "Factor", Type: customapi.Integer}},
		ResponseProperties: []customapi.Parameter{{UniqueName: "Score", Type: customapi.Integer}},
	}
	purchase = customapi.API{
		UniqueName: "contoso_CustomerPurchase", AllowedStepType: customapi.StepsSyncAndAsync, Handler: "",
		RequestParameters: []customapi.Parameter{
			{UniqueName: "CustomerId", Type: customapi.GUID},
			{UniqueName: "Amount", Type: customapi.Money},
			{UniqueName: "Items", Type: customapi.StringArray, Optional: true},
		},
	}
	caller = pipeline.Caller{UserID: userID}
)

type engineBundle struct {
	db   storage.DB
	e    *pipeline.Engine
	reg  *plugins.Registry
	sink *plugins.MemorySink
}

func setupEngine(t *testing.T, open storagetest.Opener, steps ...pipeline.Step) *engineBundle {
	t.Helper()
	db := open(t, tables.Migrations...)
	var e *pipeline.Engine
	sink := plugins.NewMemorySink(0)
	rt := newRuntime(t, func(c *plugins.Config) {
		c.TraceSink = sink
		c.Tables = func(name string) (*tables.Table, bool) { return e.Definitions().Table(name) }
	})
	reg := plugins.NewRegistry(rt)
	for _, name := range []string{"service", "validate"} {
		_, err := reg.Load(context.Background(), name, guest(t, name))
		require.NoError(t, err)
	}
	e = pipeline.New(db, pipeline.Config{Handlers: reg})
	defs, err := pipeline.NewDefinitions([]tables.Table{account, contact}, []customapi.API{score, purchase}, steps)
	require.NoError(t, err)
	e.SetDefinitions(defs)
	return &engineBundle{db: db, e: e, reg: reg, sink: sink}
}

func (b *engineBundle) create(table string, target map[string]any) (pipeline.Response, error) {
	return b.e.Execute(context.Background(), pipeline.Request{Message: pipeline.Create, Table: table, Target: target, Caller: caller})
}

func (b *engineBundle) rows(t *testing.T) int64 {
	t.Helper()
	var n int64
	require.NoError(t, storage.ScanOne(context.Background(), b.db, []any{&n}, `SELECT count(*) FROM rows`))
	return n
}

// head is the log's last position once every committed event is sealed.
func (b *engineBundle) head(t *testing.T) int64 { return storagetest.SealedHead(t, b.db) }

func (b *engineBundle) traceLines(id uuid.UUID) []string {
	var out []string
	for _, tr := range b.sink.ByCorrelation(id) {
		out = append(out, tr.Lines...)
	}
	return out
}

func TestEngineSteps(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setupEngine(t, open,
			pipeline.Step{Name: "check", Message: pipeline.Create, Table: "account", Stage: pipeline.PreValidation, Mode: pipeline.Sync, Handler: "service/Check"},
			pipeline.Step{Name: "upper", Message: pipeline.Create, Table: "account", Stage: pipeline.PreOperation, Mode: pipeline.Sync, Handler: "service/Upper", Config: "Oslo"},
			pipeline.Step{Name: "primary-contact", Message: pipeline.Create, Table: "account", Stage: pipeline.PostOperation, Mode: pipeline.Sync, Handler: "service/PrimaryContact"},
		)
		ctx := context.Background()

		// A PreOperation plugin changes the Target; a PostOperation plugin
		// creates a row through the organization service.
		resp, err := b.create("account", map[string]any{"name": "contoso"})
		require.NoError(t, err)
		require.Equal(t, "CONTOSO", resp.Row["name"])
		require.Equal(t, "Oslo", resp.Row["city"])
		list, err := b.e.Execute(ctx, pipeline.Request{Message: pipeline.RetrieveMultiple, Table: "contact", Caller: caller})
		require.NoError(t, err)
		require.Len(t, list.Rows, 1)
		require.Equal(t, "CONTOSO", list.Rows[0]["lastname"])
		require.Equal(t, tables.Reference{Table: "account", ID: resp.ID}, list.Rows[0]["parentcustomerid"])
		evs, err := b.db.Log().ReadStream(ctx, eventlog.StreamQuery{StreamID: "contact/" + list.Rows[0]["contactid"].(uuid.UUID).String()})
		require.NoError(t, err)
		require.Equal(t, 2, evs[0].Metadata.Depth)
		require.Equal(t, resp.EventID.String(), evs[0].Metadata.CausationID)
		aev, err := b.db.Log().ReadStream(ctx, eventlog.StreamQuery{StreamID: "account/" + resp.ID.String()})
		require.NoError(t, err)
		cid := uuid.MustParse(aev[0].Metadata.CorrelationID)
		lines := b.traceLines(cid)
		require.Contains(t, lines, "checked contoso")
		require.Contains(t, strings.Join(lines, "\n"), "at depth 1")
		rows, head := b.rows(t), b.head(t)

		// A plugin fails with a message the caller sees; nothing is stored.
		_, err = b.create("account", map[string]any{"name": "forbidden"})
		requireCode(t, err, errcode.HandlerFailed)
		require.ErrorContains(t, err, `the name "forbidden" is not allowed`)
		var se *pipeline.StepError
		require.ErrorAs(t, err, &se)
		require.Equal(t, "check", se.Step)
		require.Equal(t, pipeline.PreValidation, se.Stage)
		require.Equal(t, `the name "forbidden" is not allowed`, se.Message)

		// A plugin creates a row through the organization service, then
		// fails: neither the row nor any event remains.
		_, err = b.create("account", map[string]any{"name": "fail-after"})
		requireCode(t, err, errcode.HandlerFailed)
		require.ErrorContains(t, err, "changed my mind after creating contact")
		require.ErrorAs(t, err, &se)
		require.Equal(t, "primary-contact", se.Step)

		// A Target a plugin set that does not fit the table fails the message.
		_, err = b.create("account", map[string]any{"name": "bad-credit"})
		requireCode(t, err, errcode.InvalidValue)
		require.ErrorContains(t, err, "credit")

		require.Equal(t, rows, b.rows(t), "failed messages left rows")
		require.Equal(t, head, b.head(t), "failed messages left events")
	})
}

func TestEngineLoopHitsDepth(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setupEngine(t, open,
			pipeline.Step{Name: "loop", Message: pipeline.Create, Table: "contact", Stage: pipeline.PostOperation, Mode: pipeline.Sync, Handler: "service/Loop"},
		)
		_, err := b.create("contact", map[string]any{"lastname": "loop"})
		requireCode(t, err, errcode.DepthExceeded)
		require.ErrorContains(t, err, "deeper than the limit of 8")
		require.Zero(t, b.rows(t))
		require.Zero(t, b.head(t))
		m, _ := b.reg.Module("service")
		require.Zero(t, m.Stats().Discarded, "a depth error is the engine's answer, not a broken instance")
		require.LessOrEqual(t, m.Stats().Idle, plugins.DefaultPoolSize)

		_, err = b.create("contact", map[string]any{"lastname": "fine"})
		require.NoError(t, err)
	})
}

func TestEngineCustomAPIAndQueries(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setupEngine(t, open,
			pipeline.Step{Name: "count", Message: pipeline.Create, Table: "contact", Stage: pipeline.PreValidation, Mode: pipeline.Sync, Handler: "service/Count"},
			pipeline.Step{Name: "wrapped", Message: pipeline.Delete, Table: "account", Stage: pipeline.PreOperation, Mode: pipeline.Sync, Handler: "service/Wrapped"},
			pipeline.Step{Name: "validate", Message: "contoso_CustomerPurchase", Stage: pipeline.PreOperation, Mode: pipeline.Sync, Handler: "validate/ValidatePurchase"},
		)
		ctx := context.Background()

		// A plugin as the main operation of a bound custom API.
		acc, err := b.create("account", map[string]any{"name": "A", "credit": json.Number("7"), "city": "Oslo"})
		require.NoError(t, err)
		out, err := b.e.Execute(ctx, pipeline.Request{Message: "contoso_Score", Table: "account", ID: acc.ID, Caller: caller,
			Parameters: map[string]any{"Factor": json.Number("3")}})
		require.NoError(t, err)
		require.Equal(t, map[string]any{"Score": int64(21)}, out.Output)

		// RetrieveMultiple with an OData filter and order, from a plugin.
		_, err = b.create("account", map[string]any{"name": "B", "city": "Oslo"})
		require.NoError(t, err)
		_, err = b.create("account", map[string]any{"name": "C", "city": "Bergen"})
		require.NoError(t, err)
		resp, err := b.create("contact", map[string]any{"lastname": "x"})
		require.NoError(t, err)
		cev, err := b.db.Log().ReadStream(ctx, eventlog.StreamQuery{StreamID: "contact/" + resp.ID.String()})
		require.NoError(t, err)
		require.Contains(t, b.traceLines(uuid.MustParse(cev[0].Metadata.CorrelationID)), "oslo: B,A (more: false)")

		// A wrapped organization service error fails with the plugin's text.
		_, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Delete, Table: "account", ID: acc.ID, Caller: caller})
		requireCode(t, err, errcode.HandlerFailed)
		require.ErrorContains(t, err, "could not create the contact: ")
		require.ErrorContains(t, err, "[invalid_value]")

		// A realistic validation plugin on a custom event.
		_, err = b.e.Execute(ctx, pipeline.Request{Message: "contoso_CustomerPurchase", Caller: caller,
			Parameters: map[string]any{"CustomerId": uuid.NewString(), "Amount": json.Number("-5"), "Items": []any{"pen"}}})
		requireCode(t, err, errcode.HandlerFailed)
		require.ErrorContains(t, err, "the amount -5 is negative")
		_, err = b.e.Execute(ctx, pipeline.Request{Message: "contoso_CustomerPurchase", Caller: caller,
			Parameters: map[string]any{"CustomerId": uuid.NewString(), "Amount": json.Number("19.90"), "Items": []any{"pen"}}})
		require.NoError(t, err)
	})
}
