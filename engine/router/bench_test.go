package router_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/router"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/internal/benchload"
)

// benchSetup is an engine with one async no-op step whose runs are
// timed, and b.N rows created (so b.N events with the step), untimed.
func benchSetup(b *testing.B, backend string) (*pipeline.Engine, *runTimes) {
	b.Helper()
	db := storagetest.Backends[backend](b, append(append(tables.Migrations[:0:0], tables.Migrations...), jobs.Migrations...)...)
	rt := &runTimes{}
	e := pipeline.New(db, pipeline.Config{Handlers: pipeline.HandlerMap{"go.bench": pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
		rt.add(time.Now())
		return nil
	})}})
	d, err := pipeline.NewDefinitions([]tables.Table{account}, nil, []pipeline.Step{{Name: "bench", Message: pipeline.Create, Table: "account",
		Stage: pipeline.PostOperation, Mode: pipeline.Async, Handler: "go.bench"}})
	require.NoError(b, err)
	e.SetDefinitions(d)
	return e, rt
}

func createRows(b *testing.B, e *pipeline.Engine, n int) {
	b.Helper()
	var wg sync.WaitGroup
	work := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if _, err := e.Execute(context.Background(), pipeline.Request{Message: pipeline.Create, Table: "account",
					Target: map[string]any{"name": fmt.Sprint("row", i)}}); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}

type runTimes struct {
	mu    sync.Mutex
	times []time.Time
}

func (r *runTimes) add(t time.Time) { r.mu.Lock(); r.times = append(r.times, t); r.mu.Unlock() }
func (r *runTimes) len() int        { r.mu.Lock(); defer r.mu.Unlock(); return len(r.times) }

// BenchmarkDrain is how fast a backlog of events runs through an async
// step: the router (each event a job row: enqueued, claimed, finished)
// next to a bare follower of the log that runs the same step on each
// event in the same process, on each backend. The figure is
// router/baseline of events/s.
func BenchmarkDrain(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run("backend="+backend, func(b *testing.B) {
			b.Run("baseline", func(b *testing.B) {
				e, rt := benchSetup(b, backend)
				createRows(b, e, b.N)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				b.ResetTimer()
				start := time.Now()
				seen := 0
				err := eventlog.Follow(ctx, e.DB().Log(), eventlog.FollowConfig{BatchSize: router.DefaultBatchSize}, func(ctx context.Context, evs []eventlog.Event) error {
					for _, ev := range evs {
						if slices.Contains(pipeline.EventSteps(ev), "bench") {
							if err := e.RunAsyncStep(ctx, ev, "bench"); err != nil {
								return err
							}
							seen++
						}
					}
					if seen >= b.N {
						cancel()
					}
					return nil
				})
				elapsed := time.Since(start)
				b.StopTimer()
				require.ErrorIs(b, err, context.Canceled)
				require.Equal(b, b.N, rt.len())
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			})
			b.Run("router", func(b *testing.B) {
				e, rt := benchSetup(b, backend)
				createRows(b, e, b.N)
				r, err := router.New(e.DB(), jobs.NewStore(e.DB(), nil), map[string]router.Runner{router.KindStep: router.StepRunner(e)},
					router.Config{Workers: 32, PerSubscriber: 32, PollInterval: 10 * time.Millisecond})
				require.NoError(b, err)
				require.NoError(b, r.Sync(router.StepSubscriptions(e.Definitions(), jobs.Policy{})))
				b.ResetTimer()
				start := time.Now()
				require.NoError(b, r.Start(context.Background()))
				for rt.len() < b.N {
					time.Sleep(time.Millisecond)
				}
				elapsed := time.Since(start)
				b.StopTimer()
				require.NoError(b, r.Stop(context.Background()))
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			})
		})
	}
}

