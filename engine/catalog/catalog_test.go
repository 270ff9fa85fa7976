package catalog_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/catalog"
	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/solution"
	"github.com/bizevents/bizevents/engine/tables"
)

const contosoDir = "../../internal/testdata/contoso"

// contoso loads the example solution and its definitions.
func contoso(t *testing.T) (*solution.Solution, *pipeline.Definitions) {
	t.Helper()
	s, err := solution.Load(contosoDir)
	require.NoError(t, err)
	defs, err := solution.Merge([]*solution.Solution{s})
	require.NoError(t, err)
	return s, defs
}

func contosoIndex(t *testing.T) (*catalog.Index, *pipeline.Definitions) {
	t.Helper()
	s, defs := contoso(t)
	x, err := catalog.Build([]catalog.Entry{{Solution: s.Name, Catalog: s.Catalogs[0]}}, defs)
	require.NoError(t, err)
	return x, defs
}

func TestBuildContoso(t *testing.T) {
	t.Parallel()
	x, _ := contosoIndex(t)
	require.Len(t, x.Catalogs(), 1)
	c := x.Catalogs()[0]
	require.Equal(t, "contoso_customers", c.UniqueName)
	require.Equal(t, "contoso_customers", c.Solution)
	require.Len(t, c.Categories, 2)

	type node struct{ item, display string }
	var items []node
	events := map[string][]string{}
	for _, a := range c.Categories[0].Assignments {
		name := a.Table
		if name == "" {
			name = a.CustomAPI
		}
		items = append(items, node{name, a.DisplayName})
		for _, ev := range a.Events {
			events[name] = append(events[name], ev.Name)
		}
	}
	require.Equal(t, []node{
		{"contoso_EnteredStore", "Entered Store"}, {"contoso_VisitWebSite", "Visit Web Site"}, {"contoso_PurchaseProduct", "Purchase Product"},
		{"contoso_ReturnProduct", "Return Product"}, {"contact", "Contact"}, {"account", "Account"},
	}, items, "in the order written")
	require.Equal(t, []string{"contact.Create", "contact.Update", "contact.Delete", "contact.Assign",
		"contact.GrantAccess", "contact.ModifyAccess", "contact.RevokeAccess"}, events["contact"])
	require.Equal(t, []string{"contoso_PurchaseProduct"}, events["contoso_PurchaseProduct"])
	ext := c.Categories[1]
	require.Equal(t, "contoso_external_events", ext.UniqueName)
	require.Len(t, ext.Assignments, 2)
	require.Equal(t, catalog.EventSummary{Name: "contoso_CustomerPurchase", Message: "contoso_CustomerPurchase", DisplayName: "Customer Purchase"},
		ext.Assignments[0].Events[0])

	ev, err := x.Event("contoso_customers", "contoso_CustomerPurchase")
	require.NoError(t, err)
	require.Equal(t, []string{"contoso_external_events"}, ev.Categories)
	require.Equal(t, "The point-of-sale system recorded a sale to a customer.", ev.Description)
	require.Equal(t, []catalog.Parameter{
		{Name: "CustomerId", Type: "Guid", DisplayName: "Customer", Description: "The id of the customer's account row."},
		{Name: "Amount", Type: "Money", DisplayName: "Amount"},
		{Name: "Currency", Type: "String", DisplayName: "Currency", Description: "The ISO 4217 code of the amount's currency, e.g. EUR."},
		{Name: "PurchasedOn", Type: "DateTime", DisplayName: "Purchased On"},
		{Name: "StoreId", Type: "String", DisplayName: "Store"},
		{Name: "Items", Type: "StringArray", Optional: true, DisplayName: "Items", Description: "The product ids of the sale's lines."},
	}, ev.Parameters)
	require.Empty(t, ev.ResponseProperties)

	bound, err := x.Event("contoso_customers", "contoso_PurchaseProduct")
	require.NoError(t, err)
	require.Equal(t, "contact", bound.Table)
	require.Equal(t, catalog.Parameter{Name: "Target", Type: "EntityReference", Table: "contact", Description: "The row the action is bound to."}, bound.Parameters[0])

	grant, err := x.Event("contoso_customers", "account.GrantAccess")
	require.NoError(t, err)
	require.Equal(t, pipeline.GrantAccess, grant.Message)
	require.Equal(t, "account", grant.Table)
	require.Equal(t, []string{"Target", "PrincipalAccess"}, []string{grant.Parameters[0].Name, grant.Parameters[1].Name})
	create, err := x.Event("contoso_customers", "contact.Create")
	require.NoError(t, err)
	require.Equal(t, "Entity", create.Parameters[0].Type)
	require.Equal(t, []catalog.Parameter{{Name: "id", Type: "Guid", Description: "The new row's id."}}, create.ResponseProperties)

	require.Len(t, x.FindEvent("contact.Update"), 1)
	require.Empty(t, x.FindEvent("contact.Retrieve"), "reads are no events")
	require.Empty(t, x.FindEvent("membership.Create"), "not catalogued")

	for _, tt := range []struct{ catalog, event, want string }{
		{"nope", "contact.Create", "no catalog is named nope (the catalogs are contoso_customers)"},
		{"contoso_customers", "membership.Create", "catalog contoso_customers exposes no event membership.Create"},
	} {
		_, err := x.Event(tt.catalog, tt.event)
		require.Equal(t, errcode.NotFound, errcode.Of(err))
		require.ErrorContains(t, err, tt.want)
	}
	empty, err := catalog.Build(nil, nil)
	require.NoError(t, err)
	_, err = empty.Catalog("contoso_customers")
	require.ErrorContains(t, err, "the imported solutions have no catalog")
}

