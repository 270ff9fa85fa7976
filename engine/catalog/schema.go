package catalog

import (
	"fmt"
	"strings"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/schemas"
)

// EnvelopeSchemaURL is the $id of the execution context's JSON Schema,
// schemas/execution-context.schema.json, which every event's schema
// narrows.
const EnvelopeSchemaURL = schemas.BaseURL + "execution-context.schema.json"

// draft is the JSON Schema dialect of the event schemas.
const draft = "https://json-schema.org/draft/2020-12/schema"

// The execution context as package endpoints builds it from an event
// (schemas/execution-context.schema.json describes it): the keys an
// event's schema narrows, and the constants of Dataverse's JSON it uses.
const (
	KeyMessageName       = "MessageName"
	KeyPrimaryEntityName = "PrimaryEntityName"
	KeyPrimaryEntityID   = "PrimaryEntityId"
	KeyInputParameters   = "InputParameters"
	KeyOutputParameters  = "OutputParameters"

	// NoEntity is the PrimaryEntityName of a message on no table.
	NoEntity = "none"
	// NilGUID is the PrimaryEntityId of a message on no row.
	NilGUID = "00000000-0000-0000-0000-000000000000"
	// EntityType and EntityReferenceType are the "__type" of an Entity and
	// of an EntityReference.
	EntityType          = "Entity:http://schemas.microsoft.com/xrm/2011/Contracts"
	EntityReferenceType = "EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts"
)

// schema is a JSON Schema under construction.
type schema = map[string]any

// eventSchema is the JSON Schema of what a subscriber receives for ev.
func eventSchema(ev *Event, defs Definitions) schema {
	desc := ev.Description
	if desc == "" {
		desc = ev.DisplayName
	}
	table := ev.Table
	if table == "" {
		table = NoEntity
	}
	id := schema{"const": NilGUID, "description": "The nil GUID: the message is on no row."}
	if ev.CustomAPI == "" || hasParameter(ev.Parameters, "Target") {
		id = uuidSchema("The id of the row the event is about.")
		id["not"] = schema{"const": NilGUID}
	}
	props := schema{
		KeyMessageName:       schema{"const": ev.Message, "description": "The message that recorded the event."},
		KeyPrimaryEntityName: schema{"const": table, "description": "The table the message ran on; none for a message on no table."},
		KeyPrimaryEntityID:   id,
		KeyInputParameters:   collectionSchema(ev, ev.Parameters, defs, true, "The message's input parameters, sorted by key."),
		KeyOutputParameters:  collectionSchema(ev, ev.ResponseProperties, defs, false, "The message's response, sorted by key; a response property may be left out."),
	}
	return schema{
		"$schema":     draft,
		"title":       ev.Name,
		"description": desc,
		"allOf":       []any{schema{"$ref": EnvelopeSchemaURL}},
		"type":        "object",
		"properties":  props,
	}
}

func hasParameter(ps []Parameter, name string) bool {
	for _, p := range ps {
		if p.Name == name {
			return true
		}
	}
	return false
}

// collectionSchema is the schema of a Dataverse collection, an array of
// {"key", "value"}, holding exactly the parameters: each key's value has
// its parameter's schema, and with input the required ones are there.
func collectionSchema(ev *Event, ps []Parameter, defs Definitions, input bool, desc string) schema {
	if len(ps) == 0 {
		return schema{"description": "Empty: the message has none.", "type": "array", "maxItems": 0}
	}
	var branches, contains []any
	for _, p := range ps {
		branches = append(branches, entrySchema(p.Name, parameterSchema(ev, p, defs)))
		if input && !p.Optional {
			contains = append(contains, schema{"contains": keySchema(p.Name)})
		}
	}
	s := schema{"description": desc, "type": "array", "items": schema{"anyOf": branches}}
	if len(contains) > 0 {
		s["allOf"] = contains
	}
	return s
}

// entrySchema is one {"key", "value"} of a collection.
func entrySchema(key string, value schema) schema {
	return schema{
		"type":       "object",
		"properties": schema{"key": schema{"const": key}, "value": value},
		"required":   []string{"key", "value"},
	}
}

// keySchema matches the entry of a collection with the key.
func keySchema(key string) schema {
	return schema{"type": "object", "properties": schema{"key": schema{"const": key}}, "required": []string{"key"}}
}

