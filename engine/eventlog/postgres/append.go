package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bizevents/bizevents/engine/eventlog"
)

// maxAnyRetries bounds how often Append retries a request without
// expectations that lost a race for a stream version to a concurrent writer.
const maxAnyRetries = 50

// querier is what append needs of a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Append appends in a transaction of its own: one INSERT statement. A request
// with no expectations that loses a race for a version to a concurrent
// writer of the same stream is retried; one with expectations fails with a
// *eventlog.VersionConflictError.
func (s *Store) Append(ctx context.Context, req eventlog.AppendRequest) ([]eventlog.Event, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	p, err := s.cfg.PrepareAppendStorageChecksJSON(req)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		evs, err := s.insert(ctx, s.pool, p)
		if err == nil {
			s.kickSealer()
			return evs, nil
		}
		var vc *eventlog.VersionConflictError
		if len(req.Expect) == 0 && errors.As(err, &vc) && vc.Actual < 0 && attempt < maxAnyRetries {
			// Another writer took the version; let the winners commit.
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("postgres: append: %w", ctx.Err())
			case <-time.After(time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 5)))):
			}
			continue
		}
		return nil, fmt.Errorf("postgres: append: %w", blameData(req, err))
	}
}

// AppendTx appends inside a transaction the caller owns (on any pool to the
// same database). The events are stored when the caller commits. A conflict
// aborts the caller's transaction, as any failed statement does in
// PostgreSQL: roll back and retry the whole transaction.
func (s *Store) AppendTx(ctx context.Context, tx pgx.Tx, req eventlog.AppendRequest) ([]eventlog.Event, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	p, err := s.cfg.PrepareAppendStorageChecksJSON(req)
	if err != nil {
		return nil, err
	}
	evs, err := s.insert(ctx, tx, p)
	if err != nil {
		return nil, fmt.Errorf("postgres: append: %w", blameData(req, err))
	}
	// The sealer retries until this transaction ends; the caller's commit
	// is not visible to us.
	s.kickSealer()
	return evs, nil
}

