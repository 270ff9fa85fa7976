package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// Value is a JSON value from the execution context or the engine, as the
// host encodes it (sdk/ABI.md, "Encoding"). Its As* methods read it as a Go
// type; a null reads as the type's zero value.
type Value []byte

// IsNull reports whether v is JSON null (or empty).
func (v Value) IsNull() bool {
	t := trimSpace(v)
	return len(t) == 0 || string(t) == "null"
}

// String returns v's JSON text.
func (v Value) String() string { return string(v) }

// AsString reads a JSON string.
func (v Value) AsString() (string, error) {
	t := trimSpace(v)
	if v.IsNull() {
		return "", nil
	}
	if t[0] != '"' {
		return "", typeError(t, "a string")
	}
	return unquote(t)
}

// AsInt reads a whole JSON number (an integer, a choice).
func (v Value) AsInt() (int64, error) {
	t := trimSpace(v)
	if v.IsNull() {
		return 0, nil
	}
	n, err := parseInt(t)
	if err != nil {
		return 0, typeError(t, "a whole number")
	}
	return n, nil
}

// AsFloat reads a JSON number as a float64.
func (v Value) AsFloat() (float64, error) {
	t := trimSpace(v)
	if v.IsNull() {
		return 0, nil
	}
	if !isNumber(t) {
		return 0, typeError(t, "a number")
	}
	return strconv.ParseFloat(string(t), 64)
}

// AsDecimal reads a JSON number (or a string holding one) exactly.
func (v Value) AsDecimal() (Decimal, error) {
	t := trimSpace(v)
	if v.IsNull() {
		return "", nil
	}
	s := string(t)
	if t[0] == '"' {
		var err error
		if s, err = unquote(t); err != nil {
			return "", err
		}
	} else if !isNumber(t) {
		return "", typeError(t, "a decimal number")
	}
	return ParseDecimal(s)
}

// AsBool reads true or false.
func (v Value) AsBool() (bool, error) {
	switch string(trimSpace(v)) {
	case "true":
		return true, nil
	case "false", "null", "":
		return false, nil
	}
	return false, typeError(trimSpace(v), "true or false")
}

// AsGUID reads a GUID (a JSON string), checked and in lower case.
func (v Value) AsGUID() (string, error) {
	s, err := v.AsString()
	if err != nil || s == "" {
		return s, err
	}
	return ParseGUID(s)
}

// AsTime reads an RFC 3339 time (a JSON string).
func (v Value) AsTime() (time.Time, error) {
	s, err := v.AsString()
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time: %w", err)
	}
	return t, nil
}

// AsReference reads a lookup or an entity reference: {"table", "id"}.
func (v Value) AsReference() (Reference, error) {
	t := trimSpace(v)
	if v.IsNull() {
		return Reference{}, nil
	}
	var ref Reference
	var err error
	ferr := eachField(t, func(k, val []byte) bool {
		switch {
		case keyIs(k, "table"):
			ref.Table, err = Value(val).AsString()
		case keyIs(k, "id"):
			ref.ID, err = Value(val).AsGUID()
		}
		return err == nil
	})
	if ferr != nil {
		return Reference{}, typeError(t, `an entity reference {"table", "id"}`)
	}
	return ref, err
}

// AsRow reads a JSON object (an Entity, a row) as a Row.
func (v Value) AsRow() (*Row, error) {
	t := trimSpace(v)
	if v.IsNull() {
		return nil, nil
	}
	if t[0] != '{' {
		return nil, typeError(t, "an object")
	}
	return &Row{raw: t}, nil
}

// Len returns the number of elements of a JSON array or members of an
// object, without decoding them: much cheaper in a guest than AsStrings
// when only the count matters. It is 0 for null.
func (v Value) Len() (int, error) {
	t := trimSpace(v)
	if v.IsNull() {
		return 0, nil
	}
	n := 0
	var err error
	switch t[0] {
	case '[':
		err = eachElement(t, func([]byte) bool { n++; return true })
	case '{':
		err = eachField(t, func(_, _ []byte) bool { n++; return true })
	default:
		return 0, typeError(t, "an array or an object")
	}
	if err != nil {
		return 0, typeError(t, "an array or an object")
	}
	return n, nil
}

