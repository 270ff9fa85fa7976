package solution_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/bizevents/bizevents/engine/catalog"
	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/solution"
	"github.com/bizevents/bizevents/engine/tables"
)

var update = flag.Bool("update", false, "rewrite the want.txt files of testdata/invalid from the problems found")

const contosoDir = "../../internal/testdata/contoso"

// TestLoadInvalid loads each folder of testdata/invalid and compares the
// problems found with the folder's want.txt; -update rewrites them. Each
// case also names a problem it must report, so that a golden file cannot
// lose it unnoticed.
func TestLoadInvalid(t *testing.T) {
	t.Parallel()
	must := map[string][]string{
		"catalogs": {
			"catalog.yaml:9:20: catalog test_catalog: category test_events: table contct is not a table of the solution",
			"catalog.yaml:11:24: catalog test_catalog: category test_events: custom API test_purchase is not a custom API of the solution; did you mean test_Purchase?",
			"catalog.yaml:12:24: catalog test_catalog: category test_events: custom API test_Lookup is a function: only actions can be catalogued",
			"catalog.yaml:13:24: catalog test_catalog: category test_events: custom API test_Secret is private (isPrivate)",
			"catalog.yaml:14:20: catalog test_catalog: category test_events: table contact is assigned twice (first at catalog.yaml:8:20)",
			"catalog.yaml:15:13: catalog test_catalog: category test_events: assignment #8 names table store and custom API test_Purchase",
			"catalog.yaml:17:19: catalog test_catalog: category test_events: assignment #9: flow test_Approve is not a flow-defined action of the solution",
			"catalog.yaml:18:13: catalog test_catalog: category test_events: assignment #10 names nothing",
			"catalog.yaml:20:13: catalog test_catalog: category test_events: categories are one level deep: category test_nested cannot be in a category",
			"catalog.yaml:22:21: catalog test_catalog: category Test_Events: unique names are case-insensitive, and test_events is defined too (at catalog.yaml:5:21)",
			"catalog.yaml:24:21: catalog test_catalog: category test_catalog: unique name defined twice (first at catalog.yaml:2:17)",
			"more-catalogs.yaml:2:17: catalog test_second: a second root catalog: a solution has one, test_catalog (catalog.yaml:2:17)",
		},
		"catalog_keys": {
			`catalog.yaml:2:5: catalog test_catalog: missing key "displayName"`,
			`catalog.yaml:4:21: catalog test_catalog: category bad-name: uniqueName "bad-name" must be letters, digits and underscores`,
			`catalog.yaml:7:13: catalog test_catalog: category bad-name: assignment #1: unknown key "tabel" (want one of customApi, flow, table)`,
			`catalog.yaml:8:20: catalog test_catalog: category bad-name: assignment table Contact: table "Contact" must be lower case`,
		},
		"duplicate_names": {
			"more-tables.yaml:2:18: table account: defined twice (first at accounts.yaml:2:18)",
			"more-tables.yaml:5:17: table customer: plural name accounts is taken by table account",
			"apis.yaml:4:17: custom API contoso_Ping: defined twice",
			"steps.yaml:8:11: step on create: defined twice",
			`more-tables.yaml:9:5: table client: key "displayName" is defined twice (first at line 8)`,
		},
		"file_shape": {
			"two-kinds.yaml:1:1: a file holds one kind of definition",
			"empty.yaml: empty file",
			"docs.yaml:4:1: a second YAML document",
		},
		"filtering_column": {
			"steps.yaml:7:33: step revenue changed: filtering column revenu is not a column of table account",
			"pre image before: column telephone1 is not a column of table account",
		},
		"manifest_errors":      {`solution.yaml:1:7: name "Contoso" must be lower case`},
		"missing_lookup_table": {"tables.yaml:7:17: table contact: column parentcustomerid: lookup target acount is not a table"},
		"missing_manifest":     {"solution.yaml: missing"},
		"step_rules": {
			"step lookup async: custom API contoso_Lookup is a function",
			"step quiet: custom API contoso_Quiet takes no steps",
		},
		"plugins": {
			"plugins.yaml:4:11: plugin validation: defined twice",
			"plugin missing: file modules/missing.wasm does not exist; build it with: bizevents plugin build",
			"plugin text: modules/text.wasm is not a WebAssembly module",
			"plugin outside: file ../outside.wasm is outside the solution folder",
			"step unknown plugin: handler nowhere/Check names plugin nowhere, which the solution does not ship",
			`step bad handler: handler "validation/a/b" must be <plugin>/<handler>`,
		},
		"share_steps": {
			"steps.yaml:4:12: step grant on store: table store is organization-owned: its rows have no owner and are not shared, so a step on GrantAccess never runs",
			"steps.yaml:10:12: step assign store: table store is organization-owned",
			"steps.yaml:22:7: step modify after: a ModifyAccess changes the row's shares, not its columns, so it has no post image",
			"steps.yaml:29:23: step revoke filtered: filtering columns apply to Update steps only",
			"steps.yaml:32:14: step grant without table: a GrantAccess step needs a table",
		},
		"endpoints": {
			"endpoints.yaml:8:11: endpoint erp: defined twice",
			"endpoint relative: url: must start with https:// or http://",
			`endpoint retrying: retry initialDelay "soon" is not a duration`,
			"step notify nowhere: endpoint nowhere is not an endpoint of the solution",
		},
		"inputs": {
			"inputs.yaml:7:11: input erp_invoices: defined twice",
			"inputs.yaml:14:10: input on_nats: url: must start with amqp:// or amqps://",
			"inputs.yaml:15:14: input on_nats: message erp_invoiceposted is not a custom API of the solution; did you mean erp_InvoicePosted?",
			"inputs.yaml:16:5: input wildcards: deadLetter: is required when the subject has wildcards",
			"inputs.yaml:20:14: input wildcards: custom API erp_Balance is a function",
			"inputs.yaml:25:17: input row_bound: deadLetter: erp.approvals is a subject the input consumes",
			"inputs.yaml:26:14: input row_bound: custom API erp_Approve is bound to a row of account",
			`inputs.yaml:27:11: input row_bound: user: "not-a-guid" is not a user id`,
			"inputs.yaml:33:14: input table_message: message Create is a table message",
			"inputs.yaml:38:14: input nowhere: message erp_Missing is not a custom API of the solution",
			`inputs.yaml:43:5: input with_exchange: unknown key "exchange"`,
		},
		"sync_step_async_only": {"steps.yaml:5:11: step check purchase: custom API contoso_CustomerPurchase allows async steps only"},
		"syntax_error":         {"tables.yaml:4: invalid YAML: ", "events.yaml:3: invalid YAML: "},
		"table_rules":          {"tables.yaml:10:19: table account: column revenue: min value is above max value"},
		"unknown_column_type":  {`tables.yaml:7:15: table account: column amount: unknown type "monee" (want one of string, integer,`},
		"unknown_key": {
			`tables.yaml:12:9: table contact: column lastname: unknown key "lenght"`,
			`roles.yaml:1:1: unknown key "roles" (want one of catalogs, customApis, endpoints, flows, inputs, plugins, steps, tables)`,
		},
		"flow_schema": {
			`flows.yaml:7:9: unknown key "compose" (want one of description, name, retry, runAfter, terminate, timeout)`,
			`flows.yaml:9:9: flows[0].actions[1]: missing keys "execute", "http",`,
			`flows.yaml:10:20: unknown flows[0].actions[1].runAfter[0] "done" (want one of succeeded, failed, skipped, timedOut)`,
			`flows.yaml:16:24: flows[0].actions[2].condition.then[0].timeout "soon" must be`,
			`flows.yaml:20:55: flows[0].actions[2].condition.else[0].forEach.concurrency: maximum: got 51, want 50`,
			`flows.yaml:21:5: flows[1]: missing key "trigger"`,
			`flows.yaml:30:25: unknown flows[2].variables[0].type "int"`,
		},
		"unknown_message": {"steps.yaml:3:14: step frob: unknown message Frobnicate"},
		"wrong_type":      {`tables.yaml:7:20: table account: column name: maxLength: want an integer, got a string "ten"`},
	}
	dirs, err := filepath.Glob(filepath.Join("testdata", "invalid", "*"))
	require.NoError(t, err)
	var names []string
	for _, dir := range dirs {
		names = append(names, filepath.Base(dir))
	}
	for name := range must {
		require.Contains(t, names, name)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			s, err := solution.Load(dir)
			require.Error(t, err)
			require.Nil(t, s)
			require.Equal(t, errcode.InvalidSolution, errcode.Of(err))
			var se *solution.Error
			require.ErrorAs(t, err, &se)
			require.NotEmpty(t, se.Problems)

			got := err.Error() + "\n"
			golden := filepath.Join(dir, "want.txt")
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to write it")
			require.Equal(t, string(want), got)
			for _, m := range must[filepath.Base(dir)] {
				require.Contains(t, got, m)
			}
		})
	}
}

