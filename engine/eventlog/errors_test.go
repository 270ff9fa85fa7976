package eventlog_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
)

// TestUnavailableIsNotClosed: ErrClosed and ErrUnavailable share a code but
// are told apart; only the second is retryable.
func TestUnavailableIsNotClosed(t *testing.T) {
	t.Parallel()
	cause := errors.New("connection refused")
	down := fmt.Errorf("append: %w", eventlog.Wrap(eventlog.ErrUnavailable, cause))
	closed := fmt.Errorf("append: %w", eventlog.Errorf(eventlog.ErrClosed, "store closed at %d", 3))

	require.ErrorIs(t, down, eventlog.ErrUnavailable)
	require.ErrorIs(t, down, cause, "the cause is kept")
	require.NotErrorIs(t, down, eventlog.ErrClosed)
	require.Equal(t, errcode.Unavailable, errcode.Of(down))
	require.True(t, eventlog.IsRetryable(down))
	require.Equal(t, "append: eventlog: database unavailable: connection refused", down.Error())

	require.ErrorIs(t, closed, eventlog.ErrClosed)
	require.NotErrorIs(t, closed, eventlog.ErrUnavailable)
	require.Equal(t, errcode.Unavailable, errcode.Of(closed))
	require.False(t, eventlog.IsRetryable(closed))
	require.False(t, eventlog.IsRetryable(eventlog.ErrClosed))

	require.True(t, eventlog.IsRetryable(&eventlog.VersionConflictError{StreamID: "s", Expected: 1, Actual: 2}))
	require.False(t, eventlog.IsRetryable(eventlog.ErrInvalidEvent))
	require.False(t, eventlog.IsRetryable(cause))

	// Sentinels with a code of their own still match by code.
	require.ErrorIs(t, eventlog.Errorf(eventlog.ErrInvalidQuery, "x"), eventlog.ErrInvalidQuery)
	require.ErrorIs(t, &eventlog.Error{Code: errcode.InvalidEvent, Message: "literal"}, eventlog.ErrInvalidEvent)
}

func TestCheckOffset(t *testing.T) {
	t.Parallel()
	longest := strings.Repeat("é", eventlog.MaxSubscriberLength/2) // 2 bytes each
	tests := []struct {
		name string
		sub  string
		pos  int64
		ok   bool
	}{
		{"fine", "audit", 0, true},
		{"longest", longest, 7, true},
		{"empty", "", 1, false},
		{"too long", longest + "x", 1, false},
		{"not UTF-8", "a\xff", 1, false},
		{"control", "a\nb", 1, false},
		{"negative", "audit", -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := eventlog.CheckOffset(tt.sub, tt.pos)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, eventlog.ErrInvalidQuery)
			require.Equal(t, errcode.InvalidArgument, errcode.Of(err))
		})
	}
}

// TestCheckReadRoundsTimes: bounds are rounded up to whole microseconds, in
// UTC; the range check uses the bounds as given.
func TestCheckReadRoundsTimes(t *testing.T) {
	t.Parallel()
	cfg := eventlog.Config{}.WithDefaults()
	at := time.Date(2026, 3, 1, 8, 0, 0, 5000, time.UTC)
	zone := time.FixedZone("X", -3*3600)
	q := eventlog.ReadQuery{Since: at.Add(time.Nanosecond).In(zone), Until: at.Add(2 * time.Nanosecond)}
	require.NoError(t, cfg.CheckRead(&q))
	require.Equal(t, at.Add(time.Microsecond), q.Since)
	require.Equal(t, at.Add(time.Microsecond), q.Until)
	require.Equal(t, cfg.DefaultReadLimit, q.Limit)

	q = eventlog.ReadQuery{Since: at}
	require.NoError(t, cfg.CheckRead(&q))
	require.Equal(t, at, q.Since, "a whole microsecond stays")
	require.True(t, q.Until.IsZero(), "no bound stays none")
}

func TestVerifyReportErr(t *testing.T) {
	t.Parallel()
	require.NoError(t, (&eventlog.VerifyReport{}).Err())
	err := (&eventlog.VerifyReport{Broken: &eventlog.Break{Position: 9, Reason: "position missing"}}).Err()
	require.ErrorIs(t, err, eventlog.ErrChainBroken)
	require.Equal(t, errcode.ChainBroken, errcode.Of(err))
	require.Equal(t, "eventlog: hash chain broken: position 9: position missing", err.Error())
}
