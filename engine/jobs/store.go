package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/storage"
)

// MaxErrorBytes and MaxResponseBytes cap what an attempt keeps.
const (
	MaxErrorBytes    = 8 << 10
	MaxResponseBytes = 4 << 10
)

// Store keeps jobs in the engine's database, whose migrations must include
// [Migrations]. It is safe for concurrent use.
type Store struct {
	db  storage.DB
	now func() time.Time
}

// NewStore returns a store on db; now is the clock (time.Now when nil).
func NewStore(db storage.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}
}

// ErrNotFound: no job has the id. ErrLeaseLost: the job is no longer
// claimed by the caller (its lease ended and another process took it, or
// a user canceled it). ErrState: the job's status does not allow the
// change (retrying a succeeded job).
var (
	ErrNotFound  = &Error{Code: errcode.NotFound, Msg: "no such job"}
	ErrLeaseLost = &Error{Code: errcode.StateConflict, Msg: "the job is no longer claimed by this process"}
	ErrState     = &Error{Code: errcode.StateConflict, Msg: "the job's status does not allow that"}
)

// Error is a jobs error with a stable code.
type Error struct {
	Code errcode.Code
	Msg  string
}

func (e *Error) Error() string           { return e.Msg }
func (e *Error) ErrorCode() errcode.Code { return e.Code }
func (e *Error) Is(target error) bool    { t, ok := target.(*Error); return ok && t.Msg == e.Msg }
func stateError(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrState}, a...)...)
}

// A job's owner is set exactly while it is running (claimed): so "owner
// = ?" alone finds a process's claims. (A "status = 'running'" beside it
// lets PostgreSQL pick the partial index jobs_lease_ended, whose dead
// entries grow with every job finished since the last vacuum.)
const columns = `id, subscriber, kind, target, position, event_id, stream_id, event_type, correlation_id, ordered, replay,
	status, attempts, max_attempts, next_attempt_at, last_error, last_error_code, dead_lettered, owner, lease_until,
	created_at, updated_at, finished_at, policy, tries`

// Enqueue creates jobs in q (a transaction, so that jobs and an offset
// are stored together, or the DB). A job that exists already (the same
// subscriber, position and replay) is left as it is, so that enqueueing an
// event again after a crash creates nothing twice. It returns how many
// jobs it created.
func (s *Store) Enqueue(ctx context.Context, q storage.Querier, jobs []NewJob) (int, error) {
	created, err := s.insert(ctx, q, jobs, "", 0)
	return len(created), err
}

// EnqueueClaimed creates jobs already claimed by owner until now+lease, as
// Claim would return them (their first attempt counted): for a process
// that has the events in hand and workers free, it saves a claim's round
// trip between commit and run. Jobs that exist already are left as they
// are and not returned.
func (s *Store) EnqueueClaimed(ctx context.Context, q storage.Querier, owner string, lease time.Duration, jobs []NewJob) ([]Job, error) {
	return s.insert(ctx, q, jobs, owner, lease)
}

// enqueueChunk bounds the rows of one INSERT.
const enqueueChunk = 100

