package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/bizevents/bizevents/engine/eventlog"
)

// Read returns sealed events after q.After in position order.
func (s *Store) Read(ctx context.Context, q eventlog.ReadQuery) ([]eventlog.Event, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := s.cfg.CheckRead(&q); err != nil {
		return nil, err
	}
	if q.StreamID == "" && len(q.Types) == 0 && q.Since.IsZero() && q.Until.IsZero() && q.CorrelationID == "" {
		return s.readPage(ctx, q)
	}
	sql := strings.Builder{}
	sql.WriteString(s.q.readSealed)
	args := []any{q.After}
	add := func(cond string, v any) {
		args = append(args, v)
		sql.WriteString(" AND " + strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if q.StreamID != "" {
		add("e.stream_id = $?", q.StreamID)
	}
	if len(q.Types) > 0 {
		add("e.type = ANY($?::text[])", q.Types)
	}
	if !q.Since.IsZero() {
		add("e.recorded_at >= $?", q.Since)
	}
	if !q.Until.IsZero() {
		add("e.recorded_at < $?", q.Until)
	}
	if q.CorrelationID != "" {
		add("e.correlation_id = $?", q.CorrelationID)
	}
	args = append(args, q.Limit)
	sql.WriteString(" ORDER BY s.position LIMIT $" + strconv.Itoa(len(args)))

	evs, err := s.query(ctx, sql.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: read after %d: %w", q.After, err)
	}
	return s.checkAfter(ctx, q, evs)
}

// readPage reads the next page of the log, unfiltered: what followers do.
func (s *Store) readPage(ctx context.Context, q eventlog.ReadQuery) ([]eventlog.Event, error) {
	evs, err := s.query(ctx, s.q.readSealedPage, q.After, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: read after %d: %w", q.After, err)
	}
	return s.checkAfter(ctx, q, evs)
}

// checkAfter turns an empty read past the sealed head into
// ErrUnknownPosition.
func (s *Store) checkAfter(ctx context.Context, q eventlog.ReadQuery, evs []eventlog.Event) ([]eventlog.Event, error) {
	if len(evs) == 0 && q.After > 0 {
		var head int64
		if err := s.pool.QueryRow(ctx, s.q.headPosition).Scan(&head); err != nil {
			return nil, fmt.Errorf("postgres: read head: %w", mapError(ctx, err))
		}
		if q.After > head {
			return nil, eventlog.Errorf(eventlog.ErrUnknownPosition, "position %d is beyond the sealed head %d", q.After, head)
		}
	}
	return evs, nil
}

// ReadStream returns a stream's committed events in version order, or
// backward from a version.
func (s *Store) ReadStream(ctx context.Context, q eventlog.StreamQuery) ([]eventlog.Event, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := s.cfg.CheckStream(&q); err != nil {
		return nil, err
	}
	if q.Backward {
		return eventlog.ReadStreamBackward(q, func(upTo int64) ([]eventlog.Event, error) {
			evs, err := s.query(ctx, s.q.readStreamDesc, q.StreamID, upTo, q.Limit)
			if err != nil {
				return nil, fmt.Errorf("postgres: read stream %q backward: %w", q.StreamID, err)
			}
			return evs, nil
		})
	}
	evs, err := s.query(ctx, s.q.readStream, q.StreamID, q.FromVersion, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: read stream %q: %w", q.StreamID, err)
	}
	if len(evs) > 0 {
		return evs, nil
	}
	var last int64
	if err := s.pool.QueryRow(ctx, s.q.streamExists, q.StreamID).Scan(&last); err != nil {
		return nil, fmt.Errorf("postgres: read stream %q: %w", q.StreamID, mapError(ctx, err))
	}
	switch {
	case last == 0:
		return nil, eventlog.Errorf(eventlog.ErrStreamNotFound, "stream %q has no events", q.StreamID)
	case q.FromVersion > last+1:
		return nil, eventlog.Errorf(eventlog.ErrUnknownPosition, "stream %q is at version %d, asked from %d", q.StreamID, last, q.FromVersion)
	}
	return nil, nil
}

// query runs a select of the event columns in the order of readSealed.
func (s *Store) query(ctx context.Context, sql string, args ...any) ([]eventlog.Event, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, mapError(ctx, err)
	}
	defer rows.Close()
	var (
		evs  []eventlog.Event
		id   string
		data string
		at   time.Time
		dep  int32
	)
	for rows.Next() {
		var e eventlog.Event
		m := &e.Metadata
		if err := rows.Scan(&e.Position, &e.Hash, &id, &e.StreamID, &e.StreamVersion, &e.Type, &data,
			&m.UserID, &m.InitiatingUserID, &m.CorrelationID, &m.RequestID, &m.CausationID, &dep, &m.Solution, &at); err != nil {
			return nil, mapError(ctx, err)
		}
		if e.ID, err = uuid.Parse(id); err != nil {
			return nil, fmt.Errorf("event id %q: %w", id, err)
		}
		e.Data, m.Depth, m.Time = []byte(data), int(dep), at.UTC()
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapError(ctx, err)
	}
	return evs, nil
}

// Head describes the end of the log.
func (s *Store) Head(ctx context.Context) (eventlog.Head, error) {
	if err := s.checkOpen(); err != nil {
		return eventlog.Head{}, err
	}
	var h eventlog.Head
	if err := s.pool.QueryRow(ctx, s.q.head).Scan(&h.Position, &h.Hash, &h.Unsealed); err != nil {
		return h, fmt.Errorf("postgres: head: %w", mapError(ctx, err))
	}
	return h, nil
}

// Wait blocks until events after `after` may be sealed (see eventlog.Store).
func (s *Store) Wait(ctx context.Context, after int64) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	return s.head.Wait(ctx, after, s.cfg.PollInterval, s.closed, eventlog.ErrClosed)
}

