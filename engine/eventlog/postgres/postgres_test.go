package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/eventlog/eventlogtest"
	"github.com/bizevents/bizevents/engine/eventlog/postgres"
	"github.com/bizevents/bizevents/internal/testpg"
)

// pgLog is one isolated log: a schema of its own in the test database.
type pgLog struct {
	url, schema string
}

func newLog(t *testing.T) eventlogtest.Log {
	return &pgLog{url: testpg.URL(t), schema: testpg.Schema(t)}
}

func (l *pgLog) Open(t *testing.T, cfg eventlog.Config) eventlog.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, l.url+"&pool_max_conns=20", postgres.Config{Config: cfg, Schema: l.schema})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func (l *pgLog) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, l.url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, sql, args...)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
}

func (l *pgLog) Tamper(t *testing.T, position int64, data string) {
	s := pgx.Identifier{l.schema}.Sanitize()
	l.exec(t, "UPDATE "+s+".events SET data = $2 WHERE id = (SELECT event FROM "+s+".seals WHERE position = $1)", position, data)
}

func (l *pgLog) Remove(t *testing.T, position int64) {
	s := pgx.Identifier{l.schema}.Sanitize()
	l.exec(t, "DELETE FROM "+s+".events WHERE id = (SELECT event FROM "+s+".seals WHERE position = $1)", position)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	eventlogtest.Run(t, eventlogtest.Backend{NewLog: newLog})
}
