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

// sealLoop seals until ctx ends: at once when an append of this process
// commits, after a short pause while rows wait behind an open transaction,
// and every poll interval for appends made elsewhere.
func (s *Store) sealLoop(ctx context.Context) {
	var pause time.Duration
	for {
		n, blocked, err := s.sealOnce(ctx)
		if ctx.Err() != nil {
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
			return
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

func grow(d, lo, hi time.Duration) time.Duration {
	d *= 2
	return min(max(d, lo), hi)
}

// sealOnce seals the next batch of committed, final rows. It reports how many
// it sealed, and whether committed rows are waiting behind an open
// transaction.
func (s *Store) sealOnce(ctx context.Context) (sealed int, blocked bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, false, err
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
		return 0, blocked, err
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
		return 0, blocked, fmt.Errorf("write seals: %w", err)
	}
	s.head.Advance(pos)
	return len(links), blocked, nil
}

// link is what sealing needs of a committed row.
type link struct {
	rowID, version int64
	content        []byte
}
