package tables_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/tables"
)

func cmp(col string, op tables.CompareOp, v any) tables.Compare {
	return tables.Compare{Column: col, Op: op, Value: v}
}

func TestParseFilter(t *testing.T) {
	t.Parallel()
	tb := accountTable()
	a, b, c := cmp("name", tables.Eq, "a"), cmp("name", tables.Eq, "b"), cmp("name", tables.Eq, "c")
	tests := []struct {
		in   string
		want tables.Expr
	}{
		{"", nil},
		{"  ", nil},
		{"name eq 'Contoso'", cmp("name", tables.Eq, "Contoso")},
		{"name eq 'O''Brien'", cmp("name", tables.Eq, "O'Brien")},
		{"name eq ''", cmp("name", tables.Eq, "")},
		{"name ne 'x y'", cmp("name", tables.Ne, "x y")},
		{"employees gt 5", cmp("employees", tables.Gt, tables.Number("5"))},
		{"employees gt 5.5", cmp("employees", tables.Gt, tables.Number("5.5"))},
		{"5 lt employees", cmp("employees", tables.Gt, tables.Number("5"))},
		{"5 ge employees", cmp("employees", tables.Le, tables.Number("5"))},
		{"revenue ge 10.10", cmp("revenue", tables.Ge, tables.Number("10.1"))},
		{"score le -1.5e2", cmp("score", tables.Le, tables.Number("-150"))},
		{"isactive", cmp("isactive", tables.Eq, true)},
		{"isactive eq false", cmp("isactive", tables.Eq, false)},
		{"not isactive", tables.Not{X: cmp("isactive", tables.Eq, true)}},
		{"founded lt 2026-01-02T03:04:05Z", cmp("founded", tables.Lt, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))},
		{"founded ge 2026-01-02", cmp("founded", tables.Ge, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))},
		{"founded gt 2026-01-02T05:04:05.5+02:00", cmp("founded", tables.Gt, time.Date(2026, 1, 2, 3, 4, 5, 5e8, time.UTC))},
		{"founded eq '2026-01-02T03:04:05Z'", cmp("founded", tables.Eq, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))},
		{"externalid eq 5E1C2B8A-7D3E-4F7A-9B1E-2C3D4E5F6A7B", cmp("externalid", tables.Eq, someID)},
		{"externalid eq '5e1c2b8a-7d3e-4f7a-9b1e-2c3d4e5f6a7b'", cmp("externalid", tables.Eq, someID)},
		{"parentaccountid eq 5e1c2b8a-7d3e-4f7a-9b1e-2c3d4e5f6a7b", cmp("parentaccountid", tables.Eq, someID)},
		{"_parentaccountid_value eq 5e1c2b8a-7d3e-4f7a-9b1e-2c3d4e5f6a7b", cmp("parentaccountid", tables.Eq, someID)},
		{"_ownerid_value eq 5e1c2b8a-7d3e-4f7a-9b1e-2c3d4e5f6a7b", cmp("ownerid", tables.Eq, someID)},
		{"accountid eq 5e1c2b8a-7d3e-4f7a-9b1e-2c3d4e5f6a7b", cmp("accountid", tables.Eq, someID)},
		{"versionnumber ge 2", cmp("versionnumber", tables.Ge, int64(2))},
		{"createdon gt 2026-01-01T00:00:00Z", cmp("createdon", tables.Gt, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))},
		{"category in (1, 2)", tables.In{Column: "category", Values: []any{int64(1), int64(2)}}},
		{"name in ('a')", tables.In{Column: "name", Values: []any{"a"}}},
		{"contains(name,'con')", tables.Match{Func: tables.Contains, Column: "name", Value: "con"}},
		{"startswith( name , '50%_off' )", tables.Match{Func: tables.StartsWith, Column: "name", Value: "50%_off"}},
		{"endswith(description,'x')", tables.Match{Func: tables.EndsWith, Column: "description", Value: "x"}},
		{"name eq null", cmp("name", tables.Eq, nil)},
		{"null ne description", cmp("description", tables.Ne, nil)},
		{"name eq 'a' or name eq 'b' and name eq 'c'", tables.Or{Left: a, Right: tables.And{Left: b, Right: c}}},
		{"(name eq 'a' or name eq 'b') and name eq 'c'", tables.And{Left: tables.Or{Left: a, Right: b}, Right: c}},
		{"not name eq 'a' and name eq 'b'", tables.And{Left: tables.Not{X: a}, Right: b}},
		{"not (name eq 'a' and name eq 'b')", tables.Not{X: tables.And{Left: a, Right: b}}},
		{"name eq 'a' and name eq 'b' and name eq 'c'", tables.And{Left: tables.And{Left: a, Right: b}, Right: c}},
		{"\tname eq 'a'\n", a},
		{"(((name eq 'a')))", a},
		{"not not isactive", tables.Not{X: tables.Not{X: cmp("isactive", tables.Eq, true)}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := tables.ParseFilter(tb, tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			if got == nil {
				return
			}
			// String gives a filter that parses back to the same Expr.
			again, err := tables.ParseFilter(tb, got.String())
			require.NoError(t, err, got.String())
			require.Equal(t, got, again, got.String())
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	t.Parallel()
	tb := accountTable()
	tests := []struct {
		in   string
		code errcode.Code
		msg  string
	}{
		{"nope eq 1", errcode.InvalidArgument, `unknown column "nope" of table account`},
		{"name eq 5", errcode.InvalidArgument, `cannot compare column name (string) with 5: want a string, got the number 5`},
		{"employees eq 'x'", errcode.InvalidArgument, `cannot compare column employees (integer) with x`},
		{"isactive eq 1", errcode.InvalidArgument, `want true or false`},
		{"founded eq 5", errcode.InvalidArgument, `cannot compare column founded (datetime)`},
		{"founded eq 'soon'", errcode.InvalidArgument, `is not an RFC 3339 date and time`},
		{"externalid eq 'x'", errcode.InvalidArgument, `"x" is not a UUID`},
		{"parentaccountid eq 'x'", errcode.InvalidArgument, `"x" is not a UUID`},
		{"category eq 1.5", errcode.InvalidArgument, `1.5 is not a whole number`},
		{"versionnumber eq 'x'", errcode.InvalidArgument, `want a number`},
		{"(name eq 'a'", errcode.InvalidArgument, `unbalanced parentheses`},
		{"name eq 'a')", errcode.InvalidArgument, `unbalanced parentheses`},
		{"((name eq 'a')", errcode.InvalidArgument, `unbalanced parentheses`},
		{"contains(name,'a'", errcode.InvalidArgument, `unbalanced parentheses`},
		{"category in (1,2", errcode.InvalidArgument, `unbalanced parentheses`},
		{"name eq 'a", errcode.InvalidArgument, `unterminated string`},
		{"name gt null", errcode.InvalidArgument, `cannot be compared with null by gt`},
		{"name eq", errcode.InvalidArgument, `unexpected end of filter`},
		{"eq 'a'", errcode.InvalidArgument, `unexpected eq`},
		{"name 'a'", errcode.InvalidArgument, `after column name`},
		{"'a'", errcode.InvalidArgument, `after a literal`},
		{"name eq 'a' and", errcode.InvalidArgument, `unexpected end of filter`},
		{"name eq 'a' xor name eq 'b'", errcode.InvalidArgument, `unexpected "xor"`},
		{"name eq 'a' name eq 'b'", errcode.InvalidArgument, `unexpected "name"`},
		{"category in ()", errcode.InvalidArgument, `unexpected ")"`},
		{"category in (null)", errcode.InvalidArgument, `in cannot hold null`},
		{"name in 'a'", errcode.InvalidArgument, `want ( after in`},
		{"founded eq 2026-13-01T00:00:00Z", errcode.InvalidArgument, `not a valid date and time`},
		{"founded eq 2026-01-01T00:00Z", errcode.InvalidArgument, `unexpected`},
		{"employees eq 5M", errcode.InvalidArgument, `unexpected "5M"`},
		{"employees eq 1e99999", errcode.InvalidArgument, `out of range`},
		{"employees eq -", errcode.InvalidArgument, `unexpected "-"`},
		{"name eq 'a' # x", errcode.InvalidArgument, `unexpected character '#'`},
		{"contains(employees,'a')", errcode.InvalidArgument, `contains needs a string column; employees is integer`},
		{"contains(name,5)", errcode.InvalidArgument, `needs a string literal`},
		{"contains(name 'a')", errcode.InvalidArgument, `want , and a string`},
		{strings.Repeat("(", 100) + "isactive" + strings.Repeat(")", 100), errcode.InvalidArgument, `nested more than 64 levels`},
		{strings.Repeat("not ", 100) + "isactive", errcode.InvalidArgument, `nested more than 64 levels`},
		{"name eq '" + strings.Repeat("x", 40000) + "'", errcode.InvalidArgument, `longer than`},
		{"employees add 1 eq 2", errcode.NotSupported, `the operator add is not supported`},
		{"name has 'x'", errcode.NotSupported, `the operator has is not supported`},
		{"tolower(name) eq 'a'", errcode.NotSupported, `function tolower is not supported`},
		{"name eq tolower('A')", errcode.NotSupported, `comparing the result of function tolower`},
		{"contains(name,'a') eq true", errcode.NotSupported, `comparing the result of contains`},
		{"contains('a',name)", errcode.NotSupported, `needs a column as its first argument`},
		{"parentaccountid/name eq 'x'", errcode.NotSupported, `navigation paths`},
		{"name eq @p1", errcode.NotSupported, `parameter aliases`},
		{"Microsoft.Dynamics.CRM.Today(PropertyName='founded')", errcode.NotSupported, `qualified names`},
		{"name eq description", errcode.NotSupported, `comparing two columns`},
		{"1 eq 1", errcode.NotSupported, `needs a column`},
		{"any(x: x eq 1)", errcode.NotSupported, `lambda operators`},
		{"any(x)", errcode.NotSupported, `function any is not supported`},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := tables.ParseFilter(tb, tt.in)
			require.Error(t, err)
			require.Equal(t, tt.code, errcode.Of(err), "%v", err)
			require.ErrorContains(t, err, tt.msg)
			var qe *tables.QueryError
			require.ErrorAs(t, err, &qe)
			require.Equal(t, "$filter", qe.Option)
		})
	}
}

