package endpoints_test

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
)

func TestContextFromEventCreate(t *testing.T) {
	t.Parallel()
	c := sampleContext(t)
	id := accountID.String()

	require.Equal(t, "Create", c.MessageName)
	require.Equal(t, "account", c.PrimaryEntityName)
	require.Equal(t, id, c.PrimaryEntityID)
	require.Equal(t, 40, c.Stage)
	require.Equal(t, 1, c.Mode)
	require.Equal(t, 1, c.Depth)
	require.Equal(t, userID, c.UserID)
	require.Equal(t, otherUserID, c.InitiatingUserID)
	require.Equal(t, correlation, c.CorrelationID)
	require.Equal(t, requestID, c.RequestID)
	require.Empty(t, c.OperationID, "Deliver fills it from the delivery")
	require.Equal(t, eventTime, c.OperationCreatedOn)
	require.Equal(t, "contoso-prod", c.OrganizationName)
	require.Equal(t, eventID.String(), c.EventID)
	require.Equal(t, int64(42), c.Position)
	require.Equal(t, "account/"+id, c.StreamID)
	require.Equal(t, int64(1), c.StreamVersion)
	require.Equal(t, "contoso", c.Solution)
	require.Equal(t, "erp", c.StepName)
	require.Empty(t, c.SharedVariables)
	require.Empty(t, c.PreEntityImages)

	target, ok := c.InputParameters.Get("Target")
	require.True(t, ok)
	var e endpoints.Entity
	require.NoError(t, json.Unmarshal(target, &e))
	require.Equal(t, endpoints.EntityType, e.Type)
	require.Equal(t, "account", e.LogicalName)
	require.Equal(t, id, e.ID)
	var keys []string
	for _, kv := range e.Attributes {
		keys = append(keys, kv.Key)
	}
	require.Equal(t, []string{"accountid", "city", "createdon", "modifiedon", "name", "ownerid", "revenue", "versionnumber"}, keys, "sorted")
	rev, _ := e.Attributes.Get("revenue")
	require.Equal(t, revenue, string(rev), "every digit kept")

	out, ok := c.OutputParameters.Get("id")
	require.True(t, ok)
	require.JSONEq(t, `"`+id+`"`, string(out))

	require.Len(t, c.PostEntityImages, 2)
	require.Equal(t, "after", c.PostEntityImages[0].Key)
	var after endpoints.Entity
	require.NoError(t, json.Unmarshal(c.PostEntityImages[0].Value, &after))
	require.Len(t, after.Attributes, 7)
	require.NotNil(t, after.RowVersion)
	require.Equal(t, "1", *after.RowVersion)
	rev, _ = after.Attributes.Get("revenue")
	require.Equal(t, revenue, string(rev))
	var names endpoints.Entity
	require.NoError(t, json.Unmarshal(c.PostEntityImages[1].Value, &names))
	require.Equal(t, endpoints.Parameters{{Key: "name", Value: json.RawMessage(`"Contoso <Ltd> & Co"`)}}, names.Attributes)

	c.OperationID = "job-1" // as Deliver sends it
	raw, err := json.Marshal(c)
	require.NoError(t, err)
	requireSchema(t, contextSchema, raw)
	var back endpoints.ExecutionContext
	require.NoError(t, json.Unmarshal(raw, &back))
	again, err := json.Marshal(&back)
	require.NoError(t, err)
	require.JSONEq(t, string(raw), string(again), "a receiver in Go decodes what it gets")
}

