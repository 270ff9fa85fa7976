package tables_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/tables"
)

func TestParseNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		scale    int
	}{
		{"0", "0", 0}, {"-0", "0", 0}, {"+0.000", "0", 0}, {"007", "7", 0},
		{"12.50", "12.5", 1}, {"-3", "-3", 0}, {"+0.5", "0.5", 1},
		{"1e3", "1000", 0}, {"2.5E-2", "0.025", 3}, {"1200e-2", "12", 0},
		{"10.10", "10.1", 1}, {"0.0001", "0.0001", 4}, {"-123.4560", "-123.456", 3},
		{"1e-3", "0.001", 3}, {"5e+0", "5", 0}, {"100", "100", 0},
		{"123456789012345678901234567890.123456789", "123456789012345678901234567890.123456789", 9},
	}
	for _, tt := range tests {
		n, err := tables.ParseNumber(tt.in)
		require.NoError(t, err, tt.in)
		require.Equal(t, tables.Number(tt.want), n, tt.in)
		require.Equal(t, tt.scale, n.Scale(), tt.in)
	}
	for _, bad := range []string{"", "-", ".5", "5.", "1e", "1e+", "abc", "1,5", "0x10", "1_000", "NaN", "Inf", " 1", "1 ", "1e1001", "1e-1001", "--1", "1.2.3"} {
		_, err := tables.ParseNumber(bad)
		require.Error(t, err, "%q", bad)
	}
}

func TestNumberMethods(t *testing.T) {
	t.Parallel()
	n := tables.Number("-123.45")
	require.Equal(t, 3, n.IntDigits())
	require.Equal(t, 2, n.Scale())
	require.Equal(t, -123.45, n.Float64())
	require.Equal(t, "-2469/20", n.Rat().String())
	_, err := n.Int64()
	require.Error(t, err)
	i, err := tables.Number("42").Int64()
	require.NoError(t, err)
	require.Equal(t, int64(42), i)

	b, err := json.Marshal(map[string]tables.Number{"a": "10.50"})
	require.NoError(t, err)
	require.JSONEq(t, `{"a":10.5}`, string(b))
	var back struct{ A, B tables.Number }
	require.NoError(t, json.Unmarshal([]byte(`{"A":1.50,"B":"2e2"}`), &back))
	require.Equal(t, tables.Number("1.5"), back.A)
	require.Equal(t, tables.Number("200"), back.B)
	_, err = json.Marshal(tables.Number("nope"))
	require.Error(t, err)
}
