package tables_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
)

type bundle struct {
	ctx  context.Context
	db   storage.DB
	rows *tables.Rows
	tb   *tables.Table
}

func setup(t *testing.T, open storagetest.Opener) *bundle {
	t.Helper()
	db := open(t, tables.Migrations...)
	return &bundle{ctx: context.Background(), db: db, rows: tables.NewRows(db.Dialect()), tb: accountTable()}
}

// insert checks values as a Create and inserts them.
func (b *bundle) insert(t *testing.T, id uuid.UUID, values map[string]any, w tables.Write) tables.Row {
	t.Helper()
	r, err := b.tb.CheckCreate(values)
	require.NoError(t, err)
	row, err := b.rows.Insert(b.ctx, b.db, b.tb, id, r, w)
	require.NoError(t, err)
	return row
}

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 123456000, time.UTC)

func TestRowsCRUD(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		ctx, tb := b.ctx, b.tb
		id, owner := uuid.New(), uuid.New()

		values, err := tb.CheckCreate(map[string]any{
			"name": "Contoso", "description": "first", "revenue": json.Number("12.50"), "employees": json.Number("3"),
			"founded": "2026-01-02T03:04:05.123456Z", "parentaccountid": someID.String(), "isactive": true,
		})
		require.NoError(t, err)
		inserted, err := b.rows.Insert(ctx, b.db, tb, id, values, tables.Write{Version: 1, At: t0.Add(789), Owner: owner})
		require.NoError(t, err)
		want := tables.Row{
			"accountid": id, "name": "Contoso", "description": "first", "revenue": tables.Number("12.5"), "employees": int64(3),
			"founded": someTime, "parentaccountid": tables.Reference{Table: "account", ID: someID}, "isactive": true,
			"createdon": t0, "modifiedon": t0, "ownerid": owner, "versionnumber": int64(1),
		}
		require.Equal(t, want, inserted)
		got, err := b.rows.Get(ctx, b.db, tb, id, nil)
		require.NoError(t, err)
		require.Equal(t, want, got)

		// Get with columns keeps the primary key and the system columns.
		got, err = b.rows.Get(ctx, b.db, tb, id, []string{"name", "_parentaccountid_value"})
		require.NoError(t, err)
		require.Equal(t, tables.Row{
			"accountid": id, "name": "Contoso", "parentaccountid": tables.Reference{Table: "account", ID: someID},
			"createdon": t0, "modifiedon": t0, "ownerid": owner, "versionnumber": int64(1),
		}, got)
		_, err = b.rows.Get(ctx, b.db, tb, id, []string{"nope"})
		require.Equal(t, errcode.InvalidArgument, errcode.Of(err))

		// Duplicate id.
		_, err = b.rows.Insert(ctx, b.db, tb, id, tables.Row{"name": "again"}, tables.Write{Version: 1, At: t0})
		require.Equal(t, errcode.Duplicate, errcode.Of(err), "%v", err)
		require.ErrorIs(t, err, storage.ErrDuplicate)
		var dup *tables.DuplicateError
		require.ErrorAs(t, err, &dup)
		require.Equal(t, id, dup.ID)

		// Not found names the table and the id.
		missing := uuid.New()
		_, err = b.rows.Get(ctx, b.db, tb, missing, nil)
		require.Equal(t, errcode.NotFound, errcode.Of(err))
		require.EqualError(t, err, fmt.Sprintf("account row %s does not exist", missing))

		// A partial update: set one column, clear another, keep the rest.
		t1 := t0.Add(time.Hour)
		up, err := tb.CheckUpdate(map[string]any{"employees": json.Number("4"), "description": nil})
		require.NoError(t, err)
		updated, err := b.rows.Update(ctx, b.db, tb, id, up, tables.Write{Version: 2, ExpectedVersion: 1, At: t1})
		require.NoError(t, err)
		want["employees"] = int64(4)
		delete(want, "description")
		want["modifiedon"] = t1
		want["versionnumber"] = int64(2)
		require.Equal(t, want, updated)

		// A stale expected version conflicts and writes nothing.
		_, err = b.rows.Update(ctx, b.db, tb, id, tables.Row{"name": "stale"}, tables.Write{Version: 2, ExpectedVersion: 1, At: t1})
		require.Equal(t, errcode.VersionConflict, errcode.Of(err))
		var conflict *tables.VersionConflictError
		require.ErrorAs(t, err, &conflict)
		require.Equal(t, tables.VersionConflictError{Table: "account", ID: id, Expected: 1, Actual: 2}, *conflict)
		got, err = b.rows.Get(ctx, b.db, tb, id, nil)
		require.NoError(t, err)
		require.Equal(t, want, got)

		// Without an expected version any version goes.
		_, err = b.rows.Update(ctx, b.db, tb, id, tables.Row{"name": "Contoso 2"}, tables.Write{Version: 3, At: t1})
		require.NoError(t, err)
		_, err = b.rows.Update(ctx, b.db, tb, missing, tables.Row{"name": "x"}, tables.Write{Version: 2, At: t1})
		require.Equal(t, errcode.NotFound, errcode.Of(err))

		// Assign.
		newOwner := uuid.New()
		_, err = b.rows.SetOwner(ctx, b.db, tb, id, tables.Write{Version: 4, ExpectedVersion: 2, At: t1, Owner: newOwner})
		require.Equal(t, errcode.VersionConflict, errcode.Of(err))
		assigned, err := b.rows.SetOwner(ctx, b.db, tb, id, tables.Write{Version: 4, ExpectedVersion: 3, At: t1.Add(time.Second), Owner: newOwner})
		require.NoError(t, err)
		require.Equal(t, newOwner, assigned["ownerid"])
		require.Equal(t, int64(4), assigned["versionnumber"])
		require.Equal(t, "Contoso 2", assigned["name"])
		require.Equal(t, t1.Add(time.Second), assigned["modifiedon"])
		assigned, err = b.rows.SetOwner(ctx, b.db, tb, id, tables.Write{Version: 5, At: t1})
		require.NoError(t, err)
		require.NotContains(t, assigned, "ownerid")
		_, err = b.rows.SetOwner(ctx, b.db, tb, missing, tables.Write{Version: 5, At: t1})
		require.Equal(t, errcode.NotFound, errcode.Of(err))

		// Delete.
		err = b.rows.Delete(ctx, b.db, tb, id, 4)
		require.Equal(t, errcode.VersionConflict, errcode.Of(err))
		require.NoError(t, b.rows.Delete(ctx, b.db, tb, id, 5))
		_, err = b.rows.Get(ctx, b.db, tb, id, nil)
		require.Equal(t, errcode.NotFound, errcode.Of(err))
		err = b.rows.Delete(ctx, b.db, tb, id, 0)
		require.Equal(t, errcode.NotFound, errcode.Of(err))
	})
}

