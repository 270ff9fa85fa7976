package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/bizevents/bizevents/engine/eventlog"
)

// maxGroupEvents caps the events of one group commit; a single larger
// append still commits alone.
const maxGroupEvents = 1000

// appendCall is a [Store.Append] handed to the committer.
type appendCall struct {
	ctx context.Context
	p   *eventlog.PreparedAppend
	// content are the events' content hashes.
	content [][]byte
	// done receives the call's outcome, exactly once.
	done chan error
}

// commitLoop is the committer: it takes the Append calls that queued while
// the previous group was committing and commits them together, until the
// store closes.
//
// Why: with synchronous FULL every commit is an fsync, and SQLite has one
// writer; one transaction for many callers turns many fsyncs into one. A
// caller alone commits at once, with no waiting for company.
func (s *Store) commitLoop() {
	defer close(s.loopDone)
	for {
		var first *appendCall
		select {
		case first = <-s.calls:
		case <-s.done:
			return
		}
		group := []*appendCall{first}
		n := len(first.p.Events)
	collect:
		for n < maxGroupEvents {
			select {
			case c := <-s.calls:
				group = append(group, c)
				n += len(c.p.Events)
			default:
				break collect
			}
		}
		s.commitGroup(group)
	}
}

// commitGroup commits the calls of group in one transaction, in order, each
// one atomic on its own: a call that fails before writing (a version
// conflict, a context done before its turn) is answered alone and the others
// go on. A failure while writing (the disk) fails the whole group, as it
// would each of its calls alone: nothing is committed.
//
// The statements do not use the callers' contexts: SQLite answers an
// interrupted write by rolling back the whole transaction, with the other
// callers' events.
func (s *Store) commitGroup(group []*appendCall) {
	ctx := context.Background()
	answer := func(calls []*appendCall, err error) {
		for _, c := range calls {
			c.done <- err
		}
	}
	if s.closed.Load() {
		answer(group, errClosed("append"))
		return
	}
	// Waiting for the writer connection (held by a Tx, maybe) ends when the
	// store closes, or when every caller of the group has given up; the
	// transaction itself does not use their contexts.
	conn, err := s.writer(group)
	if err != nil {
		for _, c := range group {
			if cerr := c.ctx.Err(); cerr != nil && !s.closed.Load() {
				c.done <- s.wrap(c.ctx, "append: wait for the writer", cerr)
			} else {
				c.done <- s.wrap(ctx, "append: begin", err)
			}
		}
		return
	}
	defer func() { _ = conn.Close() }()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		answer(group, s.wrap(ctx, "append: begin", err))
		return
	}
	defer func() { _ = tx.Rollback() }()
	w := s.newTxWriter(tx)
	ok := group[:0:0]
	// Calls refused by their plan (a version conflict) hear so only after
	// the group's commit, so that a caller who reads the stream on a
	// conflict finds the events that beat it.
	var refused []*appendCall
	var refusals []error
	defer func() {
		for i, c := range refused {
			c.done <- refusals[i]
		}
	}()
	for i, c := range group {
		if err := c.ctx.Err(); err != nil {
			c.done <- s.wrap(c.ctx, "append", err)
			continue
		}
		if err := w.plan(ctx, c.p, c.content); err != nil {
			refused = append(refused, c)
			refusals = append(refusals, err)
			continue
		}
		if err := w.write(ctx, c.p); err != nil {
			c.done <- err
			answer(append(ok, group[i+1:]...), fmt.Errorf("sqlite: append: committed together with an append that failed: %w", err))
			return
		}
		ok = append(ok, c)
	}
	if len(ok) == 0 {
		return
	}
	if err := tx.Commit(); err != nil {
		answer(ok, s.wrap(ctx, "append: commit", err))
		return
	}
	s.committed.Advance(w.last)
	answer(ok, nil)
}

// writer waits for the writer connection until the store closes or every
// call of group is done with its context.
//
// Why the callers' contexts: the connection may be held by a Tx whose
// goroutine is the one calling Append (see eventlog.Store, "One writer at a
// time"); the wait must end with the callers' deadlines, not hang.
func (s *Store) writer(group []*appendCall) (*sql.Conn, error) {
	dones := make([]<-chan struct{}, len(group))
	for i, c := range group {
		dones[i] = c.ctx.Done()
	}
	ctx, cancel := context.WithCancel(context.Background())
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		defer cancel()
		for _, done := range dones {
			select {
			case <-done:
			case <-s.done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	conn, err := s.w.Conn(ctx)
	cancel()
	<-watching
	return conn, err
}
