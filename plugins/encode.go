package plugins

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/internal/jsontext"
)

// appendValue appends a context value as JSON, as sdk/ABI.md "Encoding"
// specifies:
//
//	string                      a string
//	int64, choice               a number
//	tables.Number (decimal,
//	money), json.Number         a number with the exact digits
//	float64                     a number, shortest round-trip text
//	bool, nil                   true, false, null
//	time.Time                   a string, RFC 3339 in UTC
//	uuid.UUID                   a string, lower case; the nil UUID is null
//	tables.Reference (lookup,
//	EntityReference)            {"table": ..., "id": ...}
//	tables.Row, maps            an object, keys sorted
//	customapi.EntityValue       its row's object plus "@odata.type"
//	slices                      an array
//	*tables.Query               {"select", "filter", "orderby", "top", ...}
//
// Anything else goes through encoding/json.
func appendValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return appendString(dst, x)
	case bool:
		return strconv.AppendBool(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case int32:
		return strconv.AppendInt(dst, int64(x), 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(dst, "null"...)
		}
		return strconv.AppendFloat(dst, x, 'g', -1, 64)
	case tables.Number:
		if x == "" {
			return append(dst, "null"...)
		}
		return append(dst, x...)
	case json.Number:
		if x == "" {
			return append(dst, "null"...)
		}
		return append(dst, x...)
	case time.Time:
		if x.IsZero() {
			return append(dst, "null"...)
		}
		dst = append(dst, '"')
		dst = x.UTC().AppendFormat(dst, time.RFC3339Nano)
		return append(dst, '"')
	case uuid.UUID:
		if x == uuid.Nil {
			return append(dst, "null"...)
		}
		return appendUUID(dst, x)
	case tables.Reference:
		return appendReference(dst, x)
	case *tables.Reference:
		if x == nil {
			return append(dst, "null"...)
		}
		return appendReference(dst, *x)
	case tables.Row:
		return appendMap(dst, x)
	case map[string]any:
		return appendMap(dst, x)
	case map[string]tables.Row:
		keys := sortedKeys(x)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendMap(dst, x[k])
		}
		return append(dst, '}')
	case customapi.EntityValue:
		return appendEntity(dst, x)
	case []customapi.EntityValue:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendEntity(dst, e)
		}
		return append(dst, ']')
	case []tables.Row:
		dst = append(dst, '[')
		for i, r := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendMap(dst, r)
		}
		return append(dst, ']')
	case []string:
		dst = append(dst, '[')
		for i, s := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		return append(dst, ']')
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, e)
		}
		return append(dst, ']')
	case *tables.Query:
		if x == nil {
			return append(dst, "null"...)
		}
		return appendQuery(dst, x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return append(dst, "null"...)
	}
	return append(dst, b...)
}

func appendMap[M ~map[string]any](dst []byte, m M) []byte {
	keys := sortedKeys(m)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendValue(dst, m[k])
	}
	return append(dst, '}')
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendReference(dst []byte, r tables.Reference) []byte {
	dst = append(dst, `{"table":`...)
	dst = appendString(dst, r.Table)
	dst = append(dst, `,"id":`...)
	dst = appendUUID(dst, r.ID)
	return append(dst, '}')
}

func appendEntity(dst []byte, e customapi.EntityValue) []byte {
	row := make(map[string]any, len(e.Row)+1)
	for k, v := range e.Row {
		row[k] = v
	}
	if e.Table != nil {
		row["@odata.type"] = "Microsoft.Dynamics.CRM." + e.Table.LogicalName
	}
	return appendMap(dst, row)
}

func appendQuery(dst []byte, q *tables.Query) []byte {
	m := map[string]any{}
	if len(q.Select) > 0 {
		m["select"] = q.Select
	}
	if q.Filter != nil {
		m["filter"] = q.Filter.String()
	}
	if len(q.OrderBy) > 0 {
		parts := make([]string, len(q.OrderBy))
		for i, o := range q.OrderBy {
			parts[i] = o.Column
			if o.Desc {
				parts[i] += " desc"
			}
		}
		m["orderby"] = strings.Join(parts, ",")
	}
	if q.Top > 0 {
		m["top"] = int64(q.Top)
	}
	if q.PageSize > 0 {
		m["page_size"] = int64(q.PageSize)
	}
	if q.PageToken != "" {
		m["page_token"] = q.PageToken
	}
	return appendMap(dst, m)
}

func appendUUID(dst []byte, id uuid.UUID) []byte {
	var buf [36]byte
	const hex = "0123456789abcdef"
	j := 0
	for i, b := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf[j] = '-'
			j++
		}
		buf[j], buf[j+1] = hex[b>>4], hex[b&0xf]
		j += 2
	}
	dst = append(dst, '"')
	dst = append(dst, buf[:]...)
	return append(dst, '"')
}

// appendString appends s as a JSON string (see jsontext.AppendString).
func appendString(dst []byte, s string) []byte { return jsontext.AppendString(dst, s) }
