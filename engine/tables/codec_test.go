package tables_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/tables"
)

func fullRow() tables.Row {
	return tables.Row{
		"accountid":       someID,
		"name":            "Contoso \"east\"",
		"employees":       int64(9007199254740993), // not exact as a float64
		"revenue":         tables.Number("123456789012345678901234.5678"),
		"rate":            tables.Number("-0.5"),
		"score":           0.1,
		"isactive":        false,
		"founded":         someTime,
		"externalid":      otherID,
		"category":        int64(2),
		"parentaccountid": tables.Reference{Table: "account", ID: otherID},
		"description":     nil,
		"createdon":       time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		"modifiedon":      time.Date(2026, 3, 2, 0, 0, 0, 1000, time.UTC),
		"ownerid":         otherID,
		"versionnumber":   int64(7),
	}
}

func TestEncodeDecodeRow(t *testing.T) {
	t.Parallel()
	tb := accountTable()
	data, err := tables.EncodeRow(tb, fullRow())
	require.NoError(t, err)
	// Stable and exact: sorted keys, decimals' digits, fixed-width UTC times, ids.
	require.Equal(t, `{"accountid":"5e1c2b8a-7d3e-4f7a-9b1e-2c3d4e5f6a7b","category":2,"createdon":"2026-03-01T00:00:00.000000Z",`+
		`"description":null,"employees":9007199254740993,"externalid":"00000000-0000-4000-8000-000000000001",`+
		`"founded":"2026-01-02T03:04:05.123456Z","isactive":false,"modifiedon":"2026-03-02T00:00:00.000001Z",`+
		`"name":"Contoso \"east\"","ownerid":"00000000-0000-4000-8000-000000000001",`+
		`"parentaccountid":"00000000-0000-4000-8000-000000000001","rate":-0.5,`+
		`"revenue":123456789012345678901234.5678,"score":0.1,"versionnumber":7}`, string(data))
	back, err := tables.DecodeRow(tb, data)
	require.NoError(t, err)
	require.Equal(t, fullRow(), back)
}

func TestEncodeRowErrors(t *testing.T) {
	t.Parallel()
	tb := accountTable()
	_, err := tables.EncodeRow(tb, tables.Row{"nope": 1})
	require.ErrorContains(t, err, `"nope" is not a column`)
	_, err = tables.EncodeRow(tb, tables.Row{"employees": "many"})
	require.ErrorContains(t, err, `column "employees"`)
}

func TestDecodeRow(t *testing.T) {
	t.Parallel()
	tb := accountTable()
	// A column removed from the definition is skipped.
	r, err := tables.DecodeRow(tb, []byte(`{"name":"a","gone":1}`))
	require.NoError(t, err)
	require.Equal(t, tables.Row{"name": "a"}, r)
	_, err = tables.DecodeRow(tb, []byte(`{"employees":"x"}`))
	require.ErrorContains(t, err, `column "employees"`)
	_, err = tables.DecodeRow(tb, []byte(`{"name":"a"} {}`))
	require.Error(t, err)
	_, err = tables.DecodeRow(tb, []byte(`[1]`))
	require.Error(t, err)
}

func TestOutput(t *testing.T) {
	t.Parallel()
	tb := accountTable()
	out := tb.Output(fullRow(), nil)
	b, err := json.Marshal(out)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"accountid":"5e1c2b8a-7d3e-4f7a-9b1e-2c3d4e5f6a7b",
		"name":"Contoso \"east\"", "description":null, "employees":9007199254740993,
		"revenue":123456789012345678901234.5678, "rate":-0.5, "score":0.1, "isactive":false,
		"founded":"2026-01-02T03:04:05.123456Z", "externalid":"00000000-0000-4000-8000-000000000001",
		"category":2, "parentaccountid":"00000000-0000-4000-8000-000000000001",
		"createdon":"2026-03-01T00:00:00Z", "modifiedon":"2026-03-02T00:00:00.000001Z",
		"ownerid":"00000000-0000-4000-8000-000000000001", "versionnumber":7}`, string(b))
	require.Equal(t, json.Number("-0.5"), out["rate"])

	out = tb.Output(tables.Row{"accountid": someID, "name": "x"}, []string{"name", "revenue"})
	require.Equal(t, map[string]any{"accountid": someID.String(), "name": "x", "revenue": nil}, out)
}
