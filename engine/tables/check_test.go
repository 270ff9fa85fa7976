package tables_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/tables"
)

var (
	someID   = uuid.MustParse("5e1c2b8a-7d3e-4f7a-9b1e-2c3d4e5f6a7b")
	otherID  = uuid.MustParse("00000000-0000-4000-8000-000000000001")
	someTime = time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
)

func TestCheckCreate(t *testing.T) {
	t.Parallel()
	tb := accountTable()
	tests := []struct {
		name   string
		values map[string]any
		want   tables.Row
		// problems are "column: part of the reason".
		problems []string
	}{
		{
			name: "every type from JSON",
			values: map[string]any{
				"accountid":       someID.String(),
				"name":            "Contoso",
				"employees":       json.Number("250"),
				"revenue":         json.Number("1000.5000"),
				"rate":            "12.50",
				"score":           json.Number("1.25"),
				"isactive":        true,
				"founded":         "2026-01-02T05:04:05.123456789+02:00",
				"externalid":      strings.ToUpper(otherID.String()),
				"category":        json.Number("2"),
				"parentaccountid": map[string]any{"table": "account", "id": otherID.String()},
				"description":     nil,
			},
			want: tables.Row{
				"accountid":       someID,
				"name":            "Contoso",
				"employees":       int64(250),
				"revenue":         tables.Number("1000.5"),
				"rate":            tables.Number("12.5"),
				"score":           1.25,
				"isactive":        true,
				"founded":         someTime,
				"externalid":      otherID,
				"category":        int64(2),
				"parentaccountid": tables.Reference{Table: "account", ID: otherID},
				"description":     nil,
			},
		},
		{
			name: "typed Go values",
			values: map[string]any{
				"name":            "Fabrikam",
				"employees":       7,
				"revenue":         tables.Number("3"),
				"rate":            0.1,
				"score":           float32(0.5),
				"founded":         someTime.In(time.FixedZone("x", 3600)).Add(789),
				"externalid":      otherID,
				"category":        int64(3),
				"parentaccountid": tables.Reference{Table: "account", ID: someID},
			},
			want: tables.Row{
				"name":            "Fabrikam",
				"employees":       int64(7),
				"revenue":         tables.Number("3"),
				"rate":            tables.Number("0.1"),
				"score":           0.5,
				"founded":         someTime,
				"externalid":      otherID,
				"category":        int64(3),
				"parentaccountid": tables.Reference{Table: "account", ID: someID},
			},
		},
		{
			name:   "lookup as a bare id, date only, whole number with exponent",
			values: map[string]any{"name": "x", "parentaccountid": someID.String(), "founded": "2026-01-02", "employees": json.Number("1e3")},
			want: tables.Row{"name": "x", "parentaccountid": tables.Reference{Table: "account", ID: someID},
				"founded": time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), "employees": int64(1000)},
		},
		{
			name:   "max length counts characters, not bytes",
			values: map[string]any{"name": strings.Repeat("é", 100)},
			want:   tables.Row{"name": strings.Repeat("é", 100)},
		},
		{name: "missing required", values: map[string]any{}, problems: []string{`name: is required`}},
		{name: "required null", values: map[string]any{"name": nil}, problems: []string{`name: is required`}},
		{name: "too long", values: map[string]any{"name": strings.Repeat("x", 120)}, problems: []string{`name: string of 120 characters exceeds max length 100`}},
		{name: "string type", values: map[string]any{"name": json.Number("5")}, problems: []string{`name: want a string, got the number 5`}},
		{name: "NUL", values: map[string]any{"name": "a\x00b"}, problems: []string{`name: contains a NUL character`}},
		{name: "bad UTF-8", values: map[string]any{"name": "a\xffb"}, problems: []string{`name: is not valid UTF-8`}},
		{name: "unknown column", values: map[string]any{"name": "x", "nope": 1}, problems: []string{`nope: is not a column of table account`}},
		{name: "system columns", values: map[string]any{"name": "x", "createdon": "2026-01-02T00:00:00Z", "modifiedon": nil, "ownerid": someID.String(), "versionnumber": 3},
			problems: []string{"createdon: is a system column", "modifiedon: is a system column", "ownerid: is a system column", "versionnumber: is a system column"}},
		{name: "primary key not a UUID", values: map[string]any{"name": "x", "accountid": "abc"}, problems: []string{`accountid: "abc" is not a UUID`}},
		{name: "primary key nil", values: map[string]any{"name": "x", "accountid": uuid.Nil}, problems: []string{`accountid: the primary key must not be the nil UUID`}},
		{name: "integer fraction", values: map[string]any{"name": "x", "employees": json.Number("1.5")}, problems: []string{`employees: 1.5 is not a whole number`}},
		{name: "integer range", values: map[string]any{"name": "x", "employees": json.Number("99999999999999999999")}, problems: []string{`employees: 99999999999999999999 is out of the integer range`}},
		{name: "integer string", values: map[string]any{"name": "x", "employees": "5"}, problems: []string{`employees: want a number, got the string "5"`}},
		{name: "integer min", values: map[string]any{"name": "x", "employees": -1}, problems: []string{`employees: -1 is below the minimum 0`}},
		{name: "integer max", values: map[string]any{"name": "x", "employees": 1000001}, problems: []string{`employees: 1000001 is above the maximum 1000000`}},
		{name: "decimal precision", values: map[string]any{"name": "x", "rate": json.Number("1.234")}, problems: []string{`rate: 1.234 has 3 digits after the point, more than the column's precision 2`}},
		{name: "money precision", values: map[string]any{"name": "x", "revenue": json.Number("0.00001")}, problems: []string{`revenue: 0.00001 has 5 digits after the point, more than the column's precision 4`}},
		{name: "decimal max exact", values: map[string]any{"name": "x", "rate": json.Number("100.01")}, problems: []string{`rate: 100.01 is above the maximum 100`}},
		{name: "decimal min", values: map[string]any{"name": "x", "rate": "-100.5"}, problems: []string{`rate: -100.5 is below the minimum -100`}},
		{name: "decimal huge", values: map[string]any{"name": "x", "revenue": json.Number("1e40")}, problems: []string{`revenue: 10000000000000000000000000000000000000000 has more than 28 digits before the point`}},
		{name: "decimal not a number", values: map[string]any{"name": "x", "revenue": "12,5"}, problems: []string{`revenue: "12,5" is not a number`}},
		{name: "float max", values: map[string]any{"name": "x", "score": json.Number("1.6")}, problems: []string{`score: 1.6 is above the maximum 1.5`}},
		{name: "float range", values: map[string]any{"name": "x", "score": json.Number("1e400")}, problems: []string{`score: 1e400 is out of the float range`}},
		{name: "boolean", values: map[string]any{"name": "x", "isactive": "true"}, problems: []string{`isactive: want true or false, got the string "true"`}},
		{name: "datetime", values: map[string]any{"name": "x", "founded": "yesterday"}, problems: []string{`founded: "yesterday" is not an RFC 3339 date and time`}},
		{name: "datetime without offset", values: map[string]any{"name": "x", "founded": "2026-01-02T03:04:05"}, problems: []string{`founded: "2026-01-02T03:04:05" is not an RFC 3339`}},
		{name: "datetime number", values: map[string]any{"name": "x", "founded": json.Number("5")}, problems: []string{`founded: want an RFC 3339 date and time string, got the number 5`}},
		{name: "guid", values: map[string]any{"name": "x", "externalid": "xyz"}, problems: []string{`externalid: "xyz" is not a UUID`}},
		{name: "choice", values: map[string]any{"name": "x", "category": json.Number("7")}, problems: []string{`category: 7 is not one of the options (1, 2, 3)`}},
		{name: "lookup other table", values: map[string]any{"name": "x", "parentaccountid": map[string]any{"table": "contact", "id": someID.String()}},
			problems: []string{`parentaccountid: refers to table contact, but the lookup's target is account`}},
		{name: "lookup reference other table", values: map[string]any{"name": "x", "parentaccountid": tables.Reference{Table: "contact", ID: someID}},
			problems: []string{`parentaccountid: refers to table contact`}},
		{name: "lookup bad id", values: map[string]any{"name": "x", "parentaccountid": "nope"}, problems: []string{`parentaccountid: "nope" is not a UUID`}},
		{name: "lookup extra key", values: map[string]any{"name": "x", "parentaccountid": map[string]any{"id": someID.String(), "name": "y"}}, problems: []string{`parentaccountid: a reference has "table" and "id", not "name"`}},
		{name: "lookup array", values: map[string]any{"name": "x", "parentaccountid": []any{}}, problems: []string{`parentaccountid: want a UUID string or {"table": ..., "id": ...}, got an array`}},
		{
			name: "every problem at once",
			values: map[string]any{
				"description": strings.Repeat("x", 2001), "employees": json.Number("2.5"), "category": json.Number("9"),
				"createdon": "2026-01-02T00:00:00Z", "bogus": true,
			},
			problems: []string{"bogus:", "category:", "createdon:", "description:", "employees:", "name: is required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tb.CheckCreate(tt.values)
			if tt.problems == nil {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return
			}
			requireProblems(t, err, tt.problems)
		})
	}
}

