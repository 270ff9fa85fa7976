package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// migrations are the schema's steps, in order; migration i brings the schema
// to version i+1. A released step never changes: a new one is appended.
var migrations = []string{
	// 1: the log and the subscribers' offsets.
	`CREATE TABLE events (
		position           INTEGER PRIMARY KEY, -- the rowid: gapless, given explicitly
		event_id           BLOB    NOT NULL,    -- 16 bytes
		stream_id          TEXT    NOT NULL,
		stream_version     INTEGER NOT NULL,
		type               TEXT    NOT NULL,
		data               TEXT    NOT NULL,    -- JSON, byte for byte
		user_id            TEXT    NOT NULL,
		initiating_user_id TEXT    NOT NULL,
		correlation_id     TEXT    NOT NULL,
		request_id         TEXT    NOT NULL,
		causation_id       TEXT    NOT NULL,
		depth              INTEGER NOT NULL,
		solution           TEXT    NOT NULL,
		recorded_at        INTEGER NOT NULL,    -- unix microseconds, UTC
		hash               BLOB    NOT NULL,
		UNIQUE (stream_id, stream_version)
	) STRICT;
	CREATE INDEX events_correlation ON events (correlation_id, position);
	CREATE TABLE offsets (
		subscriber TEXT    PRIMARY KEY,
		position   INTEGER NOT NULL,
		updated_at INTEGER NOT NULL             -- unix microseconds, UTC
	) STRICT;`,
}

// migrationsTable records the applied migrations. It is named for the event
// log because other parts of the engine may keep tables in the same file.
const migrationsTable = "eventlog_migrations"

// migrateRetrying runs migrate until it is not refused with SQLITE_BUSY, for
// up to [BusyTimeout].
//
// Why: SQLite honours the busy timeout for ordinary locks, but not always
// while a fresh file is being switched to WAL mode by another connection;
// then opening a connection fails with SQLITE_BUSY at once. It only happens
// when several stores open a new file together.
func migrateRetrying(ctx context.Context, db *sql.DB, log *slog.Logger) (from, to int, err error) {
	deadline := time.Now().Add(BusyTimeout)
	delay := 5 * time.Millisecond
	for {
		from, to, err = migrate(ctx, db)
		if err == nil || !isBusy(err) || time.Now().Add(delay).After(deadline) {
			return from, to, err
		}
		log.DebugContext(ctx, "database busy while migrating, retrying", logKeyErr, err, logKeyDelay, delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return from, to, errors.Join(err, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// migrate brings the schema up to date in one write transaction (BEGIN
// IMMEDIATE on the writer): a second process migrating the same fresh file at
// once waits for the lock, then finds nothing to do. It returns the versions
// before and after.
func migrate(ctx context.Context, db *sql.DB) (from, to int, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+migrationsTable+` (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return 0, 0, fmt.Errorf("create %s: %w", migrationsTable, err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM `+migrationsTable).Scan(&from); err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	if from > len(migrations) {
		return from, from, fmt.Errorf("schema version %d is newer than this program knows (%d): upgrade bizevents", from, len(migrations))
	}
	for v := from + 1; v <= len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			return from, from, fmt.Errorf("migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+migrationsTable+` (version, applied_at) VALUES (?, ?)`, v, bookkeepingTime()); err != nil {
			return from, from, fmt.Errorf("record migration %d: %w", v, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return from, from, fmt.Errorf("commit: %w", err)
	}
	return from, len(migrations), nil
}