func TestLoadNotAFolder(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{filepath.Join(t.TempDir(), "nope"), filepath.Join(contosoDir, "solution.yaml")} {
		_, err := solution.Load(dir)
		require.Equal(t, errcode.InvalidSolution, errcode.Of(err))
	}
}

func TestLoadContoso(t *testing.T) {
	t.Parallel()
	s, err := solution.Load(contosoDir)
	require.NoError(t, err)
	require.Equal(t, "contoso_customers", s.Name)
	require.Equal(t, "Contoso Customer Management", s.DisplayName)
	require.Equal(t, "1.0.0", s.Version)
	require.Equal(t, "contoso", s.Publisher)
	require.Equal(t, 7, s.Files)
	require.Len(t, s.Hash, 64)
	require.Empty(t, s.Steps)

	require.Len(t, s.Catalogs, 1)
	root := s.Catalogs[0]
	require.Equal(t, "contoso_customers", root.UniqueName)
	require.Equal(t, "Contoso Customer Management", root.DisplayName)
	require.Len(t, root.Categories, 2)
	require.Equal(t, "contoso_customer_events", root.Categories[0].UniqueName)
	require.Equal(t, []catalog.Assignment{
		{CustomAPI: "contoso_EnteredStore"}, {CustomAPI: "contoso_VisitWebSite"}, {CustomAPI: "contoso_PurchaseProduct"},
		{CustomAPI: "contoso_ReturnProduct"}, {Table: "contact"}, {Table: "account"},
	}, root.Categories[0].Assignments, "in the order written")
	require.Equal(t, "contoso_external_events", root.Categories[1].UniqueName)
	require.Equal(t, []catalog.Assignment{{CustomAPI: "contoso_CustomerPurchase"}, {CustomAPI: "contoso_VendorPaymentPosted"}}, root.Categories[1].Assignments)

	var names []string
	for _, tb := range s.Tables {
		names = append(names, tb.LogicalName)
	}
	require.Equal(t, []string{"account", "contact", "membership"}, names, "sorted by name")
	contact := s.Tables[1]
	require.Equal(t, "contactid", contact.PrimaryKey, "defaulted")
	require.Equal(t, tables.UserOwned, contact.Ownership, "defaulted")
	parent, ok := contact.Column("parentcustomerid")
	require.True(t, ok)
	require.Equal(t, tables.Lookup, parent.Type)
	require.Equal(t, "account", parent.Target)
	revenue, ok := s.Tables[0].Column("revenue")
	require.True(t, ok)
	require.Equal(t, tables.MoneyPrecision, revenue.Precision)

	external := map[string]bool{}
	for _, a := range s.CustomAPIs {
		external[a.UniqueName] = a.IsExternalEvent()
	}
	require.Equal(t, map[string]bool{
		"contoso_CustomerPurchase":    true,
		"contoso_VendorPaymentPosted": true,
		"contoso_EnteredStore":        false,
		"contoso_PurchaseProduct":     false,
		"contoso_ReturnProduct":       false,
		"contoso_VisitWebSite":        false,
	}, external)
	for _, a := range s.CustomAPIs {
		if a.UniqueName == "contoso_CustomerPurchase" {
			items, ok := a.Parameter("Items")
			require.True(t, ok)
			require.Equal(t, customapi.StringArray, items.Type)
			require.True(t, items.Optional)
		}
	}
}

