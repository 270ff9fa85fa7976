package pipeline_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
)

// imageSteps registers, for each message, a sync and an async
// PostOperation step with the same images: after commit, from the log, an
// async step must get the pre images the sync step got from the table.
func imageSteps() []pipeline.Step {
	var steps []pipeline.Step
	for _, m := range []struct {
		message, table string
		post           bool
	}{
		{pipeline.Update, "account", true},
		{pipeline.Assign, "account", true},
		{pipeline.GrantAccess, "account", false},
		{pipeline.ModifyAccess, "account", false},
		{pipeline.RevokeAccess, "account", false},
		{pipeline.Delete, "account", false},
		{"contoso_Score", "", false},
	} {
		for _, mode := range []pipeline.Mode{pipeline.Sync, pipeline.Async} {
			s := pipeline.Step{Name: string(mode) + "-" + m.message, Message: m.message, Table: m.table,
				Stage: pipeline.PostOperation, Mode: mode, Handler: "record",
				PreImages: []pipeline.Image{{Name: "all"}, {Name: "some", Columns: []string{"revenue", tables.ColumnVersion, tables.ColumnOwnerID}}}}
			if m.post {
				s.PostImages = []pipeline.Image{{Name: "after", Columns: []string{"revenue"}}}
			}
			steps = append(steps, s)
		}
	}
	return steps
}

func TestAsyncPreImages(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := shareSetup(t, open, imageSteps()...)
		ctx := context.Background()
		var mu sync.Mutex
		seen := map[string]*pipeline.Execution{} // by step name
		b.h["record"] = pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
			mu.Lock()
			defer mu.Unlock()
			copied := *ex
			seen[ex.Step] = &copied
			return nil
		})
		b.h["score"] = pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
			ex.OutputParameters["Score"] = int64(1)
			return nil
		})

		acc, err := b.create(t, "account", map[string]any{"name": "Contoso", "revenue": json.Number("922337203685477.5807"), "city": "Oslo"})
		require.NoError(t, err)
		exec := func(req pipeline.Request) {
			t.Helper()
			req.Table, req.ID, req.Caller = "account", acc.ID, user
			_, err := b.e.Execute(ctx, req)
			require.NoError(t, err)
		}
		stream := "account/" + acc.ID.String()
		// runAsync runs the async steps of the stream's last event, as the
		// router would, after commit; and returns the event.
		runAsync := func() eventlog.Event {
			t.Helper()
			evs, err := b.db.Log().ReadStream(ctx, eventlog.StreamQuery{StreamID: stream, Backward: true, Limit: 1})
			require.NoError(t, err)
			return runSteps(t, b, evs[0])
		}
		check := func(message string, wantVersion int64) {
			t.Helper()
			sync, async := seen["sync-"+message], seen["async-"+message]
			require.NotNil(t, sync, "sync step of %s ran", message)
			require.NotNil(t, async, "async step of %s ran", message)
			require.Len(t, async.PreImages, 2)
			require.Equal(t, sync.PreImages, async.PreImages, "%s: the pre images from the log are those from the table", message)
			require.Equal(t, sync.PostImages, async.PostImages, "%s: post images", message)
			require.Equal(t, wantVersion, async.PreImages["some"][tables.ColumnVersion], message)
			require.Equal(t, acc.ID, async.PreImages["some"]["accountid"], "%s: the primary key is in every image", message)
			require.Len(t, async.PreImages["some"], 4, "%s: the registered columns and the primary key", message)
		}

		// Two shares in a row: the Update's row before is the Create's,
		// at the version the shares moved it to.
		exec(pipeline.Request{Message: pipeline.GrantAccess, Principal: alice, AccessRights: tables.ReadAccess})
		runAsync()
		check(pipeline.GrantAccess, 1)
		exec(pipeline.Request{Message: pipeline.ModifyAccess, Principal: alice, AccessRights: tables.WriteAccess})
		runAsync()
		check(pipeline.ModifyAccess, 2)
		exec(pipeline.Request{Message: pipeline.Update, Target: map[string]any{"revenue": json.Number("12.50"), "city": "Rome"}})
		runAsync()
		check(pipeline.Update, 3)
		require.Equal(t, tables.Number("922337203685477.5807"), seen["async-Update"].PreImages["some"]["revenue"], "every digit")
		require.Equal(t, "Oslo", seen["async-Update"].PreImages["all"]["city"])
		require.Equal(t, tables.Number("12.5"), seen["async-Update"].PostImages["after"]["revenue"])

		exec(pipeline.Request{Message: pipeline.Assign, Owner: bob})
		runAsync()
		check(pipeline.Assign, 4)
		require.Equal(t, user.UserID, seen["async-Assign"].PreImages["some"][tables.ColumnOwnerID])
		require.Equal(t, tables.Row{"accountid": acc.ID, "revenue": tables.Number("12.5")}, seen["async-Assign"].PostImages["after"])

		exec(pipeline.Request{Message: pipeline.RevokeAccess, Principal: alice})
		runAsync()
		check(pipeline.RevokeAccess, 5)

		// A row-bound custom API's event is on its own stream; it recorded
		// the version of the row it found.
		resp, err := b.e.Execute(ctx, pipeline.Request{Message: "contoso_Score", ID: acc.ID, Parameters: map[string]any{"Factor": json.Number("2")}, Caller: user})
		require.NoError(t, err)
		apiEvents, err := b.db.Log().ReadStream(ctx, eventlog.StreamQuery{StreamID: "contoso_Score/" + resp.EventID.String()})
		require.NoError(t, err)
		runSteps(t, b, apiEvents[0])
		check("contoso_Score", 6)

		exec(pipeline.Request{Message: pipeline.Delete})
		runAsync()
		check(pipeline.Delete, 6)
		require.Equal(t, bob, seen["async-Delete"].PreImages["all"][tables.ColumnOwnerID], "the row it deleted")
		require.Empty(t, seen["async-Delete"].PostImages)
	})
}