// Offset returns a subscriber's stored position.
func (s *Store) Offset(ctx context.Context, subscriber string) (int64, bool, error) {
	if err := s.checkOpen(); err != nil {
		return 0, false, err
	}
	if err := eventlog.CheckSubscriber(subscriber); err != nil {
		return 0, false, err
	}
	var pos int64
	err := s.pool.QueryRow(ctx, s.q.getOffset, subscriber).Scan(&pos)
	if isNoRows(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("postgres: offset of %s: %w", subscriber, mapError(ctx, err))
	}
	return pos, true, nil
}

// SetOffset stores a subscriber's position.
func (s *Store) SetOffset(ctx context.Context, subscriber string, position int64) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if err := eventlog.CheckOffset(subscriber, position); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, s.q.setOffset, subscriber, position); err != nil {
		return fmt.Errorf("postgres: store offset of %s: %w", subscriber, mapError(ctx, err))
	}
	return nil
}

// Tx is a transaction on the log; Conn gives the pgx transaction for other
// writes that must commit or roll back with the events.
type Tx struct {
	s    *Store
	tx   pgx.Tx
	done bool
}

// Begin starts a transaction.
func (s *Store) Begin(ctx context.Context) (eventlog.Tx, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: begin: %w", mapError(ctx, err))
	}
	return &Tx{s: s, tx: tx}, nil
}

// Conn returns the underlying pgx transaction.
func (t *Tx) Conn() pgx.Tx { return t.tx }

// Append appends within the transaction. A failed append leaves the
// transaction aborted: roll it back.
func (t *Tx) Append(ctx context.Context, req eventlog.AppendRequest) ([]eventlog.Event, error) {
	if t.done {
		return nil, eventlog.Errorf(eventlog.ErrClosed, "transaction already ended")
	}
	if err := t.s.checkOpen(); err != nil {
		return nil, err
	}
	p, err := t.s.cfg.PrepareAppendStorageChecksJSON(req)
	if err != nil {
		return nil, err
	}
	evs, err := t.s.insert(ctx, t.tx, p)
	if err != nil {
		return nil, fmt.Errorf("postgres: append: %w", blameData(req, err))
	}
	return evs, nil
}

// Commit commits and wakes the sealer.
func (t *Tx) Commit(ctx context.Context) error {
	if t.done {
		return eventlog.Errorf(eventlog.ErrClosed, "transaction already ended")
	}
	t.done = true
	if err := t.tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", mapError(ctx, err))
	}
	t.s.kickSealer()
	return nil
}

// Rollback discards the transaction; a no-op after Commit or Rollback.
func (t *Tx) Rollback(ctx context.Context) error {
	if t.done {
		return nil
	}
	t.done = true
	if err := t.tx.Rollback(ctx); err != nil && err != pgx.ErrTxClosed {
		return fmt.Errorf("postgres: rollback: %w", mapError(ctx, err))
	}
	return nil
}
