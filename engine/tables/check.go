package tables

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// maxDecimalIntDigits bounds the digits before the point of a Decimal or
// Money value (SQL Server's decimal(38,10) leaves 28).
const maxDecimalIntDigits = 28

// timeLayout is how a datetime is stored: RFC 3339 in UTC with exactly six
// fraction digits, so that text order is time order.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// CheckCreate checks the column values of a Create against the table and
// returns them converted to the types Row documents. values holds JSON
// values as encoding/json decodes them with UseNumber (string, json.Number,
// bool, nil, map[string]any, []any) or already typed Go values (int, int64,
// float64, time.Time, uuid.UUID, Number, Reference, ...).
//
// The primary key may be given, as a UUID; the system columns may not. Every
// required column must have a non-null value. Every problem is reported at
// once in a *ValuesError (errcode.InvalidValue).
func (t *Table) CheckCreate(values map[string]any) (Row, error) { return t.check(values, true) }

// CheckUpdate checks the column values of an Update: only the columns given.
// A null value clears a column, except a required one. Neither the primary
// key nor a system column may be given. Every problem is reported at once in
// a *ValuesError (errcode.InvalidValue).
func (t *Table) CheckUpdate(values map[string]any) (Row, error) { return t.check(values, false) }

func (t *Table) check(values map[string]any, create bool) (Row, error) {
	var problems []ValueProblem
	bad := func(col, format string, args ...any) {
		problems = append(problems, ValueProblem{Column: col, Reason: fmt.Sprintf(format, args...)})
	}
	row := make(Row, len(values))
	pk := t.primaryKey()
	for name, v := range values {
		switch {
		case name == pk:
			if !create {
				bad(name, "is the primary key and cannot be changed")
				continue
			}
			id, reason := toUUID(v)
			switch {
			case reason != "":
				bad(name, "%s", reason)
			case id == uuid.Nil:
				bad(name, "the primary key must not be the nil UUID")
			default:
				row[name] = id
			}
		case isSystemColumn(name):
			bad(name, "is a system column, set by the engine and not by a caller")
		default:
			c, ok := t.Column(name)
			if !ok {
				bad(name, "is not a column of table %s", t.LogicalName)
				continue
			}
			if v == nil {
				if c.Required {
					if create {
						bad(name, "is required")
					} else {
						bad(name, "is required and cannot be cleared")
					}
					continue
				}
				row[name] = nil
				continue
			}
			out, reason := c.check(v)
			if reason != "" {
				bad(name, "%s", reason)
				continue
			}
			row[name] = out
		}
	}
	if create {
		for i := range t.Columns {
			c := &t.Columns[i]
			if _, given := values[c.LogicalName]; c.Required && !given {
				bad(c.LogicalName, "is required")
			}
		}
	}
	if len(problems) > 0 {
		slices.SortFunc(problems, func(a, b ValueProblem) int {
			return cmp.Or(cmp.Compare(a.Column, b.Column), cmp.Compare(a.Reason, b.Reason))
		})
		return nil, &ValuesError{Table: t.LogicalName, Problems: problems}
	}
	return row, nil
}

// CheckValue checks one value against the column, as CheckCreate does, and
// returns it converted to the type Row documents; nil stays nil. A problem
// is reported as a *ValuesError.
func (c *Column) CheckValue(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	out, reason := c.check(v)
	if reason != "" {
		return nil, &ValuesError{Problems: []ValueProblem{{Column: c.LogicalName, Reason: reason}}}
	}
	return out, nil
}

// check converts a non-nil value and checks it against the column's
// constraints; it returns the reason it does not fit, or "".
func (c *Column) check(v any) (any, string) {
	out, reason := coerce(c, v)
	if reason != "" || out == nil {
		return out, reason
	}
	switch c.Type {
	case String:
		if n := utf8.RuneCountInString(out.(string)); n > c.maxLength() {
			return nil, fmt.Sprintf("string of %d characters exceeds max length %d", n, c.maxLength())
		}
	case Integer:
		i := out.(int64)
		if reason := c.bounds(new(big.Rat).SetInt64(i), strconv.FormatInt(i, 10)); reason != "" {
			return nil, reason
		}
	case Decimal, Money:
		n := out.(Number)
		if s := n.Scale(); s > c.precision() {
			return nil, fmt.Sprintf("%s has %d digits after the point, more than the column's precision %d", n, s, c.precision())
		}
		if n.IntDigits() > maxDecimalIntDigits {
			return nil, fmt.Sprintf("%s has more than %d digits before the point", n, maxDecimalIntDigits)
		}
		if reason := c.bounds(n.Rat(), string(n)); reason != "" {
			return nil, reason
		}
	case Float:
		f := out.(float64)
		shown := strconv.FormatFloat(f, 'g', -1, 64)
		if c.MinValue != nil && f < *c.MinValue {
			return nil, fmt.Sprintf("%s is below the minimum %s", shown, formatBound(*c.MinValue))
		}
		if c.MaxValue != nil && f > *c.MaxValue {
			return nil, fmt.Sprintf("%s is above the maximum %s", shown, formatBound(*c.MaxValue))
		}
	case Choice:
		i := out.(int64)
		for _, o := range c.Options {
			if int64(o.Value) == i {
				return out, ""
			}
		}
		values := make([]string, len(c.Options))
		for k, o := range c.Options {
			values[k] = strconv.Itoa(o.Value)
		}
		return nil, fmt.Sprintf("%d is not one of the options (%s)", i, strings.Join(values, ", "))
	}
	return out, ""
}

