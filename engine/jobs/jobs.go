// Package jobs is the durable record of everything that runs after
// commit: Dataverse's System Jobs. Each async execution (an async step, an
// endpoint delivery, later a flow run) of one event for one subscriber is
// a job, with a status, its attempts and their outcome, and the time of
// its next attempt. The router creates jobs from the log and runs them;
// users list, retry and cancel them.
//
// A job is claimed with a lease: the process that claimed it runs it and
// reports the outcome before the lease ends; a job whose lease ended (its
// process crashed) is claimed again by any process. On PostgreSQL several
// processes claim with FOR UPDATE SKIP LOCKED, so a job runs in one of
// them at a time; on SQLite one process owns the file.
//
// A failed attempt is retried with exponential backoff and jitter, per the
// job's [Policy]; after the last attempt the job is failed and
// dead-lettered: kept, with its event and every attempt, until a user
// retries or cancels it.
package jobs

import (
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/storage"
)

// Status is where a job is in its life.
type Status string

// The statuses.
const (
	// Waiting: due at NextAttemptAt.
	Waiting Status = "waiting"
	// Running: claimed by a process until LeaseUntil.
	Running Status = "running"
	// Succeeded: done; cleaned after the retention period.
	Succeeded Status = "succeeded"
	// Failed: the last attempt failed (dead-lettered), or an attempt failed
	// in a way no retry can fix. Kept until retried or canceled.
	Failed Status = "failed"
	// Canceled: a user canceled it.
	Canceled Status = "canceled"
)

// Statuses lists every status.
var Statuses = []Status{Waiting, Running, Succeeded, Failed, Canceled}

// Job is one async execution of one event for one subscriber.
type Job struct {
	ID uuid.UUID `json:"id"`
	// Subscriber is who the job is for, e.g. "step:audit purchase".
	Subscriber string `json:"subscriber"`
	// Kind and Target say what runs: "step" and a step's name,
	// "endpoint" and an endpoint's name.
	Kind   string `json:"kind"`
	Target string `json:"target"`
	// Position, EventID, StreamID and EventType are the event's; StreamID
	// is the subscriber's order key instead when it has one (see
	// router.Subscription.OrderKey).
	Position  int64     `json:"position"`
	EventID   uuid.UUID `json:"eventId"`
	StreamID  string    `json:"streamId"`
	EventType string    `json:"eventType"`
	// CorrelationID is the event's, to find a request's jobs.
	CorrelationID string `json:"correlationId,omitempty"`
	// Ordered jobs of one subscriber and stream run one at a time, in
	// position order.
	Ordered bool `json:"ordered,omitempty"`
	// Replay names the re-delivery a job belongs to; empty for the first
	// delivery.
	Replay string `json:"replay,omitempty"`

	Status Status `json:"status"`
	// Attempts counts the attempts against MaxAttempts: the failed ones
	// and a running one, since the job was created or last retried.
	// Snoozed attempts do not count.
	Attempts int `json:"attempts"`
	// Tries counts every attempt ever made, snoozed ones and those before
	// a retry included; it numbers the attempts.
	Tries         int       `json:"tries"`
	MaxAttempts   int       `json:"maxAttempts"`
	NextAttemptAt time.Time `json:"nextAttemptAt"`
	// LastError and LastErrorCode describe the last failed attempt.
	LastError     string `json:"lastError,omitempty"`
	LastErrorCode string `json:"lastErrorCode,omitempty"`
	// DeadLettered is set when the job failed its last attempt.
	DeadLettered bool `json:"deadLettered,omitempty"`
	// Owner and LeaseUntil hold a running job's claim.
	Owner      string    `json:"owner,omitempty"`
	LeaseUntil time.Time `json:"leaseUntil,omitzero"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// Policy is the retry policy the job was created with.
	Policy Policy `json:"policy"`
}

// Attempt is what one attempt of a job did.
type Attempt struct {
	JobID    uuid.UUID     `json:"jobId"`
	Number   int           `json:"number"`
	Owner    string        `json:"owner"`
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"durationUs"`
	// Status is an endpoint's HTTP status, 0 otherwise.
	Status int `json:"status,omitempty"`
	// Response is a capped excerpt of an endpoint's response.
	Response  string `json:"response,omitempty"`
	ErrorCode string `json:"errorCode,omitempty"`
	Error     string `json:"error,omitempty"`
	// Result is how the attempt ended.
	Result AttemptResult `json:"result"`
}

