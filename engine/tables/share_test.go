package tables_test

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
)

func TestParseAccessRights(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want tables.AccessRights
		err  string
	}{
		{"ReadAccess", tables.ReadAccess, ""},
		{"ReadAccess, WriteAccess", tables.ReadAccess | tables.WriteAccess, ""},
		{"read,write , appendto", tables.ReadAccess | tables.WriteAccess | tables.AppendToAccess, ""},
		{"Delete, Share, Assign, Append", tables.DeleteAccess | tables.ShareAccess | tables.AssignAccess | tables.AppendAccess, ""},
		{"None", 0, ""},
		{"", 0, ""},
		{"ReadAccess, ReadAccess", tables.ReadAccess, ""},
		{"Frob", 0, `unknown access right "Frob" (want ReadAccess, WriteAccess, AppendAccess, AppendToAccess, DeleteAccess, ShareAccess, AssignAccess)`},
		{"Read,,Write", 0, "an empty name between commas"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := tables.ParseAccessRights(tt.in)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				require.Equal(t, errcode.InvalidValue, errcode.Of(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestAccessRightsFormat(t *testing.T) {
	t.Parallel()
	all := tables.ShareableRights
	require.Equal(t, "ReadAccess, WriteAccess, AppendAccess, AppendToAccess, DeleteAccess, ShareAccess, AssignAccess", all.String())
	require.Equal(t, 7, all.Count())
	require.Equal(t, "None", tables.AccessRights(0).String())
	require.Nil(t, tables.AccessRights(0).Names())
	require.Equal(t, "ReadAccess, 0x100", (tables.ReadAccess | 0x100).String())
	back, err := tables.ParseAccessRights(all.String())
	require.NoError(t, err)
	require.Equal(t, all, back)

	require.NoError(t, all.CheckShareable())
	err = (tables.ReadAccess | tables.CreateAccess).CheckShareable()
	require.ErrorContains(t, err, "CreateAccess is a right on a table")
	require.Equal(t, errcode.InvalidValue, errcode.Of(err))
	require.ErrorContains(t, tables.AccessRights(0x100).CheckShareable(), "unknown access right bits 0x100")

	b, err := json.Marshal(tables.ReadAccess | tables.ShareAccess)
	require.NoError(t, err)
	require.JSONEq(t, `"ReadAccess, ShareAccess"`, string(b))
	var r tables.AccessRights
	require.NoError(t, json.Unmarshal(b, &r))
	require.Equal(t, tables.ReadAccess|tables.ShareAccess, r)
	require.NoError(t, json.Unmarshal([]byte(`3`), &r))
	require.Equal(t, tables.ReadAccess|tables.WriteAccess, r)
	require.Error(t, json.Unmarshal([]byte(`true`), &r))
	require.Error(t, json.Unmarshal([]byte(`"Fly"`), &r))
}

func TestShares(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		ctx, db := b.ctx, b.db
		s := tables.NewShares()
		row, other := uuid.New(), uuid.New()
		alice, bob := uuid.MustParse("00000000-0000-0000-0000-00000000000a"), uuid.MustParse("00000000-0000-0000-0000-00000000000b")

		got, err := s.Rights(ctx, db, "account", row, alice)
		require.NoError(t, err)
		require.Zero(t, got, "not shared")

		require.NoError(t, s.Set(ctx, db, "account", row, alice, tables.ReadAccess, t0))
		require.NoError(t, s.Set(ctx, db, "account", row, bob, tables.ReadAccess|tables.WriteAccess, t0))
		require.NoError(t, s.Set(ctx, db, "account", other, alice, tables.DeleteAccess, t0))
		require.NoError(t, s.Set(ctx, db, "contact", row, alice, tables.ShareAccess, t0))
		later := t0.Add(1000)
		require.NoError(t, s.Set(ctx, db, "account", row, alice, tables.ReadAccess|tables.AssignAccess, later), "replaces")

		got, err = s.Rights(ctx, db, "account", row, alice)
		require.NoError(t, err)
		require.Equal(t, tables.ReadAccess|tables.AssignAccess, got)
		list, err := s.List(ctx, db, "account", row)
		require.NoError(t, err)
		require.Equal(t, []tables.Share{
			{Table: "account", Row: row, Principal: alice, Rights: tables.ReadAccess | tables.AssignAccess, ModifiedOn: later.Truncate(1000)},
			{Table: "account", Row: row, Principal: bob, Rights: tables.ReadAccess | tables.WriteAccess, ModifiedOn: t0.Truncate(1000)},
		}, list)

		require.NoError(t, s.Set(ctx, db, "account", row, bob, 0, later), "0 removes")
		got, err = s.Rights(ctx, db, "account", row, bob)
		require.NoError(t, err)
		require.Zero(t, got)
		require.NoError(t, s.Set(ctx, db, "account", row, bob, 0, later), "removing nothing is fine")

		require.NoError(t, s.DeleteRow(ctx, db, "account", row))
		list, err = s.List(ctx, db, "account", row)
		require.NoError(t, err)
		require.Empty(t, list)
		n, err := s.Count(ctx, db)
		require.NoError(t, err)
		require.Equal(t, int64(2), n, "other rows' shares stay")

		n, err = s.Truncate(ctx, db)
		require.NoError(t, err)
		require.Equal(t, int64(2), n)
		n, err = s.Count(ctx, db)
		require.NoError(t, err)
		require.Zero(t, n)
	})
}

func TestRowsSetVersion(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		id := uuid.New()
		before := b.insert(t, id, map[string]any{"name": "A"}, tables.Write{Version: 1, At: t0})
		require.NoError(t, b.rows.SetVersion(b.ctx, b.db, b.tb, id, tables.Write{Version: 2, ExpectedVersion: 1, At: t0.Add(5e9)}))
		after, err := b.rows.Get(b.ctx, b.db, b.tb, id, nil)
		require.NoError(t, err)
		require.Equal(t, int64(2), after[tables.ColumnVersion])
		require.Equal(t, before[tables.ColumnModifiedOn], after[tables.ColumnModifiedOn], "modifiedon is kept")

		err = b.rows.SetVersion(b.ctx, b.db, b.tb, id, tables.Write{Version: 3, ExpectedVersion: 1})
		require.Equal(t, errcode.VersionConflict, errcode.Of(err))
		err = b.rows.SetVersion(b.ctx, b.db, b.tb, uuid.New(), tables.Write{Version: 3})
		require.Equal(t, errcode.NotFound, errcode.Of(err))
		require.Error(t, b.rows.SetVersion(b.ctx, b.db, b.tb, id, tables.Write{}))
	})
}
