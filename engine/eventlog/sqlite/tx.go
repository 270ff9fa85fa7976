package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/bizevents/bizevents/engine/eventlog"
)

// Tx is a write transaction on the log, holding the store's writer
// connection until Commit or Rollback. Events appended through it are sealed
// at once, but only readable, and only wake waiters, after Commit. A Tx is
// used by one goroutine.
type Tx struct {
	s  *Store
	tx *sql.Tx
	w  *txWriter
	// last is the highest position appended, 0 for none.
	last int64
	done bool
}

var _ eventlog.Tx = (*Tx)(nil)

// savepoint confines a failed Append to its own events, so the rest of the
// transaction can still commit.
const savepoint = "eventlog_append"

// SQL returns the driver transaction, so that other rows are written in the
// same transaction as the events. End it through [Tx.Commit] or
// [Tx.Rollback], never directly.
func (t *Tx) SQL() *sql.Tx { return t.tx }

// Append appends req's events in the transaction, all or none: a failed
// Append leaves the transaction as it was before it. It returns the events
// as they will be stored if the transaction commits.
func (t *Tx) Append(ctx context.Context, req eventlog.AppendRequest) ([]eventlog.Event, error) {
	if t.done || t.s.closed.Load() {
		return nil, errClosed("tx append")
	}
	p, err := t.s.cfg.PrepareAppend(req)
	if err != nil {
		return nil, err
	}
	if err := t.w.plan(ctx, p, nil); err != nil {
		return nil, err
	}
	// The writes may fail halfway: a savepoint takes back what they did.
	if _, err := t.tx.ExecContext(ctx, `SAVEPOINT `+savepoint); err != nil {
		return nil, t.s.wrap(ctx, "tx append: savepoint", err)
	}
	if err := t.w.write(ctx, p); err != nil {
		// Undo this Append's rows even when ctx is done. (A write that ctx
		// interrupted has rolled back the whole transaction: then this
		// fails, and the Tx ends.)
		bg := context.WithoutCancel(ctx)
		_, rerr := t.tx.ExecContext(bg, `ROLLBACK TO `+savepoint)
		if rerr == nil {
			_, rerr = t.tx.ExecContext(bg, `RELEASE `+savepoint)
		}
		if rerr != nil {
			_ = t.Rollback(ctx)
			return nil, errors.Join(err, t.s.wrap(ctx, "tx append: roll back to savepoint", rerr))
		}
		return nil, err
	}
	if _, err := t.tx.ExecContext(ctx, `RELEASE `+savepoint); err != nil {
		_ = t.Rollback(ctx)
		return nil, t.s.wrap(ctx, "tx append: release savepoint", err)
	}
	t.last = t.w.last
	return p.Events, nil
}

// Commit commits the transaction and wakes the store's waiters. When ctx is
// already done, or the store closed, it rolls back instead and returns ctx's
// error or one matching [eventlog.ErrClosed].
func (t *Tx) Commit(ctx context.Context) error {
	if t.done {
		return errClosed("commit")
	}
	if t.s.closed.Load() {
		_ = t.Rollback(ctx)
		return errClosed("commit")
	}
	if err := ctx.Err(); err != nil {
		_ = t.Rollback(ctx)
		return t.s.wrap(ctx, "commit", err)
	}
	t.done = true
	if err := t.tx.Commit(); err != nil {
		return t.s.wrap(ctx, "commit", err)
	}
	if t.last > 0 {
		t.s.committed.Advance(t.last)
	}
	return nil
}

// Rollback discards the transaction. After Commit or Rollback it does
// nothing, so `defer tx.Rollback(ctx)` is always safe.
func (t *Tx) Rollback(ctx context.Context) error {
	if t.done {
		return nil
	}
	t.done = true
	if err := t.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) && !t.s.closed.Load() {
		return t.s.wrap(ctx, "rollback", err)
	}
	return nil
}
