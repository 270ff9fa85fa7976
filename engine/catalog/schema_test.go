package catalog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"testing"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/catalog"
	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/schemas"
)

// compiler compiles event schemas against the real envelope,
// schemas/execution-context.schema.json.
func compiler(t *testing.T) *jsonschema.Compiler {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	data, err := fs.ReadFile(schemas.FS(), "execution-context.schema.json")
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	require.NoError(t, err)
	require.NoError(t, c.AddResource(catalog.EnvelopeSchemaURL, doc))
	return c
}

func compile(t *testing.T, c *jsonschema.Compiler, ev *catalog.Event) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ev.Schema))
	require.NoError(t, err)
	url := "mem://events/" + ev.Catalog + "/" + ev.Name
	require.NoError(t, c.AddResource(url, doc))
	s, err := c.Compile(url)
	require.NoError(t, err, "schema of %s", ev.Name)
	return s
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	return v
}

// TestEventSchemasCompile compiles every event's schema of the example.
func TestEventSchemasCompile(t *testing.T) {
	t.Parallel()
	x, _ := contosoIndex(t)
	c := compiler(t)
	n := 0
	for _, cat := range x.Catalogs() {
		for _, k := range cat.Categories {
			for _, a := range k.Assignments {
				for _, s := range a.Events {
					ev, err := x.Event(cat.UniqueName, s.Name)
					require.NoError(t, err)
					compile(t, c, ev)
					n++
				}
			}
		}
	}
	require.Equal(t, 4+7+7+2, n, "four customer events, two tables, two external events")
}

