package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/eventlog/sqlite"
)

// sqliteDB is a DB in a SQLite file, next to the log's tables.
type sqliteDB struct {
	log *sqlite.Store
}

// NewSQLite returns the engine's database in the log's SQLite file, and
// runs the migrations of the engine's tables. Close closes the log.
func NewSQLite(ctx context.Context, log *sqlite.Store, migrations ...Migration) (DB, error) {
	db := &sqliteDB{log: log}
	if err := migrate(ctx, db, migrations); err != nil {
		return nil, err
	}
	return db, nil
}

func (d *sqliteDB) Log() eventlog.Store { return d.log }
func (d *sqliteDB) Dialect() Dialect    { return SQLite }
func (d *sqliteDB) Close() error        { return d.log.Close() }

func (d *sqliteDB) Begin(ctx context.Context) (Tx, error) {
	tx, err := d.log.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &sqliteTx{Tx: tx.(*sqlite.Tx)}, nil
}

func (d *sqliteDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tx, err := d.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	n, err := tx.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return n, tx.Commit(ctx)
}

func (d *sqliteDB) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := d.log.Readers().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrapErr(err)
	}
	return sqlRows{rows}, nil
}

type sqliteTx struct {
	*sqlite.Tx
}

func (t *sqliteTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := t.SQL().ExecContext(ctx, query, args...)
	if err != nil {
		return 0, wrapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}

func (t *sqliteTx) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := t.SQL().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrapErr(err)
	}
	return sqlRows{rows}, nil
}

// sqlRows adapts *sql.Rows to Rows.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }
