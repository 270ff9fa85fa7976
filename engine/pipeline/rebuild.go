package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/tables"
)

// RebuildReport says what a rebuild did.
type RebuildReport struct {
	// Events is how many events were read, Applied how many changed rows.
	Events, Applied int64
	// Rows is how many rows exist afterwards, Shares how many shares.
	Rows, Shares int64
	// Position is the last position read.
	Position int64
}

// ErrUnsealedTail is returned by Rebuild when committed events are not
// sealed yet, so the rows cannot be rebuilt from a complete log.
var ErrUnsealedTail = errors.New("the log has committed events that are not sealed yet; wait, or stop the writers, and retry")

// Rebuild throws the rows and their shares away and replays every table
// event of the log to make them again, in one transaction: readers see the
// old rows until it commits. Run it while nothing else writes: events
// committed while it runs are not in the rebuilt rows.
func (e *Engine) Rebuild(ctx context.Context) (RebuildReport, error) {
	var rep RebuildReport
	head, err := e.db.Log().Head(ctx)
	if err != nil {
		return rep, err
	}
	if head.Unsealed > 0 {
		return rep, fmt.Errorf("rebuild: %d events: %w", head.Unsealed, ErrUnsealedTail)
	}
	defs := e.defs.Load()
	err = storage.Run(ctx, e.db, func(tx storage.Tx) error {
		if _, err := e.rows.Truncate(ctx, tx); err != nil {
			return fmt.Errorf("clear rows: %w", err)
		}
		if _, err := e.shares.Truncate(ctx, tx); err != nil {
			return fmt.Errorf("clear shares: %w", err)
		}
		after := int64(0)
		for {
			evs, err := e.db.Log().Read(ctx, eventlog.ReadQuery{After: after, Limit: 1000})
			if err != nil {
				return err
			}
			if len(evs) == 0 {
				break
			}
			for i := range evs {
				applied, err := e.apply(ctx, tx, defs, &evs[i])
				if err != nil {
					return fmt.Errorf("event %d (%s): %w", evs[i].Position, evs[i].Type, err)
				}
				if applied {
					rep.Applied++
				}
			}
			rep.Events += int64(len(evs))
			after = evs[len(evs)-1].Position
		}
		rep.Position = after
		if rep.Shares, err = e.shares.Count(ctx, tx); err != nil {
			return err
		}
		return storage.ScanOne(ctx, tx, []any{&rep.Rows}, `SELECT count(*) FROM rows`)
	})
	return rep, err
}

// apply replays one event onto the rows; events that are not table
// changes, or of tables no longer defined, are skipped.
func (e *Engine) apply(ctx context.Context, tx storage.Tx, defs *Definitions, ev *eventlog.Event) (bool, error) {
	table, msg, ok := strings.Cut(ev.Type, ".")
	if !ok {
		return false, nil
	}
	t, ok := defs.Table(table)
	if !ok {
		return false, nil
	}
	var data eventData
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		return false, fmt.Errorf("decode: %w", err)
	}
	if data.PrimaryEntityID == nil {
		return false, fmt.Errorf("no primaryEntityId")
	}
	id := *data.PrimaryEntityID
	switch msg {
	case Create, Update, Assign:
		row, err := tables.DecodeRow(t, data.Row)
		if err != nil {
			return false, err
		}
		if msg != Create {
			if err := e.rows.Delete(ctx, tx, t, id, 0); err != nil && !isNotFound(err) {
				return false, err
			}
		}
		w := tables.Write{At: ev.Metadata.Time}
		w.Version, _ = row[tables.ColumnVersion].(int64)
		w.Owner, _ = row[tables.ColumnOwnerID].(uuid.UUID)
		if at, ok := row[tables.ColumnModifiedOn].(time.Time); ok {
			w.At = at
		}
		w.CreatedAt, _ = row[tables.ColumnCreatedOn].(time.Time)
		_, err = e.rows.Insert(ctx, tx, t, id, row, w)
		return true, err
	case Delete:
		if err := e.rows.Delete(ctx, tx, t, id, 0); err != nil && !isNotFound(err) {
			return false, err
		}
		return true, e.shares.DeleteRow(ctx, tx, t.LogicalName, id)
	case GrantAccess, ModifyAccess, RevokeAccess:
		if data.Share == nil {
			return false, fmt.Errorf("no share")
		}
		if err := e.shares.Set(ctx, tx, t.LogicalName, id, data.Share.Principal, data.Share.Rights, data.Share.At); err != nil {
			return false, err
		}
		// The row's version is its stream's, which the share moved on.
		if err := e.rows.SetVersion(ctx, tx, t, id, tables.Write{Version: ev.StreamVersion}); err != nil && !isNotFound(err) {
			return false, err
		}
		return true, nil
	}
	return false, nil
}

func isNotFound(err error) bool { return errcode.Of(err) == errcode.NotFound }
