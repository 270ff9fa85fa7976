package postgres_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
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

func (l *pgLog) Open(ctx context.Context, cfg eventlog.Config) (eventlog.Store, error) {
	s, err := postgres.Open(ctx, l.url+"&pool_max_conns=20", postgres.Config{Config: cfg, Schema: l.schema})
	if err != nil {
		return nil, err
	}
	return s, nil
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

// TestUnreachableServer: a server that cannot be reached fails with
// ErrUnavailable (code unavailable), which IsRetryable accepts; a server
// that answers with a refusal that will not pass (no such database) does
// not.
func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=5", postgres.Config{})
	require.Error(t, err)
	require.ErrorIs(t, err, eventlog.ErrUnavailable)
	require.NotErrorIs(t, err, eventlog.ErrClosed)
	require.Equal(t, errcode.Unavailable, errcode.Of(err), "error: %v", err)
	require.True(t, eventlog.IsRetryable(err))
	var connectErr *pgconn.ConnectError
	require.ErrorAs(t, err, &connectErr, "the driver's error is kept")

	u, err := url.Parse(testpg.URL(t))
	require.NoError(t, err)
	u.Path = "/bizevents_no_such_database"
	_, err = postgres.Open(ctx, u.String(), postgres.Config{})
	require.Error(t, err)
	require.NotErrorIs(t, err, eventlog.ErrUnavailable)
	require.False(t, eventlog.IsRetryable(err), "error: %v", err)
}

// TestConnectionLost: when the database goes away under an open store, its
// calls fail with ErrUnavailable; Close still returns, within its bound.
func TestConnectionLost(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pcfg, err := pgxpool.ParseConfig(testpg.URL(t))
	require.NoError(t, err)
	p := startProxy(t, net.JoinHostPort(pcfg.ConnConfig.Host, fmt.Sprint(pcfg.ConnConfig.Port)))
	host, port, err := net.SplitHostPort(p.addr())
	require.NoError(t, err)
	pcfg.ConnConfig.Host = host
	pcfg.ConnConfig.Port = uint16(mustAtoi(t, port))
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	require.NoError(t, err)
	defer pool.Close()
	s, err := postgres.New(ctx, pool, postgres.Config{Schema: testpg.Schema(t)})
	require.NoError(t, err)
	defer s.Close()
	req := eventlog.AppendRequest{Events: []eventlog.NewEvent{{StreamID: "s", Type: "T", Data: []byte(`1`)}}}
	_, err = s.Append(ctx, req)
	require.NoError(t, err)

	p.stop() // the database is gone: connections drop, new ones are refused
	calls := map[string]func() error{
		"Append": func() error { _, err := s.Append(ctx, req); return err },
		"Read":   func() error { _, err := s.Read(ctx, eventlog.ReadQuery{}); return err },
		"ReadStream": func() error {
			_, err := s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "s"})
			return err
		},
		"Head":      func() error { _, err := s.Head(ctx); return err },
		"Offset":    func() error { _, _, err := s.Offset(ctx, "sub"); return err },
		"SetOffset": func() error { return s.SetOffset(ctx, "sub", 1) },
		"Begin":     func() error { _, err := s.Begin(ctx); return err },
	}
	for name, call := range calls {
		err := call()
		require.ErrorIs(t, err, eventlog.ErrUnavailable, "%s: %v", name, err)
		require.Equal(t, errcode.Unavailable, errcode.Of(err), name)
		require.True(t, eventlog.IsRetryable(err), name)
		require.NotErrorIs(t, err, eventlog.ErrClosed, name)
	}

	// A context that ends is the caller's doing, not the database's.
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	_, err = s.Read(cctx, eventlog.ReadQuery{})
	require.Equal(t, errcode.Canceled, errcode.Of(err), "error: %v", err)

	start := time.Now()
	err = s.Close()
	require.Less(t, time.Since(start), 10*time.Second)
	if err != nil {
		require.ErrorIs(t, err, eventlog.ErrUnavailable, "the final seal could not reach the database")
	}
}

// TestPoolClosedUnderStore: a pool closed before the store fails calls like
// a closed store: code unavailable, not retryable.
func TestPoolClosedUnderStore(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, testpg.URL(t))
	require.NoError(t, err)
	s, err := postgres.New(ctx, pool, postgres.Config{Schema: testpg.Schema(t)})
	require.NoError(t, err)
	pool.Close()
	_, err = s.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{{StreamID: "s", Type: "T", Data: []byte(`1`)}}})
	require.Equal(t, errcode.Unavailable, errcode.Of(err), "error: %v", err)
	require.ErrorIs(t, err, eventlog.ErrClosed)
	require.False(t, eventlog.IsRetryable(err))
	_ = s.Close()
}

// proxy forwards TCP connections to a target until stopped; stopping closes
// the listener and every connection, as a database going away does.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target}
	p.wg.Go(p.serve)
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		if !p.track(c, up) {
			return
		}
		p.wg.Go(func() { _, _ = io.Copy(up, c); _ = up.Close() })
		p.wg.Go(func() { _, _ = io.Copy(c, up); _ = c.Close() })
	}
}

// track registers a proxied pair, or closes it when the proxy stopped.
func (p *proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	p.conns = append(p.conns, conns...)
	return true
}

func (p *proxy) stop() {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	_ = p.ln.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	p.wg.Wait()
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}
