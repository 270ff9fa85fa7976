package wake_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/eventlog/internal/wake"
)

var errClosed = errors.New("closed")

// long is a poll interval no test waits for.
const long = time.Hour

func TestWaitReturnsAtOnceWhenPast(t *testing.T) {
	t.Parallel()
	var h wake.Head
	h.Advance(5)
	h.Advance(3) // lower: ignored
	require.EqualValues(t, 5, h.Position())
	require.NoError(t, h.Wait(context.Background(), 4, long, nil, errClosed))
}

func TestWaitWakesOnAdvance(t *testing.T) {
	t.Parallel()
	var h wake.Head
	woke := make(chan error, 1)
	go func() { woke <- h.Wait(context.Background(), 0, long, nil, errClosed) }()
	// Advance until the waiter returns: an Advance before it waits is
	// answered by the position check instead.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-woke:
			require.NoError(t, err)
			return
		case <-tick.C:
			h.Advance(1)
		case <-time.After(30 * time.Second):
			t.Fatal("Wait did not wake")
		}
	}
}

func TestWaitPolls(t *testing.T) {
	t.Parallel()
	var h wake.Head
	require.NoError(t, h.Wait(context.Background(), 0, time.Millisecond, nil, errClosed))
}

func TestWaitContext(t *testing.T) {
	t.Parallel()
	var h wake.Head
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, h.Wait(ctx, 0, long, nil, errClosed), context.Canceled)
}

// TestWaitClosed: a closed signal wins, also over a position already past.
func TestWaitClosed(t *testing.T) {
	t.Parallel()
	closed := make(chan struct{})
	close(closed)
	var h wake.Head
	require.ErrorIs(t, h.Wait(context.Background(), 0, long, closed, errClosed), errClosed, "position not reached")
	h.Advance(10)
	require.ErrorIs(t, h.Wait(context.Background(), 0, long, closed, errClosed), errClosed, "position past")

}

// TestWaitHammer: waiters loop on the position while advancers move it;
// every waiter reaches the end without the poll interval.
func TestWaitHammer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var h wake.Head
	const total = 2000
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 8 {
		wg.Go(func() {
			var pos int64
			for pos < total {
				if err := h.Wait(ctx, pos, long, nil, errClosed); err != nil {
					errs <- err
					return
				}
				pos = h.Position()
			}
		})
	}
	for a := range 4 {
		wg.Go(func() {
			for p := int64(a + 1); p <= total; p += 4 {
				h.Advance(p)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
