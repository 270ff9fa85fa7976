package api

import (
	"encoding/json"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseLiteral(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want any
		bad  bool
	}{
		{in: "null", want: nil},
		{in: "true", want: true},
		{in: "false", want: false},
		{in: "'abc'", want: "abc"},
		{in: "''", want: ""},
		{in: "'it''s'", want: "it's"},
		{in: "'it's'", bad: true},
		{in: "'open", bad: true},
		{in: "42", want: json.Number("42")},
		{in: "-1.5e3", want: json.Number("-1.5e3")},
		{in: "1F9E0A4B-0000-4000-8000-00000000000A", want: "1f9e0a4b-0000-4000-8000-00000000000a"},
		{in: "2025-03-01T12:00:00Z", want: "2025-03-01T12:00:00Z"},
		{in: "2025-03-01", want: "2025-03-01"},
		{in: `["a","b"]`, want: []any{"a", "b"}},
		{in: `{"@odata.type":"Microsoft.Dynamics.CRM.account","accountid":"x"}`, want: map[string]any{"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": "x"}},
		{in: `["a"] x`, bad: true},
		{in: "abc", bad: true},
		{in: "1.", bad: true},
		{in: "", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseLiteral(tt.in)
			if tt.bad {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestFunctionParams(t *testing.T) {
	t.Parallel()
	got, err := functionParams(`A='x,y)',B=@b,C=["p,q"],D={"k":"v,w"}`, url.Values{"@b": {"'z'"}, "E": {"5"}, "@unused": {"1"}})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"A": "x,y)", "B": "z", "C": []any{"p,q"}, "D": map[string]any{"k": "v,w"}, "E": json.Number("5")}, got)

	for _, inner := range []string{"A", "A=1,A=2", "1A=3", "A=@missing"} {
		_, err := functionParams(inner, nil)
		require.Error(t, err, inner)
	}
}

func TestParsePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want resource
		bad  bool
	}{
		{in: "/accounts", want: resource{head: segment{name: "accounts"}}},
		{in: "/accounts/", want: resource{head: segment{name: "accounts"}}},
		{in: "/accounts(abc)", want: resource{head: segment{name: "accounts", parens: true, inner: "abc"}}},
		{in: "/Fn(P='a%2Fb')", want: resource{head: segment{name: "Fn", parens: true, inner: "P='a/b'"}}},
		{in: "/accounts(x)/Microsoft.Dynamics.CRM.Op", want: resource{head: segment{name: "accounts", parens: true, inner: "x"}, op: segment{name: "Op"}}},
		{in: "/accounts(x)/name", bad: true},
		{in: "/a/b/c", bad: true},
		{in: "/accounts(x", bad: true},
		{in: "/(x)", bad: true},
		{in: "/$batch", bad: true},
		{in: "/%zz", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := parsePath(tt.in)
			if tt.bad {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(1, 1, func() time.Time { return now })
	require.Zero(t, l.take("a"))
	require.Equal(t, time.Second, l.take("a"))
	require.Zero(t, l.take("b"), "each key has its own bucket")

	// Idle buckets are swept once there are many.
	for i := range minSweep - 2 {
		l.take(strconv.Itoa(i))
	}
	require.Equal(t, minSweep, len(l.buckets))
	now = now.Add(2 * time.Second)
	require.Zero(t, l.take("new"))
	require.Equal(t, 1, len(l.buckets), "every idle bucket was dropped")
}

// TestLimiterHammer takes tokens from many goroutines: with the clock
// still, exactly Burst requests per key pass.
func TestLimiterHammer(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(10, 5, func() time.Time { return now })
	var passed [4]atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := (g + i) % len(passed)
				if l.take(strconv.Itoa(k)) == 0 {
					passed[k].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for k := range passed {
		require.EqualValues(t, 5, passed[k].Load(), "key %d", k)
	}
}