func TestRowsWriteErrors(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		id := uuid.New()
		// The primary key in the values must be the row's id.
		_, err := b.rows.Insert(b.ctx, b.db, b.tb, id, tables.Row{"accountid": uuid.New(), "name": "x"}, tables.Write{Version: 1, At: t0})
		require.Equal(t, errcode.InvalidValue, errcode.Of(err))
		// Values that were not checked still cannot store a wrong type.
		_, err = b.rows.Insert(b.ctx, b.db, b.tb, id, tables.Row{"name": 5, "nope": 1}, tables.Write{Version: 1, At: t0})
		require.Equal(t, errcode.InvalidValue, errcode.Of(err))
		require.ErrorContains(t, err, `column "name"`)
		require.ErrorContains(t, err, `column "nope"`)
		// The pipeline must give a version and a time.
		_, err = b.rows.Insert(b.ctx, b.db, b.tb, id, tables.Row{"name": "x"}, tables.Write{At: t0})
		require.ErrorContains(t, err, "version 0 must be positive")
		_, err = b.rows.Insert(b.ctx, b.db, b.tb, id, tables.Row{"name": "x"}, tables.Write{Version: 1})
		require.ErrorContains(t, err, "no time given")
		_, err = b.rows.Get(b.ctx, b.db, b.tb, id, nil)
		require.Equal(t, errcode.NotFound, errcode.Of(err))
	})
}