func TestParseFilterPosition(t *testing.T) {
	t.Parallel()
	_, err := tables.ParseFilter(accountTable(), "name eq 'a' and nope eq 1")
	var qe *tables.QueryError
	require.ErrorAs(t, err, &qe)
	require.Equal(t, 16, qe.Pos)
	require.EqualError(t, err, `$filter: unknown column "nope" of table account (at offset 16)`)
}

func TestParseSelect(t *testing.T) {
	t.Parallel()
	tb := accountTable()
	got, err := tables.ParseSelect(tb, "name, revenue,_parentaccountid_value,createdon,name")
	require.NoError(t, err)
	require.Equal(t, []string{"name", "revenue", "parentaccountid", "createdon"}, got)
	for _, all := range []string{"", " ", "*"} {
		got, err = tables.ParseSelect(tb, all)
		require.NoError(t, err)
		require.Nil(t, got)
	}
	for _, tt := range []struct {
		in   string
		code errcode.Code
		msg  string
	}{
		{"name,nope", errcode.InvalidArgument, `unknown column "nope" of table account (at offset 5)`},
		{"name,,revenue", errcode.InvalidArgument, `empty column name`},
		{"_name_value", errcode.InvalidArgument, `unknown column "_name_value"`},
		{"parentaccountid/name", errcode.NotSupported, `only column names`},
	} {
		_, err := tables.ParseSelect(tb, tt.in)
		require.Equal(t, tt.code, errcode.Of(err), tt.in)
		require.ErrorContains(t, err, tt.msg)
	}
}

