package tables

import "github.com/google/uuid"

// Row is a row's column values by logical name, as checked by the table's
// definition. The Go type of a value depends on its column type:
//
//	string    string
//	integer   int64
//	decimal   Number (exact, canonical decimal text)
//	money     Number
//	float     float64
//	boolean   bool
//	datetime  time.Time, UTC, microsecond precision
//	guid      uuid.UUID
//	choice    int64, one of the column's option values
//	lookup    Reference
//
// A value may be nil: the column is cleared. A row that comes out of storage
// also holds the primary key and the system columns (createdon, modifiedon,
// ownerid, versionnumber).
type Row map[string]any

// Reference points at a row of a table: a lookup's value, an
// EntityReference parameter.
type Reference struct {
	Table string    `json:"table"`
	ID    uuid.UUID `json:"id"`
}

// Number is an exact decimal number in canonical text form: an optional
// minus sign, digits, and when there is a fraction a point and digits
// without trailing zeros ("12.5", "-3", "0.0001").
type Number string
