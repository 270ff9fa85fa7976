package storage

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrDuplicate matches the error of a write that broke a unique constraint.
var ErrDuplicate = errors.New("storage: duplicate key")

// wrapErr marks the driver errors callers must tell apart.
func wrapErr(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%w: %w", ErrDuplicate, err)
	}
	// modernc's error text carries SQLite's extended code name.
	if msg := err.Error(); strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLITE_CONSTRAINT_PRIMARYKEY") {
		return fmt.Errorf("%w: %w", ErrDuplicate, err)
	}
	return err
}

// ErrNoRows is returned by ScanOne when the query found nothing.
var ErrNoRows = errors.New("storage: no rows")
