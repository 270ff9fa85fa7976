package flows

import (
	"github.com/bizevents/bizevents/engine/catalog"
	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/expression"
	"github.com/bizevents/bizevents/engine/tables"
)

// The types of what expressions see. They are built from the definitions
// at import, so that a misspelled column, parameter or output is an import
// error.

var (
	anyType      = expression.Type{Kind: expression.Any}
	stringType   = expression.Type{Kind: expression.String}
	intType      = expression.Type{Kind: expression.Int}
	floatType    = expression.Type{Kind: expression.Float}
	boolType     = expression.Type{Kind: expression.Bool}
	timeType     = expression.Type{Kind: expression.Time}
	anyMapType   = expression.Type{Kind: expression.Map, Elem: &anyType}
	anyListType  = expression.Type{Kind: expression.List, Elem: &anyType}
	stringMap    = expression.Type{Kind: expression.Map, Elem: &stringType}
	stringList   = expression.Type{Kind: expression.List, Elem: &stringType}
	referenceTyp = object(field("table", stringType), field("id", stringType))
)

func field(name string, t expression.Type) expression.Field {
	return expression.Field{Name: name, Type: t}
}

func object(fs ...expression.Field) expression.Type {
	return expression.Type{Kind: expression.Object, Fields: fs}
}

func listOf(t expression.Type) expression.Type {
	return expression.Type{Kind: expression.List, Elem: &t}
}

// primaryKey is a table's primary key column.
func primaryKey(t *tables.Table) string {
	if t.PrimaryKey != "" {
		return t.PrimaryKey
	}
	return t.LogicalName + "id"
}

// rowType is a row as tables.Table.Output renders it: the primary key, the
// columns and the system columns.
func rowType(t *tables.Table) expression.Type {
	fs := []expression.Field{field(primaryKey(t), stringType)}
	for i := range t.Columns {
		c := &t.Columns[i]
		fs = append(fs, field(c.LogicalName, columnType(c)))
	}
	fs = append(fs,
		field(tables.ColumnCreatedOn, timeType),
		field(tables.ColumnModifiedOn, timeType),
		field(tables.ColumnOwnerID, stringType),
		field(tables.ColumnVersion, intType))
	return object(fs...)
}

func columnType(c *tables.Column) expression.Type {
	switch c.Type {
	case tables.Integer, tables.Choice:
		return intType
	case tables.Decimal, tables.Money, tables.Float:
		return floatType
	case tables.Boolean:
		return boolType
	case tables.DateTime:
		return timeType
	}
	return stringType // string, guid, lookup (the referenced row's id)
}

// paramType is the type of a custom API parameter's value, as the event's
// inputParameters hold it.
func paramType(p catalog.Parameter, find func(string) (*tables.Table, bool)) expression.Type {
	switch customapi.ParamType(p.Type) {
	case customapi.Boolean:
		return boolType
	case customapi.DateTime:
		return timeType
	case customapi.Decimal, customapi.Money, customapi.Float:
		return floatType
	case customapi.Integer, customapi.Picklist:
		return intType
	case customapi.String, customapi.GUID:
		return stringType
	case customapi.StringArray:
		return stringList
	case customapi.EntityReference:
		return referenceTyp
	case customapi.Entity:
		if t, ok := find(p.Table); ok {
			return rowType(t)
		}
		return anyMapType
	case customapi.EntityCollection:
		if t, ok := find(p.Table); ok {
			return listOf(rowType(t))
		}
		return anyListType
	}
	return anyType
}

// envelope is what every trigger holds besides its parameters: who, when,
// which event.
func envelope() []expression.Field {
	return []expression.Field{
		field("MessageName", stringType),
		field("PrimaryEntityName", stringType),
		field("PrimaryEntityId", stringType),
		field("UserId", stringType),
		field("InitiatingUserId", stringType),
		field("CorrelationId", stringType),
		field("EventId", stringType),
		field("Position", intType),
		field("Time", timeType),
		field("Depth", intType),
	}
}

// eventTriggerType is the trigger of a run started by ev: the envelope,
// its input and output parameters by name, and for a table event the row
// after the change.
func eventTriggerType(ev *catalog.Event, find func(string) (*tables.Table, bool)) expression.Type {
	fs := envelope()
	in := make([]expression.Field, 0, len(ev.Parameters))
	for _, p := range ev.Parameters {
		in = append(in, field(p.Name, paramType(p, find)))
	}
	out := make([]expression.Field, 0, len(ev.ResponseProperties))
	for _, p := range ev.ResponseProperties {
		out = append(out, field(p.Name, paramType(p, find)))
	}
	fs = append(fs, field("InputParameters", object(in...)), field("OutputParameters", object(out...)))
	if t, ok := find(ev.Table); ok {
		fs = append(fs, field("Row", rowType(t)))
	}
	return object(fs...)
}

// scheduleTriggerType is the trigger of a scheduled run.
func scheduleTriggerType() expression.Type {
	fs := envelope()
	fs = append(fs, field("ScheduledTime", timeType), field("Tick", intType))
	return object(fs...)
}

// executeOutputType is what an Execute action gives: the row (Create,
// Retrieve, Update), the rows (RetrieveMultiple), a custom API's response.
func executeOutputType(t *tables.Table, api *customapi.API, find func(string) (*tables.Table, bool)) expression.Type {
	fs := []expression.Field{
		field("id", stringType),
		field("version", intType),
		field("eventId", stringType),
	}
	if t != nil {
		fs = append(fs, field("row", rowType(t)), field("rows", listOf(rowType(t))), field("more", boolType))
	}
	if api != nil {
		out := make([]expression.Field, 0, len(api.ResponseProperties))
		for _, p := range api.ResponseProperties {
			out = append(out, field(p.UniqueName, paramType(catalog.Parameter{Name: p.UniqueName, Type: string(p.Type), Table: p.Table}, find)))
		}
		fs = append(fs, field("output", object(out...)))
	}
	return object(fs...)
}

// httpOutputType is what an HTTP action gives.
func httpOutputType() expression.Type {
	return object(field("status", intType), field("headers", stringMap), field("body", anyType))
}