// insert writes a prepared request with one statement and fills in the
// versions; on a failed expectation it reads the actual versions for the
// error.
func (s *Store) insert(ctx context.Context, q querier, p *eventlog.PreparedAppend) ([]eventlog.Event, error) {
	if len(p.Events) == 1 {
		return s.insertOne(ctx, q, p)
	}
	n := len(p.Events)
	streams := make([]string, len(p.Streams))
	expects := make([]int64, len(p.Streams))
	for i, st := range p.Streams {
		streams[i], expects[i] = st.StreamID, st.Expect
	}
	var (
		ids                                                           = make([]string, n)
		offs                                                          = make([]int64, n)
		evStreams, types, data, users, initiators, corrs, reqs, cause = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		depths                                                        = make([]int32, n)
		solutions                                                     = make([]string, n)
		ords                                                          = make([]int64, n)
		contents                                                      = make([][]byte, n)
	)
	for i := range p.Events {
		e := &p.Events[i]
		m := &e.Metadata
		ids[i], offs[i], evStreams[i], types[i], data[i] = e.ID.String(), e.StreamVersion, e.StreamID, e.Type, string(e.Data)
		users[i], initiators[i], corrs[i], reqs[i], cause[i] = m.UserID, m.InitiatingUserID, m.CorrelationID, m.RequestID, m.CausationID
		depths[i], solutions[i], ords[i] = int32(m.Depth), m.Solution, int64(i)
		contents[i] = eventlog.ContentHash(e)
	}
	rows, err := q.Query(ctx, s.q.appendEvents, streams, expects, ids, offs, evStreams, types, data, users, initiators,
		corrs, reqs, cause, depths, solutions, ords, p.Events[0].Metadata.Time, contents)
	if err != nil {
		return nil, mapError(ctx, err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, mapError(ctx, err)
	}
	if len(versions) == 0 {
		return nil, s.conflict(ctx, q, p, streams)
	}
	if len(versions) != n {
		return nil, fmt.Errorf("inserted %d of %d events", len(versions), n)
	}
	for i := range p.Events {
		p.Events[i].StreamVersion = versions[i]
	}
	return p.Events, nil
}

// insertOne is insert for the common single-event request.
func (s *Store) insertOne(ctx context.Context, q querier, p *eventlog.PreparedAppend) ([]eventlog.Event, error) {
	e := &p.Events[0]
	m := &e.Metadata
	rows, err := q.Query(ctx, s.q.appendOne, e.ID.String(), e.StreamID, p.Streams[0].Expect, e.Type, string(e.Data),
		m.UserID, m.InitiatingUserID, m.CorrelationID, m.RequestID, m.CausationID, int32(m.Depth), m.Solution, m.Time,
		eventlog.ContentHash(e))
	if err != nil {
		return nil, mapError(ctx, err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, mapError(ctx, err)
	}
	if len(versions) == 0 {
		return nil, s.conflict(ctx, q, p, []string{e.StreamID})
	}
	e.StreamVersion = versions[0]
	return p.Events, nil
}

// conflict reads the streams' versions to say which expectation failed.
func (s *Store) conflict(ctx context.Context, q querier, p *eventlog.PreparedAppend, streams []string) error {
	rows, err := q.Query(ctx, s.q.streamVersions, streams)
	if err != nil {
		return mapError(ctx, err)
	}
	current := make(map[string]int64, len(streams))
	var (
		id string
		v  int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &v}, func() error { current[id] = v; return nil }); err != nil {
		return mapError(ctx, err)
	}
	if err := p.AssignVersions(current); err != nil {
		return err
	}
	// The expectations hold now: a concurrent writer moved the stream
	// between the statement's snapshot and this read.
	return &eventlog.VersionConflictError{StreamID: p.Streams[0].StreamID, Expected: p.Streams[0].Expect, Actual: -1}
}

// blameData names the event whose data PostgreSQL rejected as not JSON.
func blameData(req eventlog.AppendRequest, err error) error {
	if errors.Is(err, eventlog.ErrInvalidEvent) {
		if bad := eventlog.FindInvalidData(req); bad != nil {
			return bad
		}
	}
	return err
}

// mapError turns driver errors into the log's errors at the boundary:
// conflicts, data the database rejected, and connection failures, which
// become [eventlog.ErrUnavailable] wrapping the driver's error. When ctx is
// done the error is ctx's, whatever the driver made of the interruption (it
// closes the connection, which would otherwise read as unavailable).
func mapError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	if isClosedPool(err) {
		// The caller closed the pool under the store: as good as closed,
		// and retrying will not help.
		return eventlog.Wrap(eventlog.ErrClosed, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505" && pgErr.ConstraintName == "events_stream_version":
			return &eventlog.VersionConflictError{StreamID: streamFromDetail(pgErr.Detail), Expected: -1, Actual: -1}
		case pgErr.Code == "40P01" || pgErr.Code == "40001":
			return &eventlog.VersionConflictError{Expected: -1, Actual: -1}
		case len(pgErr.Code) == 5 && pgErr.Code[:2] == "22":
			return eventlog.Errorf(eventlog.ErrInvalidEvent, "rejected by the database: %s", pgErr.Message)
		case unavailableState(pgErr.Code):
			return eventlog.Wrap(eventlog.ErrUnavailable, err)
		}
		// Any other answer from the server (a failed login, a missing
		// database, a bug in our SQL) is not going to pass by retrying.
		return err
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), // refused, unreachable, TLS, timed out
		errors.As(err, &netErr), // a connection that broke
		pgconn.Timeout(err),
		errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), // the server hung up
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return eventlog.Wrap(eventlog.ErrUnavailable, err)
	}
	return err
}

// isClosedPool reports whether err is pgxpool's error for a closed pool:
// puddle.ErrClosedPool, matched by its text so as not to import pgxpool's
// pool library directly.
func isClosedPool(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if err.Error() == "closed pool" {
			return true
		}
	}
	return false
}

// unavailableState reports whether a SQLSTATE says the server cannot serve
// now but may later: connection exceptions (class 08), an administrator or
// crash shutdown, a server starting up (57P01..57P03), too many
// connections (53300).
func unavailableState(code string) bool {
	switch {
	case len(code) == 5 && code[:2] == "08":
		return true
	case code == "57P01", code == "57P02", code == "57P03", code == "53300":
		return true
	}
	return false
}

// streamFromDetail extracts the stream id from a unique violation's detail,
// `Key (stream_id, stream_version)=(s, 2) already exists.`, best effort.
func streamFromDetail(detail string) string {
	const prefix = "Key (stream_id, stream_version)=("
	if len(detail) <= len(prefix) || detail[:len(prefix)] != prefix {
		return ""
	}
	rest := detail[len(prefix):]
	for i := len(rest) - 1; i >= 0; i-- {
		if rest[i] == ',' {
			return rest[:i]
		}
	}
	return ""
}