// bounds checks an exact number against MinValue and MaxValue.
func (c *Column) bounds(r *big.Rat, shown string) string {
	if c.MinValue != nil {
		if m := new(big.Rat).SetFloat64(*c.MinValue); m != nil && r.Cmp(m) < 0 {
			return fmt.Sprintf("%s is below the minimum %s", shown, formatBound(*c.MinValue))
		}
	}
	if c.MaxValue != nil {
		if m := new(big.Rat).SetFloat64(*c.MaxValue); m != nil && r.Cmp(m) > 0 {
			return fmt.Sprintf("%s is above the maximum %s", shown, formatBound(*c.MaxValue))
		}
	}
	return ""
}

func formatBound(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// coerce converts a value, JSON-decoded or typed in Go, to the Go type of
// the column's values, checking only what the type itself demands (a whole
// number, a finite float, a UUID, an RFC 3339 time...). nil stays nil. It
// returns the reason a value cannot be converted, or "".
func coerce(c *Column, v any) (any, string) {
	if v == nil {
		return nil, ""
	}
	switch c.Type {
	case String:
		s, ok := v.(string)
		if !ok {
			return nil, want("a string", v)
		}
		if reason := checkText(s); reason != "" {
			return nil, reason
		}
		return s, ""
	case Integer, Choice:
		n, reason := toNumber(v, false)
		if reason != "" {
			return nil, reason
		}
		i, err := n.Int64()
		if err != nil {
			return nil, fmt.Sprintf("%s is %v", n, err)
		}
		return i, ""
	case Decimal, Money:
		n, reason := toNumber(v, true)
		if reason != "" {
			return nil, reason
		}
		return n, ""
	case Float:
		return toFloat(v)
	case Boolean:
		b, ok := v.(bool)
		if !ok {
			return nil, want("true or false", v)
		}
		return b, ""
	case DateTime:
		return toTime(v)
	case GUID:
		id, reason := toUUID(v)
		if reason != "" {
			return nil, reason
		}
		return id, ""
	case Lookup:
		return toReference(c.Target, v)
	}
	return nil, fmt.Sprintf("the column's type %q is unknown", c.Type)
}

// checkText refuses what PostgreSQL cannot store in text or jsonb.
func checkText(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "contains a NUL character"
	}
	return ""
}

// want words a type mismatch: "want a string, got the number 5".
func want(what string, v any) string { return fmt.Sprintf("want %s, got %s", what, describe(v)) }

// describe names a value's JSON kind, and the value when it is short.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if utf8.RuneCountInString(x) > 40 {
			return "a string"
		}
		return fmt.Sprintf("the string %q", x)
	case json.Number, Number, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		s := fmt.Sprint(x)
		if len(s) > 40 {
			return "a number"
		}
		return "the number " + s
	case bool:
		return strconv.FormatBool(x)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case time.Time:
		return "a time"
	case uuid.UUID:
		return "a UUID"
	case Reference:
		return "a reference"
	}
	return fmt.Sprintf("a value of Go type %T", v)
}

