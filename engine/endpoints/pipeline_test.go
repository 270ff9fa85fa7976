package endpoints_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
)

// TestContextFromPipelineEvents builds execution contexts from the events
// package pipeline really writes, so a change of its event data that this
// package does not follow fails here.
func TestContextFromPipelineEvents(t *testing.T) {
	t.Parallel()
	db := storagetest.SQLite(t, tables.Migrations...)
	e := pipeline.New(db, pipeline.Config{})
	account := tables.Table{
		LogicalName: "account", PluralName: "accounts", PrimaryName: "name",
		Columns: []tables.Column{
			{LogicalName: "name", Type: tables.String, Required: true, MaxLength: 50},
			{LogicalName: "revenue", Type: tables.Money},
		},
	}
	purchase := customapi.API{
		UniqueName: "pos_CustomerPurchase", AllowedStepType: customapi.StepsAsyncOnly,
		RequestParameters: []customapi.Parameter{
			{UniqueName: "CustomerId", Type: customapi.GUID},
			{UniqueName: "Amount", Type: customapi.Money},
			{UniqueName: "Account", Type: customapi.EntityReference, Table: "account", Optional: true},
		},
	}
	defs, err := pipeline.NewDefinitions([]tables.Table{account}, []customapi.API{purchase}, nil)
	require.NoError(t, err)
	e.SetDefinitions(defs)
	ctx := context.Background()
	caller := pipeline.Caller{UserID: uuid.MustParse(userID)}

	created, err := e.Execute(ctx, pipeline.Request{Message: pipeline.Create, Table: "account", Caller: caller,
		Target: map[string]any{"name": "Contoso", "revenue": json.Number("922337203685477.5807")}})
	require.NoError(t, err)
	_, err = e.Execute(ctx, pipeline.Request{Message: pipeline.Update, Table: "account", ID: created.ID, Caller: caller,
		Target: map[string]any{"name": "Contoso Ltd"}})
	require.NoError(t, err)
	_, err = e.Execute(ctx, pipeline.Request{Message: pipeline.Delete, Table: "account", ID: created.ID, Caller: caller})
	require.NoError(t, err)
	bought, err := e.Execute(ctx, pipeline.Request{Message: "pos_CustomerPurchase", Caller: caller,
		Parameters: map[string]any{"CustomerId": created.ID.String(), "Amount": json.Number("0.0001"),
			"Account": map[string]any{"table": "account", "id": created.ID.String()}}})
	require.NoError(t, err)

	rows, err := db.Log().ReadStream(ctx, eventlog.StreamQuery{StreamID: "account/" + created.ID.String()})
	require.NoError(t, err)
	require.Len(t, rows, 3)
	var all []eventlog.Event
	all = append(all, rows...)
	streamed, err := db.Log().ReadStream(ctx, eventlog.StreamQuery{StreamID: "pos_CustomerPurchase/" + bought.EventID.String()})
	require.NoError(t, err)
	require.Len(t, streamed, 1)
	purchaseEvent := streamed[0]
	all = append(all, purchaseEvent)

	step := endpoints.StepInfo{Name: "erp", Environment: "test", OperationID: "job-1",
		PostImages: []endpoints.Image{{Name: "after", Columns: []string{"name", "revenue"}}}}
	want := []struct {
		message, table string
		targetType     string
		postImages     int
	}{
		{"Create", "account", endpoints.EntityType, 1},
		{"Update", "account", endpoints.EntityType, 1},
		{"Delete", "account", endpoints.EntityReferenceType, 0},
		{"pos_CustomerPurchase", endpoints.NoEntity, "", 0},
	}
	for i, ev := range all {
		c, err := endpoints.ContextFromEvent(ev, step)
		require.NoError(t, err, "event %d: %s", i, ev.Data)
		require.Equal(t, want[i].message, c.MessageName)
		require.Equal(t, want[i].table, c.PrimaryEntityName)
		require.Equal(t, userID, c.UserID)
		require.Len(t, c.PostEntityImages, want[i].postImages)
		if want[i].targetType != "" {
			raw, ok := c.InputParameters.Get("Target")
			require.True(t, ok)
			var typed struct {
				Type string `json:"__type"`
			}
			require.NoError(t, json.Unmarshal(raw, &typed))
			require.Equal(t, want[i].targetType, typed.Type)
		}
		raw, err := json.Marshal(c)
		require.NoError(t, err)
		requireSchema(t, contextSchema, raw)
	}

	c, err := endpoints.ContextFromEvent(all[0], step)
	require.NoError(t, err)
	var after endpoints.Entity
	require.NoError(t, json.Unmarshal(c.PostEntityImages[0].Value, &after))
	rev, ok := after.Attributes.Get("revenue")
	require.True(t, ok)
	require.Equal(t, "922337203685477.5807", string(rev), "money arrives exactly")

	c, err = endpoints.ContextFromEvent(purchaseEvent, step)
	require.NoError(t, err)
	amount, _ := c.InputParameters.Get("Amount")
	require.Equal(t, "0.0001", string(amount))
	ref, _ := c.InputParameters.Get("Account")
	var er endpoints.EntityReference
	require.NoError(t, json.Unmarshal(ref, &er))
	require.Equal(t, endpoints.EntityReferenceType, er.Type)
	require.Equal(t, created.ID.String(), er.ID)
}
