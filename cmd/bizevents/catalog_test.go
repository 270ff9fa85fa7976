package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/catalog"
)

// importContoso imports the example solution into the bundle's database.
func (b *bundle) importContoso(t *testing.T) {
	t.Helper()
	code, _, errOut := b.cli(t, "", "solution", "import", contosoDir)
	require.Equal(t, exitOK, code, errOut)
}

func TestCatalogList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code, out, errOut := b.cli(t, "", "catalog", "ls")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "no catalogs: the imported solutions declare none")
	code, out, _ = b.cli(t, "", "catalog", "ls", "--json")
	require.Equal(t, exitOK, code)
	require.JSONEq(t, `{"catalogs":[]}`, out)

	b.importContoso(t)
	code, out, errOut = b.cli(t, "", "catalog", "ls")
	require.Equal(t, exitOK, code, errOut)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Equal(t, []string{
		`catalog contoso_customers "Contoso Customer Management" (solution contoso_customers)`,
		`  category contoso_customer_events "Customer events"`,
		`    custom API contoso_EnteredStore "Entered Store"`,
		`      contoso_EnteredStore`,
	}, lines[:4])
	require.Contains(t, out, "    table contact \"Contact\"\n      contact.Create\n      contact.Update\n      contact.Delete\n      contact.Assign\n"+
		"      contact.GrantAccess\n      contact.ModifyAccess\n      contact.RevokeAccess\n")
	require.Equal(t, `      contoso_VendorPaymentPosted`, lines[len(lines)-1])
	require.Len(t, lines, 1+2+8+6+2*7, "a catalog, two categories, eight assignments, their events")

	code, out, _ = b.cli(t, "", "catalog", "ls", "--json")
	require.Equal(t, exitOK, code)
	var tree struct{ Catalogs []catalog.CatalogInfo }
	require.NoError(t, json.Unmarshal([]byte(out), &tree))
	require.Len(t, tree.Catalogs, 1)
	require.Equal(t, "contoso_external_events", tree.Catalogs[0].Categories[1].UniqueName)
	require.Equal(t, "contoso_CustomerPurchase", tree.Catalogs[0].Categories[1].Assignments[0].Events[0].Name)
}

func TestCatalogShow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.importContoso(t)

	code, out, errOut := b.cli(t, "", "catalog", "show", "contoso_CustomerPurchase")
	require.Equal(t, exitOK, code, errOut)
	require.True(t, strings.HasPrefix(out, "event contoso_CustomerPurchase \"Customer Purchase\"\n"+
		"  The point-of-sale system recorded a sale to a customer.\n"+
		"  message:    contoso_CustomerPurchase\n"+
		"  catalog:    contoso_customers\n"+
		"  categories: contoso_external_events\n"+
		"  parameters:\n"), out)
	require.Regexp(t, `\n    Amount +Money +required +Amount\n`, out)
	require.Regexp(t, `\n    Items +StringArray +optional +The product ids of the sale's lines.\n`, out)
	require.Contains(t, out, "  schema:\n  {\n")
	require.Contains(t, out, `"$ref": "https://github.com/bizevents/bizevents/raw/main/schemas/execution-context.schema.json"`)

	code, out, _ = b.cli(t, "", "catalog", "show", "contoso_customers/contact.Create", "--json")
	require.Equal(t, exitOK, code)
	var ev catalog.Event
	require.NoError(t, json.Unmarshal([]byte(out), &ev))
	require.Equal(t, "Create", ev.Message)
	require.Equal(t, "contact", ev.Table)
	require.Equal(t, "Target", ev.Parameters[0].Name)
	var schema map[string]any
	require.NoError(t, json.Unmarshal(ev.Schema, &schema))
	require.Equal(t, "contact.Create", schema["title"])

	code, out, _ = b.cli(t, "", "catalog", "show", "--catalog", "contoso_customers", "account.Delete")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "  table:      account\n")
	require.Regexp(t, `\n    Target +EntityReference \(account\) +required +The row.\n`, out)

	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"catalog", "show", "contact.Retrieve"}, exitFailure, "error [not_found]: no catalog exposes an event contact.Retrieve"},
		{[]string{"catalog", "show", "nope/contact.Create"}, exitFailure, "error [not_found]: no catalog is named nope"},
		{[]string{"catalog", "show", "--catalog", "contoso_customers", "membership.Create"}, exitFailure, "exposes no event membership.Create"},
		{[]string{"catalog", "show"}, exitUsage, "missing EVENT"},
		{[]string{"catalog", "show", "a", "b"}, exitUsage, `unexpected argument "b"`},
		{[]string{"catalog", "show", "--catalog", "x", "y/contact.Create"}, exitUsage, "the event names catalog y and --catalog x"},
		{[]string{"catalog", "ls", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"catalog", "frob"}, exitUsage, `unknown command "frob"`},
	} {
		code, out, errOut := b.cli(t, "", tt.args...)
		require.Equal(t, tt.code, code, "%v: %s", tt.args, errOut)
		require.Empty(t, out)
		require.Contains(t, errOut, tt.want, tt.args)
	}
}

func TestCatalogHelp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code, out, _ := b.cli(t, "", "--help")
	require.Equal(t, exitOK, code)
	require.Regexp(t, `\n  catalog\s+discover the events`, out)
	code, out, _ = b.cli(t, "", "help", "catalog", "show")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "Usage: bizevents catalog show EVENT [flags]")
}
