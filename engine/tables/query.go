package tables

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Page sizes of RetrieveMultiple, as Dataverse's odata.maxpagesize.
const (
	DefaultPageSize = 5000
	MaxPageSize     = 5000
)

// Query is what RetrieveMultiple asks for: the rows of one table that match
// Filter, ordered, a page at a time.
type Query struct {
	// Select lists the columns to return; empty returns all.
	Select []string
	// Filter keeps the rows it is true for; nil keeps all.
	Filter Expr
	// OrderBy sorts the rows; the primary key always breaks ties, so pages
	// are stable.
	OrderBy []Order
	// Top is the most rows to return in all; 0 for no limit.
	Top int
	// PageSize is the most rows in one page; 0 for DefaultPageSize, and
	// anything above MaxPageSize is MaxPageSize.
	PageSize int
	// PageToken continues a query where the previous page ended; it comes
	// from that page's response.
	PageToken string
}

// Order is one sort key.
type Order struct {
	Column string
	Desc   bool
}

// Expr is a filter expression, as parsed from an OData $filter: And, Or,
// Not, Compare, In or Match. One built in Go is checked against the table
// when the query runs, as a parsed one is when it is parsed. Its String is
// the $filter text.
type Expr interface {
	isExpr()
	String() string
}

// And is true when both sides are.
type And struct{ Left, Right Expr }

// Or is true when either side is.
type Or struct{ Left, Right Expr }

// Not is true when X is false.
type Not struct{ X Expr }

// CompareOp is a comparison operator of $filter.
type CompareOp string

// The comparison operators.
const (
	Eq CompareOp = "eq"
	Ne CompareOp = "ne"
	Gt CompareOp = "gt"
	Ge CompareOp = "ge"
	Lt CompareOp = "lt"
	Le CompareOp = "le"
)

// Compare compares a column with a value. The value has the Go type of the
// column's values (see Row), except that any number (Number, int64, ...)
// fits a numeric column; nil is null and only goes with Eq and Ne.
type Compare struct {
	Column string
	Op     CompareOp
	Value  any
}

// In is true when the column equals one of the values (none null).
type In struct {
	Column string
	Values []any
}

// MatchFunc is a string function of $filter.
type MatchFunc string

// The string functions.
const (
	Contains   MatchFunc = "contains"
	StartsWith MatchFunc = "startswith"
	EndsWith   MatchFunc = "endswith"
)

// Match is true when a string column contains, starts with or ends with
// Value, ignoring the case of ASCII letters.
type Match struct {
	Func   MatchFunc
	Column string
	Value  string
}

func (And) isExpr()     {}
func (Or) isExpr()      {}
func (Not) isExpr()     {}
func (Compare) isExpr() {}
func (In) isExpr()      {}
func (Match) isExpr()   {}

func (e And) String() string { return "(" + exprString(e.Left) + " and " + exprString(e.Right) + ")" }
func (e Or) String() string  { return "(" + exprString(e.Left) + " or " + exprString(e.Right) + ")" }
func (e Not) String() string { return "not " + exprString(e.X) }
func (e Compare) String() string {
	return e.Column + " " + string(e.Op) + " " + literalString(e.Value)
}
func (e In) String() string {
	s := make([]string, len(e.Values))
	for i, v := range e.Values {
		s[i] = literalString(v)
	}
	return e.Column + " in (" + strings.Join(s, ",") + ")"
}
func (e Match) String() string {
	return string(e.Func) + "(" + e.Column + "," + literalString(e.Value) + ")"
}

func exprString(e Expr) string {
	if e == nil {
		return "<nil>"
	}
	return e.String()
}

// literalString writes a value as a $filter literal.
func literalString(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	case bool:
		return strconv.FormatBool(x)
	case Number:
		return string(x)
	case json.Number:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case uuid.UUID:
		return x.String()
	case Reference:
		return x.ID.String()
	}
	return "?"
}
