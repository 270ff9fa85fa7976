package tables

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/storage"
)

func sqlTable() *Table {
	t := Table{LogicalName: "account", PluralName: "accounts", Columns: []Column{
		{LogicalName: "name", Type: String},
		{LogicalName: "revenue", Type: Money},
		{LogicalName: "isactive", Type: Boolean},
		{LogicalName: "founded", Type: DateTime},
		{LogicalName: "category", Type: Choice, Options: []Option{{Value: 1}}},
		{LogicalName: "parentaccountid", Type: Lookup, Target: "account"},
	}}.WithDefaults()
	return &t
}

func TestFilterSQL(t *testing.T) {
	t.Parallel()
	tb := sqlTable()
	tests := []struct {
		filter   string
		postgres string
		sqlite   string
		args     []any // SQLite's; PostgreSQL's differ only in booleans and numbers
	}{
		{
			"name eq 'a''b' and revenue gt 10.10",
			`(((data->>'name') COLLATE "C" IS NOT NULL AND (data->>'name') COLLATE "C" = ?) AND ((data->>'revenue')::numeric IS NOT NULL AND (data->>'revenue')::numeric > CAST(? AS NUMERIC)))`,
			`((json_extract(data, '$.name') IS NOT NULL AND json_extract(data, '$.name') = ?) AND (json_extract(data, '$.revenue') IS NOT NULL AND json_extract(data, '$.revenue') > ?))`,
			[]any{"a'b", 10.1},
		},
		{
			"not isactive or name ne null",
			`(NOT (((data->>'isactive')::boolean IS NOT NULL AND (data->>'isactive')::boolean = ?)) OR (data->>'name') COLLATE "C" IS NOT NULL)`,
			`(NOT ((json_extract(data, '$.isactive') IS NOT NULL AND json_extract(data, '$.isactive') = ?)) OR json_extract(data, '$.name') IS NOT NULL)`,
			[]any{int64(1)},
		},
		{
			"contains(name,'50%_\\') and founded ne 2026-01-02T03:04:05Z",
			`(((data->>'name') COLLATE "C" IS NOT NULL AND lower((data->>'name') COLLATE "C") LIKE ? ESCAPE '\') AND ((data->>'founded') COLLATE "C" IS NULL OR (data->>'founded') COLLATE "C" <> ?))`,
			`((json_extract(data, '$.name') IS NOT NULL AND json_extract(data, '$.name') LIKE ? ESCAPE '\') AND (json_extract(data, '$.founded') IS NULL OR json_extract(data, '$.founded') <> ?))`,
			[]any{`%50\%\_\\%`, "2026-01-02T03:04:05.000000Z"},
		},
		{
			"category in (1,2) and createdon ge 2026-01-01T00:00:00Z and _parentaccountid_value eq 5e1c2b8a-7d3e-4f7a-9b1e-2c3d4e5f6a7b",
			`((((data->>'category')::numeric IS NOT NULL AND (data->>'category')::numeric IN (CAST(? AS NUMERIC), CAST(? AS NUMERIC))) AND (created_on IS NOT NULL AND created_on >= ?)) AND ((data->>'parentaccountid') COLLATE "C" IS NOT NULL AND (data->>'parentaccountid') COLLATE "C" = ?))`,
			`(((json_extract(data, '$.category') IS NOT NULL AND json_extract(data, '$.category') IN (?, ?)) AND (created_on IS NOT NULL AND created_on >= ?)) AND (json_extract(data, '$.parentaccountid') IS NOT NULL AND json_extract(data, '$.parentaccountid') = ?))`,
			[]any{int64(1), int64(2), int64(1767225600000000), "5e1c2b8a-7d3e-4f7a-9b1e-2c3d4e5f6a7b"},
		},
	}
	for _, tt := range tests {
		e, err := ParseFilter(tb, tt.filter)
		require.NoError(t, err)
		for d, want := range map[storage.Dialect]string{storage.Postgres: tt.postgres, storage.SQLite: tt.sqlite} {
			w := &sqlWriter{d: d}
			require.NoError(t, w.expr(tb, e))
			require.Equal(t, want, w.b.String(), "%s %s", d, tt.filter)
			require.Len(t, w.args, len(tt.args))
			if d == storage.SQLite {
				require.Equal(t, tt.args, w.args)
			}
		}
	}
}