// parameterSchema is the schema of one parameter's value as the log holds
// it.
func parameterSchema(ev *Event, p Parameter, defs Definitions) schema {
	s := valueSchema(ev, p, defs)
	if p.DisplayName != "" {
		s["title"] = p.DisplayName
	}
	if p.Description != "" {
		if d, ok := s["description"].(string); ok && d != "" {
			s["description"] = p.Description + " " + d
		} else {
			s["description"] = p.Description
		}
	}
	return s
}

func valueSchema(ev *Event, p Parameter, defs Definitions) schema {
	switch p.Type {
	case "PrincipalAccess":
		return schema{
			"type": "object",
			"properties": schema{
				"Principal": plainReferenceSchema(pipeline.SystemUserTable, "The user the row is shared with, as {\"table\", \"id\"}."),
				"AccessMask": schema{"type": "string", "description": "The access rights, comma-separated in bit order: " +
					strings.Join(tables.ShareableRightNames(), ", ") + ", e.g. \"ReadAccess, WriteAccess\"."},
			},
			"required":             []string{"Principal", "AccessMask"},
			"additionalProperties": false,
		}
	case string(customapi.Entity):
		if p.Name == "Target" && ev.CustomAPI == "" {
			t, _ := defs.Table(p.Table)
			return targetSchema(t, ev.Message == pipeline.Create)
		}
		return entitySchema(p.Table, defs)
	case string(customapi.EntityCollection):
		return schema{"type": "array", "items": entitySchema(p.Table, defs)}
	case string(customapi.EntityReference):
		return referenceSchema(p.Table, "")
	case string(customapi.StringArray):
		return schema{"type": "array", "items": schema{"type": "string"}}
	case string(customapi.Boolean):
		return schema{"type": "boolean"}
	case string(customapi.DateTime):
		return schema{"type": "string", "format": "date-time", "description": "An RFC 3339 time in UTC."}
	case string(customapi.Decimal):
		return exactSchema(tables.MaxDecimalPrecision)
	case string(customapi.Money):
		return exactSchema(tables.MoneyPrecision)
	case string(customapi.Float):
		return schema{"type": "number"}
	case string(customapi.Integer):
		return schema{"type": "integer"}
	case string(customapi.Picklist):
		return schema{"type": "integer", "description": "An option's value."}
	case string(customapi.String):
		return schema{"type": "string"}
	case string(customapi.GUID):
		return uuidSchema("")
	}
	return schema{}
}

// exactSchema is a decimal's: a JSON number with its exact digits.
func exactSchema(precision int) schema {
	return schema{"type": "number", "description": fmt.Sprintf("An exact decimal, at most %d digits after the point: read it as a decimal, not a float.", precision)}
}

func uuidSchema(desc string) schema {
	s := schema{"type": "string", "format": "uuid", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}
	if desc != "" {
		s["description"] = desc
	}
	return s
}

// referenceSchema is an EntityReference in Dataverse's JSON, as a
// reference parameter ({"table", "id"} in the log) reaches a subscriber.
func referenceSchema(table, desc string) schema {
	name := schema{"type": "string", "minLength": 1, "description": "The table's logical name."}
	if table != "" {
		name = schema{"const": table}
	}
	s := schema{
		"type": "object",
		"properties": schema{
			"__type":      schema{"const": EntityReferenceType},
			"LogicalName": name,
			"Id":          uuidSchema("The row's id."),
		},
		"required": []string{"__type", "LogicalName", "Id"},
	}
	if desc != "" {
		s["description"] = desc
	}
	return s
}

// plainReferenceSchema is a tables.Reference as the log holds it,
// {"table", "id"}: what a reference inside another value stays.
func plainReferenceSchema(table, desc string) schema {
	s := schema{
		"type":                 "object",
		"properties":           schema{"table": schema{"const": table}, "id": uuidSchema("The row's id.")},
		"required":             []string{"table", "id"},
		"additionalProperties": false,
	}
	if desc != "" {
		s["description"] = desc
	}
	return s
}