// requireProblems checks that err is a *ValuesError with exactly the
// problems, in order, each "column: part of the reason".
func requireProblems(t *testing.T, err error, problems []string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, errcode.InvalidValue, errcode.Of(err))
	var ve *tables.ValuesError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Problems, len(problems), "%v", err)
	for i, want := range problems {
		col, reason, _ := strings.Cut(want, ":")
		require.Equal(t, col, ve.Problems[i].Column, "%v", err)
		require.Contains(t, ve.Problems[i].Reason, strings.TrimSpace(reason), "%v", err)
		require.Contains(t, err.Error(), `column "`+col+`": `)
	}
}

func TestCheckUpdate(t *testing.T) {
	t.Parallel()
	tb := accountTable()
	tests := []struct {
		name     string
		values   map[string]any
		want     tables.Row
		problems []string
	}{
		{name: "empty", values: map[string]any{}, want: tables.Row{}},
		{name: "partial, required not needed", values: map[string]any{"employees": json.Number("3")}, want: tables.Row{"employees": int64(3)}},
		{name: "clear", values: map[string]any{"description": nil, "parentaccountid": nil}, want: tables.Row{"description": nil, "parentaccountid": nil}},
		{name: "required cannot be cleared", values: map[string]any{"name": nil}, problems: []string{"name: is required and cannot be cleared"}},
		{name: "primary key", values: map[string]any{"accountid": someID.String()}, problems: []string{"accountid: is the primary key and cannot be changed"}},
		{name: "system column", values: map[string]any{"versionnumber": json.Number("4")}, problems: []string{"versionnumber: is a system column"}},
		{name: "checked like create", values: map[string]any{"name": strings.Repeat("x", 101), "rate": json.Number("0.001")},
			problems: []string{"name: string of 101 characters exceeds max length 100", "rate: 0.001 has 3 digits"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tb.CheckUpdate(tt.values)
			if tt.problems == nil {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return
			}
			requireProblems(t, err, tt.problems)
		})
	}
}