func TestKeysetSQL(t *testing.T) {
	t.Parallel()
	tb := sqlTable()
	name, _ := tb.field("name")
	founded, _ := tb.field("founded")
	w := &sqlWriter{d: storage.SQLite}
	keys := []orderKey{{f: name}, {f: founded, desc: true}}
	require.NoError(t, w.after(keys, []any{"b", nil}, "id-1"))
	require.NoError(t, w.orderBy(keys))
	require.Equal(t, `((json_extract(data, '$.name') > ?) OR (json_extract(data, '$.name') = ? AND 1 = 0) OR `+
		`(json_extract(data, '$.name') = ? AND json_extract(data, '$.founded') IS NULL AND id > ?))`+
		` ORDER BY json_extract(data, '$.name') ASC NULLS FIRST, json_extract(data, '$.founded') DESC NULLS LAST, id ASC`, w.b.String())
	require.Equal(t, []any{"b", "b", "b", "id-1"}, w.args)
}

func TestLikePattern(t *testing.T) {
	t.Parallel()
	require.Equal(t, `abc\%\_\\xyz é`, likePattern(`ABC%_\xyz é`))
}

// FuzzParseFilter checks that ParseFilter never panics, fails only with the
// query codes, and that what it accepts translates to SQL for both
// dialects and prints back to the same Expr.
func FuzzParseFilter(f *testing.F) {
	for _, seed := range []string{
		"name eq 'a''b' and revenue gt 10.10",
		"not isactive or name ne null",
		"contains(name,'50%') and founded ne 2026-01-02T03:04:05.123+02:00",
		"category in (1,2) and createdon ge 2026-01-01 and _parentaccountid_value eq 5e1c2b8a-7d3e-4f7a-9b1e-2c3d4e5f6a7b",
		"(((name eq 'a')) or (not (revenue le -1e3)))",
		"5 lt revenue", "accountid eq 5e1c2b8a-7d3e-4f7a-9b1e-2c3d4e5f6a7b", "versionnumber gt 2",
		"(name eq 'a'", "name eq 'a", "tolower(name) eq 'a'", "a/b eq 1", "name eq @p", "x eq 1e99999",
		"", "(", ")", "'", "not", "name in (", "startswith(name,", "-", "1e", "2026-01-01T",
	} {
		f.Add(seed)
	}
	tb := sqlTable()
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseFilter(tb, s)
		if err != nil {
			code := errcode.Of(err)
			if code != errcode.InvalidArgument && code != errcode.NotSupported {
				t.Fatalf("ParseFilter(%q): code %s: %v", s, code, err)
			}
			return
		}
		if e == nil {
			return
		}
		for _, d := range []storage.Dialect{storage.Postgres, storage.SQLite} {
			w := &sqlWriter{d: d}
			if err := w.expr(tb, e); err != nil {
				t.Fatalf("ParseFilter(%q) gave %s, which does not translate: %v", s, e, err)
			}
		}
		again, err := ParseFilter(tb, e.String())
		if err != nil {
			t.Fatalf("ParseFilter(%q) gave %s, which does not parse: %v", s, e, err)
		}
		require.Equal(t, e, again, "%q -> %s", s, e)
	})
}

func TestPlanQueryPageSize(t *testing.T) {
	t.Parallel()
	tb := sqlTable()
	for _, tt := range []struct{ in, want int }{{0, DefaultPageSize}, {1, 1}, {5000, 5000}, {10000, MaxPageSize}} {
		p, err := tb.planQuery(Query{PageSize: tt.in})
		require.NoError(t, err)
		require.Equal(t, tt.want, p.pageSize, tt.in)
	}
}