// targetSchema is a table event's Target, an Entity in Dataverse's JSON
// whose Attributes hold every column of the table, null when the message
// did not set it (on a Create the required columns are set); the primary
// key and the system columns are null.
func targetSchema(t *tables.Table, create bool) schema {
	if t == nil {
		return schema{"type": "object"}
	}
	var branches, contains []any
	for _, name := range systemKeys(t) {
		branches = append(branches, entrySchema(name, schema{"type": "null", "description": "Null in a Target: the row's id is Id."}))
		contains = append(contains, schema{"contains": keySchema(name)})
	}
	for i := range t.Columns {
		c := &t.Columns[i]
		branches = append(branches, entrySchema(c.LogicalName, columnSchema(c, !(create && c.Required))))
		contains = append(contains, schema{"contains": keySchema(c.LogicalName)})
	}
	return schema{
		"description": "The row of " + displayName(t) + ".",
		"type":        "object",
		"properties": schema{
			"__type":      schema{"const": EntityType},
			"LogicalName": schema{"const": t.LogicalName},
			"Id":          uuidSchema("The row's id, as PrimaryEntityId."),
			"Attributes": schema{
				"description": "Every column of the table, sorted by key, null when the message did not set it.",
				"type":        "array",
				"items":       schema{"anyOf": branches},
				"allOf":       contains,
			},
		},
		"required": []string{"__type", "LogicalName", "Id", "Attributes"},
	}
}

// entitySchema is an Entity parameter's value, as the log holds it: an
// object of the row's columns (every one, null when not set) and
// "@odata.type"; with no fixed table, any table's.
func entitySchema(table string, defs Definitions) schema {
	odata := schema{"type": "string", "pattern": "^Microsoft\\.Dynamics\\.CRM\\.[a-z][a-z0-9_]*$"}
	t, ok := defs.Table(table)
	if table == "" || !ok {
		return schema{"type": "object", "properties": schema{"@odata.type": odata}, "required": []string{"@odata.type"}}
	}
	props := schema{"@odata.type": schema{"const": "Microsoft.Dynamics.CRM." + t.LogicalName}}
	required := []string{"@odata.type"}
	for _, name := range systemKeys(t) {
		props[name] = schema{"type": "null"}
		required = append(required, name)
	}
	for i := range t.Columns {
		c := &t.Columns[i]
		props[c.LogicalName] = columnSchema(c, true)
		required = append(required, c.LogicalName)
	}
	return schema{
		"description":          "A row of " + displayName(t) + ": every column, null when not set, and its @odata.type.",
		"type":                 "object",
		"properties":           props,
		"required":             required,
		"additionalProperties": false,
	}
}

// systemKeys are the keys of a rendered row that no caller sets.
func systemKeys(t *tables.Table) []string {
	pk := t.PrimaryKey
	if pk == "" {
		pk = t.LogicalName + "id"
	}
	return []string{pk, tables.ColumnCreatedOn, tables.ColumnModifiedOn, tables.ColumnOwnerID, tables.ColumnVersion}
}

// columnSchema is the schema of a column's value as a row renders it.
func columnSchema(c *tables.Column, nullable bool) schema {
	var s schema
	bounds := func() {
		if c.MinValue != nil {
			s["minimum"] = *c.MinValue
		}
		if c.MaxValue != nil {
			s["maximum"] = *c.MaxValue
		}
	}
	typ := ""
	switch c.Type {
	case tables.String:
		typ = "string"
		s = schema{"maxLength": c.MaxLength}
	case tables.Integer:
		typ = "integer"
		s = schema{}
		bounds()
	case tables.Decimal, tables.Money:
		typ = "number"
		s = exactSchema(c.Precision)
		delete(s, "type")
		bounds()
	case tables.Float:
		typ = "number"
		s = schema{}
		bounds()
	case tables.Boolean:
		typ = "boolean"
		s = schema{}
	case tables.DateTime:
		typ = "string"
		s = schema{"format": "date-time", "description": "An RFC 3339 time in UTC."}
	case tables.GUID:
		typ = "string"
		s = uuidSchema("")
		delete(s, "type")
	case tables.Choice:
		typ = "integer"
		var values []any
		var labels []string
		for _, o := range c.Options {
			values = append(values, o.Value)
			labels = append(labels, fmt.Sprintf("%d %s", o.Value, o.Label))
		}
		if nullable {
			values = append(values, nil)
		}
		s = schema{"enum": values, "description": "One of the options: " + strings.Join(labels, ", ") + "."}
	case tables.Lookup:
		typ = "string"
		s = uuidSchema("The id of a row of " + c.Target + ".")
		delete(s, "type")
	default:
		s = schema{}
	}
	if typ != "" {
		if nullable {
			s["type"] = []string{typ, "null"}
		} else {
			s["type"] = typ
		}
	}
	if c.DisplayName != "" {
		s["title"] = c.DisplayName
	}
	if c.Description != "" {
		if d, ok := s["description"].(string); ok {
			s["description"] = c.Description + " " + d
		} else {
			s["description"] = c.Description
		}
	}
	return s
}
