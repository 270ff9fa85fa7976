package tables

import "strings"

// field is a column a query or a row can name: one of the table's columns,
// the primary key or a system column.
type field struct {
	name string
	col  Column
	// sys is the column of the rows table that holds a system field (the
	// primary key, createdon, ...); "" for a column kept in data.
	sys string
}

// primaryKey returns the primary key's name, defaulted as WithDefaults does.
func (t *Table) primaryKey() string {
	if t.PrimaryKey != "" {
		return t.PrimaryKey
	}
	return t.LogicalName + "id"
}

// isSystemColumn reports whether name is a system column (not the primary
// key).
func isSystemColumn(name string) bool {
	switch name {
	case ColumnCreatedOn, ColumnModifiedOn, ColumnOwnerID, ColumnVersion:
		return true
	}
	return false
}

// field finds a field by its logical name, without aliases.
func (t *Table) field(name string) (field, bool) {
	switch name {
	case t.primaryKey():
		return field{name: name, col: Column{LogicalName: name, Type: GUID, Required: true}, sys: "id"}, true
	case ColumnCreatedOn:
		return field{name: name, col: Column{LogicalName: name, Type: DateTime, Required: true}, sys: "created_on"}, true
	case ColumnModifiedOn:
		return field{name: name, col: Column{LogicalName: name, Type: DateTime, Required: true}, sys: "modified_on"}, true
	case ColumnOwnerID:
		return field{name: name, col: Column{LogicalName: name, Type: GUID}, sys: "owner_id"}, true
	case ColumnVersion:
		return field{name: name, col: Column{LogicalName: name, Type: Integer, Required: true}, sys: "version"}, true
	}
	if c, ok := t.Column(name); ok {
		return field{name: name, col: *c}, true
	}
	return field{}, false
}

// queryField finds a field as a query names it: also "_x_value" for a
// lookup x or for ownerid, as the Dataverse Web API names lookups.
func (t *Table) queryField(name string) (field, bool) {
	if f, ok := t.field(name); ok {
		return f, true
	}
	if inner, ok := strings.CutPrefix(name, "_"); ok {
		if inner, ok = strings.CutSuffix(inner, "_value"); ok {
			if f, ok := t.field(inner); ok && (f.col.Type == Lookup || f.name == ColumnOwnerID) {
				return f, true
			}
		}
	}
	return field{}, false
}

// maxLength is a String column's maximum length, defaulted.
func (c *Column) maxLength() int {
	if c.MaxLength > 0 {
		return c.MaxLength
	}
	return DefaultMaxLength
}

// precision is the number of digits after the point a Decimal or Money
// column allows, defaulted.
func (c *Column) precision() int {
	switch {
	case c.Type == Money:
		return MoneyPrecision
	case c.Precision > 0:
		return c.Precision
	}
	return DefaultDecimalPrecision
}
