package tables

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// EncodeRow writes a row as a JSON object, stably (keys sorted) and exactly:
//
//	string           a JSON string
//	integer, choice  a JSON integer
//	decimal, money   a JSON number with the Number's exact digits
//	float            a JSON number, the shortest text that reads back the same float64
//	boolean          true or false
//	datetime         a string, RFC 3339 in UTC with six fraction digits
//	                 ("2026-01-02T03:04:05.000000Z"), so text order is time order
//	guid             a string, the UUID in lower case
//	lookup           a string, the referenced row's id (the table is the column's target)
//	nil              null
//
// The primary key and the system columns, when the row has them, are
// encoded the same way (ids as guids, createdon and modifiedon as
// datetimes, versionnumber as an integer). A key that is not a column of
// the table, or a value that does not convert to its column's type, is an
// error.
func EncodeRow(t *Table, r Row) ([]byte, error) {
	m := make(map[string]any, len(r))
	for name, v := range r {
		f, ok := t.field(name)
		if !ok {
			return nil, fmt.Errorf("encode %s row: %q is not a column", t.LogicalName, name)
		}
		ev, err := encodeValue(f, v)
		if err != nil {
			return nil, fmt.Errorf("encode %s row: %w", t.LogicalName, err)
		}
		m[name] = ev
	}
	return json.Marshal(m)
}

// encodeValue turns a value into what EncodeRow writes for it.
func encodeValue(f field, v any) (any, error) {
	cv, reason := coerce(&f.col, v)
	if reason != "" {
		return nil, fmt.Errorf("column %q: %s", f.name, reason)
	}
	switch x := cv.(type) {
	case nil:
		return nil, nil
	case Number:
		return json.Number(x), nil
	case time.Time:
		return x.Format(timeLayout), nil
	case uuid.UUID:
		return x.String(), nil
	case Reference:
		return x.ID.String(), nil
	}
	return cv, nil
}

// DecodeRow reads a row that EncodeRow wrote. A key that is no longer a
// column of the table (a column removed from the definition) is skipped; a
// value that does not convert to its column's type is an error.
func DecodeRow(t *Table, data []byte) (Row, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode %s row: %w", t.LogicalName, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("decode %s row: data after the object", t.LogicalName)
	}
	r := make(Row, len(m))
	for name, v := range m {
		f, ok := t.field(name)
		if !ok {
			continue
		}
		cv, reason := coerce(&f.col, v)
		if reason != "" {
			return nil, fmt.Errorf("decode %s row: column %q: %s", t.LogicalName, name, reason)
		}
		r[name] = cv
	}
	return r, nil
}

// Output renders a row for a response, as JSON-friendly values: a Number
// becomes a json.Number, a time an RFC 3339 string (UTC, fraction digits
// only as needed), a UUID its string, a Reference its id's string; other
// values are kept. With no columns the result has the primary key, every
// column of the table and the system columns; with columns, the primary key
// and those columns. A column the row has no value for is null.
func (t *Table) Output(r Row, columns []string) map[string]any {
	pk := t.primaryKey()
	var names []string
	if len(columns) == 0 {
		names = make([]string, 0, len(t.Columns)+5)
		names = append(names, pk)
		for _, c := range t.Columns {
			names = append(names, c.LogicalName)
		}
		names = append(names, ColumnCreatedOn, ColumnModifiedOn, ColumnOwnerID, ColumnVersion)
	} else {
		names = append([]string{pk}, columns...)
	}
	out := make(map[string]any, len(names))
	for _, name := range names {
		out[name] = outputValue(r[name])
	}
	return out
}

func outputValue(v any) any {
	switch x := v.(type) {
	case Number:
		return json.Number(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case uuid.UUID:
		return x.String()
	case Reference:
		return x.ID.String()
	}
	return v
}