func TestLoadSteps(t *testing.T) {
	t.Parallel()
	s, err := solution.Load(filepath.Join("testdata", "valid", "steps"))
	require.NoError(t, err)
	require.Equal(t, "0.1.0-beta+build.7", s.Version)
	require.Equal(t, 5, s.Files, ".yml files count, in subfolders too")
	byName := map[string]pipeline.Step{}
	for _, st := range s.Steps {
		byName[st.Name] = st
	}
	require.Len(t, byName, 5)
	rev := byName["account revenue changed"]
	require.Equal(t, pipeline.PostOperation, rev.Stage, "stage by name")
	require.Equal(t, pipeline.Async, rev.Mode)
	require.Equal(t, 2, rev.Rank)
	require.Equal(t, []string{"revenue"}, rev.FilteringColumns)
	require.Equal(t, []pipeline.Image{{Name: "before", Columns: []string{"revenue", "ownerid"}}}, rev.PreImages)
	require.Equal(t, []pipeline.Image{{Name: "after"}}, rev.PostImages)
	require.Equal(t, "erp", rev.Endpoint)
	require.Len(t, s.Endpoints, 1)
	ep, err := s.Endpoints[0].Endpoint(func(name string) string {
		return map[string]string{"ERP_WEBHOOK_KEY": "k3y", "ERP_SIGNING_SECRET": "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}[name]
	})
	require.NoError(t, err)
	require.Equal(t, "k3y", ep.Auth.Value, "env: values are read when a delivery is made")
	require.Equal(t, 20*time.Second, ep.Timeout)
	require.NoError(t, ep.Validate())
	_, err = s.Endpoints[0].Endpoint(func(string) string { return "" })
	require.ErrorContains(t, err, "environment variable ERP_WEBHOOK_KEY, ERP_SIGNING_SECRET is not set")
	p, err := s.Endpoints[0].Policy()
	require.NoError(t, err)
	require.Equal(t, 8, p.MaxAttempts)
	require.Equal(t, 2*time.Second, p.InitialDelay)
	require.Equal(t, pipeline.PreOperation, byName["account number"].Stage)
	require.JSONEq(t, `{"prefix": "AC-"}`, byName["account number"].Config)
	require.Equal(t, "s3cret", byName["account number"].SecureConfig)
	require.Equal(t, pipeline.PostOperation, byName["purchase to erp"].Stage, "stage by number")
	require.True(t, byName["score check"].Disabled)
	require.Equal(t, tables.OrganizationOwned, s.Tables[0].Ownership)

	// YAML anchors and merge keys work.
	invoice := s.Tables[1]
	require.Equal(t, "invoice", invoice.LogicalName)
	zero := 0.0
	for _, name := range []string{"amount", "tax", "total"} {
		c, ok := invoice.Column(name)
		require.True(t, ok, name)
		require.Equal(t, tables.Money, c.Type, name)
		require.Equal(t, &zero, c.MinValue, name)
		require.Equal(t, name == "total", c.Required, name)
	}
}

// TestHashStable rewrites the contoso solution in another shape (files
// renamed, merged, split and reordered, items reordered, other indentation
// and quoting, explicit defaults) and expects the same hash; a real change
// gives another.
func TestHashStable(t *testing.T) {
	t.Parallel()
	orig, err := solution.Load(contosoDir)
	require.NoError(t, err)

	dir := t.TempDir()
	var tableNodes, apiNodes []*yaml.Node
	files, err := filepath.Glob(filepath.Join(contosoDir, "*", "*.yaml"))
	require.NoError(t, err)
	for _, f := range files {
		root := readYAML(t, f)
		require.Len(t, root.Content, 2)
		switch root.Content[0].Value {
		case "tables":
			tableNodes = append(tableNodes, root.Content[1].Content...)
		case "customApis":
			apiNodes = append(apiNodes, root.Content[1].Content...)
		}
	}
	slices.Reverse(tableNodes)
	// An explicit default changes nothing.
	tableNodes[0].Content = append(tableNodes[0].Content,
		&yaml.Node{Kind: yaml.ScalarNode, Value: "ownership"}, &yaml.Node{Kind: yaml.ScalarNode, Value: "user", Style: yaml.DoubleQuotedStyle})
	writeYAML(t, filepath.Join(dir, "z", "all-tables.yml"), map[string]any{"tables": tableNodes})
	for i, a := range apiNodes {
		writeYAML(t, filepath.Join(dir, "apis", string(rune('f'-i))+".yaml"), map[string]any{"customApis": []*yaml.Node{a}})
	}
	writeYAML(t, filepath.Join(dir, "solution.yaml"), readYAML(t, filepath.Join(contosoDir, "solution.yaml")))
	writeYAML(t, filepath.Join(dir, "discovery", "root.yml"), readYAML(t, filepath.Join(contosoDir, "catalog.yaml")))

	moved, err := solution.Load(dir)
	require.NoError(t, err)
	require.Equal(t, 9, moved.Files)
	require.Equal(t, orig.Hash, moved.Hash)
	moved.Files = orig.Files
	require.Equal(t, orig, moved)

	// A change of one table changes the hash.
	for i := 0; i < len(tableNodes[0].Content); i += 2 {
		if tableNodes[0].Content[i].Value == "displayName" {
			tableNodes[0].Content[i+1].Value = "Changed"
		}
	}
	writeYAML(t, filepath.Join(dir, "z", "all-tables.yml"), map[string]any{"tables": tableNodes})
	changed, err := solution.Load(dir)
	require.NoError(t, err)
	require.NotEqual(t, orig.Hash, changed.Hash)
}

func TestEncodeDecode(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{contosoDir, filepath.Join("testdata", "valid", "steps")} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			s, err := solution.Load(dir)
			require.NoError(t, err)
			data, err := solution.Encode(s)
			require.NoError(t, err)
			viaJSON, err := json.Marshal(s)
			require.NoError(t, err)
			require.JSONEq(t, string(data), string(viaJSON))
			viaValue, err := json.Marshal(*s)
			require.NoError(t, err)
			require.JSONEq(t, string(data), string(viaValue))

			d, err := solution.Decode(data)
			require.NoError(t, err)
			require.Zero(t, d.Files)
			want := *s
			want.Files = 0
			require.Equal(t, &want, d)

			var u solution.Solution
			require.NoError(t, json.Unmarshal(data, &u))
			require.Equal(t, want, u)

			again, err := solution.Encode(d)
			require.NoError(t, err)
			require.Equal(t, string(data), string(again))
		})
	}
	t.Run("Shape", func(t *testing.T) {
		t.Parallel()
		s, err := solution.Load(filepath.Join("testdata", "valid", "steps"))
		require.NoError(t, err)
		data, err := solution.Encode(s)
		require.NoError(t, err)
		var doc map[string]any
		require.NoError(t, json.Unmarshal(data, &doc))
		require.Equal(t, "steps_fixture", doc["name"])
		steps := doc["steps"].([]any)
		require.Equal(t, "account number", steps[0].(map[string]any)["name"], "sorted by name")
		require.EqualValues(t, 20, steps[0].(map[string]any)["stage"], "stages are numbers")
		require.Equal(t, "account", doc["tables"].([]any)[0].(map[string]any)["logicalName"])
	})
}