func TestRowsInTransaction(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		ctx := b.ctx
		kept, dropped := uuid.New(), uuid.New()

		tx, err := b.db.Begin(ctx)
		require.NoError(t, err)
		_, err = b.rows.Insert(ctx, tx, b.tb, kept, tables.Row{"name": "kept"}, tables.Write{Version: 1, At: t0})
		require.NoError(t, err)
		r, err := b.rows.Update(ctx, tx, b.tb, kept, tables.Row{"employees": int64(1)}, tables.Write{Version: 2, ExpectedVersion: 1, At: t0})
		require.NoError(t, err)
		require.Equal(t, int64(1), r["employees"])
		page, _, err := b.rows.Query(ctx, tx, b.tb, tables.Query{})
		require.NoError(t, err)
		require.Len(t, page, 1)
		require.NoError(t, tx.Commit(ctx))

		tx, err = b.db.Begin(ctx)
		require.NoError(t, err)
		_, err = b.rows.Insert(ctx, tx, b.tb, dropped, tables.Row{"name": "dropped"}, tables.Write{Version: 1, At: t0})
		require.NoError(t, err)
		require.NoError(t, b.rows.Delete(ctx, tx, b.tb, kept, 2))
		require.NoError(t, tx.Rollback(ctx))

		_, err = b.rows.Get(ctx, b.db, b.tb, kept, nil)
		require.NoError(t, err)
		_, err = b.rows.Get(ctx, b.db, b.tb, dropped, nil)
		require.Equal(t, errcode.NotFound, errcode.Of(err))

		// Truncate, for a rebuild from the log; other tables' rows stay.
		other := &tables.Table{LogicalName: "contact", Columns: []tables.Column{{LogicalName: "name", Type: tables.String}}}
		_, err = b.rows.Insert(ctx, b.db, other, uuid.New(), tables.Row{"name": "c"}, tables.Write{Version: 1, At: t0})
		require.NoError(t, err)
		n, err := b.rows.Truncate(ctx, b.db, "account")
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		page, _, err = b.rows.Query(ctx, b.db, other, tables.Query{})
		require.NoError(t, err)
		require.Len(t, page, 1)
		n, err = b.rows.Truncate(ctx, b.db)
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
	})
}

// The filter fixture: five accounts with values of every type, some null.
var (
	parent1 = uuid.MustParse("11111111-1111-4111-8111-111111111111")
	parent2 = uuid.MustParse("22222222-2222-4222-8222-222222222222")
	ext1    = uuid.MustParse("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")
	ext2    = uuid.MustParse("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb")
	owner1  = uuid.MustParse("0c0c0c0c-0c0c-4c0c-8c0c-0c0c0c0c0c0c")
)

func fixtureID(i int) uuid.UUID {
	return uuid.MustParse(fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
}

func insertFixture(t *testing.T, b *bundle) {
	t.Helper()
	rows := []map[string]any{
		{"name": "Alpha", "employees": 10, "revenue": "10.10", "rate": "1.5", "score": 0.5, "isactive": true,
			"founded": "2026-01-01T00:00:00Z", "externalid": ext1.String(), "category": 1, "parentaccountid": parent1.String(), "description": "has 50% off"},
		{"name": "beta", "employees": 9, "revenue": "9.9", "rate": "-2", "score": 1.25, "isactive": false,
			"founded": "2025-12-31T23:59:59.999999Z", "externalid": ext2.String(), "category": 2, "description": "under_score"},
		{"name": "Gamma", "employees": 100, "revenue": "100", "isactive": true,
			"founded": "2026-06-01T12:00:00Z", "category": 3, "parentaccountid": parent1.String()},
		{"name": "delta", "revenue": "1000000000.0001", "rate": "0.01", "score": -3e10, "description": `back\slash`},
		{"name": "O'Brien", "employees": 0, "revenue": "0", "rate": "0", "score": 0, "isactive": false,
			"founded": "2026-01-01T00:00:00.000001Z", "externalid": ext1.String(), "category": 1, "parentaccountid": parent2.String(), "description": "ALPHA beta"},
	}
	for i, values := range rows {
		w := tables.Write{Version: int64(i + 1), At: t0.Add(time.Duration(i) * time.Hour)}
		if i%2 == 0 {
			w.Owner = owner1
		}
		b.insert(t, fixtureID(i+1), values, w)
	}
}

func names(rows []tables.Row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i], _ = r["name"].(string)
	}
	return out
}

