package jobs_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/internal/testpg"
)

// TestMigrateFromVersion1: a database made with the first version of the
// jobs tables opens with the current migrations, its jobs and attempts
// intact and their attempts numbered on.
func TestMigrateFromVersion1(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var o storage.Options
			if backend == "sqlite" {
				o.URL = filepath.Join(t.TempDir(), "engine.db")
			} else {
				o.URL, o.Schema = testpg.URL(t), testpg.Schema(t)
			}
			old, err := storage.Open(ctx, o, jobs.Migrations[0])
			require.NoError(t, err)
			// Rows as version 1 wrote them: a job failed once, waiting.
			_, err = old.Exec(ctx, `INSERT INTO jobs (id, subscriber, kind, target, position, event_id, stream_id, event_type, correlation_id,
				ordered, replay, status, attempts, max_attempts, next_attempt_at, last_error, last_error_code, dead_lettered, owner, lease_until,
				created_at, updated_at, finished_at, policy) VALUES ('0190d1e2-0000-7000-8000-000000000001', 'step:a', 'step', 'a', 1,
				'0190d1e2-0000-7000-8000-0000000000e1', 'x', 'account.Create', '', false, '', 'waiting', 1, 3, 0, 'boom', 'internal', false,
				'', 0, 1, 1, 0, '{"maxAttempts":3,"initialDelay":1000000000,"maxDelay":60000000000,"multiplier":2,"jitter":0.1}')`)
			require.NoError(t, err)
			_, err = old.Exec(ctx, `INSERT INTO job_attempts (job_id, number, owner, start_time, duration_us, status, response, error_code, error)
				VALUES ('0190d1e2-0000-7000-8000-000000000001', 1, 'p', 1, 5, 0, '', 'internal', 'boom')`)
			require.NoError(t, err)
			// And a job that succeeded, its attempt in a row of its own.
			_, err = old.Exec(ctx, `INSERT INTO jobs (id, subscriber, kind, target, position, event_id, stream_id, event_type, correlation_id,
				ordered, replay, status, attempts, max_attempts, next_attempt_at, last_error, last_error_code, dead_lettered, owner, lease_until,
				created_at, updated_at, finished_at, policy) VALUES ('0190d1e2-0000-7000-8000-000000000002', 'step:a', 'step', 'a', 2,
				'0190d1e2-0000-7000-8000-0000000000e2', 'x', 'account.Create', '', false, '', 'succeeded', 1, 3, 0, '', '', false,
				'', 0, 1, 1, 2, '{"maxAttempts":3,"initialDelay":1000000000,"maxDelay":60000000000,"multiplier":2,"jitter":0.1}')`)
			require.NoError(t, err)
			_, err = old.Exec(ctx, `INSERT INTO job_attempts (job_id, number, owner, start_time, duration_us, status, response, error_code, error)
				VALUES ('0190d1e2-0000-7000-8000-000000000002', 1, 'p', 1, 5, 204, '', '', '')`)
			require.NoError(t, err)
			require.NoError(t, old.Close())

			db, err := storage.Open(ctx, o, jobs.Migrations...)
			require.NoError(t, err)
			defer db.Close()
			s := jobs.NewStore(db, nil)
			got, err := s.Claim(ctx, "p", 10, time.Minute)
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Equal(t, 2, got[0].Attempts)
			require.Equal(t, 2, got[0].Tries)
			_, err = s.Finish(ctx, got[0], "p", jobs.Outcome{Start: time.Now(), Err: errors.New("again"), Retryable: true})
			require.NoError(t, err)
			atts, err := s.Attempts(ctx, got[0].ID)
			require.NoError(t, err)
			require.Len(t, atts, 2)
			require.Equal(t, jobs.AttemptFailed, atts[0].Result)
			require.Equal(t, "boom", atts[0].Error)
			require.Equal(t, 2, atts[1].Number)
			require.Equal(t, "again", atts[1].Error)
			atts, err = s.Attempts(ctx, uuid.MustParse("0190d1e2-0000-7000-8000-000000000002"))
			require.NoError(t, err)
			require.Len(t, atts, 1)
			require.Equal(t, jobs.AttemptSucceeded, atts[0].Result)
			require.Equal(t, 204, atts[0].Status)
		})
	}
}
