package sdk

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The SDK's JSON reading is plain Go: these tests run it natively. Its use
// of the real host is tested by package plugins, whose guests are built
// with this SDK.

func TestValueScalars(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		read func(Value) (any, error)
		want any
		bad  bool
	}{
		{`"Oslo"`, func(v Value) (any, error) { return v.AsString() }, "Oslo", false},
		{` "a\"b\u00e9\n" `, func(v Value) (any, error) { return v.AsString() }, "a\"bé\n", false},
		{`"\ud83d\ude00"`, func(v Value) (any, error) { return v.AsString() }, "😀", false},
		{`null`, func(v Value) (any, error) { return v.AsString() }, "", false},
		{`12`, func(v Value) (any, error) { return v.AsString() }, "", true},
		{`-42`, func(v Value) (any, error) { return v.AsInt() }, int64(-42), false},
		{`4.2`, func(v Value) (any, error) { return v.AsInt() }, int64(0), true},
		{`19.90`, func(v Value) (any, error) { return v.AsDecimal() }, Decimal("19.9"), false},
		{`"1e3"`, func(v Value) (any, error) { return v.AsDecimal() }, Decimal("1000"), false},
		{`-0.00`, func(v Value) (any, error) { return v.AsDecimal() }, Decimal("0"), false},
		{`true`, func(v Value) (any, error) { return v.AsDecimal() }, Decimal(""), true},
		{`1.5e2`, func(v Value) (any, error) { return v.AsFloat() }, 150.0, false},
		{`true`, func(v Value) (any, error) { return v.AsBool() }, true, false},
		{`"yes"`, func(v Value) (any, error) { return v.AsBool() }, false, true},
		{`"7A1E2F4C-2B1D-4C55-9A0E-3F1F0C9D2B11"`, func(v Value) (any, error) { return v.AsGUID() }, "7a1e2f4c-2b1d-4c55-9a0e-3f1f0c9d2b11", false},
		{`"not-a-guid"`, func(v Value) (any, error) { return v.AsGUID() }, "", true},
		{`"2026-03-14T15:09:26.5Z"`, func(v Value) (any, error) { return v.AsTime() },
			time.Date(2026, 3, 14, 15, 9, 26, 500_000_000, time.UTC), false},
		{`{"table":"account","id":"7a1e2f4c-2b1d-4c55-9a0e-3f1f0c9d2b11"}`, func(v Value) (any, error) { return v.AsReference() },
			Reference{Table: "account", ID: "7a1e2f4c-2b1d-4c55-9a0e-3f1f0c9d2b11"}, false},
		{`["a","b"]`, func(v Value) (any, error) { return v.AsStrings() }, []string{"a", "b"}, false},
		{`["a",1]`, func(v Value) (any, error) { return v.AsStrings() }, []string(nil), true},
		{`[1, {"x":[2,3]}, "]"]`, func(v Value) (any, error) { return v.Len() }, 3, false},
		{`{"a":1,"b":{"c":2}}`, func(v Value) (any, error) { return v.Len() }, 2, false},
		{`[]`, func(v Value) (any, error) { return v.Len() }, 0, false},
		{`null`, func(v Value) (any, error) { return v.Len() }, 0, false},
		{`[1,`, func(v Value) (any, error) { return v.Len() }, 0, true},
		{`"x"`, func(v Value) (any, error) { return v.Len() }, 0, true},
	} {
		got, err := c.read(Value(c.in))
		if c.bad {
			require.Error(t, err, c.in)
			continue
		}
		require.NoError(t, err, c.in)
		if want, ok := c.want.(time.Time); ok {
			require.True(t, want.Equal(got.(time.Time)), c.in)
			continue
		}
		require.Equal(t, c.want, got, c.in)
	}
}

func TestRowOfJSON(t *testing.T) {
	t.Parallel()
	row, err := Value(`{"name":"Fourth \"Coffee\"","revenue":125000.50,"owner":null,"tags":["a"]}`).AsRow()
	require.NoError(t, err)
	name, err := row.GetString("name")
	require.NoError(t, err)
	require.Equal(t, `Fourth "Coffee"`, name)
	rev, err := row.GetDecimal("revenue")
	require.NoError(t, err)
	require.Equal(t, Decimal("125000.5"), rev)
	require.True(t, row.Has("owner"))
	_, err = row.Get("missing")
	require.True(t, IsNotFound(err))
	cols, err := row.Columns()
	require.NoError(t, err)
	require.Equal(t, []string{"name", "revenue", "owner", "tags"}, cols, "in the order of the JSON")
}

func TestDecimalArithmetic(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ a, b, sum, diff string }{
		{"19.90", "5.15", "25.05", "14.75"},
		{"0.1", "0.2", "0.3", "-0.1"},
		{"1e20", "1", "100000000000000000001", "99999999999999999999"},
	} {
		a, b := MustDecimal(c.a), MustDecimal(c.b)
		require.Equal(t, Decimal(c.sum), a.Add(b), c)
		require.Equal(t, Decimal(c.diff), a.Sub(b), c)
	}
	require.Equal(t, -1, MustDecimal("-0.01").Sign())
	require.Equal(t, 0, MustDecimal("-0").Sign())
	_, err := ParseDecimal("1.2.3")
	require.Error(t, err)
}

func TestEncodeFields(t *testing.T) {
	t.Parallel()
	b, err := appendJSON(nil, Fields{"total": MustDecimal("25.05"), "n": int64(2), "name": "a\"b", "at": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		"ref": Reference{Table: "account", ID: "7a1e2f4c-2b1d-4c55-9a0e-3f1f0c9d2b11"}, "tags": []string{"x"}, "none": nil})
	require.NoError(t, err)
	require.JSONEq(t, `{"total":25.05,"n":2,"name":"a\"b","at":"2026-01-02T03:04:05Z",
		"ref":{"table":"account","id":"7a1e2f4c-2b1d-4c55-9a0e-3f1f0c9d2b11"},"tags":["x"],"none":null}`, string(b))
	_, err = appendJSON(nil, Fields{"bad": make(chan int)})
	require.Error(t, err)
}
