package inputs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/inputs"
	"github.com/bizevents/bizevents/engine/pipeline"
)

// benchBody is the message both sub-benchmarks run.
const benchBody = `{"InvoiceNumber": "INV-2026-000042", "Amount": 1249.90, "CustomerId": "6f0c3a52-8f1e-4f4e-9d59-3b1f4a0f5e11"}`

// counting is a Service that counts the messages that ran and says when n
// have.
type counting struct {
	svc  inputs.Service
	n    int64
	ran  atomic.Int64
	done chan struct{}
}

func (c *counting) Execute(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
	resp, err := c.svc.Execute(ctx, req)
	if err == nil && c.ran.Add(1) == c.n {
		close(c.done)
	}
	return resp, err
}

// queueRun publishes n messages with ids to a queue input and returns how
// long it took until the n messages were events in the log; the engine is
// left for checks.
func queueRun(tb testing.TB, n int, timer func(start bool)) (*engine, time.Duration) {
	tb.Helper()
	e := newEngine(tb)
	br := newQueue(tb)
	svc := &counting{svc: e.e, n: int64(n), done: make(chan struct{})}
	cfg := inputs.Config{Logger: slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
	start(tb, svc, br.input(), cfg)
	conn, err := amqp.Dial(br.url)
	require.NoError(tb, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(tb, err)
	require.NoError(tb, ch.Confirm(false))
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, n))
	body := []byte(benchBody)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	timer(true)
	began := time.Now()
	for i := range n {
		require.NoError(tb, ch.PublishWithContext(ctx, "", br.queue, false, false, amqp.Publishing{
			MessageId: fmt.Sprintf("bench-%d", i), Body: body, ContentType: "application/json", DeliveryMode: amqp.Persistent,
		}))
	}
	select {
	case <-svc.done:
	case <-ctx.Done():
		tb.Fatalf("%d of %d messages ran", svc.ran.Load(), n)
	}
	elapsed := time.Since(began)
	timer(false)

	for range n {
		c := <-confirms
		require.True(tb, c.Ack, "the broker took every message")
	}
	return e, elapsed
}

// BenchmarkInput compares a queue input (publish N messages to RabbitMQ,
// until the N are events in the log) with bare Execute calls of the same
// request in the same process, each on its own SQLite log: the ratio is
// what the broker, the decoding and the acks cost. Messages run one at a
// time in both, as an input runs them.
func BenchmarkInput(b *testing.B) {
	b.Run("baseline", func(b *testing.B) {
		e := newEngine(b)
		var params map[string]any
		dec := json.NewDecoder(strings.NewReader(benchBody))
		dec.UseNumber()
		require.NoError(b, dec.Decode(&params))
		ctx := context.Background()
		b.ResetTimer()
		began := time.Now()
		for i := range b.N {
			_, err := e.e.Execute(ctx, pipeline.Request{Message: invoicePosted.UniqueName, Parameters: params, IdempotencyKey: fmt.Sprintf("bench-%d", i)})
			if err != nil {
				b.Fatal(err)
			}
		}
		elapsed := time.Since(began)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	})
	b.Run("queue", func(b *testing.B) {
		b.StopTimer()
		_, elapsed := queueRun(b, b.N, func(start bool) {
			if start {
				b.StartTimer()
			} else {
				b.StopTimer()
			}
		})
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	})
}

// TestBenchmarkFixture checks that the queue benchmark measures what it
// says: every message published is one event with the body's parameters.
func TestBenchmarkFixture(t *testing.T) {
	t.Parallel()
	e, _ := queueRun(t, 50, func(bool) {})
	evs := e.events(t)
	require.Len(t, evs, 50)
	p := params(t, evs[0])
	require.Equal(t, "INV-2026-000042", p["InvoiceNumber"])
	require.Equal(t, "1249.9", p["Amount"].(json.Number).String())
}