// AttemptResult is how an attempt ended.
type AttemptResult string

// The results of an attempt.
const (
	AttemptSucceeded AttemptResult = "succeeded"
	AttemptFailed    AttemptResult = "failed"
	// AttemptSnoozed: the runner asked to be run again later
	// ([Outcome].Snooze); not a failure.
	AttemptSnoozed AttemptResult = "snoozed"
)

// NewJob is a job to create.
type NewJob struct {
	Subscriber, Kind, Target string
	Position                 int64
	EventID                  uuid.UUID
	StreamID, EventType      string
	CorrelationID            string
	Ordered                  bool
	Replay                   string
	Policy                   Policy
	// NotBefore delays the first attempt; zero runs it at once.
	NotBefore time.Time
}

// Migrations create the jobs and their attempts.
var Migrations = []storage.Migration{{
	Component: "jobs", Version: 1,
	Postgres: `CREATE TABLE jobs (
		id TEXT PRIMARY KEY,
		subscriber TEXT NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL,
		position BIGINT NOT NULL, event_id TEXT NOT NULL, stream_id TEXT NOT NULL, event_type TEXT NOT NULL,
		correlation_id TEXT NOT NULL, ordered BOOLEAN NOT NULL, replay TEXT NOT NULL,
		status TEXT NOT NULL, attempts INTEGER NOT NULL, max_attempts INTEGER NOT NULL, next_attempt_at BIGINT NOT NULL,
		last_error TEXT NOT NULL, last_error_code TEXT NOT NULL, dead_lettered BOOLEAN NOT NULL,
		owner TEXT NOT NULL, lease_until BIGINT NOT NULL,
		created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, finished_at BIGINT NOT NULL,
		policy TEXT NOT NULL,
		UNIQUE (subscriber, position, replay)
	);
	CREATE INDEX jobs_due ON jobs (status, next_attempt_at);
	CREATE INDEX jobs_stream ON jobs (subscriber, stream_id, position);
	CREATE INDEX jobs_correlation ON jobs (correlation_id);
	CREATE TABLE job_attempts (
		job_id TEXT NOT NULL, number INTEGER NOT NULL, owner TEXT NOT NULL,
		start_time BIGINT NOT NULL, duration_us BIGINT NOT NULL, status INTEGER NOT NULL,
		response TEXT NOT NULL, error_code TEXT NOT NULL, error TEXT NOT NULL,
		PRIMARY KEY (job_id, number)
	)`,
	SQLite: `CREATE TABLE jobs (
		id TEXT PRIMARY KEY,
		subscriber TEXT NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL,
		position BIGINT NOT NULL, event_id TEXT NOT NULL, stream_id TEXT NOT NULL, event_type TEXT NOT NULL,
		correlation_id TEXT NOT NULL, ordered BOOLEAN NOT NULL, replay TEXT NOT NULL,
		status TEXT NOT NULL, attempts INTEGER NOT NULL, max_attempts INTEGER NOT NULL, next_attempt_at BIGINT NOT NULL,
		last_error TEXT NOT NULL, last_error_code TEXT NOT NULL, dead_lettered BOOLEAN NOT NULL,
		owner TEXT NOT NULL, lease_until BIGINT NOT NULL,
		created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, finished_at BIGINT NOT NULL,
		policy TEXT NOT NULL,
		UNIQUE (subscriber, position, replay)
	);
	CREATE INDEX jobs_due ON jobs (status, next_attempt_at);
	CREATE INDEX jobs_stream ON jobs (subscriber, stream_id, position);
	CREATE INDEX jobs_correlation ON jobs (correlation_id);
	CREATE TABLE job_attempts (
		job_id TEXT NOT NULL, number INTEGER NOT NULL, owner TEXT NOT NULL,
		start_time BIGINT NOT NULL, duration_us BIGINT NOT NULL, status INTEGER NOT NULL,
		response TEXT NOT NULL, error_code TEXT NOT NULL, error TEXT NOT NULL,
		PRIMARY KEY (job_id, number)
	)`,
}, {
	// Version 2: tries numbers the attempts (attempts is reset by a retry
	// and not counted for a snooze); an attempt's result.
	Component: "jobs", Version: 2,
	Postgres: `ALTER TABLE jobs ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;
	UPDATE jobs SET tries = GREATEST(attempts, COALESCE((SELECT max(number) FROM job_attempts a WHERE a.job_id = jobs.id), 0));
	ALTER TABLE job_attempts ADD COLUMN result TEXT NOT NULL DEFAULT '';
	UPDATE job_attempts SET result = CASE WHEN error_code <> '' OR error <> '' THEN 'failed' ELSE 'succeeded' END`,
	SQLite: `ALTER TABLE jobs ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;
	UPDATE jobs SET tries = max(attempts, COALESCE((SELECT max(number) FROM job_attempts a WHERE a.job_id = jobs.id), 0));
	ALTER TABLE job_attempts ADD COLUMN result TEXT NOT NULL DEFAULT '';
	UPDATE job_attempts SET result = CASE WHEN error_code <> '' OR error <> '' THEN 'failed' ELSE 'succeeded' END`,
}, {
	// Version 3: a succeeded attempt is recorded on the job's row, not in
	// a row of its own; claims read partial indexes of what may be due
	// (waiting jobs, running ones whose lease may end), which stay small
	// however many finished jobs are kept.
	Component: "jobs", Version: 3,
	Postgres: `ALTER TABLE jobs ADD COLUMN success_owner TEXT NOT NULL DEFAULT '', ADD COLUMN success_start BIGINT NOT NULL DEFAULT 0,
		ADD COLUMN success_duration_us BIGINT NOT NULL DEFAULT 0, ADD COLUMN success_status INTEGER NOT NULL DEFAULT 0,
		ADD COLUMN success_response TEXT NOT NULL DEFAULT '';
	CREATE INDEX jobs_waiting_due ON jobs (next_attempt_at, position) WHERE status = 'waiting';
	CREATE INDEX jobs_lease_ended ON jobs (lease_until) WHERE status = 'running';
	DROP INDEX jobs_due`,
	SQLite: `ALTER TABLE jobs ADD COLUMN success_owner TEXT NOT NULL DEFAULT '';
	ALTER TABLE jobs ADD COLUMN success_start BIGINT NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN success_duration_us BIGINT NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN success_status INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN success_response TEXT NOT NULL DEFAULT '';
	CREATE INDEX jobs_waiting_due ON jobs (next_attempt_at, position) WHERE status = 'waiting';
	CREATE INDEX jobs_lease_ended ON jobs (lease_until) WHERE status = 'running';
	DROP INDEX jobs_due`,
}, {
	// Version 4: the index that keeps a row's order covers ordered jobs
	// only, which alone need it.
	Component: "jobs", Version: 4,
	Postgres: `CREATE INDEX jobs_ordered_stream ON jobs (subscriber, stream_id, position) WHERE ordered;
	DROP INDEX jobs_stream`,
	SQLite: `CREATE INDEX jobs_ordered_stream ON jobs (subscriber, stream_id, position) WHERE ordered;
	DROP INDEX jobs_stream`,
}}
