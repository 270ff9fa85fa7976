package errcode_test

import (
	"context"
	"errors"
	"fmt"
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
