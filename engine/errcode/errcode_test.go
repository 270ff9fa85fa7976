package errcode_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
)

type coded struct{ c errcode.Code }

func (e coded) Error() string           { return string(e.c) }
func (e coded) ErrorCode() errcode.Code { return e.c }

func TestOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want errcode.Code
	}{
		{"nil", nil, ""},
		{"plain", errors.New("boom"), errcode.Internal},
		{"coded", coded{errcode.VersionConflict}, errcode.VersionConflict},
		{"wrapped", fmt.Errorf("append: %w", coded{errcode.EventTooLarge}), errcode.EventTooLarge},
		{"canceled", fmt.Errorf("read: %w", context.Canceled), errcode.Canceled},
		{"deadline", context.DeadlineExceeded, errcode.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, errcode.Of(tt.err))
		})
	}
}

func TestTableIsComplete(t *testing.T) {
	t.Parallel()
	seen := map[errcode.Code]bool{}
	for _, e := range errcode.Table {
		require.False(t, seen[e.Code], "duplicate code %s", e.Code)
		seen[e.Code] = true
		require.NotEmpty(t, e.Meaning, e.Code)
		require.GreaterOrEqual(t, e.HTTPStatus, 400, e.Code)
		got, ok := errcode.Lookup(e.Code)
		require.True(t, ok)
		require.Equal(t, e, got)
	}
	_, ok := errcode.Lookup("no_such_code")
	require.False(t, ok)
}

// TestStableCodes pins every code's spelling and HTTP status: they are part
// of the API and never change once released.
func TestStableCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code   errcode.Code
		text   string
		status int
	}{
		{errcode.Internal, "internal", 500},
		{errcode.InvalidArgument, "invalid_argument", 400},
		{errcode.InvalidEvent, "invalid_event", 400},
		{errcode.EventTooLarge, "event_too_large", 413},
		{errcode.VersionConflict, "version_conflict", 409},
		{errcode.UnknownPosition, "unknown_position", 404},
		{errcode.StreamNotFound, "stream_not_found", 404},
		{errcode.NotFound, "not_found", 404},
		{errcode.ChainBroken, "chain_broken", 409},
		{errcode.Unavailable, "unavailable", 503},
		{errcode.Canceled, "canceled", 499},
		{errcode.InvalidValue, "invalid_value", 400},
		{errcode.Duplicate, "duplicate", 409},
		{errcode.HandlerFailed, "handler_failed", 400},
		{errcode.DepthExceeded, "depth_exceeded", 508},
		{errcode.NotSupported, "not_supported", 400},
		{errcode.MethodNotAllowed, "method_not_allowed", 405},
		{errcode.Unauthenticated, "unauthenticated", 401},
		{errcode.Forbidden, "forbidden", 403},
		{errcode.RequestTooLarge, "request_too_large", 413},
		{errcode.RateLimited, "rate_limited", 429},
		{errcode.InvalidSolution, "invalid_solution", 400},
		{errcode.StateConflict, "state_conflict", 409},
		{errcode.InvalidExpression, "invalid_expression", 400},
		{errcode.ExpressionFailed, "expression_failed", 422},
		{errcode.ExpressionBudget, "expression_budget_exceeded", 422},
	}
	require.Len(t, errcode.Table, len(tests), "a new code needs a line here")
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.text, string(tt.code))
			e, ok := errcode.Lookup(tt.code)
			require.True(t, ok, "code %s is in the table", tt.code)
			require.Equal(t, tt.status, e.HTTPStatus)
		})
	}
}

// TestHexCodes pins every code's Dataverse-style hex code: unique, well
// formed and, like the code itself, never changed once released.
func TestHexCodes(t *testing.T) {
	t.Parallel()
	want := map[errcode.Code]string{
		errcode.Internal:          "0x80040216",
		errcode.InvalidArgument:   "0x80040203",
		errcode.InvalidEvent:      "0x80be0001",
		errcode.EventTooLarge:     "0x80be0002",
		errcode.VersionConflict:   "0x80060882",
		errcode.UnknownPosition:   "0x80be0003",
		errcode.StreamNotFound:    "0x80be0004",
		errcode.NotFound:          "0x80040217",
		errcode.ChainBroken:       "0x80be0005",
		errcode.Unavailable:       "0x80be0006",
		errcode.Canceled:          "0x80be0007",
		errcode.InvalidValue:      "0x80048d19",
		errcode.Duplicate:         "0x80040237",
		errcode.HandlerFailed:     "0x80044150",
		errcode.DepthExceeded:     "0x80be0008",
		errcode.NotSupported:      "0x80be0009",
		errcode.MethodNotAllowed:  "0x80be000a",
		errcode.Unauthenticated:   "0x80be000b",
		errcode.Forbidden:         "0x80040220",
		errcode.RequestTooLarge:   "0x80be000c",
		errcode.RateLimited:       "0x80072322",
		errcode.InvalidSolution:   "0x80be000d",
		errcode.StateConflict:     "0x80be000e",
		errcode.InvalidExpression: "0x80be000f",
		errcode.ExpressionFailed:  "0x80be0010",
		errcode.ExpressionBudget:  "0x80be0011",
	}
	format := regexp.MustCompile(`^0x[0-9a-f]{8}$`)
	seen := map[string]errcode.Code{}
	for _, e := range errcode.Table {
		require.Regexp(t, format, e.Hex, "code %s", e.Code)
		prev, dup := seen[e.Hex]
		require.False(t, dup, "codes %s and %s share hex %s", prev, e.Code, e.Hex)
		seen[e.Hex] = e.Code
		require.Equal(t, want[e.Code], e.Hex, "hex of %s is stable; a new code needs a line here", e.Code)
	}
	require.Len(t, seen, len(want))
}