func TestRowsFilter(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		insertFixture(t, b)
		tests := []struct {
			filter string
			want   []string
		}{
			// strings, by bytes, case-sensitive
			{"name eq 'Alpha'", []string{"Alpha"}},
			{"name eq 'alpha'", nil},
			{"name ne 'Alpha'", []string{"beta", "Gamma", "delta", "O'Brien"}},
			{"name eq 'O''Brien'", []string{"O'Brien"}},
			{"name gt 'a'", []string{"beta", "delta"}},
			{"name lt 'Gamma'", []string{"Alpha"}},
			{"name le 'Gamma'", []string{"Alpha", "Gamma"}},
			{"name ge 'delta'", []string{"delta"}},
			{"name in ('Alpha','beta','nope')", []string{"Alpha", "beta"}},
			// integers
			{"employees gt 9", []string{"Alpha", "Gamma"}},
			{"employees ge 9", []string{"Alpha", "beta", "Gamma"}},
			{"employees lt 10", []string{"beta", "O'Brien"}},
			{"employees le 0", []string{"O'Brien"}},
			{"employees gt 9.5", []string{"Alpha", "Gamma"}},
			{"employees eq null", []string{"delta"}},
			{"employees ne null", []string{"Alpha", "beta", "Gamma", "O'Brien"}},
			{"employees ne 10", []string{"beta", "Gamma", "delta", "O'Brien"}},
			{"not (employees eq 10)", []string{"beta", "Gamma", "delta", "O'Brien"}},
			{"100 le employees", []string{"Gamma"}},
			// decimals and money, by value and not by text
			{"revenue gt 9.9", []string{"Alpha", "Gamma", "delta"}},
			{"revenue lt 10.1", []string{"beta", "O'Brien"}},
			{"revenue eq 10.10", []string{"Alpha"}},
			{"revenue eq 100.000", []string{"Gamma"}},
			{"revenue gt 1000000000", []string{"delta"}},
			{"revenue ge 1e2", []string{"Gamma", "delta"}},
			{"rate lt 0", []string{"beta"}},
			{"rate eq 0", []string{"O'Brien"}},
			{"rate eq null", []string{"Gamma"}},
			{"rate ge 0.01", []string{"Alpha", "delta"}},
			// floats
			{"score ge 0.5", []string{"Alpha", "beta"}},
			{"score lt 0", []string{"delta"}},
			{"score eq 1.25", []string{"beta"}},
			// booleans, with OData's null handling
			{"isactive", []string{"Alpha", "Gamma"}},
			{"isactive eq false", []string{"beta", "O'Brien"}},
			{"not isactive", []string{"beta", "delta", "O'Brien"}},
			{"isactive ne true", []string{"beta", "delta", "O'Brien"}},
			{"isactive eq null", []string{"delta"}},
			// datetimes, by time at microsecond precision
			{"founded gt 2026-01-01T00:00:00Z", []string{"Gamma", "O'Brien"}},
			{"founded ge 2026-01-01", []string{"Alpha", "Gamma", "O'Brien"}},
			{"founded lt 2026-01-01T00:00:00Z", []string{"beta"}},
			{"founded eq 2026-01-01T00:00:00Z", []string{"Alpha"}},
			{"founded eq 2026-01-01T02:00:00+02:00", []string{"Alpha"}},
			{"founded le 2026-01-01T00:00:00.000001Z", []string{"Alpha", "beta", "O'Brien"}},
			{"founded eq null", []string{"delta"}},
			// guids and lookups
			{"externalid eq aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", []string{"Alpha", "O'Brien"}},
			{"externalid eq 'AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA'", []string{"Alpha", "O'Brien"}},
			{"externalid ne aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", []string{"beta", "Gamma", "delta"}},
			{"externalid eq null", []string{"Gamma", "delta"}},
			{"externalid gt aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", []string{"beta"}},
			{"parentaccountid eq 11111111-1111-4111-8111-111111111111", []string{"Alpha", "Gamma"}},
			{"_parentaccountid_value eq 11111111-1111-4111-8111-111111111111", []string{"Alpha", "Gamma"}},
			{"parentaccountid ne null", []string{"Alpha", "Gamma", "O'Brien"}},
			{"parentaccountid in (22222222-2222-4222-8222-222222222222, 11111111-1111-4111-8111-111111111111)", []string{"Alpha", "Gamma", "O'Brien"}},
			// choices
			{"category eq 1", []string{"Alpha", "O'Brien"}},
			{"category in (2, 3)", []string{"beta", "Gamma"}},
			{"category gt 1", []string{"beta", "Gamma"}},
			{"category eq null", []string{"delta"}},
			// string functions: ASCII case ignored, wildcards literal
			{"contains(name,'ET')", []string{"beta"}},
			{"startswith(name,'al')", []string{"Alpha"}},
			{"startswith(name,'O''B')", []string{"O'Brien"}},
			{"endswith(name,'A')", []string{"Alpha", "beta", "Gamma", "delta"}},
			{"endswith(description,'BETA')", []string{"O'Brien"}},
			{"contains(description,'%')", []string{"Alpha"}},
			{"contains(description,'_')", []string{"beta"}},
			{`contains(description,'\')`, []string{"delta"}},
			{`contains(description,'k\s')`, []string{"delta"}},
			{"startswith(description,'')", []string{"Alpha", "beta", "delta", "O'Brien"}},
			{"not contains(description,'a')", []string{"beta", "Gamma"}},
			// system columns
			{"accountid eq 00000000-0000-4000-8000-000000000001", []string{"Alpha"}},
			{"versionnumber gt 3", []string{"delta", "O'Brien"}},
			{"createdon ge 2026-05-01T14:00:00.123456Z", []string{"Gamma", "delta", "O'Brien"}},
			{"modifiedon lt 2026-05-01T13:00:00.5Z", []string{"Alpha", "beta"}},
			{"ownerid eq 0c0c0c0c-0c0c-4c0c-8c0c-0c0c0c0c0c0c", []string{"Alpha", "Gamma", "O'Brien"}},
			{"_ownerid_value eq null", []string{"beta", "delta"}},
			// logic
			{"(employees gt 9 or isactive eq false) and not (name eq 'Gamma')", []string{"Alpha", "beta", "O'Brien"}},
			{"name eq 'Alpha' or name eq 'beta' and employees eq 10", []string{"Alpha"}},
			{"(name eq 'Alpha' or name eq 'beta') and employees eq 9", []string{"beta"}},
			{"", []string{"Alpha", "beta", "Gamma", "delta", "O'Brien"}},
		}
		for _, tt := range tests {
			f, err := tables.ParseFilter(b.tb, tt.filter)
			require.NoError(t, err, tt.filter)
			rows, token, err := b.rows.Query(b.ctx, b.db, b.tb, tables.Query{Filter: f})
			require.NoError(t, err, tt.filter)
			require.Empty(t, token)
			got := names(rows)
			slices.Sort(got)
			want := append([]string{}, tt.want...)
			slices.Sort(want)
			require.Equal(t, want, got, tt.filter)
		}
	})
}

