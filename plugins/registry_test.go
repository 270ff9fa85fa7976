package plugins_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/plugins"
)

func TestConcurrentCalls(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	m := load(t, rt, "context")
	const goroutines, each = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				amount := fmt.Sprintf("%d.%02d", g, i)
				name := fmt.Sprintf("writer-%d-%d", g, i)
				ex := execution(pipeline.PreOperation, tables.Row{"name": name}, map[string]any{"Amount": tables.Number(amount)})
				if _, err := m.Call(context.Background(), "Echo", ex); err != nil {
					errs <- err
					continue
				}
				want := tables.Number(amount).Rat()
				got := tables.Number(fmt.Sprint(ex.OutputParameters["amount_plus_one"])).Rat()
				if got == nil || got.Sub(got, want).Cmp(tables.Number("1").Rat()) != 0 || ex.OutputParameters["target_name"] != name {
					errs <- fmt.Errorf("call %s got %v / %v", name, ex.OutputParameters["amount_plus_one"], ex.OutputParameters["target_name"])
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st := m.Stats()
	require.Equal(t, int64(goroutines*each), st.Calls)
	require.Zero(t, st.Discarded)
	require.LessOrEqual(t, st.Idle, plugins.DefaultPoolSize)
	require.Equal(t, st.Idle, st.Live, "no instance left busy")
}

func TestRegistrySwapWithACallInFlight(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	reg := plugins.NewRegistry(rt)
	ctx := context.Background()
	v1, err := reg.Load(ctx, "slow", guest(t, "slow"))
	require.NoError(t, err)
	h, ok := reg.Handler("slow/Version")
	require.True(t, ok)
	_, ok = reg.Handler("slow")
	require.False(t, ok)
	_, ok = reg.Handler("fast/Version")
	require.False(t, ok)

	// A long call on version 1.
	inFlight := execution(pipeline.PreOperation, tables.Row{}, map[string]any{"PauseMillis": int64(300)})
	done := make(chan error, 1)
	go func() { done <- h.Handle(ctx, inFlight) }()
	require.Eventually(t, func() bool { return v1.Stats().Calls == 1 }, 5*time.Second, time.Millisecond)

	// Version 2 takes the name; new calls, even through the handler found
	// before the swap, run on it.
	v2, err := reg.Load(ctx, "slow", guest(t, "slow", "-X main.version=2"))
	require.NoError(t, err)
	require.NotEqual(t, v1.Hash(), v2.Hash())
	ex := execution(pipeline.PreOperation, tables.Row{}, nil)
	require.NoError(t, h.Handle(ctx, ex))
	require.Equal(t, "2", ex.OutputParameters["version"])

	// The call in flight finishes on version 1, which then closes.
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the call in flight did not finish")
	}
	require.Equal(t, "1", inFlight.OutputParameters["version"])
	require.Equal(t, 0, v1.Stats().Live)
	_, err = v1.Call(ctx, "Version", ex)
	requireKind(t, err, plugins.KindClosed)

	// Loading the same bytes again changes nothing.
	again, err := reg.Load(ctx, "slow", guest(t, "slow", "-X main.version=2"))
	require.NoError(t, err)
	require.Same(t, v2, again)
	require.Equal(t, []string{"slow"}, reg.Names())

	reg.Remove("slow")
	_, ok = reg.Handler("slow/Version")
	require.False(t, ok)
	err = h.Handle(ctx, ex)
	requireKind(t, err, plugins.KindClosed)
	require.NoError(t, reg.Close(ctx))
}

func TestRegistryHammer(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, func(c *plugins.Config) { c.PoolSize = 2 })
	reg := plugins.NewRegistry(rt)
	ctx := context.Background()
	versions := [][]byte{guest(t, "slow"), guest(t, "slow", "-X main.version=2")}
	_, err := reg.Load(ctx, "slow", versions[0])
	require.NoError(t, err)
	h, _ := reg.Handler("slow/Version")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ex := execution(pipeline.PreOperation, tables.Row{}, nil)
				if err := h.Handle(ctx, ex); err != nil {
					errs <- err
					return
				}
				if v := ex.OutputParameters["version"]; v != "1" && v != "2" {
					errs <- fmt.Errorf("version %v", v)
					return
				}
			}
		}()
	}
	for i := range 10 {
		_, err := reg.Load(ctx, "slow", versions[(i+1)%2])
		require.NoError(t, err)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, reg.Close(ctx))
}

// TestPoolBoundsConcurrency: with every instance busy, a call waits for
// one instead of making an instance it would throw away, and gives up at
// its deadline; the process never makes more than PoolSize instances for
// calls that are not nested.
func TestPoolBoundsConcurrency(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, func(c *plugins.Config) {
		c.PoolSize = 1
		c.SyncTimeout = 250 * time.Millisecond
		c.AsyncTimeout = 5 * time.Second
	})
	m := load(t, rt, "slow")
	ctx := context.Background()

	// An async call holds the only instance for 600 ms.
	long := execution(pipeline.PostOperation, tables.Row{}, map[string]any{"PauseMillis": int64(600)})
	long.Mode = pipeline.Async
	done := make(chan error, 1)
	go func() { _, err := m.Call(ctx, "Version", long); done <- err }()
	require.Eventually(t, func() bool { return m.Stats().Calls == 1 }, 5*time.Second, time.Millisecond)

	// A sync call waits for it, past its own deadline of 250 ms.
	_, err := m.Call(ctx, "Version", execution(pipeline.PreOperation, tables.Row{}, nil))
	pe := requireKind(t, err, plugins.KindTimeout)
	require.Contains(t, pe.Message, "for a free instance of the 1 the pool runs at once")

	// An async call waits and then runs on the same instance.
	next := execution(pipeline.PostOperation, tables.Row{}, nil)
	next.Mode = pipeline.Async
	_, err = m.Call(ctx, "Version", next)
	require.NoError(t, err)
	require.Equal(t, "1", next.OutputParameters["version"])
	require.NoError(t, <-done)
	require.Equal(t, plugins.Stats{Idle: 1, Live: 1, Calls: 3}, m.Stats())
}