func TestValuesErrorMessage(t *testing.T) {
	t.Parallel()
	_, err := accountTable().CheckCreate(map[string]any{"name": strings.Repeat("x", 120), "nope": 1})
	require.EqualError(t, err, `table account: column "name": string of 120 characters exceeds max length 100; column "nope": is not a column of table account`)
}

func TestCheckValue(t *testing.T) {
	t.Parallel()
	c := tables.Column{LogicalName: "amount", Type: tables.Money}
	v, err := c.CheckValue(json.Number("12.3400"))
	require.NoError(t, err)
	require.Equal(t, tables.Number("12.34"), v)
	v, err = c.CheckValue(nil)
	require.NoError(t, err)
	require.Nil(t, v)
	_, err = c.CheckValue(true)
	require.Equal(t, errcode.InvalidValue, errcode.Of(err))
	require.ErrorContains(t, err, `column "amount": want a number, got true`)
}

func TestCheckDefaultsWithoutWithDefaults(t *testing.T) {
	t.Parallel()
	// A definition that did not go through WithDefaults gets the same
	// defaults: max length 100, precision 2, primary key <name>id.
	tb := &tables.Table{LogicalName: "note", Columns: []tables.Column{
		{LogicalName: "title", Type: tables.String},
		{LogicalName: "price", Type: tables.Decimal},
	}}
	_, err := tb.CheckCreate(map[string]any{"noteid": someID.String(), "title": strings.Repeat("x", 101), "price": json.Number("1.001")})
	requireProblems(t, err, []string{"price: more than the column's precision 2", "title: exceeds max length 100"})
}