func TestParseOrderBy(t *testing.T) {
	t.Parallel()
	tb := accountTable()
	got, err := tables.ParseOrderBy(tb, "revenue desc, name,createdon asc")
	require.NoError(t, err)
	require.Equal(t, []tables.Order{{Column: "revenue", Desc: true}, {Column: "name"}, {Column: "createdon"}}, got)
	for _, tt := range []struct {
		in   string
		code errcode.Code
		msg  string
	}{
		{"nope", errcode.InvalidArgument, `unknown column "nope"`},
		{"name up", errcode.InvalidArgument, `want a column, then asc or desc`},
		{"name asc desc", errcode.InvalidArgument, `want a column, then asc or desc`},
		{"name, name desc", errcode.InvalidArgument, `column name is given twice`},
		{"name,", errcode.InvalidArgument, `empty sort key`},
		{"parentaccountid/name", errcode.NotSupported, `only column names`},
	} {
		_, err := tables.ParseOrderBy(tb, tt.in)
		require.Equal(t, tt.code, errcode.Of(err), tt.in)
		require.ErrorContains(t, err, tt.msg)
	}
}

func TestParseQuery(t *testing.T) {
	t.Parallel()
	tb := accountTable()
	v := url.Values{
		"$select":    {"name,revenue"},
		"$filter":    {"revenue gt 100"},
		"$orderby":   {"revenue desc"},
		"$top":       {"10"},
		"$skiptoken": {"abc"},
		"api-key":    {"not ours"},
	}
	q, err := tables.ParseQuery(tb, v)
	require.NoError(t, err)
	require.Equal(t, tables.Query{
		Select:    []string{"name", "revenue"},
		Filter:    cmp("revenue", tables.Gt, tables.Number("100")),
		OrderBy:   []tables.Order{{Column: "revenue", Desc: true}},
		Top:       10,
		PageToken: "abc",
	}, q)

	for _, tt := range []struct {
		v    url.Values
		code errcode.Code
		msg  string
	}{
		{url.Values{"$top": {"0"}}, errcode.InvalidArgument, `$top: 0 must be at least 1`},
		{url.Values{"$top": {"ten"}}, errcode.InvalidArgument, `$top: "ten" is not a whole number`},
		{url.Values{"$expand": {"primarycontactid"}}, errcode.NotSupported, `$expand is not supported`},
		{url.Values{"$count": {"true"}}, errcode.NotSupported, `$count is not supported`},
		{url.Values{"$bogus": {"1"}}, errcode.InvalidArgument, `unknown query option $bogus`},
		{url.Values{"$filter": {"a eq 1", "b eq 2"}}, errcode.InvalidArgument, `given 2 times`},
		{url.Values{"$filter": {"name eq 5"}}, errcode.InvalidArgument, `$filter: cannot compare`},
	} {
		_, err := tables.ParseQuery(tb, tt.v)
		require.Equal(t, tt.code, errcode.Of(err), "%v", tt.v)
		require.ErrorContains(t, err, tt.msg)
	}
	// Every option's problem is reported.
	_, err = tables.ParseQuery(tb, url.Values{"$select": {"nope"}, "$orderby": {"nada"}, "$top": {"-1"}})
	require.ErrorContains(t, err, `"nope"`)
	require.ErrorContains(t, err, `"nada"`)
	require.ErrorContains(t, err, `$top`)
}

func TestExprBuiltInGoIsChecked(t *testing.T) {
	t.Parallel()
	// An Expr built in Go may use Go types; String renders it as $filter.
	e := tables.And{
		Left:  tables.Compare{Column: "employees", Op: tables.Ge, Value: 10},
		Right: tables.Not{X: tables.In{Column: "parentaccountid", Values: []any{tables.Reference{Table: "account", ID: uuid.Nil}}}},
	}
	require.Equal(t, "(employees ge 10 and not parentaccountid in (00000000-0000-0000-0000-000000000000))", e.String())
}