func TestRowsFilterBuiltInGo(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		insertFixture(t, b)
		query := func(e tables.Expr) ([]string, error) {
			rows, _, err := b.rows.Query(b.ctx, b.db, b.tb, tables.Query{Filter: e, OrderBy: []tables.Order{{Column: "name"}}})
			return names(rows), err
		}
		got, err := query(tables.And{
			Left:  &tables.Compare{Column: "employees", Op: tables.Ge, Value: 10},
			Right: tables.Compare{Column: "parentaccountid", Op: tables.Eq, Value: tables.Reference{Table: "account", ID: parent1}},
		})
		require.NoError(t, err)
		require.Equal(t, []string{"Alpha", "Gamma"}, got)
		got, err = query(tables.Compare{Column: "revenue", Op: tables.Lt, Value: 9.95})
		require.NoError(t, err)
		require.Equal(t, []string{"O'Brien", "beta"}, got)

		for _, e := range []tables.Expr{
			tables.Compare{Column: "nope", Op: tables.Eq, Value: 1},
			tables.Compare{Column: "name", Op: tables.Eq, Value: 5},
			tables.Compare{Column: "name", Op: "like", Value: "x"},
			tables.Compare{Column: "name", Op: tables.Gt, Value: nil},
			tables.Match{Func: tables.Contains, Column: "employees", Value: "1"},
			tables.In{Column: "category", Values: []any{"x"}},
			tables.Not{},
			(*tables.Compare)(nil),
		} {
			_, err := query(e)
			require.Equal(t, errcode.InvalidArgument, errcode.Of(err), "%#v: %v", e, err)
		}
	})
}