func TestContextFromEventMessages(t *testing.T) {
	t.Parallel()
	id := accountID.String()
	ref := `{"__type":"EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts","Id":"` + id + `","LogicalName":"account","KeyAttributes":[],"Name":null,"RowVersion":null}`
	before := json.RawMessage(`{"accountid":"` + id + `","name":"Old","revenue":1.5,"versionnumber":3}`)
	tests := []struct {
		name        string
		data        string
		step        endpoints.StepInfo
		wantTable   string
		wantID      string
		wantInputs  map[string]string // raw JSON by key
		wantOutputs map[string]string
		wantPre     int
		wantPost    int
	}{
		{
			name: "global custom API",
			data: `{"messageName":"pos_CustomerPurchase","depth":2,"inputParameters":{"Amount":0.10000000000000000001,"CustomerId":"` + id + `","Items":["a","b"]}}`,
			step: erpStep, wantTable: "none", wantID: "00000000-0000-0000-0000-000000000000",
			wantInputs: map[string]string{"Amount": `0.10000000000000000001`, "CustomerId": `"` + id + `"`, "Items": `["a","b"]`},
		},
		{
			name: "delete: a reference Target and no post image",
			data: `{"messageName":"Delete","primaryEntityName":"account","primaryEntityId":"` + id + `","depth":1,"inputParameters":{"Target":{"table":"account","id":"` + id + `"}}}`,
			step: erpStep, wantTable: "account", wantID: id,
			wantInputs: map[string]string{"Target": ref},
		},
		{
			name:      "update with the row before",
			data:      `{"messageName":"Update","primaryEntityName":"account","primaryEntityId":"` + id + `","depth":1,"inputParameters":{"Target":{"name":"New"}},"row":{"accountid":"` + id + `","name":"New","versionnumber":4}}`,
			step:      endpoints.StepInfo{Name: "erp", PreImages: []endpoints.Image{{Name: "before"}}, PostImages: []endpoints.Image{{Name: "after"}}, PreRow: before},
			wantTable: "account", wantID: id, wantPre: 1, wantPost: 1,
		},
		{
			name: "custom API bound to a row",
			data: `{"messageName":"contoso_Score","primaryEntityName":"account","primaryEntityId":"` + id + `","depth":1,"inputParameters":{"Factor":3,"Target":{"table":"account","id":"` + id + `"}},"outputParameters":{"Score":12}}`,
			step: endpoints.StepInfo{Name: "score"}, wantTable: "account", wantID: id,
			wantInputs:  map[string]string{"Factor": `3`, "Target": ref},
			wantOutputs: map[string]string{"Score": `12`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := createEvent()
			ev.Data = json.RawMessage(tt.data)
			step := tt.step
			step.OperationID = "job-7"
			c, err := endpoints.ContextFromEvent(ev, step)
			require.NoError(t, err)
			require.Equal(t, "job-7", c.OperationID)
			require.Equal(t, tt.wantTable, c.PrimaryEntityName)
			require.Equal(t, tt.wantID, c.PrimaryEntityID)
			for k, want := range tt.wantInputs {
				got, ok := c.InputParameters.Get(k)
				require.True(t, ok, k)
				require.JSONEq(t, want, string(got), k)
			}
			for k, want := range tt.wantOutputs {
				got, ok := c.OutputParameters.Get(k)
				require.True(t, ok, k)
				require.JSONEq(t, want, string(got), k)
			}
			if amount, ok := c.InputParameters.Get("Amount"); ok {
				require.Equal(t, "0.10000000000000000001", string(amount), "exact")
			}
			require.Len(t, c.PreEntityImages, tt.wantPre)
			require.Len(t, c.PostEntityImages, tt.wantPost)
			if tt.wantPre > 0 {
				var e endpoints.Entity
				require.NoError(t, json.Unmarshal(c.PreEntityImages[0].Value, &e))
				name, _ := e.Attributes.Get("name")
				require.JSONEq(t, `"Old"`, string(name))
				require.Equal(t, "3", *e.RowVersion)
			}
			raw, err := json.Marshal(c)
			require.NoError(t, err)
			requireSchema(t, contextSchema, raw)
		})
	}
}

func TestContextFromEventDefaults(t *testing.T) {
	t.Parallel()
	ev := createEvent()
	ev.Metadata = eventlog.Metadata{Depth: 3, Time: eventTime}
	ev.Data = json.RawMessage(`{"messageName":"pos_Ping","inputParameters":{}}`)
	c, err := endpoints.ContextFromEvent(ev, endpoints.StepInfo{})
	require.NoError(t, err)
	require.Equal(t, endpoints.DefaultEnvironment, c.OrganizationName)
	require.Equal(t, 3, c.Depth, "the metadata's depth when the data has none")
	nilGUID := uuid.Nil.String()
	require.Equal(t, []string{nilGUID, nilGUID, nilGUID, nilGUID}, []string{c.UserID, c.InitiatingUserID, c.CorrelationID, c.RequestID})
	raw, err := json.Marshal(c)
	require.NoError(t, err)
	require.Contains(t, string(raw), `"OutputParameters":[]`, "an empty collection is an array, not null")
}

func TestContextFromEventBadData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data string
		step endpoints.StepInfo
	}{
		{"not JSON", `{"messageName":`, erpStep},
		{"not an object", `[1,2]`, erpStep},
		{"no message name", `{"depth":1}`, erpStep},
		{"a row that is no object", `{"messageName":"Update","primaryEntityName":"account","row":"x"}`, erpStep},
		{"a pre row that is no object", `{"messageName":"Update","primaryEntityName":"account"}`,
			endpoints.StepInfo{PreImages: []endpoints.Image{{Name: "before"}}, PreRow: json.RawMessage(`7`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := createEvent()
			ev.Data = json.RawMessage(tt.data)
			_, err := endpoints.ContextFromEvent(ev, tt.step)
			var ee *endpoints.EventError
			require.ErrorAs(t, err, &ee)
			require.Equal(t, eventID, ee.EventID)
			require.Equal(t, errcode.InvalidEvent, errcode.Of(err))
		})
	}
}
