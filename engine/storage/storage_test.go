package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
)

var notes = []storage.Migration{
	{Component: "test", Version: 1,
		Postgres: `CREATE TABLE notes (id TEXT PRIMARY KEY, body JSONB NOT NULL, at BIGINT NOT NULL)`,
		SQLite:   `CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL, at BIGINT NOT NULL)`},
	{Component: "test", Version: 2,
		Postgres: `ALTER TABLE notes ADD COLUMN n BIGINT; CREATE INDEX notes_n ON notes (n)`,
		SQLite:   `ALTER TABLE notes ADD COLUMN n BIGINT; CREATE INDEX notes_n ON notes (n)`},
}

func count(t *testing.T, q storage.Querier) int64 {
	t.Helper()
	var n int64
	require.NoError(t, storage.ScanOne(context.Background(), q, []any{&n}, `SELECT count(*) FROM notes`))
	return n
}

func TestStorage(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		db := open(t, notes...)

		// A row and an event commit together.
		tx, err := db.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `INSERT INTO notes (id, body, at, n) VALUES (?, ?, ?, ?)`, "a", `{"text":"what? yes"}`, int64(1), int64(7))
		require.NoError(t, err)
		require.Equal(t, int64(1), count(t, tx))
		_, err = tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{{StreamID: "notes/a", Type: "Noted", Data: []byte(`{}`)}}})
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
		require.Equal(t, int64(1), count(t, db))
		evs, err := db.Log().ReadStream(ctx, eventlog.StreamQuery{StreamID: "notes/a"})
		require.NoError(t, err)
		require.Len(t, evs, 1)

		// A rolled back transaction leaves neither.
		tx, err = db.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `INSERT INTO notes (id, body, at) VALUES (?, ?, ?)`, "b", `{}`, int64(2))
		require.NoError(t, err)
		_, err = tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{{StreamID: "notes/b", Type: "Noted", Data: []byte(`{}`)}}})
		require.NoError(t, err)
		require.NoError(t, tx.Rollback(ctx))
		require.Equal(t, int64(1), count(t, db))
		_, err = db.Log().ReadStream(ctx, eventlog.StreamQuery{StreamID: "notes/b"})
		require.ErrorIs(t, err, eventlog.ErrStreamNotFound)

		// Duplicates are told apart; a question mark in a string is not a placeholder.
		_, err = db.Exec(ctx, `INSERT INTO notes (id, body, at) VALUES (?, '{"q":"?"}', ?)`, "a", int64(3))
		require.ErrorIs(t, err, storage.ErrDuplicate)
		var body string
		err = storage.ScanOne(ctx, db, []any{&body}, `SELECT body FROM notes WHERE id = ?`, "nope")
		require.True(t, errors.Is(err, storage.ErrNoRows), "got %v", err)
		n, err := db.Exec(ctx, `UPDATE notes SET n = n + 1 WHERE id = ?`, "a")
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
	})
}

func TestMigrationsRunOnce(t *testing.T) {
	t.Parallel()
	// Reopening runs no migration twice (a second CREATE TABLE would fail).
	path := t.TempDir() + "/engine.db"
	for range 2 {
		db, err := storage.Open(context.Background(), storage.Options{URL: path}, notes...)
		require.NoError(t, err)
		require.NoError(t, db.Close())
	}
	_, err := storage.Open(context.Background(), storage.Options{URL: path, Schema: "x"})
	require.Error(t, err)
}