func (s *Store) insert(ctx context.Context, q storage.Querier, jobs []NewJob, owner string, lease time.Duration) ([]Job, error) {
	if db, ok := q.(storage.DB); ok {
		// INSERT ... RETURNING is a query: on SQLite, outside a
		// transaction, it would go to a read-only connection.
		var created []Job
		err := storage.Run(ctx, db, func(tx storage.Tx) error {
			var err error
			created, err = s.insert(ctx, tx, jobs, owner, lease)
			return err
		})
		return created, err
	}
	now := s.now()
	nowUs := storage.Micros(now)
	status, attempts, leaseUntil := Waiting, 0, time.Time{}
	if owner != "" {
		status, attempts, leaseUntil = Running, 1, now.Add(lease)
	}
	// The jobs of one batch mostly share a policy: encode each once.
	type encoded struct {
		p    Policy
		json string
	}
	var policies []encoded
	policyOf := func(p Policy) (Policy, string, error) {
		p = p.WithDefaults()
		for _, e := range policies {
			if e.p == p {
				return p, e.json, nil
			}
		}
		if err := p.Validate(); err != nil {
			return p, "", &Error{Code: errcode.InvalidArgument, Msg: err.Error()}
		}
		b, err := json.Marshal(p)
		if err != nil {
			return p, "", err
		}
		policies = append(policies, encoded{p, string(b)})
		return p, string(b), nil
	}
	cast := func(typ string) string { return "?" }
	if s.db.Dialect() == storage.Postgres {
		// Parameters outside a VALUES list of the table have no type
		// PostgreSQL can infer.
		cast = func(typ string) string { return "CAST(? AS " + typ + ")" }
	}
	// One statement per run of jobs that share everything but their
	// event: those values are given once, the events' as rows (a sixth of
	// the parameters, and of the SQL to parse).
	row := "(?, " + cast("BIGINT") + ", ?, ?, ?, ?)"
	var created []Job
	for start := 0; start < len(jobs); {
		first := jobs[start]
		end := start + 1
		for end < len(jobs) && end-start < enqueueChunk && sameGroup(first, jobs[end]) {
			end++
		}
		chunk := jobs[start:end]
		start = end
		p, policy, err := policyOf(first.Policy)
		if err != nil {
			return created, err
		}
		next := now
		if !first.NotBefore.IsZero() {
			next = first.NotBefore
		}
		args := make([]any, 0, 16+len(chunk)*6)
		args = append(args, first.Subscriber, first.Kind, first.Target, first.Ordered, first.Replay, string(status), attempts, p.MaxAttempts,
			storage.Micros(next), owner, micros(leaseUntil), nowUs, nowUs, policy, attempts)
		made := make(map[string]Job, len(chunk))
		for _, nj := range chunk {
			j := Job{ID: uuid.Must(uuid.NewV7()), Subscriber: nj.Subscriber, Kind: nj.Kind, Target: nj.Target, Position: nj.Position,
				EventID: nj.EventID, StreamID: nj.StreamID, EventType: nj.EventType, CorrelationID: nj.CorrelationID, Ordered: nj.Ordered,
				Replay: nj.Replay, Status: status, Attempts: attempts, Tries: attempts, MaxAttempts: p.MaxAttempts,
				NextAttemptAt: storage.FromMicros(storage.Micros(next)), Owner: owner, LeaseUntil: truncMicros(leaseUntil),
				CreatedAt: storage.FromMicros(nowUs), UpdatedAt: storage.FromMicros(nowUs), Policy: p}
			id := j.ID.String()
			made[id] = j
			args = append(args, id, j.Position, j.EventID.String(), j.StreamID, j.EventType, j.CorrelationID)
		}
		// RETURNING only the ids: the jobs are what was inserted. (WHERE
		// true: SQLite would read ON CONFLICT as a join's ON.)
		rows, err := q.Query(ctx, `INSERT INTO jobs (`+columns+`)
			SELECT v.column1, ?, ?, ?, v.column2, v.column3, v.column4, v.column5, v.column6, `+cast("BOOLEAN")+`, ?, ?, `+cast("INTEGER")+`,
				`+cast("INTEGER")+`, `+cast("BIGINT")+`, '', '', false, ?, `+cast("BIGINT")+`, `+cast("BIGINT")+`, `+cast("BIGINT")+`, 0, ?,
				`+cast("INTEGER")+`
			FROM (VALUES `+row+strings.Repeat(", "+row, len(chunk)-1)+`) AS v WHERE true
			ON CONFLICT (subscriber, position, replay) DO NOTHING RETURNING id`, args...)
		if err != nil {
			return created, fmt.Errorf("enqueue %d jobs of %s: %w", len(chunk), first.Subscriber, err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return created, fmt.Errorf("enqueue %d jobs of %s: %w", len(chunk), first.Subscriber, err)
			}
			created = append(created, made[id])
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return created, fmt.Errorf("enqueue %d jobs of %s: %w", len(chunk), first.Subscriber, err)
		}
	}
	return created, nil
}