func TestRowsOrder(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		insertFixture(t, b)
		tests := []struct {
			orderby string
			want    []string
		}{
			{"", []string{"Alpha", "beta", "Gamma", "delta", "O'Brien"}}, // by id
			{"name", []string{"Alpha", "Gamma", "O'Brien", "beta", "delta"}},
			{"name desc", []string{"delta", "beta", "O'Brien", "Gamma", "Alpha"}},
			{"revenue", []string{"O'Brien", "beta", "Alpha", "Gamma", "delta"}},
			{"revenue desc", []string{"delta", "Gamma", "Alpha", "beta", "O'Brien"}},
			{"employees", []string{"delta", "O'Brien", "beta", "Alpha", "Gamma"}},
			{"employees desc", []string{"Gamma", "Alpha", "beta", "O'Brien", "delta"}},
			{"score desc", []string{"beta", "Alpha", "O'Brien", "delta", "Gamma"}},
			{"founded", []string{"delta", "beta", "Alpha", "O'Brien", "Gamma"}},
			{"founded desc", []string{"Gamma", "O'Brien", "Alpha", "beta", "delta"}},
			{"isactive, name", []string{"delta", "O'Brien", "beta", "Alpha", "Gamma"}},
			{"isactive desc, name desc", []string{"Gamma", "Alpha", "beta", "O'Brien", "delta"}},
			{"category desc, employees", []string{"Gamma", "beta", "O'Brien", "Alpha", "delta"}},
			{"externalid, founded desc", []string{"Gamma", "delta", "O'Brien", "Alpha", "beta"}},
			{"_parentaccountid_value desc", []string{"O'Brien", "Alpha", "Gamma", "beta", "delta"}},
			{"createdon desc", []string{"O'Brien", "delta", "Gamma", "beta", "Alpha"}},
			{"versionnumber", []string{"Alpha", "beta", "Gamma", "delta", "O'Brien"}},
			{"ownerid, name", []string{"beta", "delta", "Alpha", "Gamma", "O'Brien"}},
		}
		for _, tt := range tests {
			order, err := tables.ParseOrderBy(b.tb, tt.orderby)
			require.NoError(t, err)
			rows, token, err := b.rows.Query(b.ctx, b.db, b.tb, tables.Query{OrderBy: order})
			require.NoError(t, err, tt.orderby)
			require.Empty(t, token)
			require.Equal(t, tt.want, names(rows), tt.orderby)

			// Pages of every size give the same order, nulls and all.
			for size := 1; size <= 3; size++ {
				var paged []tables.Row
				q := tables.Query{OrderBy: order, PageSize: size}
				for {
					page, next, err := b.rows.Query(b.ctx, b.db, b.tb, q)
					require.NoError(t, err, tt.orderby)
					require.LessOrEqual(t, len(page), size)
					paged = append(paged, page...)
					if next == "" {
						break
					}
					q.PageToken = next
				}
				require.Equal(t, tt.want, names(paged), "%s, pages of %d", tt.orderby, size)
			}
		}
	})
}

func TestRowsPaging(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		for i := range 25 {
			b.insert(t, uuid.New(), map[string]any{"name": fmt.Sprintf("row %02d", i), "employees": i % 7}, tables.Write{Version: 1, At: t0})
		}
		for _, order := range [][]tables.Order{nil, {{Column: "employees", Desc: true}}, {{Column: "name"}}} {
			seen := map[uuid.UUID]int{}
			q := tables.Query{OrderBy: order, PageSize: 10}
			pages := 0
			var inserted []uuid.UUID
			for {
				page, next, err := b.rows.Query(b.ctx, b.db, b.tb, q)
				require.NoError(t, err)
				pages++
				for _, r := range page {
					seen[r["accountid"].(uuid.UUID)]++
				}
				if next == "" {
					break
				}
				if pages == 1 {
					// Rows that sort before and after the cursor arrive
					// between pages: none is seen twice, none skipped.
					first, last := uuid.MustParse("00000000-0000-4000-8000-000000000000"), uuid.MustParse("ffffffff-ffff-4fff-bfff-ffffffffffff")
					b.insert(t, first, map[string]any{"name": "row 00 new", "employees": 99}, tables.Write{Version: 1, At: t0})
					b.insert(t, last, map[string]any{"name": "row 99 new", "employees": 0}, tables.Write{Version: 1, At: t0})
					inserted = append(inserted, first, last)
				}
				q.PageToken = next
			}
			for id, n := range seen {
				require.Equal(t, 1, n, "row %s seen %d times", id, n)
			}
			// The row after the cursor shows; the one before it does not.
			require.Contains(t, seen, inserted[1])
			require.NotContains(t, seen, inserted[0])
			require.Len(t, seen, 26)
			for _, id := range inserted {
				require.NoError(t, b.rows.Delete(b.ctx, b.db, b.tb, id, 0))
			}
		}
	})
}

