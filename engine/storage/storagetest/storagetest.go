// Package storagetest opens isolated engine databases for tests: a SQLite
// file in the test's temporary directory, or a PostgreSQL schema of its own
// (see internal/testpg), closed and dropped when the test ends.
package storagetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/internal/testpg"
)

// Opener opens a fresh database with the given migrations.
type Opener func(t testing.TB, migrations ...storage.Migration) storage.DB

// Backends are the backends a test should run on, by name.
var Backends = map[string]Opener{
	"sqlite":   SQLite,
	"postgres": Postgres,
}

// ForEach runs fn as a parallel subtest per backend.
func ForEach(t *testing.T, fn func(t *testing.T, open Opener)) {
	for _, name := range []string{"sqlite", "postgres"} {
		open := Backends[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, open)
		})
	}
}

// SQLite opens a database in a new file in t's temporary directory.
func SQLite(t testing.TB, migrations ...storage.Migration) storage.DB {
	t.Helper()
	return open(t, storage.Options{URL: filepath.Join(t.TempDir(), "engine.db")}, migrations)
}

// Postgres opens a database in a new schema, dropped after the test. It
// skips the test when PostgreSQL is unreachable, and fails it with CI=true.
func Postgres(t testing.TB, migrations ...storage.Migration) storage.DB {
	t.Helper()
	return open(t, storage.Options{URL: testpg.URL(t), Schema: testpg.Schema(t)}, migrations)
}

func open(t testing.TB, o storage.Options, migrations []storage.Migration) storage.DB {
	t.Helper()
	o.Log = eventlog.Config{}
	db, err := storage.Open(context.Background(), o, migrations...)
	if err != nil {
		t.Fatalf("open %s database: %v", o.URL, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// SealedHead returns the log's last position once every event committed
// so far is sealed (PostgreSQL seals just after commit), so that a test
// can compare heads before and after a message.
func SealedHead(t testing.TB, db storage.DB) int64 {
	t.Helper()
	ctx := context.Background()
	for {
		h, err := db.Log().Head(ctx)
		if err != nil {
			t.Fatalf("log head: %v", err)
		}
		if h.Unsealed == 0 {
			return h.Position
		}
		if err := db.Log().Wait(ctx, h.Position); err != nil {
			t.Fatalf("wait for position %d: %v", h.Position, err)
		}
	}
}
