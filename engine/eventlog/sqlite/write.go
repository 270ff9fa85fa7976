package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/bizevents/bizevents/engine/eventlog"
)

// txWriter appends inside one write transaction. It remembers the chain head
// and the stream versions it has read or written, so that the appends of one
// transaction read each only once: nothing else writes while the
// transaction holds the write lock.
type txWriter struct {
	s  *Store
	tx *sql.Tx
	// Statements bound to tx, made on first use.
	version, versions, insert *sql.Stmt
	// The chain head (last position and its hash), once known.
	headKnown bool
	last      int64
	prev      []byte
	// streams maps a stream to its version in tx, for the streams seen.
	streams map[string]int64
}

func (s *Store) newTxWriter(tx *sql.Tx) *txWriter {
	return &txWriter{s: s, tx: tx, streams: make(map[string]int64)}
}

// contentHashes returns the content hash of each of p's events, the costly
// part of sealing, which needs neither position nor version: Append computes
// them in the caller's goroutine, leaving the committer only the links.
func contentHashes(p *eventlog.PreparedAppend) [][]byte {
	hs := make([][]byte, len(p.Events))
	for i := range p.Events {
		hs[i] = eventlog.ContentHash(&p.Events[i])
	}
	return hs
}

// plan assigns p's versions against the streams as they are in the
// transaction, and seals the events after the chain head: positions and
// hashes, linking content (p's content hashes, computed here when nil). It
// writes nothing; a conflict is a *VersionConflictError.
func (w *txWriter) plan(ctx context.Context, p *eventlog.PreparedAppend, content [][]byte) error {
	var unknown []string
	for _, st := range p.Streams {
		if _, ok := w.streams[st.StreamID]; !ok {
			unknown = append(unknown, st.StreamID)
		}
	}
	if err := w.readVersions(ctx, unknown); err != nil {
		return err
	}
	if err := p.AssignVersions(w.streams); err != nil {
		return fmt.Errorf("sqlite: append: %w", err)
	}
	if !w.headKnown {
		err := w.tx.StmtContext(ctx, w.s.stmts.head).QueryRowContext(ctx).Scan(&w.last, &w.prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return w.s.wrap(ctx, "append: read head", err)
		}
		w.headKnown = true
	}
	if content == nil {
		content = contentHashes(p)
	}
	prev := w.prev
	for i := range p.Events {
		e := &p.Events[i]
		e.Position = w.last + 1 + int64(i)
		e.Hash = eventlog.LinkHash(prev, e.Position, e.StreamVersion, content[i])
		prev = e.Hash
	}
	return nil
}

// readVersions reads the current versions of streams into w.streams: one
// by one for one, in a single statement for more (each still an index
// lookup).
func (w *txWriter) readVersions(ctx context.Context, streams []string) error {
	switch len(streams) {
	case 0:
		return nil
	case 1:
		if w.version == nil {
			w.version = w.tx.StmtContext(ctx, w.s.stmts.streamVersion)
		}
		var v int64
		err := w.version.QueryRowContext(ctx, streams[0]).Scan(&v)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return w.s.wrap(ctx, "append: read version of "+streams[0], err)
		}
		w.streams[streams[0]] = v
		return nil
	}
	ids, err := json.Marshal(streams)
	if err != nil {
		return fmt.Errorf("sqlite: append: read versions: %w", err)
	}
	if w.versions == nil {
		w.versions = w.tx.StmtContext(ctx, w.s.stmts.streamVersions)
	}
	rows, err := w.versions.QueryContext(ctx, string(ids))
	if err != nil {
		return w.s.wrap(ctx, "append: read versions", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			stream string
			v      int64
		)
		if err := rows.Scan(&stream, &v); err != nil {
			return w.s.wrap(ctx, "append: read versions", err)
		}
		w.streams[stream] = v
		n++
	}
	if err := rows.Err(); err != nil {
		return w.s.wrap(ctx, "append: read versions", err)
	}
	if n != len(streams) {
		return fmt.Errorf("sqlite: append: read versions: got %d streams, want %d", n, len(streams))
	}
	return nil
}

// write inserts p's planned events. On success the writer moves its head
// and versions past them; on a failure some may be written, and the caller
// rolls back (to a savepoint or the whole transaction).
func (w *txWriter) write(ctx context.Context, p *eventlog.PreparedAppend) error {
	if w.insert == nil {
		w.insert = w.tx.StmtContext(ctx, w.s.stmts.insert)
	}
	for i := range p.Events {
		e := &p.Events[i]
		m := &e.Metadata
		_, err := w.insert.ExecContext(ctx, e.Position, e.ID[:], e.StreamID, e.StreamVersion, e.Type, string(e.Data),
			m.UserID, m.InitiatingUserID, m.CorrelationID, m.RequestID, m.CausationID, m.Depth, m.Solution,
			m.Time.UnixMicro(), e.Hash)
		if isUniqueViolation(err) {
			// Cannot happen while this transaction holds the write lock
			// since it read the versions; kept for safety.
			return fmt.Errorf("sqlite: append: %w", &eventlog.VersionConflictError{StreamID: e.StreamID, Expected: expectation(p, e.StreamID), Actual: -1})
		}
		if err != nil {
			return w.s.wrap(ctx, fmt.Sprintf("append: insert position %d", e.Position), err)
		}
	}
	e := &p.Events[len(p.Events)-1]
	w.last, w.prev = e.Position, e.Hash
	for i := range p.Events {
		w.streams[p.Events[i].StreamID] = p.Events[i].StreamVersion
	}
	return nil
}

// expectation returns the version p expected stream at, or -1.
func expectation(p *eventlog.PreparedAppend, stream string) int64 {
	for _, st := range p.Streams {
		if st.StreamID == stream {
			return st.Expect
		}
	}
	return -1
}