func TestRowsTopSelectAndTokens(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		insertFixture(t, b)
		ctx := b.ctx

		// $top over pages.
		q := tables.Query{Top: 3, PageSize: 2, OrderBy: []tables.Order{{Column: "name"}}}
		page, next, err := b.rows.Query(ctx, b.db, b.tb, q)
		require.NoError(t, err)
		require.Equal(t, []string{"Alpha", "Gamma"}, names(page))
		require.NotEmpty(t, next)
		q.PageToken = next
		page, next, err = b.rows.Query(ctx, b.db, b.tb, q)
		require.NoError(t, err)
		require.Equal(t, []string{"O'Brien"}, names(page))
		require.Empty(t, next)
		page, next, err = b.rows.Query(ctx, b.db, b.tb, tables.Query{Top: 2})
		require.NoError(t, err)
		require.Len(t, page, 2)
		require.Empty(t, next)
		page, _, err = b.rows.Query(ctx, b.db, b.tb, tables.Query{Top: 10})
		require.NoError(t, err)
		require.Len(t, page, 5)

		// $select keeps the primary key and the system columns.
		v, err := tables.ParseQuery(b.tb, map[string][]string{"$select": {"name,revenue"}, "$filter": {"name eq 'Alpha'"}})
		require.NoError(t, err)
		page, _, err = b.rows.Query(ctx, b.db, b.tb, v)
		require.NoError(t, err)
		require.Equal(t, []tables.Row{{
			"accountid": fixtureID(1), "name": "Alpha", "revenue": tables.Number("10.1"),
			"createdon": t0, "modifiedon": t0, "ownerid": owner1, "versionnumber": int64(1),
		}}, page)

		// Page tokens belong to their $orderby and are checked.
		_, next, err = b.rows.Query(ctx, b.db, b.tb, tables.Query{PageSize: 1, OrderBy: []tables.Order{{Column: "name"}}})
		require.NoError(t, err)
		for _, bad := range []tables.Query{
			{PageToken: next},
			{PageToken: next, OrderBy: []tables.Order{{Column: "name", Desc: true}}},
			{PageToken: "not base64!"},
			{PageToken: "e30"}, // {}
			{PageSize: -1},
			{Top: -1},
			{Select: []string{"nope"}},
			{OrderBy: []tables.Order{{Column: "nope"}}},
			{OrderBy: []tables.Order{{Column: "name"}, {Column: "name", Desc: true}}},
		} {
			_, _, err := b.rows.Query(ctx, b.db, b.tb, bad)
			require.Equal(t, errcode.InvalidArgument, errcode.Of(err), "%+v: %v", bad, err)
			var qe *tables.QueryError
			require.True(t, errors.As(err, &qe))
		}
	})
}