// AsStrings reads an array of strings (a StringArray).
func (v Value) AsStrings() ([]string, error) {
	t := trimSpace(v)
	if v.IsNull() {
		return nil, nil
	}
	var out []string
	var err error
	ferr := eachElement(t, func(e []byte) bool {
		var s string
		s, err = Value(e).AsString()
		out = append(out, s)
		return err == nil
	})
	if ferr != nil {
		return nil, typeError(t, "an array of strings")
	}
	return out, err
}

// Decode unmarshals v into x with encoding/json. It is the general way to
// read a structured value; the As* methods are much cheaper in a guest.
func (v Value) Decode(x any) error { return json.Unmarshal(v, x) }

func typeError(got []byte, want string) error {
	const max = 40
	s := string(got)
	if len(s) > max {
		s = s[:max] + "..."
	}
	return &Error{Code: "invalid_value", Message: "want " + want + ", got " + s}
}

// Reference points at a row of a table: a lookup's value, an
// EntityReference parameter.
type Reference struct {
	Table string
	ID    string
}

// ParseGUID checks a GUID in its 36-character form and returns it in lower
// case; braces are accepted.
func ParseGUID(s string) (string, error) {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 {
		return "", &Error{Code: "invalid_value", Message: strconv.Quote(s) + " is not a GUID"}
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", &Error{Code: "invalid_value", Message: strconv.Quote(s) + " is not a GUID"}
			}
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			b[i] = c + 'a' - 'A'
		default:
			return "", &Error{Code: "invalid_value", Message: strconv.Quote(s) + " is not a GUID"}
		}
	}
	return string(b), nil
}

// Fields are column values or parameters to send: Go values that
// appendJSON encodes (string, bool, integers, floats, Decimal, time.Time,
// Reference, Value, slices and maps of those, or anything encoding/json
// takes).
type Fields map[string]any

// appendJSON appends v as JSON.
func appendJSON(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendQuoted(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v cannot be sent: JSON has no NaN or infinity", x)
		}
		return strconv.AppendFloat(dst, x, 'g', -1, 64), nil
	case float32:
		return appendJSON(dst, float64(x))
	case Decimal:
		c, err := ParseDecimal(string(x))
		if err != nil {
			return nil, err
		}
		return append(dst, c...), nil
	case time.Time:
		return appendQuoted(dst, x.UTC().Format(time.RFC3339Nano)), nil
	case Reference:
		dst = append(dst, `{"table":`...)
		dst = appendQuoted(dst, x.Table)
		dst = append(dst, `,"id":`...)
		dst = appendQuoted(dst, x.ID)
		return append(dst, '}'), nil
	case *Reference:
		if x == nil {
			return append(dst, "null"...), nil
		}
		return appendJSON(dst, *x)
	case Value:
		if x.IsNull() {
			return append(dst, "null"...), nil
		}
		return append(dst, trimSpace(x)...), nil
	case []string:
		dst = append(dst, '[')
		for i, s := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendQuoted(dst, s)
		}
		return append(dst, ']'), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSON(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case Fields:
		return appendObject(dst, x)
	case map[string]any:
		return appendObject(dst, x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// appendObject appends m with its keys sorted.
func appendObject(dst []byte, m map[string]any) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendQuoted(dst, k)
		dst = append(dst, ':')
		var err error
		if dst, err = appendJSON(dst, m[k]); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	return append(dst, '}'), nil
}

// errNotFoundColumn is Row's error for a column it does not have.
func notFound(what string) error {
	return &Error{Code: "not_found", Message: what + " not found"}
}

// Row is a row of a table: the Target, an image, a row the engine
// returned. Its getters read one column; a Row of the context (Target,
// images) asks the host for that column only, a Row the engine returned
// reads it from the response it holds.
type Row struct {
	// path is the context key of a context row; raw the JSON of a
	// returned row.
	path string
	raw  []byte
}

// Get returns a column's JSON value; a column the row does not have is an
// error that IsNotFound recognizes.
func (r *Row) Get(col string) (Value, error) {
	if r == nil {
		return nil, notFound("column " + col + " (no row)")
	}
	if r.path != "" {
		return get(r.path + "/" + col)
	}
	v, ok, err := field(r.raw, col)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("column " + col)
	}
	return Value(v), nil
}