// TestEventSchemasMatchDeliveries runs every catalogued message of the
// example through the pipeline, builds each event's execution context as
// a subscriber receives it (package endpoints), and checks it against its
// event's schema; then breaks contexts in ways a schema must catch.
func TestEventSchemasMatchDeliveries(t *testing.T) {
	t.Parallel()
	x, defs := contosoIndex(t)
	db := storagetest.SQLite(t, tables.Migrations...)
	e := pipeline.New(db, pipeline.Config{})
	e.SetDefinitions(defs)
	ctx := context.Background()
	caller := pipeline.Caller{UserID: uuid.New()}
	run := func(req pipeline.Request) pipeline.Response {
		t.Helper()
		req.Caller = caller
		resp, err := e.Execute(ctx, req)
		require.NoError(t, err, "%s", req.Message)
		return resp
	}
	acc := run(pipeline.Request{Message: pipeline.Create, Table: "account", Target: map[string]any{
		"name": "Contoso", "revenue": json.Number("1000.5"), "customertype": json.Number("3"), "numberofemployees": json.Number("12")}})
	con := run(pipeline.Request{Message: pipeline.Create, Table: "contact", Target: map[string]any{
		"lastname": "Smith", "parentcustomerid": acc.ID.String(), "birthdate": "1990-02-03", "loyaltypoints": json.Number("5")}})
	run(pipeline.Request{Message: pipeline.Update, Table: "contact", ID: con.ID, Target: map[string]any{"emailaddress1": "s@contoso.com", "firstname": nil}})
	run(pipeline.Request{Message: pipeline.Assign, Table: "contact", ID: con.ID, Owner: uuid.New()})
	user := uuid.New()
	run(pipeline.Request{Message: pipeline.GrantAccess, Table: "contact", ID: con.ID, Principal: user, AccessRights: tables.ReadAccess | tables.WriteAccess})
	run(pipeline.Request{Message: pipeline.ModifyAccess, Table: "contact", ID: con.ID, Principal: user, AccessRights: tables.ReadAccess})
	run(pipeline.Request{Message: pipeline.RevokeAccess, Table: "contact", ID: con.ID, Principal: user})
	run(pipeline.Request{Message: pipeline.Update, Table: "account", ID: acc.ID, Target: map[string]any{"revenue": json.Number("0.0001")}})
	run(pipeline.Request{Message: "contoso_EnteredStore", Parameters: map[string]any{
		"ContactId": map[string]any{"table": "contact", "id": con.ID.String()}, "StoreId": "S1"}})
	run(pipeline.Request{Message: "contoso_VisitWebSite", Parameters: map[string]any{"Url": "https://contoso.com/", "OccurredOn": "2026-01-02T03:04:05.5Z"}})
	run(pipeline.Request{Message: "contoso_PurchaseProduct", Table: "contact", ID: con.ID, Parameters: map[string]any{
		"ProductId": "P1", "Quantity": json.Number("2"), "Amount": json.Number("19.90")}})
	run(pipeline.Request{Message: "contoso_ReturnProduct", Table: "contact", ID: con.ID, Parameters: map[string]any{
		"ProductId": "P1", "Quantity": json.Number("1"), "Amount": json.Number("9.95"), "Reason": "broken"}})
	run(pipeline.Request{Message: "contoso_CustomerPurchase", Parameters: map[string]any{
		"CustomerId": acc.ID.String(), "Amount": json.Number("99.99"), "Currency": "EUR", "PurchasedOn": "2026-03-01T10:00:00Z",
		"StoreId": "S1", "Items": []any{"P1", "P2"}}})
	run(pipeline.Request{Message: "contoso_VendorPaymentPosted", Parameters: map[string]any{
		"VendorId": "V7", "InvoiceNumber": "INV-1", "Amount": json.Number("5"), "PaidOn": "2026-03-02"}})
	run(pipeline.Request{Message: pipeline.Delete, Table: "contact", ID: con.ID})

	storagetest.SealedHead(t, db)
	evs, err := db.Log().Read(ctx, eventlog.ReadQuery{Limit: 100})
	require.NoError(t, err)
	require.Len(t, evs, 15)

	c := compiler(t)
	envelope, err := c.Compile(catalog.EnvelopeSchemaURL)
	require.NoError(t, err)
	checked := map[string]bool{}
	contexts := map[string]map[string]any{}
	for _, ev := range evs {
		found := x.FindEvent(ev.Type)
		require.Len(t, found, 1, "event %s is catalogued", ev.Type)
		sch := compile(t, c, found[0])
		ec, err := endpoints.ContextFromEvent(ev, endpoints.StepInfo{Name: "test", OperationID: "job"})
		require.NoError(t, err)
		b, err := json.Marshal(ec)
		require.NoError(t, err)
		doc := decode(t, b)
		require.NoError(t, envelope.Validate(doc), "envelope of %s", ev.Type)
		require.NoError(t, sch.Validate(doc), "%s: %s", ev.Type, b)
		checked[ev.Type] = true
		contexts[ev.Type] = doc.(map[string]any)
	}
	require.Len(t, checked, 15, "each message a type of its own")

	// What a schema catches, on copies of real contexts.
	entry := func(doc map[string]any, coll, key string) map[string]any {
		for _, it := range doc[coll].([]any) {
			if kv := it.(map[string]any); kv["key"] == key {
				return kv
			}
		}
		t.Fatalf("no %s %s", coll, key)
		return nil
	}
	attribute := func(doc map[string]any, key string) map[string]any {
		target := entry(doc, "InputParameters", "Target")["value"].(map[string]any)
		for _, it := range target["Attributes"].([]any) {
			if kv := it.(map[string]any); kv["key"] == key {
				return kv
			}
		}
		t.Fatalf("no attribute %s", key)
		return nil
	}
	for _, tt := range []struct {
		name, event string
		breakIt     func(doc map[string]any)
	}{
		{"money as a string", "contoso_CustomerPurchase", func(d map[string]any) { entry(d, "InputParameters", "Amount")["value"] = "99.99" }},
		{"unknown parameter", "contoso_CustomerPurchase", func(d map[string]any) {
			d["InputParameters"] = append(d["InputParameters"].([]any), map[string]any{"key": "Tip", "value": 1})
		}},
		{"required parameter missing", "contoso_VendorPaymentPosted", func(d map[string]any) {
			d["InputParameters"] = d["InputParameters"].([]any)[1:]
		}},
		{"another message", "contoso_VisitWebSite", func(d map[string]any) { d["MessageName"] = "contoso_EnteredStore" }},
		{"reference to another table", "contoso_EnteredStore", func(d map[string]any) {
			entry(d, "InputParameters", "ContactId")["value"].(map[string]any)["LogicalName"] = "account"
		}},
		{"string too long", "contact.Create", func(d map[string]any) {
			attribute(d, "lastname")["value"] = "a name much longer than the fifty characters the column holds"
		}},
		{"required column null on Create", "contact.Create", func(d map[string]any) { attribute(d, "lastname")["value"] = nil }},
		{"not an option", "account.Create", func(d map[string]any) { attribute(d, "customertype")["value"] = json.Number("9") }},
		{"below the minimum", "contact.Create", func(d map[string]any) { attribute(d, "loyaltypoints")["value"] = json.Number("-1") }},
		{"a column missing", "account.Update", func(d map[string]any) {
			target := entry(d, "InputParameters", "Target")["value"].(map[string]any)
			target["Attributes"] = target["Attributes"].([]any)[1:]
		}},
		{"another table's row", "contact.Update", func(d map[string]any) { d["PrimaryEntityName"] = "account" }},
		{"rights not a string", "contact.GrantAccess", func(d map[string]any) {
			entry(d, "InputParameters", "PrincipalAccess")["value"].(map[string]any)["AccessMask"] = json.Number("3")
		}},
		{"output on an event without", "contact.Delete", func(d map[string]any) {
			d["OutputParameters"] = []any{map[string]any{"key": "id", "value": uuid.NewString()}}
		}},
		{"bad new id", "account.Create", func(d map[string]any) { entry(d, "OutputParameters", "id")["value"] = "nope" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(contexts[tt.event])
			require.NoError(t, err)
			doc := decode(t, b).(map[string]any)
			tt.breakIt(doc)
			found := x.FindEvent(tt.event)
			require.Error(t, compile(t, compiler(t), found[0]).Validate(doc))
		})
	}
}