func TestRowsExactNumbersAndLiterals(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		tb := &tables.Table{LogicalName: "ledger", Columns: []tables.Column{
			{LogicalName: "name", Type: tables.String},
			{LogicalName: "amount", Type: tables.Money},
			{LogicalName: "count", Type: tables.Integer},
		}}
		big := uuid.New()
		_, err := b.rows.Insert(b.ctx, b.db, tb, big, tables.Row{"name": "big", "amount": tables.Number("123456789012345678.0001"), "count": int64(9007199254740993)}, tables.Write{Version: 1, At: t0})
		require.NoError(t, err)
		_, err = b.rows.Insert(b.ctx, b.db, tb, uuid.New(), tables.Row{"name": "x' OR '1'='1", "amount": tables.Number("1")}, tables.Write{Version: 1, At: t0})
		require.NoError(t, err)

		// Stored exactly on both backends.
		r, err := b.rows.Get(b.ctx, b.db, tb, big, nil)
		require.NoError(t, err)
		require.Equal(t, tables.Number("123456789012345678.0001"), r["amount"])
		require.Equal(t, int64(9007199254740993), r["count"])

		count := func(filter string) int {
			t.Helper()
			e, err := tables.ParseFilter(tb, filter)
			require.NoError(t, err)
			rows, _, err := b.rows.Query(b.ctx, b.db, tb, tables.Query{Filter: e})
			require.NoError(t, err)
			return len(rows)
		}
		// Integers compare exactly on both, beyond float64's 2^53.
		require.Equal(t, 1, count("count eq 9007199254740993"))
		require.Equal(t, 0, count("count eq 9007199254740992"))
		// Decimals compare exactly on PostgreSQL (numeric); SQLite compares
		// them as 64-bit floats, which cannot tell these apart.
		if b.db.Dialect() == storage.Postgres {
			require.Equal(t, 1, count("amount gt 123456789012345678"))
			require.Equal(t, 0, count("amount gt 123456789012345678.0001"))
		}
		// Literals are parameters, never SQL.
		require.Equal(t, 0, count("name eq 'x'' OR ''1''=''1' and name eq 'big'"))
		require.Equal(t, 1, count("name eq 'x'' OR ''1''=''1'"))
		require.Equal(t, 1, count("contains(name,''' OR ')"))
	})
}

func TestRowsGetForUpdate(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		id := uuid.New()
		inserted := b.insert(t, id, map[string]any{"name": "locked"}, tables.Write{Version: 1, At: t0})

		tx, err := b.db.Begin(b.ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(b.ctx) }()
		got, err := b.rows.GetForUpdate(b.ctx, tx, b.tb, id)
		require.NoError(t, err)
		require.Equal(t, inserted, got)
		_, err = b.rows.GetForUpdate(b.ctx, tx, b.tb, uuid.New())
		require.Equal(t, errcode.NotFound, errcode.Of(err))

		if b.db.Dialect() == storage.Postgres {
			// Another transaction cannot change the row until tx ends.
			other, err := b.db.Begin(b.ctx)
			require.NoError(t, err)
			defer func() { _ = other.Rollback(b.ctx) }()
			_, err = other.Exec(b.ctx, `SET LOCAL lock_timeout = '100ms'`)
			require.NoError(t, err)
			_, err = b.rows.Update(b.ctx, other, b.tb, id, tables.Row{"name": "changed"}, tables.Write{Version: 2, At: t0})
			require.ErrorContains(t, err, "lock timeout")
		}
		require.NoError(t, tx.Commit(b.ctx))
	})
}

func TestEqualAndHasColumn(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b any
		want bool
	}{
		{nil, nil, true},
		{nil, "", false},
		{"a", "a", true},
		{"a", "b", false},
		{int64(5), tables.Number("5"), true},
		{tables.Number("5.0"), json.Number("5"), true},
		{5, 5.0, true},
		{tables.Number("10.1"), tables.Number("10.10"), true},
		{tables.Number("10.1"), tables.Number("10.01"), false},
		{int64(5), "5", false},
		{someTime, someTime.In(time.FixedZone("x", 3600)), true},
		{someTime, someTime.Add(time.Microsecond), false},
		{tables.Reference{Table: "account", ID: someID}, someID, true},
		{tables.Reference{Table: "account", ID: someID}, tables.Reference{Table: "contact", ID: someID}, false},
		{someID, otherID, false},
		{true, true, true},
		{true, false, false},
	} {
		require.Equal(t, tt.want, tables.Equal(tt.a, tt.b), "%v %v", tt.a, tt.b)
		require.Equal(t, tt.want, tables.Equal(tt.b, tt.a), "%v %v", tt.b, tt.a)
	}
	tb := accountTable()
	for _, name := range []string{"name", "accountid", "createdon", "modifiedon", "ownerid", "versionnumber"} {
		require.True(t, tb.HasColumn(name), name)
	}
	require.False(t, tb.HasColumn("nope"))
	require.False(t, tb.HasColumn("_parentaccountid_value"))
}