// BenchmarkCommitToRun is the latency from a message's commit (its
// Execute returning) to its async step starting, with the router idle and
// waiting: p50 and p99 over b.N messages sent one at a time.
func BenchmarkCommitToRun(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run("backend="+backend, func(b *testing.B) {
			e, rt := benchSetup(b, backend)
			r, err := router.New(e.DB(), jobs.NewStore(e.DB(), nil), map[string]router.Runner{router.KindStep: router.StepRunner(e)},
				router.Config{PollInterval: time.Second})
			require.NoError(b, err)
			require.NoError(b, r.Sync(router.StepSubscriptions(e.Definitions(), jobs.Policy{})))
			require.NoError(b, r.Start(context.Background()))
			defer r.Stop(context.Background())
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				if _, err := e.Execute(context.Background(), pipeline.Request{Message: pipeline.Create, Table: "account",
					Target: map[string]any{"name": fmt.Sprint("row", i)}}); err != nil {
					b.Fatal(err)
				}
				committed := time.Now()
				deadline := committed.Add(10 * time.Second)
				for rt.len() <= i {
					if time.Now().After(deadline) {
						b.Fatal("the step did not run")
					}
					time.Sleep(50 * time.Microsecond)
				}
				rt.mu.Lock()
				lat = append(lat, rt.times[i].Sub(committed))
				rt.mu.Unlock()
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkWebhookDrain is events per second from the log to a web hook
// receiver on loopback, through the router's endpoint step (a job per
// event: enqueued, claimed, delivered with a signature, recorded), next
// to a bare loop of 8 senders posting the same bodies straight to the
// same receiver; and p50/p99 from commit to receipt with the router idle.
func BenchmarkWebhookDrain(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run("backend="+backend, func(b *testing.B) {
			var received atomic.Int64
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				received.Add(1)
				w.WriteHeader(http.StatusNoContent)
			}))
			defer rc.Close()
			ep := endpoints.Endpoint{Name: "bench", Kind: endpoints.KindWebhook, URL: rc.URL, Secrets: []string{endpoints.NewSecret()}}
			setupHook := func(b *testing.B) (*pipeline.Engine, *router.Router) {
				db := storagetest.Backends[backend](b, append(append(tables.Migrations[:0:0], tables.Migrations...), jobs.Migrations...)...)
				e := pipeline.New(db, pipeline.Config{})
				d, err := pipeline.NewDefinitions([]tables.Table{account}, nil, []pipeline.Step{{Name: "hook", Message: pipeline.Create, Table: "account",
					Stage: pipeline.PostOperation, Mode: pipeline.Async, Endpoint: "bench"}})
				require.NoError(b, err)
				e.SetDefinitions(d)
				runner := router.EndpointRunner(router.EndpointConfig{Engine: e, Webhook: endpoints.NewWebhook(endpoints.WebhookConfig{}),
					Endpoint: func(string) (endpoints.Endpoint, bool) { return ep, true }})
				r, err := router.New(db, jobs.NewStore(db, nil), map[string]router.Runner{router.KindEndpoint: runner},
					router.Config{Workers: 16, PerSubscriber: 16, PollInterval: 10 * time.Millisecond})
				require.NoError(b, err)
				require.NoError(b, r.Sync(router.StepSubscriptions(d, jobs.Policy{})))
				return e, r
			}
			b.Run("baseline", func(b *testing.B) {
				e, _ := setupHook(b)
				createRows(b, e, 1)
				storagetest.SealedHead(b, e.DB())
				evs, err := e.DB().Log().Read(context.Background(), eventlog.ReadQuery{Limit: 1})
				require.NoError(b, err)
				ec, err := endpoints.ContextFromEvent(evs[0], endpoints.StepInfo{Name: "hook"})
				require.NoError(b, err)
				body, err := json.Marshal(ec)
				require.NoError(b, err)
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
				received.Store(0)
				b.ResetTimer()
				_, elapsed := benchload.Run(b, 8, func() error {
					resp, err := client.Post(rc.URL, "application/json", bytes.NewReader(body))
					if err != nil {
						return err
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					return resp.Body.Close()
				})
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			})
			b.Run("router", func(b *testing.B) {
				e, r := setupHook(b)
				createRows(b, e, b.N)
				received.Store(0)
				b.ResetTimer()
				start := time.Now()
				require.NoError(b, r.Start(context.Background()))
				for received.Load() < int64(b.N) {
					time.Sleep(time.Millisecond)
				}
				elapsed := time.Since(start)
				b.StopTimer()
				require.NoError(b, r.Stop(context.Background()))
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			})
		})
	}
}
