package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/bizevents/bizevents/engine/eventlog"
)

// errClosed is the error of an operation on a closed store or transaction.
func errClosed(op string) error {
	return fmt.Errorf("sqlite: %s: %w", op, eventlog.ErrClosed)
}

// isClosed reports whether err says the handle or transaction it went
// through is closed.
func isClosed(err error) bool {
	return errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone) ||
		// database/sql does not export its "database is closed" error.
		strings.Contains(err.Error(), "sql: database is closed")
}

// isUniqueViolation reports whether err is SQLite's UNIQUE constraint
// failure.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// isBusy reports whether err is SQLite's SQLITE_BUSY: the file is locked by
// another connection.
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// wrap turns a driver error into the store's error for op: one matching
// ErrClosed when the store is closed or the handle is gone, ctx's error when
// ctx is done (the driver reports an interrupted statement its own way), the
// driver's error with context otherwise.
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case s.closed.Load() || isClosed(err):
		return fmt.Errorf("sqlite: %s: %w (%w)", op, eventlog.ErrClosed, err)
	case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		return fmt.Errorf("sqlite: %s: %w (%w)", op, ctx.Err(), err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}