// runSteps runs an event's async steps as the router does.
func runSteps(t *testing.T, b *bundle, ev eventlog.Event) eventlog.Event {
	t.Helper()
	names := pipeline.EventSteps(ev)
	require.NotEmpty(t, names, "event %s has async steps", ev.Type)
	for _, name := range names {
		require.NoError(t, b.e.RunAsyncStep(context.Background(), ev, name))
	}
	return ev
}

func TestPreRow(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := shareSetup(t, open)
		ctx := context.Background()
		acc, err := b.create(t, "account", map[string]any{"name": "Contoso <&>", "revenue": json.Number("10.000")})
		require.NoError(t, err)
		stream := "account/" + acc.ID.String()
		// Many shares between two changes: the walk back reads pages.
		for i := range 70 {
			rights := tables.ReadAccess
			if i%2 == 1 {
				rights = tables.WriteAccess
			}
			_, err := b.share(t, pipeline.GrantAccess, acc.ID, uuid.New(), rights)
			require.NoError(t, err)
		}
		_, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Update, Table: "account", ID: acc.ID, Target: map[string]any{"name": "B"}, Caller: user})
		require.NoError(t, err)
		evs := b.events(t, stream)
		require.Len(t, evs, 72)

		pre, err := b.e.PreRow(ctx, evs[0])
		require.NoError(t, err)
		require.Nil(t, pre, "a Create has no row before it")

		var created struct {
			Row map[string]any `json:"row"`
		}
		require.NoError(t, json.Unmarshal(evs[0].Data, &created))
		for _, i := range []int{1, 2, 64, 65, 66, 71} {
			pre, err := b.e.PreRow(ctx, evs[i])
			require.NoError(t, err)
			var got map[string]any
			require.NoError(t, json.Unmarshal(pre, &got))
			want := map[string]any{}
			for k, v := range created.Row {
				want[k] = v
			}
			want[tables.ColumnVersion] = float64(i)
			require.Equal(t, want, got, "the row before version %d", i+1)
		}

		// Events that are not about a row have no row before them.
		resp, err := b.e.Execute(ctx, pipeline.Request{Message: "contoso_CustomerPurchase", Caller: user,
			Parameters: map[string]any{"CustomerId": acc.ID.String(), "Amount": json.Number("1")}})
		require.NoError(t, err)
		bought, err := b.db.Log().ReadStream(ctx, eventlog.StreamQuery{StreamID: "contoso_CustomerPurchase/" + resp.EventID.String()})
		require.NoError(t, err)
		pre, err = b.e.PreRow(ctx, bought[0])
		require.NoError(t, err)
		require.Nil(t, pre)

		_, err = b.e.PreRow(ctx, eventlog.Event{Type: "account.Update", Data: json.RawMessage(`[]`)})
		requireCode(t, err, "invalid_event")
	})
}

// TestEndpointPreImages builds the execution context an endpoint delivery
// sends, with the pre image read from the log, in Dataverse's shape.
func TestEndpointPreImages(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := shareSetup(t, open)
		ctx := context.Background()
		acc, err := b.create(t, "account", map[string]any{"name": "Contoso", "revenue": json.Number("922337203685477.5807"), "city": "Oslo"})
		require.NoError(t, err)
		_, err = b.share(t, pipeline.GrantAccess, acc.ID, alice, tables.ReadAccess)
		require.NoError(t, err)
		_, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Update, Table: "account", ID: acc.ID, Target: map[string]any{"city": "Rome"}, Caller: user})
		require.NoError(t, err)
		_, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Delete, Table: "account", ID: acc.ID, Caller: user})
		require.NoError(t, err)
		evs := b.events(t, "account/"+acc.ID.String())
		require.Len(t, evs, 4)

		info := endpoints.StepInfo{Name: "erp", PreImages: []endpoints.Image{{Name: "before", Columns: []string{"revenue", "city"}}}}
		contextOf := func(ev eventlog.Event) *endpoints.ExecutionContext {
			t.Helper()
			step := info
			pre, err := b.e.PreRow(ctx, ev)
			require.NoError(t, err)
			step.PreRow = pre
			ec, err := endpoints.ContextFromEvent(ev, step)
			require.NoError(t, err)
			return ec
		}
		before := func(ec *endpoints.ExecutionContext) (attrs map[string]string, version string) {
			t.Helper()
			require.Len(t, ec.PreEntityImages, 1)
			raw, ok := ec.PreEntityImages.Get("before")
			require.True(t, ok)
			var e struct {
				Type        string `json:"__type"`
				LogicalName string
				ID          string `json:"Id"`
				Attributes  []struct {
					Key   string          `json:"key"`
					Value json.RawMessage `json:"value"`
				}
				RowVersion *string
			}
			require.NoError(t, json.Unmarshal(raw, &e))
			require.Equal(t, endpoints.EntityType, e.Type)
			require.Equal(t, "account", e.LogicalName)
			require.Equal(t, acc.ID.String(), e.ID)
			attrs = map[string]string{}
			for _, a := range e.Attributes {
				attrs[a.Key] = string(a.Value)
			}
			require.NotNil(t, e.RowVersion)
			return attrs, *e.RowVersion
		}

		require.Empty(t, contextOf(evs[0]).PreEntityImages, "Create: no row before")
		attrs, version := before(contextOf(evs[1]))
		require.Equal(t, map[string]string{"revenue": "922337203685477.5807", "city": `"Oslo"`}, attrs, "GrantAccess: the row it shared")
		require.Equal(t, "1", version)
		attrs, version = before(contextOf(evs[2]))
		require.Equal(t, map[string]string{"revenue": "922337203685477.5807", "city": `"Oslo"`}, attrs, "Update: the row before, across the share")
		require.Equal(t, "2", version)
		attrs, version = before(contextOf(evs[3]))
		require.Equal(t, map[string]string{"revenue": "922337203685477.5807", "city": `"Rome"`}, attrs, "Delete: the row it deleted")
		require.Equal(t, "3", version)
	})
}
