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

	"github.com/google/uuid"
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

func createRows(b testing.TB, e *pipeline.Engine, n int) {
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

// drainSenders is how many goroutines a drain benchmark's baseline
// delivers from.
const drainSenders = 8

// latencyEvery is the pace of a latency benchmark's commits: one every
// 2 ms at most (500/s), a moderate load well under what a drain delivers.
const latencyEvery = 2 * time.Millisecond

// stall is how long a benchmark waits for its receiver to get one more
// message before it fails.
const stall = 30 * time.Second

// destination is one run's endpoint of a kind, with its receiver: the
// endpoint, the router's endpoint config with the kind's sender set, and
// bare, which makes a bare sender of a body to the same receiver with the
// same guarantee, safe for concurrent use.
type destination struct {
	ep   endpoints.Endpoint
	cfg  router.EndpointConfig
	bare func(b *testing.B, body []byte) func() error
}

// opener makes a destination whose receiver counts into rc.
type opener func(b *testing.B, rc *receipts) destination

// receipts is what a receiver got: how many messages, and, when at is
// not nil, when each arrived by the primary entity id of its body.
type receipts struct {
	n  atomic.Int64
	mu sync.Mutex
	at map[string]time.Time
}

func (rc *receipts) got(body []byte) {
	if rc.at != nil {
		now := time.Now()
		var ec endpoints.ExecutionContext
		if err := json.Unmarshal(body, &ec); err == nil {
			rc.mu.Lock()
			rc.at[ec.PrimaryEntityID] = now
			rc.mu.Unlock()
		}
	}
	rc.n.Add(1)
}

// wait waits until the receiver has n messages, failing b when none
// arrives for stall; r, when set, says why (a job's last error).
func (rc *receipts) wait(b *testing.B, n int, r *router.Router) {
	b.Helper()
	last, since := rc.n.Load(), time.Now()
	for got := last; got < int64(n); got = rc.n.Load() {
		if got != last {
			last, since = got, time.Now()
		} else if time.Since(since) > stall {
			why := ""
			if r != nil {
				js, _ := r.Jobs().List(context.Background(), jobs.Filter{Status: []jobs.Status{jobs.Waiting, jobs.Failed}, Limit: 1})
				if len(js) > 0 {
					why = fmt.Sprintf(" (a job %s: %s)", js[0].Status, js[0].LastError)
				}
			}
			b.Fatalf("received %d of %d messages, none for %s%s", got, n, stall, why)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// endpointBench is a database with one async endpoint step, "hook" on
// account creations, to d's endpoint, and a router that delivers it with
// cfg, not started.
func endpointBench(tb testing.TB, backend string, d destination, cfg router.Config) (*pipeline.Engine, *router.Router) {
	tb.Helper()
	db := storagetest.Backends[backend](tb, append(append(tables.Migrations[:0:0], tables.Migrations...), jobs.Migrations...)...)
	e := pipeline.New(db, pipeline.Config{})
	defs, err := pipeline.NewDefinitions([]tables.Table{account}, nil, []pipeline.Step{{Name: "hook", Message: pipeline.Create, Table: "account",
		Stage: pipeline.PostOperation, Mode: pipeline.Async, Endpoint: d.ep.Name}})
	require.NoError(tb, err)
	e.SetDefinitions(defs)
	ec := d.cfg
	ec.Engine = e
	ec.Endpoint = func(string) (endpoints.Endpoint, bool) { return d.ep, true }
	r, err := router.New(db, jobs.NewStore(db, nil), map[string]router.Runner{router.KindEndpoint: router.EndpointRunner(ec)}, cfg)
	require.NoError(tb, err)
	require.NoError(tb, r.Sync(router.StepSubscriptions(defs, jobs.Policy{})))
	return e, r
}

// drainConfig is the router of the drain benchmarks.
var drainConfig = router.Config{Workers: 16, PerSubscriber: 16, PollInterval: 10 * time.Millisecond}

// stepBody is the body the router delivers for the log's first event,
// as job operationID of step "hook" (default format).
func stepBody(tb testing.TB, e *pipeline.Engine, operationID string) []byte {
	tb.Helper()
	storagetest.SealedHead(tb, e.DB())
	evs, err := e.DB().Log().Read(context.Background(), eventlog.ReadQuery{Limit: 1})
	require.NoError(tb, err)
	require.NotEmpty(tb, evs)
	ec, err := endpoints.ContextFromEvent(evs[0], endpoints.StepInfo{Name: "hook", OperationID: operationID})
	require.NoError(tb, err)
	body, err := json.Marshal(ec)
	require.NoError(tb, err)
	return body
}

// benchEndpointDrain runs, per backend, an endpoint drain benchmark of
// open's kind: baseline, b.N bodies of one event's delivery sent straight
// to the receiver from drainSenders goroutines; router, a backlog of b.N
// events delivered through the router's endpoint step; each timed until
// the receiver has them all, in events/s. And latency: with the router
// idle, b.N events committed one after another, one every latencyEvery at
// most, and the p50 and p99 from each commit (Execute returning) to its
// message's receipt, in milliseconds.
func benchEndpointDrain(b *testing.B, open opener) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run("backend="+backend, func(b *testing.B) {
			b.Run("baseline", func(b *testing.B) {
				rc := &receipts{}
				d := open(b, rc)
				e, _ := endpointBench(b, backend, d, drainConfig)
				createRows(b, e, 1)
				send := d.bare(b, stepBody(b, e, uuid.NewString()))
				start := time.Now()
				benchload.Run(b, drainSenders, send)
				rc.wait(b, b.N, nil)
				elapsed := time.Since(start)
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			})
			b.Run("router", func(b *testing.B) {
				rc := &receipts{}
				d := open(b, rc)
				e, r := endpointBench(b, backend, d, drainConfig)
				createRows(b, e, b.N)
				b.ResetTimer()
				start := time.Now()
				require.NoError(b, r.Start(context.Background()))
				rc.wait(b, b.N, r)
				elapsed := time.Since(start)
				b.StopTimer()
				require.NoError(b, r.Stop(context.Background()))
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			})
			b.Run("latency", func(b *testing.B) {
				rc := &receipts{at: map[string]time.Time{}}
				d := open(b, rc)
				// The default poll interval: a commit wakes the router.
				e, r := endpointBench(b, backend, d, router.Config{Workers: 16, PerSubscriber: 16})
				require.NoError(b, r.Start(context.Background()))
				defer r.Stop(context.Background())
				create := func(i int) string {
					resp, err := e.Execute(context.Background(), pipeline.Request{Message: pipeline.Create, Table: "account",
						Target: map[string]any{"name": fmt.Sprint("row", i)}})
					if err != nil {
						b.Fatal(err)
					}
					return resp.ID.String()
				}
				// One untimed first, which connects the sender.
				create(-1)
				rc.wait(b, 1, r)
				committed := make(map[string]time.Time, b.N)
				b.ResetTimer()
				begin := time.Now()
				for i := range b.N {
					time.Sleep(time.Until(begin.Add(time.Duration(i) * latencyEvery)))
					id := create(i)
					committed[id] = time.Now()
				}
				rc.wait(b, b.N+1, r)
				b.StopTimer()
				lat := make([]time.Duration, 0, b.N)
				rc.mu.Lock()
				for id, at := range committed {
					got, ok := rc.at[id]
					require.True(b, ok, "no receipt of row %s", id)
					lat = append(lat, got.Sub(at))
				}
				rc.mu.Unlock()
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			})
		})
	}
}

// webhookDestination is a web hook receiver on loopback; its bare sender
// posts with a client of up to 16 idle connections.
func webhookDestination(b *testing.B, rc *receipts) destination {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.got(body)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	wh := endpoints.NewWebhook(endpoints.WebhookConfig{})
	b.Cleanup(wh.CloseIdleConnections)
	return destination{
		ep:  endpoints.Endpoint{Name: "bench", Kind: endpoints.KindWebhook, URL: srv.URL, Secrets: []string{endpoints.NewSecret()}},
		cfg: router.EndpointConfig{Webhook: wh},
		bare: func(b *testing.B, body []byte) func() error {
			tr := &http.Transport{MaxIdleConnsPerHost: 16}
			b.Cleanup(tr.CloseIdleConnections)
			client := &http.Client{Transport: tr}
			return func() error {
				resp, err := client.Post(srv.URL, "application/json", bytes.NewReader(body))
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				return resp.Body.Close()
			}
		},
	}
}

// BenchmarkWebhookDrain is events per second from the log to a web hook
// receiver on loopback through the router's endpoint step (a job per
// event: enqueued, claimed, delivered with a signature, recorded), next
// to a bare loop of drainSenders goroutines posting the same body
// straight to the same receiver, on each backend; the figure is
// router/baseline. Its latency sub-benchmark is p50/p99 from commit to
// receipt, events committed one at a time to the idle router.
func BenchmarkWebhookDrain(b *testing.B) { benchEndpointDrain(b, webhookDestination) }

// TestEndpointBenchmarkFixtures checks the drain benchmarks compare like
// with like: the baselines' body is the one the router delivers.
func TestEndpointBenchmarkFixtures(t *testing.T) {
	t.Parallel()
	got := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case got <- body:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	wh := endpoints.NewWebhook(endpoints.WebhookConfig{})
	defer wh.CloseIdleConnections()
	d := destination{ep: endpoints.Endpoint{Name: "bench", Kind: endpoints.KindWebhook, URL: srv.URL}, cfg: router.EndpointConfig{Webhook: wh}}
	e, r := endpointBench(t, "sqlite", d, drainConfig)
	createRows(t, e, 1)
	require.NoError(t, r.Start(context.Background()))
	defer r.Stop(context.Background())
	var body []byte
	select {
	case body = <-got:
	case <-time.After(wait):
		t.Fatal("nothing delivered")
	}
	js, err := r.Jobs().List(context.Background(), jobs.Filter{})
	require.NoError(t, err)
	require.Len(t, js, 1)
	require.Equal(t, string(stepBody(t, e, js[0].ID.String())), string(body))
}
