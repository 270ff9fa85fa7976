package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
)

// TestMapError: driver errors become the log's errors at the boundary.
func TestMapError(t *testing.T) {
	t.Parallel()
	pg := func(code string) error { return &pgconn.PgError{Severity: "FATAL", Code: code, Message: "m"} }
	opErr := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	tests := []struct {
		name string
		err  error
		want errcode.Code
	}{
		{"connection failure 08006", pg("08006"), errcode.Unavailable},
		{"cannot connect now 08001", pg("08001"), errcode.Unavailable},
		{"admin shutdown 57P01", pg("57P01"), errcode.Unavailable},
		{"crash shutdown 57P02", pg("57P02"), errcode.Unavailable},
		{"starting up 57P03", pg("57P03"), errcode.Unavailable},
		{"too many connections 53300", pg("53300"), errcode.Unavailable},
		{"query canceled 57014", pg("57014"), errcode.Internal},
		{"bad password 28P01", pg("28P01"), errcode.Internal},
		{"no database 3D000", pg("3D000"), errcode.Internal},
		{"syntax error 42601", pg("42601"), errcode.Internal},
		{"bad data 22P02", pg("22P02"), errcode.InvalidEvent},
		{"deadlock 40P01", pg("40P01"), errcode.VersionConflict},
		{"net error", fmt.Errorf("read: %w", opErr), errcode.Unavailable},
		{"conn closed", fmt.Errorf("begin: %w", pgconn.ErrConnClosed), errcode.Unavailable},
		{"server hung up", io.ErrUnexpectedEOF, errcode.Unavailable},
		{"refused", syscall.ECONNREFUSED, errcode.Unavailable},
		{"canceled", fmt.Errorf("query: %w", context.Canceled), errcode.Canceled},
		{"deadline", context.DeadlineExceeded, errcode.Canceled},
		{"closed pool", errors.New("closed pool"), errcode.Unavailable},
		{"other", errors.New("boom"), errcode.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := mapError(context.Background(), tt.err)
			require.Equal(t, tt.want, errcode.Of(got), "mapped to %v", got)
			if tt.want != errcode.InvalidEvent && tt.want != errcode.VersionConflict {
				require.ErrorIs(t, got, tt.err, "the driver's error is kept")
			}
			if tt.want == errcode.Unavailable && tt.name != "closed pool" {
				require.ErrorIs(t, got, eventlog.ErrUnavailable)
				require.True(t, eventlog.IsRetryable(got))
			}
		})
	}
	require.ErrorIs(t, mapError(context.Background(), errors.New("closed pool")), eventlog.ErrClosed)
	require.Nil(t, mapError(context.Background(), nil))

	// When the caller's context is done, a broken connection is its doing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := mapError(ctx, pgconn.ErrConnClosed)
	require.Equal(t, errcode.Canceled, errcode.Of(got))
	require.False(t, eventlog.IsRetryable(got))
}
