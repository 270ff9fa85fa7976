package tables_test

import (
	"github.com/bizevents/bizevents/engine/tables"
)

func ptr[T any](v T) *T { return &v }

// accountTable is a table with a column of every type.
func accountTable() *tables.Table {
	t := tables.Table{
		LogicalName: "account",
		PluralName:  "accounts",
		PrimaryName: "name",
		Columns: []tables.Column{
			{LogicalName: "name", Type: tables.String, Required: true},
			{LogicalName: "description", Type: tables.String, MaxLength: 2000},
			{LogicalName: "employees", Type: tables.Integer, MinValue: ptr(0.0), MaxValue: ptr(1e6)},
			{LogicalName: "revenue", Type: tables.Money},
			{LogicalName: "rate", Type: tables.Decimal, MinValue: ptr(-100.0), MaxValue: ptr(100.0)},
			{LogicalName: "score", Type: tables.Float, MaxValue: ptr(1.5)},
			{LogicalName: "isactive", Type: tables.Boolean},
			{LogicalName: "founded", Type: tables.DateTime},
			{LogicalName: "externalid", Type: tables.GUID},
			{LogicalName: "category", Type: tables.Choice, Options: []tables.Option{{Value: 1, Label: "A"}, {Value: 2, Label: "B"}, {Value: 3, Label: "C"}}},
			{LogicalName: "parentaccountid", Type: tables.Lookup, Target: "account"},
		},
	}.WithDefaults()
	return &t
}