// Claim takes up to limit due jobs for owner, until now+lease: running
// jobs whose lease ended (a crashed process's) first, then waiting jobs
// whose next attempt is due, earliest first. An ordered job waits while an
// earlier job of its subscriber and stream is waiting or running. Jobs of
// the subscribers in skip are left (the caller runs as many of theirs as
// it allows). Each claim counts an attempt.
func (s *Store) Claim(ctx context.Context, owner string, limit int, lease time.Duration, skip ...string) ([]Job, error) {
	now := s.now()
	nowUs := storage.Micros(now)
	lock := ""
	if s.db.Dialect() == storage.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	skipSQL := ""
	var skipArgs []any
	if len(skip) > 0 {
		skipSQL = " AND j.subscriber NOT IN (?" + strings.Repeat(", ?", len(skip)-1) + ")"
		for _, s := range skip {
			skipArgs = append(skipArgs, s)
		}
	}
	const ordered = ` AND (NOT j.ordered OR NOT EXISTS (SELECT 1 FROM jobs e WHERE e.ordered AND e.subscriber = j.subscriber AND e.stream_id = j.stream_id
		AND e.replay = j.replay AND e.position < j.position AND e.status IN ('waiting', 'running')))`
	// Two statements, each served by its partial index (jobs_lease_ended,
	// jobs_waiting_due), rather than one with an OR that neither serves.
	due := []struct{ where, order string }{
		{`j.status = 'running' AND j.lease_until < ?`, `j.lease_until`},
		{`j.status = 'waiting' AND j.next_attempt_at <= ?`, `j.next_attempt_at, j.position`},
	}
	// In a transaction: on SQLite a query outside one reads from a
	// read-only connection.
	var claimed []Job
	err := storage.Run(ctx, s.db, func(tx storage.Tx) error {
		claimed = claimed[:0]
		for _, d := range due {
			if len(claimed) >= limit {
				break
			}
			args := append([]any{owner, storage.Micros(now.Add(lease)), nowUs, nowUs}, skipArgs...)
			args = append(args, limit-len(claimed))
			rows, err := tx.Query(ctx, `UPDATE jobs SET status = 'running', owner = ?, lease_until = ?, attempts = attempts + 1, tries = tries + 1,
				updated_at = ? WHERE id IN (SELECT id FROM jobs j WHERE `+d.where+ordered+skipSQL+`
				ORDER BY `+d.order+` LIMIT ?`+lock+`)
				RETURNING `+columns, args...)
			if err != nil {
				return err
			}
			js, err := scanJobs(rows)
			if err != nil {
				return err
			}
			claimed = append(claimed, js...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	return claimed, nil
}

// Outcome is how an attempt ended.
type Outcome struct {
	Start    time.Time
	Duration time.Duration
	// Err is nil when the attempt succeeded.
	Err error
	// Retryable says whether a failed attempt may be tried again.
	Retryable bool
	// RetryAfter, when larger than the policy's delay, delays the next
	// attempt (an endpoint's Retry-After).
	RetryAfter time.Duration
	// Snooze, when positive and Err is nil, ends the attempt without
	// success or failure: the job waits again, due at now+Snooze, and the
	// attempt, recorded as [AttemptSnoozed], does not count against the
	// policy's MaxAttempts (a flow's durable delay).
	Snooze time.Duration
	// Status and Response are an endpoint's HTTP status and response
	// excerpt.
	Status   int
	Response string
}

// Finish records the outcome of the claimed job's attempt: succeeded, a
// retry at the policy's next delay, a snooze, or failed and dead-lettered
// after the last attempt or a failure no retry fixes. It returns the job
// as it is now, or ErrLeaseLost when owner no longer holds it.
func (s *Store) Finish(ctx context.Context, j Job, owner string, o Outcome) (Job, error) {
	done, errs, err := s.FinishAll(ctx, owner, []Finished{{Job: j, Outcome: o}})
	if err != nil {
		return j, err
	}
	return done[0], errs[0]
}

// Finished is a claimed job and the outcome of its attempt.
type Finished struct {
	Job     Job
	Outcome Outcome
}

// FinishAll records many outcomes in one transaction, as Finish does one:
// a worker pool's outcomes cost one commit instead of one each. It returns
// each job as it is now and, per job, ErrLeaseLost when owner no longer
// held it (that outcome is dropped, the others are kept); err is a
// failure of the whole transaction, when nothing was recorded.
//
// A succeeded attempt is recorded on the job's row, the others as rows of
// their own: a job that succeeds at once, the common case, is one row
// written twice (created, finished), not three.
func (s *Store) FinishAll(ctx context.Context, owner string, items []Finished) ([]Job, []error, error) {
	now := s.now()
	nowUs := storage.Micros(now)
	out := make([]Job, len(items))
	errs := make([]error, len(items))
	attempts := make([]Attempt, len(items))
	var succeeded []int // items that succeeded: one UPDATE for many
	for i, it := range items {
		j, o := it.Job, it.Outcome
		attempts[i] = Attempt{JobID: j.ID, Number: j.Tries, Owner: owner, Start: o.Start, Duration: o.Duration, Status: o.Status,
			Response: capText(o.Response, MaxResponseBytes), Result: AttemptSucceeded}
		j.Status, j.Owner, j.LeaseUntil, j.UpdatedAt, j.FinishedAt = Succeeded, "", time.Time{}, now, now
		switch {
		case o.Err == nil && o.Snooze > 0:
			attempts[i].Result = AttemptSnoozed
			j.Status, j.FinishedAt = Waiting, time.Time{}
			j.Attempts = max(j.Attempts-1, 0)
			j.NextAttemptAt = now.Add(o.Snooze)
		case o.Err != nil:
			attempts[i].Result = AttemptFailed
			attempts[i].ErrorCode, attempts[i].Error = string(errcode.Of(o.Err)), capText(o.Err.Error(), MaxErrorBytes)
			j.LastError, j.LastErrorCode = attempts[i].Error, attempts[i].ErrorCode
			if o.Retryable && j.Attempts < j.MaxAttempts {
				j.Status, j.FinishedAt = Waiting, time.Time{}
				j.NextAttemptAt = now.Add(max(j.Policy.delay(j.Attempts), o.RetryAfter))
			} else {
				j.Status, j.DeadLettered = Failed, true
			}
		default:
			succeeded = append(succeeded, i)
		}
		out[i] = j
	}
	err := storage.Run(ctx, s.db, func(tx storage.Tx) error {
		recorded := make([]bool, len(items))
		for start := 0; start < len(succeeded); start += finishChunk {
			chunk := succeeded[start:min(start+finishChunk, len(succeeded))]
			args := make([]any, 0, 4+5*len(chunk))
			args = append(args, nowUs, nowUs, owner)
			byID := make(map[string]int, len(chunk))
			for _, i := range chunk {
				a := attempts[i]
				id := a.JobID.String()
				args = append(args, id, micros(a.Start), a.Duration.Microseconds(), a.Status, a.Response)
				byID[id] = i
			}
			args = append(args, owner)
			const row = `(CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS INTEGER), CAST(? AS TEXT))`
			rows, err := tx.Query(ctx, `UPDATE jobs SET status = 'succeeded', owner = '', lease_until = 0, updated_at = ?, finished_at = ?,
				success_owner = ?, success_start = v.column2, success_duration_us = v.column3, success_status = v.column4, success_response = v.column5
				FROM (VALUES `+row+strings.Repeat(", "+row, len(chunk)-1)+`) AS v
				WHERE jobs.owner = ? AND jobs.id = v.column1 RETURNING id`, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				recorded[byID[id]] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		var kept []Attempt
		for i, j := range out {
			if attempts[i].Result == AttemptSucceeded {
				continue
			}
			n, err := tx.Exec(ctx, `UPDATE jobs SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, last_error_code = ?, dead_lettered = ?,
				owner = '', lease_until = 0, updated_at = ?, finished_at = ? WHERE id = ? AND owner = ?`,
				string(j.Status), j.Attempts, storage.Micros(j.NextAttemptAt), j.LastError, j.LastErrorCode, j.DeadLettered, nowUs,
				micros(j.FinishedAt), j.ID.String(), owner)
			if err != nil {
				return err
			}
			if recorded[i] = n > 0; recorded[i] {
				kept = append(kept, attempts[i])
			}
		}
		for i := range items {
			if !recorded[i] {
				out[i], errs[i] = items[i].Job, ErrLeaseLost
			}
		}
		for start := 0; start < len(kept); start += finishChunk {
			chunk := kept[start:min(start+finishChunk, len(kept))]
			var args []any
			for _, a := range chunk {
				args = append(args, a.JobID.String(), a.Number, a.Owner, micros(a.Start), a.Duration.Microseconds(), a.Status, a.Response,
					a.ErrorCode, a.Error, string(a.Result))
			}
			if _, err := tx.Exec(ctx, `INSERT INTO job_attempts (job_id, number, owner, start_time, duration_us, status, response, error_code, error, result)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`+strings.Repeat(", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", len(chunk)-1)+`
				ON CONFLICT (job_id, number) DO NOTHING`, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("finish %d jobs: %w", len(items), err)
	}
	return out, errs, nil
}

// finishChunk bounds the rows of one statement of FinishAll.
const finishChunk = 200

// Extend moves the lease of a claimed job to now+lease, for a long
// attempt; ErrLeaseLost when owner no longer holds it.
func (s *Store) Extend(ctx context.Context, id uuid.UUID, owner string, lease time.Duration) error {
	n, err := s.db.Exec(ctx, `UPDATE jobs SET lease_until = ? WHERE id = ? AND owner = ?`,
		storage.Micros(s.now().Add(lease)), id.String(), owner)
	if err != nil {
		return fmt.Errorf("extend job %s: %w", id, err)
	}
	if n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// ExtendAll moves the leases of claimed jobs to now+lease in one
// transaction, for jobs claimed ahead of the workers that wait for one,
// and returns the new lease end and the ids owner still holds (the others
// were canceled or taken over).
func (s *Store) ExtendAll(ctx context.Context, ids []uuid.UUID, owner string, lease time.Duration) (time.Time, map[uuid.UUID]bool, error) {
	until := truncMicros(s.now().Add(lease))
	held := make(map[uuid.UUID]bool, len(ids))
	err := storage.Run(ctx, s.db, func(tx storage.Tx) error {
		for start := 0; start < len(ids); start += finishChunk {
			chunk := ids[start:min(start+finishChunk, len(ids))]
			args := []any{storage.Micros(until), owner}
			for _, id := range chunk {
				args = append(args, id.String())
			}
			rows, err := tx.Query(ctx, `UPDATE jobs SET lease_until = ? WHERE owner = ?
				AND id IN (?`+strings.Repeat(", ?", len(chunk)-1)+`) RETURNING id`, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				u, _ := uuid.Parse(id)
				held[u] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return until, nil, fmt.Errorf("extend %d jobs: %w", len(ids), err)
	}
	return until, held, nil
}

// Release gives back claimed jobs whose attempt owner did not start (a
// process stopping with jobs claimed ahead of its workers): they wait
// again, due now, their claim not counted as an attempt, so that another
// process takes them without waiting for their leases to end. Jobs owner
// no longer holds are left as they are.
func (s *Store) Release(ctx context.Context, ids []uuid.UUID, owner string) error {
	nowUs := storage.Micros(s.now())
	err := storage.Run(ctx, s.db, func(tx storage.Tx) error {
		for start := 0; start < len(ids); start += finishChunk {
			chunk := ids[start:min(start+finishChunk, len(ids))]
			args := []any{nowUs, nowUs, owner}
			for _, id := range chunk {
				args = append(args, id.String())
			}
			if _, err := tx.Exec(ctx, `UPDATE jobs SET status = 'waiting', owner = '', lease_until = 0, attempts = attempts - 1, tries = tries - 1,
				next_attempt_at = ?, updated_at = ? WHERE owner = ?
				AND id IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release %d jobs: %w", len(ids), err)
	}
	return nil
}

// Get returns a job.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (Job, error) {
	rows, err := s.db.Query(ctx, `SELECT `+columns+` FROM jobs WHERE id = ?`, id.String())
	if err != nil {
		return Job{}, fmt.Errorf("read job %s: %w", id, err)
	}
	js, err := scanJobs(rows)
	if err != nil {
		return Job{}, err
	}
	if len(js) == 0 {
		return Job{}, fmt.Errorf("job %s: %w", id, ErrNotFound)
	}
	return js[0], nil
}

// Attempts returns a job's attempts, first first.
func (s *Store) Attempts(ctx context.Context, id uuid.UUID) ([]Attempt, error) {
	// The succeeded attempt is on the job's row (since version 3 of the
	// tables; before, it has a row of its own and success_owner is empty).
	rows, err := s.db.Query(ctx, `SELECT number, owner, start_time, duration_us, status, response, error_code, error, result
		FROM job_attempts WHERE job_id = ?
		UNION ALL SELECT tries, success_owner, success_start, success_duration_us, success_status, success_response, '', '', 'succeeded'
		FROM jobs WHERE id = ? AND status = 'succeeded' AND success_owner <> ''
		ORDER BY 1`, id.String(), id.String())
	if err != nil {
		return nil, fmt.Errorf("read attempts of job %s: %w", id, err)
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		a := Attempt{JobID: id}
		var start, dur int64
		var result string
		if err := rows.Scan(&a.Number, &a.Owner, &start, &dur, &a.Status, &a.Response, &a.ErrorCode, &a.Error, &result); err != nil {
			return nil, err
		}
		a.Start, a.Duration, a.Result = fromMicros(start), time.Duration(dur)*time.Microsecond, AttemptResult(result)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Retry makes a failed or canceled job wait again, due now, with its
// attempts counted afresh.
func (s *Store) Retry(ctx context.Context, id uuid.UUID) (Job, error) {
	return s.transition(ctx, id, []Status{Failed, Canceled}, `status = 'waiting', attempts = 0, dead_lettered = ?, next_attempt_at = ?, finished_at = 0`, false)
}

// Cancel cancels a job that has not succeeded. A running attempt goes on,
// but its outcome is not recorded.
func (s *Store) Cancel(ctx context.Context, id uuid.UUID) (Job, error) {
	return s.transition(ctx, id, []Status{Waiting, Running, Failed}, `status = 'canceled', owner = '', lease_until = 0, dead_lettered = ?, finished_at = ?`, false)
}

func (s *Store) transition(ctx context.Context, id uuid.UUID, from []Status, set string, dead bool) (Job, error) {
	j, err := s.Get(ctx, id)
	if err != nil {
		return j, err
	}
	ok := false
	var in []string
	for _, st := range from {
		ok = ok || j.Status == st
		in = append(in, "'"+string(st)+"'")
	}
	if !ok {
		return j, stateError("job %s is %s", id, j.Status)
	}
	now := storage.Micros(s.now())
	n, err := s.db.Exec(ctx, `UPDATE jobs SET `+set+`, updated_at = ? WHERE id = ? AND status IN (`+strings.Join(in, ", ")+`)`,
		dead, now, now, id.String())
	if err != nil {
		return j, fmt.Errorf("update job %s: %w", id, err)
	}
	if n == 0 {
		return j, stateError("job %s changed meanwhile", id)
	}
	return s.Get(ctx, id)
}

// Cleanup deletes the succeeded jobs (and their attempts) finished before
// cutoff and returns how many. Failed jobs are kept.
func (s *Store) Cleanup(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := storage.Run(ctx, s.db, func(tx storage.Tx) error {
		c := storage.Micros(cutoff)
		if _, err := tx.Exec(ctx, `DELETE FROM job_attempts WHERE job_id IN (SELECT id FROM jobs WHERE status = 'succeeded' AND finished_at < ?)`, c); err != nil {
			return err
		}
		var err error
		n, err = tx.Exec(ctx, `DELETE FROM jobs WHERE status = 'succeeded' AND finished_at < ?`, c)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("clean up jobs: %w", err)
	}
	return n, nil
}

// Filter selects jobs; zero fields select all.
type Filter struct {
	Status                             []Status
	Subscriber, Kind, Target, StreamID string
	CorrelationID                      string
	DeadLettered                       bool
	// After pages by creation order: jobs created after the job with this
	// id (its id, a UUIDv7, sorts by time).
	After uuid.UUID
	// Limit is the page size, default 100, at most 10 000.
	Limit int
}

// List returns the jobs the filter selects, oldest first.
func (s *Store) List(ctx context.Context, f Filter) ([]Job, error) {
	switch {
	case f.Limit == 0:
		f.Limit = 100
	case f.Limit < 0 || f.Limit > 10_000:
		return nil, &Error{Code: errcode.InvalidArgument, Msg: fmt.Sprintf("limit %d must be between 1 and 10000", f.Limit)}
	}
	where := []string{"1 = 1"}
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if len(f.Status) > 0 {
		var in []string
		for _, st := range f.Status {
			if !validStatus(st) {
				return nil, &Error{Code: errcode.InvalidArgument, Msg: fmt.Sprintf("unknown status %q; want one of waiting, running, succeeded, failed, canceled", st)}
			}
			in = append(in, "'"+string(st)+"'")
		}
		where = append(where, "status IN ("+strings.Join(in, ", ")+")")
	}
	for _, c := range []struct{ col, v string }{{"subscriber", f.Subscriber}, {"kind", f.Kind}, {"target", f.Target}, {"stream_id", f.StreamID}, {"correlation_id", f.CorrelationID}} {
		if c.v != "" {
			add(c.col+" = ?", c.v)
		}
	}
	if f.DeadLettered {
		add("dead_lettered = ?", true)
	}
	if f.After != uuid.Nil {
		add("id > ?", f.After.String())
	}
	args = append(args, f.Limit)
	rows, err := s.db.Query(ctx, `SELECT `+columns+` FROM jobs WHERE `+strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return scanJobs(rows)
}

// Counts returns how many jobs have each status, for a subscriber or all
// ("").
func (s *Store) Counts(ctx context.Context, subscriber string) (map[Status]int64, error) {
	q := `SELECT status, count(*) FROM jobs`
	var args []any
	if subscriber != "" {
		q += ` WHERE subscriber = ?`
		args = append(args, subscriber)
	}
	rows, err := s.db.Query(ctx, q+` GROUP BY status`, args...)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	defer rows.Close()
	out := map[Status]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[Status(st)] = n
	}
	return out, rows.Err()
}

func validStatus(s Status) bool {
	for _, st := range Statuses {
		if s == st {
			return true
		}
	}
	return false
}

func scanJobs(rows storage.Rows) ([]Job, error) {
	defer rows.Close()
	var out []Job
	for rows.Next() {
		var j Job
		var id, eventID, status, policy string
		var next, lease, created, updated, finished int64
		if err := rows.Scan(&id, &j.Subscriber, &j.Kind, &j.Target, &j.Position, &eventID, &j.StreamID, &j.EventType, &j.CorrelationID,
			&j.Ordered, &j.Replay, &status, &j.Attempts, &j.MaxAttempts, &next, &j.LastError, &j.LastErrorCode, &j.DeadLettered,
			&j.Owner, &lease, &created, &updated, &finished, &policy, &j.Tries); err != nil {
			return nil, fmt.Errorf("read jobs: %w", err)
		}
		j.ID, _ = uuid.Parse(id)
		j.EventID, _ = uuid.Parse(eventID)
		j.Status = Status(status)
		j.NextAttemptAt, j.CreatedAt, j.UpdatedAt = storage.FromMicros(next), storage.FromMicros(created), storage.FromMicros(updated)
		j.LeaseUntil, j.FinishedAt = fromMicros(lease), fromMicros(finished)
		if err := json.Unmarshal([]byte(policy), &j.Policy); err != nil {
			return nil, fmt.Errorf("read job %s: policy: %w", id, err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return storage.Micros(t)
}

// sameGroup says whether two new jobs differ only in their event.
func sameGroup(a, b NewJob) bool {
	return a.Subscriber == b.Subscriber && a.Kind == b.Kind && a.Target == b.Target && a.Ordered == b.Ordered && a.Replay == b.Replay &&
		a.Policy == b.Policy && a.NotBefore.Equal(b.NotBefore)
}

// truncMicros is t as it reads back from the database.
func truncMicros(t time.Time) time.Time { return fromMicros(micros(t)) }

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return storage.FromMicros(us)
}

// capText cuts s to at most n bytes of valid UTF-8.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