// Has reports whether the row has a value (null included) for col.
func (r *Row) Has(col string) bool {
	_, err := r.Get(col)
	return err == nil
}

// GetString reads a string column.
func (r *Row) GetString(col string) (string, error) {
	v, err := r.Get(col)
	if err != nil {
		return "", err
	}
	s, err := v.AsString()
	return s, columnErr(col, err)
}

// GetInt reads an integer or choice column.
func (r *Row) GetInt(col string) (int64, error) {
	v, err := r.Get(col)
	if err != nil {
		return 0, err
	}
	n, err := v.AsInt()
	return n, columnErr(col, err)
}

// GetFloat reads a float column.
func (r *Row) GetFloat(col string) (float64, error) {
	v, err := r.Get(col)
	if err != nil {
		return 0, err
	}
	f, err := v.AsFloat()
	return f, columnErr(col, err)
}

// GetDecimal reads a decimal or money column, exactly.
func (r *Row) GetDecimal(col string) (Decimal, error) {
	v, err := r.Get(col)
	if err != nil {
		return "", err
	}
	d, err := v.AsDecimal()
	return d, columnErr(col, err)
}

// GetBool reads a boolean column.
func (r *Row) GetBool(col string) (bool, error) {
	v, err := r.Get(col)
	if err != nil {
		return false, err
	}
	b, err := v.AsBool()
	return b, columnErr(col, err)
}

// GetGUID reads a guid column (or the primary key).
func (r *Row) GetGUID(col string) (string, error) {
	v, err := r.Get(col)
	if err != nil {
		return "", err
	}
	s, err := v.AsGUID()
	return s, columnErr(col, err)
}

// GetTime reads a datetime column.
func (r *Row) GetTime(col string) (time.Time, error) {
	v, err := r.Get(col)
	if err != nil {
		return time.Time{}, err
	}
	t, err := v.AsTime()
	return t, columnErr(col, err)
}

// GetReference reads a lookup column.
func (r *Row) GetReference(col string) (Reference, error) {
	v, err := r.Get(col)
	if err != nil {
		return Reference{}, err
	}
	ref, err := v.AsReference()
	return ref, columnErr(col, err)
}

// JSON returns the whole row as a JSON object.
func (r *Row) JSON() (Value, error) {
	if r == nil {
		return nil, notFound("row")
	}
	if r.path != "" {
		return get(r.path)
	}
	return Value(r.raw), nil
}

// Columns returns the names of the columns the row has values for.
func (r *Row) Columns() ([]string, error) {
	raw, err := r.JSON()
	if err != nil {
		return nil, err
	}
	var cols []string
	var kerr error
	err = eachField(raw, func(k, _ []byte) bool {
		var s string
		s, kerr = unquote(k)
		cols = append(cols, s)
		return kerr == nil
	})
	return cols, errors.Join(err, kerr)
}

// Decode unmarshals the whole row into x with encoding/json.
func (r *Row) Decode(x any) error {
	raw, err := r.JSON()
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, x)
}

func columnErr(col string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return &Error{Code: e.Code, Message: "column " + col + ": " + e.Message}
	}
	return fmt.Errorf("column %s: %w", col, err)
}

// clone copies b out of the SDK's scratch buffer.
func clone(b []byte) []byte { return bytes.Clone(b) }
