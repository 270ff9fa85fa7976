package tables

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ColumnType is the type of a column's values.
type ColumnType string

// The column types.
const (
	String   ColumnType = "string"   // text up to MaxLength characters
	Integer  ColumnType = "integer"  // a whole number (int64)
	Decimal  ColumnType = "decimal"  // an exact decimal number, Precision digits after the point
	Money    ColumnType = "money"    // an exact amount of currency, 4 digits after the point
	Float    ColumnType = "float"    // a binary floating point number
	Boolean  ColumnType = "boolean"  // true or false
	DateTime ColumnType = "datetime" // an instant, RFC 3339 on the wire, stored in UTC
	GUID     ColumnType = "guid"     // a UUID
	Choice   ColumnType = "choice"   // one of the column's Options, by value
	Lookup   ColumnType = "lookup"   // a reference to a row of the Target table
)

// ColumnTypes lists every column type.
var ColumnTypes = []ColumnType{String, Integer, Decimal, Money, Float, Boolean, DateTime, GUID, Choice, Lookup}

// Ownership says who owns a table's rows.
type Ownership string

// The ownerships.
const (
	UserOwned         Ownership = "user"         // each row has an owner; Assign changes it
	OrganizationOwned Ownership = "organization" // rows belong to the environment
)

// Defaults for a column.
const (
	DefaultMaxLength        = 100
	MaxMaxLength            = 1 << 20
	DefaultDecimalPrecision = 2
	MaxDecimalPrecision     = 10
	MoneyPrecision          = 4
)

// System columns every table has. They are set by the engine, never by a
// caller.
const (
	ColumnCreatedOn  = "createdon"
	ColumnModifiedOn = "modifiedon"
	ColumnOwnerID    = "ownerid"
	ColumnVersion    = "versionnumber"
)

// Table is a table's definition.
type Table struct {
	// LogicalName is the table's name in messages and events, e.g. "account".
	LogicalName string
	// PluralName names the table's entity set in the HTTP API, e.g. "accounts".
	PluralName  string
	DisplayName string
	Description string
	// PrimaryKey is the name of the UUID key column; default LogicalName+"id".
	PrimaryKey string
	// PrimaryName is the column that names a row, e.g. "name"; optional.
	PrimaryName string
	Ownership   Ownership
	Columns     []Column
}

// Column is a column's definition.
type Column struct {
	LogicalName string
	DisplayName string
	Description string
	Type        ColumnType
	Required    bool
	// MaxLength bounds a String, in characters; default DefaultMaxLength.
	MaxLength int
	// Precision is the number of digits after the point of a Decimal;
	// default DefaultDecimalPrecision. Money always has MoneyPrecision.
	Precision int
	// MinValue and MaxValue bound Integer, Decimal, Money and Float values
	// when set.
	MinValue, MaxValue *float64
	// Options are a Choice's allowed values.
	Options []Option
	// Target is the table a Lookup refers to.
	Target string
}

// Option is one allowed value of a Choice column.
type Option struct {
	Value int
	Label string
}

// namePattern is what a logical name may look like: lower case letters,
// digits and underscores, starting with a letter, as Dataverse names are.
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// ValidName reports whether s can be a table or column logical name.
func ValidName(s string) bool { return namePattern.MatchString(s) }

// WithDefaults returns a copy of t with defaulted fields filled.
func (t Table) WithDefaults() Table {
	if t.PrimaryKey == "" {
		t.PrimaryKey = t.LogicalName + "id"
	}
	if t.Ownership == "" {
		t.Ownership = UserOwned
	}
	cols := make([]Column, len(t.Columns))
	for i, c := range t.Columns {
		if c.Type == String && c.MaxLength == 0 {
			c.MaxLength = DefaultMaxLength
		}
		if c.Type == Decimal && c.Precision == 0 {
			c.Precision = DefaultDecimalPrecision
		}
		if c.Type == Money {
			c.Precision = MoneyPrecision
		}
		cols[i] = c
	}
	t.Columns = cols
	return t
}

// Column returns the column with the given logical name.
func (t *Table) Column(name string) (*Column, bool) {
	for i := range t.Columns {
		if t.Columns[i].LogicalName == name {
			return &t.Columns[i], true
		}
	}
	return nil, false
}

// Validate reports every problem of a defaulted definition at once; tables
// names the other tables, for lookups (nil skips that check).
func (t *Table) Validate(tables map[string]bool) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("table %s: "+format, append([]any{t.LogicalName}, args...)...))
	}
	if !ValidName(t.LogicalName) {
		bad("logical name must be lower case letters, digits and underscores, starting with a letter")
	}
	if !ValidName(t.PluralName) {
		bad("plural name %q must be lower case letters, digits and underscores, starting with a letter", t.PluralName)
	}
	if t.PluralName == t.LogicalName {
		bad("plural name must differ from the logical name")
	}
	if t.Ownership != UserOwned && t.Ownership != OrganizationOwned {
		bad("ownership %q must be %q or %q", t.Ownership, UserOwned, OrganizationOwned)
	}
	seen := map[string]bool{t.PrimaryKey: true}
	for _, reserved := range []string{ColumnCreatedOn, ColumnModifiedOn, ColumnOwnerID, ColumnVersion} {
		seen[reserved] = true
	}
	for _, c := range t.Columns {
		if seen[c.LogicalName] {
			bad("column %s: defined twice or reserved", c.LogicalName)
			continue
		}
		seen[c.LogicalName] = true
		if err := c.validate(tables); err != nil {
			bad("column %s: %w", c.LogicalName, err)
		}
	}
	if t.PrimaryName != "" {
		if c, ok := t.Column(t.PrimaryName); !ok || c.Type != String {
			bad("primary name %s must be a string column of the table", t.PrimaryName)
		}
	}
	return errors.Join(errs...)
}

func (c *Column) validate(tables map[string]bool) error {
	var errs []string
	if !ValidName(c.LogicalName) {
		errs = append(errs, "logical name must be lower case letters, digits and underscores, starting with a letter")
	}
	switch c.Type {
	case String:
		if c.MaxLength < 1 || c.MaxLength > MaxMaxLength {
			errs = append(errs, fmt.Sprintf("max length %d must be between 1 and %d", c.MaxLength, MaxMaxLength))
		}
	case Decimal:
		if c.Precision < 0 || c.Precision > MaxDecimalPrecision {
			errs = append(errs, fmt.Sprintf("precision %d must be between 0 and %d", c.Precision, MaxDecimalPrecision))
		}
	case Choice:
		if len(c.Options) == 0 {
			errs = append(errs, "a choice needs options")
		}
		values := map[int]bool{}
		for _, o := range c.Options {
			if values[o.Value] {
				errs = append(errs, fmt.Sprintf("option value %d is used twice", o.Value))
			}
			values[o.Value] = true
		}
	case Lookup:
		if c.Target == "" {
			errs = append(errs, "a lookup needs a target table")
		} else if tables != nil && !tables[c.Target] {
			errs = append(errs, fmt.Sprintf("lookup target %s is not a table", c.Target))
		}
	case Integer, Money, Float, Boolean, DateTime, GUID:
	default:
		errs = append(errs, fmt.Sprintf("unknown type %q (want one of %s)", c.Type, joinTypes()))
	}
	if c.MinValue != nil && c.MaxValue != nil && *c.MinValue > *c.MaxValue {
		errs = append(errs, "min value is above max value")
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}

func joinTypes() string {
	s := make([]string, len(ColumnTypes))
	for i, t := range ColumnTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}