func TestBuildOrganizationOwnedTable(t *testing.T) {
	t.Parallel()
	store := tables.Table{LogicalName: "store", PluralName: "stores", Ownership: tables.OrganizationOwned}
	defs, err := pipeline.NewDefinitions([]tables.Table{store}, nil, nil)
	require.NoError(t, err)
	x, err := catalog.Build([]catalog.Entry{{Catalog: catalog.Catalog{UniqueName: "c", Categories: []catalog.Category{
		{UniqueName: "k", Assignments: []catalog.Assignment{{Table: "store"}}},
		{UniqueName: "k2", Assignments: []catalog.Assignment{{Table: "store"}}},
	}}}}, defs)
	require.NoError(t, err)
	var names []string
	for _, ev := range x.Catalogs()[0].Categories[0].Assignments[0].Events {
		names = append(names, ev.Name)
	}
	require.Equal(t, []string{"store.Create", "store.Update", "store.Delete"}, names, "no owner, no shares")
	ev, err := x.Event("c", "store.Update")
	require.NoError(t, err)
	require.Equal(t, []string{"k", "k2"}, ev.Categories, "one event, in both categories")
}

func TestBuildProblems(t *testing.T) {
	t.Parallel()
	_, defs := contoso(t)
	private, err := pipeline.NewDefinitions(nil, []customapi.API{
		{UniqueName: "x_Hidden", IsPrivate: true}, {UniqueName: "x_Fn", IsFunction: true},
	}, nil)
	require.NoError(t, err)
	cat := func(name string, cats ...catalog.Category) catalog.Entry {
		return catalog.Entry{Solution: "s_" + name, Catalog: catalog.Catalog{UniqueName: name, Categories: cats}}
	}
	one := func(name string, as ...catalog.Assignment) catalog.Category {
		return catalog.Category{UniqueName: name, Assignments: as}
	}
	for _, tt := range []struct {
		name    string
		entries []catalog.Entry
		defs    catalog.Definitions
		want    string
	}{
		{"same catalog twice", []catalog.Entry{cat("a"), cat("A")}, defs, "catalog A of solution s_A: unique name A is taken by catalog a of solution s_a"},
		{"category named like a catalog", []catalog.Entry{cat("a"), cat("b", one("a"))}, defs, "category a of catalog b of solution s_b: unique name a is taken by catalog a"},
		{"no item", []catalog.Entry{cat("a", one("k", catalog.Assignment{}))}, defs, "category k: an assignment names exactly one of a table and a custom API"},
		{"two items", []catalog.Entry{cat("a", one("k", catalog.Assignment{Table: "contact", CustomAPI: "contoso_VisitWebSite"}))}, defs, "names exactly one"},
		{"unknown table", []catalog.Entry{cat("a", one("k", catalog.Assignment{Table: "nope"}))}, defs, "category k: table nope is not a table"},
		{"unknown API", []catalog.Entry{cat("a", one("k", catalog.Assignment{CustomAPI: "nope"}))}, defs, "category k: custom API nope is not a custom API"},
		{"twice", []catalog.Entry{cat("a", one("k", catalog.Assignment{Table: "contact"}, catalog.Assignment{Table: "contact"}))}, defs, "category k: table contact is assigned twice"},
		{"private", []catalog.Entry{cat("a", one("k", catalog.Assignment{CustomAPI: "x_Hidden"}))}, private, "custom API x_Hidden is private (isPrivate)"},
		{"function", []catalog.Entry{cat("a", one("k", catalog.Assignment{CustomAPI: "x_Fn"}))}, private, "custom API x_Fn is a function: only actions can be catalogued"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := catalog.Build(tt.entries, tt.defs)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestEventJSON(t *testing.T) {
	t.Parallel()
	x, _ := contosoIndex(t)
	ev, err := x.Event("contoso_customers", "contact.RevokeAccess")
	require.NoError(t, err)
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	require.Equal(t, "contoso_customers", m["catalog"])
	require.Equal(t, "contact.RevokeAccess", m["name"])
	require.Equal(t, "RevokeAccess", m["message"])
	require.Equal(t, "contact", m["table"])
	require.Equal(t, "Unshare Contact", m["displayName"])
	schema := m["schema"].(map[string]any)
	require.Equal(t, "https://json-schema.org/draft/2020-12/schema", schema["$schema"])
	require.Equal(t, []any{map[string]any{"$ref": catalog.EnvelopeSchemaURL}}, schema["allOf"])
	require.Equal(t, "https://github.com/bizevents/bizevents/raw/main/schemas/execution-context.schema.json", catalog.EnvelopeSchemaURL)
}
