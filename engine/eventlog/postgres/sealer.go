package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bizevents/bizevents/engine/eventlog"
)

// Sealer pacing.
const (
	// blockedMin and blockedMax bound the pause before looking again when
	// committed rows wait behind a transaction still in flight.
	blockedMin = 200 * time.Microsecond
	blockedMax = 20 * time.Millisecond
	// errorMin and errorMax bound the pause after a failed pass.
	errorMin = 50 * time.Millisecond
	errorMax = 5 * time.Second
)

// sealLoop seals until the store closes: at once when an append of this
// process commits, after a short pause while rows wait behind an open
// transaction, and every poll interval for appends made elsewhere. When the
// store closes it makes a final pass (finalSeal) and returns; ctx ends it
// sooner, bounding Close.
func (s *Store) sealLoop(ctx context.Context) {
	var pause time.Duration
	for {
		select {
		case <-s.closed:
			s.finalErr = s.finalSeal(ctx)
			return
		default:
		}
		n, blocked, err := s.sealOnce(ctx)
		if ctx.Err() != nil {
			s.interrupted(ctx)
			return
		}
		switch {
		case err != nil:
			s.log.WarnContext(ctx, "seal pass failed", "err", err)
			pause = grow(pause, errorMin, errorMax)
		case n == s.cfg.SealBatchSize:
			pause = 0
			continue
		case blocked:
			pause = grow(pause, blockedMin, blockedMax)
		default:
			pause = s.cfg.PollInterval
		}
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			s.interrupted(ctx)
			return
		case <-s.closed:
		case <-s.sealWake:
			if blocked {
				// Something new committed, but the pass is waiting on a
				// transaction still open: keep the back-off.
				<-timer.C
			}
		case <-timer.C:
		}
		timer.Stop()
		if !blocked && err == nil {
			pause = 0
		}
	}
}

// interrupted records, when Close's bound ended the sealer before its final
// pass, that the pass did not run.
func (s *Store) interrupted(ctx context.Context) {
	select {
	case <-s.closed:
		s.finalErr = fmt.Errorf("final seal: not started: %w", ctx.Err())
	default:
	}
}

// finalSeal seals the rows committed when the store closed, so that events
// appended just before Close are sealed when it returns, as on SQLite. It
// stops once the sealer's cursor is past the last row committed then: rows
// committed later by other processes are theirs to seal. It waits (until
// ctx ends) for rows held back by a transaction still open below them.
func (s *Store) finalSeal(ctx context.Context) error {
	var target cursor
	err := s.pool.QueryRow(ctx, s.q.sealTarget).Scan(&target.tx, &target.id)
	if isNoRows(err) {
		return nil // nothing unsealed
	}
	if err != nil {
		return fmt.Errorf("final seal: %w", mapError(ctx, err))
	}
	var pause time.Duration
	for {
		n, at, err := s.sealPass(ctx)
		if err != nil {
			return fmt.Errorf("final seal: %w", mapError(ctx, err))
		}
		if !at.before(target) {
			return nil
		}
		if n == s.cfg.SealBatchSize {
			continue
		}
		pause = grow(pause, blockedMin, blockedMax)
		select {
		case <-ctx.Done():
			return fmt.Errorf("final seal: rows up to transaction %d still unsealed: %w", target.tx, ctx.Err())
		case <-time.After(pause):
		}
	}
}

// cursor is a place in the sealer's order, (tx_id, id).
type cursor struct{ tx, id int64 }

func (c cursor) before(o cursor) bool { return c.tx < o.tx || (c.tx == o.tx && c.id < o.id) }

func grow(d, lo, hi time.Duration) time.Duration {
	d *= 2
	return min(max(d, lo), hi)
}

// sealOnce seals the next batch of committed, final rows. It reports how many
// it sealed, and whether committed rows are waiting behind an open
// transaction.
func (s *Store) sealOnce(ctx context.Context) (sealed int, blocked bool, err error) {
	sealed, blocked, _, err = s.seal(ctx)
	return sealed, blocked, err
}

// sealPass is sealOnce reporting where the cursor stands after the pass.
func (s *Store) sealPass(ctx context.Context) (sealed int, at cursor, err error) {
	sealed, _, at, err = s.seal(ctx)
	return sealed, at, err
}

func (s *Store) seal(ctx context.Context) (sealed int, blocked bool, at cursor, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, false, cursor{}, err
	}
	defer conn.Release() // a connection left inside a transaction is discarded by the pool

	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(s.q.sealBegin, s.cfg.Schema)
	b.Queue(s.q.sealCursor)
	b.Queue(s.q.sealCandidates, s.cfg.SealBatchSize)
	br := conn.SendBatch(ctx, b)
	var (
		pos            int64
		prev           []byte
		lastTx, lastID int64
		links          []link
	)
	err = func() error {
		defer br.Close()
		for range 2 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		if err := br.QueryRow().Scan(&pos, &prev, &lastTx, &lastID); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		var rowID, txID, horizon, version int64
		var content []byte
		for rows.Next() {
			if err := rows.Scan(&rowID, &txID, &horizon, &version, &content); err != nil {
				return err
			}
			if txID >= horizon {
				blocked = true
				break
			}
			links = append(links, link{rowID: rowID, version: version, content: content})
			lastTx, lastID = txID, rowID
		}
		return rows.Err()
	}()
	if err != nil || len(links) == 0 {
		_, rbErr := conn.Exec(ctx, "ROLLBACK")
		if err == nil {
			err = rbErr
		}
		return 0, blocked, cursor{lastTx, lastID}, err
	}

	positions := make([]int64, len(links))
	rowIDs := make([]int64, len(links))
	hashes := make([][]byte, len(links))
	for i, l := range links {
		pos++
		prev = eventlog.LinkHash(prev, pos, l.version, l.content)
		positions[i], rowIDs[i], hashes[i] = pos, l.rowID, prev
	}
	b = &pgx.Batch{}
	b.Queue(s.q.insertSeals, positions, rowIDs, hashes)
	b.Queue(s.q.updateHead, pos, prev, fmt.Sprint(lastTx), lastID)
	b.Queue("SELECT pg_notify($1, $2)", channel(s.cfg.Schema), fmt.Sprint(pos))
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		_, _ = conn.Exec(ctx, "ROLLBACK")
		return 0, blocked, cursor{}, fmt.Errorf("write seals: %w", err)
	}
	s.head.Advance(pos)
	return len(links), blocked, cursor{lastTx, lastID}, nil
}

// link is what sealing needs of a committed row.
type link struct {
	rowID, version int64
	content        []byte
}
