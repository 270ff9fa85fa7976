package solution_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/solution"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
)

func TestImport(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		db := open(t, append(append([]storage.Migration{}, tables.Migrations...), solution.Migrations...)...)
		e := pipeline.New(db, pipeline.Config{})
		contoso, err := solution.Load(filepath.Join("..", "..", "examples", "contoso"))
		require.NoError(t, err)

		res, err := solution.Import(ctx, db, contoso, pipeline.Caller{})
		require.NoError(t, err)
		require.False(t, res.Unchanged)
		require.Empty(t, res.PreviousVersion)
		require.NotEmpty(t, res.Changes)
		require.NoError(t, solution.Activate(ctx, e))
		_, ok := e.Definitions().TableByPlural("accounts")
		require.True(t, ok)

		// The same definition again: nothing happens.
		res, err = solution.Import(ctx, db, contoso, pipeline.Caller{})
		require.NoError(t, err)
		require.True(t, res.Unchanged)

		// An upgrade: a new column, a new version.
		up, err := solution.Decode(mustEncode(t, contoso))
		require.NoError(t, err)
		up.Version = "1.1.0"
		up.Tables[0].Columns = append(up.Tables[0].Columns, tables.Column{LogicalName: "nickname", Type: tables.String, MaxLength: 40})
		up, err = solution.Decode(mustEncode(t, up))
		require.NoError(t, err)
		res, err = solution.Import(ctx, db, up, pipeline.Caller{})
		require.NoError(t, err)
		require.Equal(t, contoso.Version, res.PreviousVersion)
		require.Contains(t, res.Changes.String(), "nickname")
		require.NoError(t, solution.Activate(ctx, e))
		acc, _ := e.Definitions().Table(up.Tables[0].LogicalName)
		_, ok = acc.Column("nickname")
		require.True(t, ok)

		evs, err := db.Log().ReadStream(ctx, eventlog.StreamQuery{StreamID: "solution/" + contoso.Name})
		require.NoError(t, err)
		require.Len(t, evs, 2)
		require.Equal(t, solution.EventImported, evs[1].Type)

		// Another solution may not define the same table.
		clash, err := solution.Decode(mustEncode(t, contoso))
		require.NoError(t, err)
		clash.Name = "other_solution"
		clash, err = solution.Decode(mustEncode(t, clash))
		require.NoError(t, err)
		_, err = solution.Import(ctx, db, clash, pipeline.Caller{})
		require.Equal(t, errcode.InvalidSolution, errcode.Of(err), "%v", err)
		all, err := solution.Imported(ctx, db)
		require.NoError(t, err)
		require.Len(t, all, 1)
	})
}

func mustEncode(t *testing.T, s *solution.Solution) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	require.NoError(t, err)
	return b
}