// toNumber converts a number, or with strings a string holding one, to a
// Number.
func toNumber(v any, allowString bool) (Number, string) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case Number:
		s = string(x)
	case string:
		if !allowString {
			return "", want("a number", v)
		}
		s = x
	case int:
		return Number(strconv.FormatInt(int64(x), 10)), ""
	case int8:
		return Number(strconv.FormatInt(int64(x), 10)), ""
	case int16:
		return Number(strconv.FormatInt(int64(x), 10)), ""
	case int32:
		return Number(strconv.FormatInt(int64(x), 10)), ""
	case int64:
		return Number(strconv.FormatInt(x, 10)), ""
	case uint:
		return Number(strconv.FormatUint(uint64(x), 10)), ""
	case uint8:
		return Number(strconv.FormatUint(uint64(x), 10)), ""
	case uint16:
		return Number(strconv.FormatUint(uint64(x), 10)), ""
	case uint32:
		return Number(strconv.FormatUint(uint64(x), 10)), ""
	case uint64:
		return Number(strconv.FormatUint(x, 10)), ""
	case float32:
		return floatNumber(float64(x), 32)
	case float64:
		return floatNumber(x, 64)
	default:
		return "", want("a number", v)
	}
	n, err := ParseNumber(s)
	if err != nil {
		return "", err.Error()
	}
	return n, ""
}

func floatNumber(f float64, bits int) (Number, string) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Sprintf("%v is not a finite number", f)
	}
	n, err := ParseNumber(strconv.FormatFloat(f, 'g', -1, bits))
	if err != nil {
		return "", err.Error()
	}
	return n, ""
}

// toFloat converts a number to a finite float64.
func toFloat(v any) (any, string) {
	var s string
	switch x := v.(type) {
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Sprintf("%s is not a finite number", s)
		}
		return x, ""
	case float32:
		return toFloat(float64(x))
	case json.Number:
		s = string(x)
	case Number:
		s = string(x)
	default:
		n, reason := toNumber(v, false)
		if reason != "" {
			return nil, reason
		}
		s = string(n)
	}
	if _, err := ParseNumber(s); err != nil {
		return nil, err.Error()
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Sprintf("%s is out of the float range", s)
	}
	return f, ""
}

// toTime converts an RFC 3339 string (or a date, "2026-01-02", taken as
// midnight UTC) or a time.Time to a time in UTC, truncated to microseconds.
func toTime(v any) (any, string) {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case string:
		var err error
		t, err = parseTime(x)
		if err != nil {
			return nil, fmt.Sprintf("%q is not an RFC 3339 date and time (e.g. 2026-01-02T03:04:05Z)", x)
		}
	default:
		return nil, want("an RFC 3339 date and time string", v)
	}
	t = t.UTC().Truncate(time.Microsecond)
	if y := t.Year(); y < 1 || y > 9999 {
		return nil, fmt.Sprintf("year %d is outside 0001 to 9999", y)
	}
	return t, ""
}

func parseTime(s string) (time.Time, error) {
	if len(s) == len("2006-01-02") {
		return time.Parse(time.DateOnly, s)
	}
	return time.Parse(time.RFC3339Nano, s)
}

// toUUID converts a UUID string or a uuid.UUID.
func toUUID(v any) (uuid.UUID, string) {
	switch x := v.(type) {
	case uuid.UUID:
		return x, ""
	case string:
		id, err := uuid.Parse(x)
		if err != nil {
			if utf8.RuneCountInString(x) > 40 {
				return uuid.Nil, "is not a UUID"
			}
			return uuid.Nil, fmt.Sprintf("%q is not a UUID", x)
		}
		return id, ""
	}
	return uuid.Nil, want("a UUID string", v)
}

// toReference converts a lookup's value: a UUID (string or uuid.UUID) of a
// row of target, a Reference or a {"table": ..., "id": ...} object whose
// table is target.
func toReference(target string, v any) (any, string) {
	var ref Reference
	switch x := v.(type) {
	case string, uuid.UUID:
		id, reason := toUUID(x)
		if reason != "" {
			return nil, reason
		}
		ref = Reference{Table: target, ID: id}
	case Reference:
		ref = x
	case map[string]any:
		for k := range x {
			if k != "table" && k != "id" {
				return nil, fmt.Sprintf(`a reference has "table" and "id", not %q`, k)
			}
		}
		table, ok := x["table"].(string)
		if !ok && x["table"] != nil {
			return nil, `a reference's "table" must be a string`
		}
		rawID, ok := x["id"]
		if !ok {
			return nil, `a reference needs an "id"`
		}
		id, reason := toUUID(rawID)
		if reason != "" {
			return nil, "id " + reason
		}
		ref = Reference{Table: table, ID: id}
	default:
		return nil, want(`a UUID string or {"table": ..., "id": ...}`, v)
	}
	if ref.Table == "" {
		ref.Table = target
	}
	if ref.Table != target {
		return nil, fmt.Sprintf("refers to table %s, but the lookup's target is %s", ref.Table, target)
	}
	if ref.ID == uuid.Nil {
		return nil, "a reference's id must not be the nil UUID"
	}
	return ref, ""
}