func TestDecodeInvalid(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, data, want string
	}{
		{"NotJSON", `{`, "decode solution definition: unexpected EOF"},
		{"UnknownKey", `{"name":"x","version":"1.0","colour":"red"}`, `unknown field "colour"`},
		{"Trailing", `{"name":"x","version":"1.0"} {}`, "data after the JSON document"},
		{"BadName", `{"name":"X","version":"1.0"}`, `name "X" must be lower case`},
		{"BadVersion", `{"name":"x","version":"v1"}`, `version "v1" must be two to four`},
		{"UnknownMessage", `{"name":"x","version":"1.0","steps":[{"name":"s","message":"Nope","stage":40,"mode":"async","handler":"h"}]}`,
			"step s: unknown message Nope"},
		{"LookupTarget", `{"name":"x","version":"1.0","tables":[{"logicalName":"a","pluralName":"as","columns":[{"logicalName":"b","type":"lookup","target":"c"}]}]}`,
			"table a: column b: lookup target c is not a table"},
		{"CatalogFunction", `{"name":"x","version":"1.0","customApis":[{"uniqueName":"x_F","isFunction":true}],
			"catalogs":[{"uniqueName":"x_c","displayName":"C","categories":[{"uniqueName":"x_k","displayName":"K","assignments":[{"customApi":"x_F"}]}]}]}`,
			"catalog x_c: category x_k: custom API x_F is a function: only actions can be catalogued"},
		{"CatalogFlow", `{"name":"x","version":"1.0","catalogs":[{"uniqueName":"x_c","displayName":"C","categories":[{"uniqueName":"x_k","displayName":"K","assignments":[{"flow":"x_f"}]}]}]}`,
			"assignment #1: flow x_f is not a flow-defined action of the solution"},
		{"CatalogName", `{"name":"x","version":"1.0","catalogs":[{"uniqueName":"x c","displayName":""}]}`,
			`catalog "x c": a unique name is letters, digits and underscores`},
		{"TwoRoots", `{"name":"x","version":"1.0","catalogs":[{"uniqueName":"x_a","displayName":"A"},{"uniqueName":"x_b","displayName":"B"}]}`,
			"catalog x_b: a second root catalog: a solution has one, x_a; make x_b a category of it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := solution.Decode([]byte(tt.data))
			require.Equal(t, errcode.InvalidSolution, errcode.Of(err))
			require.Contains(t, err.Error(), tt.want)
			var se *solution.Error
			require.ErrorAs(t, err, &se)
			for _, p := range se.Problems {
				require.Empty(t, p.File)
				require.Zero(t, p.Line)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	old, err := solution.Load(filepath.Join("testdata", "valid", "steps"))
	require.NoError(t, err)
	clone := func() *solution.Solution {
		data, err := solution.Encode(old)
		require.NoError(t, err)
		s, err := solution.Decode(data)
		require.NoError(t, err)
		return s
	}
	require.Empty(t, solution.Diff(old, clone()))

	next := clone()
	next.Version = "0.2.0"
	account := &next.Tables[0]
	require.Equal(t, "account", account.LogicalName)
	account.Columns = append(account.Columns, tables.Column{LogicalName: "website", Type: tables.String, MaxLength: 200})
	account.Columns = slices.DeleteFunc(account.Columns, func(c tables.Column) bool { return c.LogicalName == "rating" })
	for i := range account.Columns {
		if account.Columns[i].LogicalName == "revenue" {
			account.Columns[i].Type, account.Columns[i].Precision = tables.Decimal, 2
		}
	}
	next.Steps = slices.DeleteFunc(next.Steps, func(s pipeline.Step) bool { return s.Name == "quote check" })
	require.Equal(t, "account revenue changed", next.Steps[1].Name)
	next.Steps[1].Rank = 5

	changes := solution.Diff(old, next)
	require.Equal(t, strings.Join([]string{
		`changed solution steps_fixture: version: "0.1.0-beta+build.7" → "0.2.0"`,
		"removed column account.rating (warning: existing rows lose the column's values)",
		`changed column account.revenue: type: "money" → "decimal"; precision: 4 → 2 (warning: existing money values may not convert to decimal)`,
		"added column account.website",
		"changed step account revenue changed: rank: 2 → 5",
		"removed step quote check",
	}, "\n"), changes.String())
	require.Len(t, changes.Warnings(), 2)

	first := solution.Diff(nil, old)
	require.Empty(t, first.Warnings())
	var added []string
	for _, c := range first {
		require.Equal(t, solution.Added, c.Kind)
		added = append(added, c.What+" "+c.Name)
	}
	require.Equal(t, []string{
		"table account", "table invoice",
		"custom API test_Purchase", "custom API test_Quote", "custom API test_Score",
		"step account number", "step account revenue changed", "step purchase to erp", "step quote check", "step score check",
		"endpoint erp",
	}, added)

	gone := solution.Diff(old, &solution.Solution{Name: old.Name, DisplayName: old.DisplayName, Version: old.Version, Publisher: old.Publisher})
	require.Equal(t, "removed table account (warning: the rows of the table lose their definition)", gone[0].String())
}

func readYAML(t *testing.T, path string) *yaml.Node {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(data, &doc))
	return doc.Content[0]
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	require.NoError(t, err)
	enc := yaml.NewEncoder(f)
	enc.SetIndent(4)
	require.NoError(t, enc.Encode(v))
	require.NoError(t, enc.Close())
	require.NoError(t, f.Close())
}

func TestDiffCatalogs(t *testing.T) {
	t.Parallel()
	old, err := solution.Load(contosoDir)
	require.NoError(t, err)
	data, err := solution.Encode(old)
	require.NoError(t, err)
	next, err := solution.Decode(data)
	require.NoError(t, err)

	root := &next.Catalogs[0]
	root.DisplayName = "Contoso"
	events := &root.Categories[0]
	events.Assignments = slices.DeleteFunc(events.Assignments, func(a catalog.Assignment) bool { return a.Table == "account" })
	events.Assignments = append(events.Assignments, catalog.Assignment{Table: "membership"})
	external := &root.Categories[1]
	external.Assignments[0], external.Assignments[1] = external.Assignments[1], external.Assignments[0]
	root.Categories = append(root.Categories, catalog.Category{UniqueName: "contoso_loyalty", DisplayName: "Loyalty"})

	require.Equal(t, strings.Join([]string{
		`changed catalog contoso_customers: displayName: "Contoso Customer Management" → "Contoso"`,
		"changed category contoso_customers/contoso_customer_events: assignments: added table membership, removed table account",
		"changed category contoso_customers/contoso_external_events: assignments: reordered",
		"added category contoso_customers/contoso_loyalty",
	}, "\n"), solution.Diff(old, next).String())

	gone := solution.Diff(old, &solution.Solution{Name: old.Name, DisplayName: old.DisplayName, Version: old.Version, Publisher: old.Publisher, Description: old.Description,
		Tables: old.Tables, CustomAPIs: old.CustomAPIs})
	require.Equal(t, "removed catalog contoso_customers", gone.String())
}
