package inputs_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/inputs"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/internal/testbroker"
)

// wait bounds every wait of these tests.
const wait = 30 * time.Second

// invoicePosted is the external event the ERP reports.
var invoicePosted = customapi.API{
	UniqueName: "erp_InvoicePosted", AllowedStepType: customapi.StepsAsyncOnly,
	RequestParameters: []customapi.Parameter{
		{UniqueName: "InvoiceNumber", Type: customapi.String},
		{UniqueName: "Amount", Type: customapi.Money},
		{UniqueName: "CustomerId", Type: customapi.GUID, Optional: true},
	},
}

// engine is a pipeline engine on a SQLite file with invoicePosted defined.
type engine struct {
	db storage.DB
	e  *pipeline.Engine
}

func newEngine(t testing.TB) *engine {
	t.Helper()
	db := storagetest.SQLite(t, tables.Migrations...)
	e := pipeline.New(db, pipeline.Config{})
	defs, err := pipeline.NewDefinitions(nil, []customapi.API{invoicePosted.WithDefaults()}, nil)
	require.NoError(t, err)
	e.SetDefinitions(defs)
	return &engine{db: db, e: e}
}

// events returns the invoicePosted events of the log.
func (e *engine) events(t testing.TB) []eventlog.Event {
	t.Helper()
	var out []eventlog.Event
	var after int64
	for {
		evs, err := e.db.Log().Read(context.Background(), eventlog.ReadQuery{After: after, Limit: 1000, Types: []string{invoicePosted.UniqueName}})
		require.NoError(t, err)
		out = append(out, evs...)
		if len(evs) < 1000 {
			return out
		}
		after = evs[len(evs)-1].Position
	}
}

// waitEvents waits until the log holds n invoicePosted events, and returns
// them.
func (e *engine) waitEvents(t testing.TB, n int) []eventlog.Event {
	t.Helper()
	var evs []eventlog.Event
	require.Eventually(t, func() bool { evs = e.events(t); return len(evs) >= n }, wait, 5*time.Millisecond,
		"expected %d events", n)
	return evs
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// fastConfig retries quickly.
func fastConfig(t testing.TB) inputs.Config {
	return inputs.Config{Retries: 3, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 50 * time.Millisecond, Logger: testLogger(t)}
}

// start starts a runner of one input and stops it when t ends.
func start(t testing.TB, svc inputs.Service, in inputs.Input, cfg inputs.Config) *inputs.Runner {
	t.Helper()
	r, err := inputs.New(svc, []inputs.Input{in}, cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, r.Start(ctx))
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	return r
}

// outgoing is a message a test publishes.
type outgoing struct {
	id      string
	headers map[string]string
	body    string
	// correlation is the AMQP correlation-id property.
	correlation string
}

// received is a message a test read from a dead-letter destination.
type received struct {
	id      string
	headers map[string]string
	body    string
}

// broker is a queue or a stream of one test, with its dead letter.
type broker interface {
	// input returns an input on the broker invoking invoicePosted.
	input() inputs.Input
	publish(t testing.TB, m outgoing)
	// deadLetters waits for n dead letters.
	deadLetters(t testing.TB, n int) []received
	// settled asserts that the input has no message waiting or unacked;
	// r is the input's runner, which it may stop.
	settled(t testing.TB, r *inputs.Runner)
	// deadLetterCount is how many dead letters wait to be read.
	deadLetterCount(t testing.TB) int
}

// eachBroker runs fn as a parallel subtest for a queue and for a stream.
func eachBroker(t *testing.T, fn func(t *testing.T, br broker)) {
	for _, kind := range []inputs.Kind{inputs.KindQueue, inputs.KindStream} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			if kind == inputs.KindQueue {
				fn(t, newQueue(t))
			} else {
				fn(t, newStream(t))
			}
		})
	}
}

// amqpBroker is a RabbitMQ queue of the test and its default dead-letter
// queue.
type amqpBroker struct {
	url, queue, dlq string
	ch              *amqp.Channel
	mu              sync.Mutex
}

func newQueue(t testing.TB) *amqpBroker {
	t.Helper()
	url := testbroker.AMQPURL(t)
	b := &amqpBroker{url: url, queue: testbroker.Queue(t)}
	b.dlq = b.queue + inputs.DeadLetterSuffix
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	b.ch, err = conn.Channel()
	require.NoError(t, err)
	require.NoError(t, b.ch.Confirm(false))
	t.Cleanup(func() { deleteQueue(t, url, b.dlq) })
	return b
}

func deleteQueue(t testing.TB, url, name string) {
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Errorf("delete queue %s: %v", name, err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Errorf("delete queue %s: %v", name, err)
		return
	}
	defer ch.Close()
	_, _ = ch.QueueDelete(name, false, false, false)
}

func (b *amqpBroker) input() inputs.Input {
	return inputs.Input{Name: "erp_invoices", Kind: inputs.KindQueue, URL: b.url, Queue: b.queue, Message: invoicePosted.UniqueName}
}

func (b *amqpBroker) publish(t testing.TB, m outgoing) {
	t.Helper()
	headers := amqp.Table{}
	for k, v := range m.headers {
		headers[k] = v
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	conf, err := b.ch.PublishWithDeferredConfirmWithContext(ctx, "", b.queue, true, false, amqp.Publishing{
		MessageId: m.id, CorrelationId: m.correlation, Headers: headers, Body: []byte(m.body),
		ContentType: "application/json", DeliveryMode: amqp.Persistent,
	})
	require.NoError(t, err)
	ok, err := conf.WaitContext(ctx)
	require.NoError(t, err)
	require.True(t, ok, "the broker did not take the message")
}

func (b *amqpBroker) deadLetters(t testing.TB, n int) []received {
	t.Helper()
	var out []received
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		for len(out) < n {
			d, ok, err := b.ch.Get(b.dlq, true)
			require.NoError(t, err)
			if !ok {
				return false
			}
			r := received{id: d.MessageId, body: string(d.Body), headers: map[string]string{}}
			for k, v := range d.Headers {
				s, _ := v.(string)
				r.headers[k] = s
			}
			out = append(out, r)
		}
		return true
	}, wait, 10*time.Millisecond, "expected %d dead letters in %s", n, b.dlq)
	return out
}

func (b *amqpBroker) settled(t testing.TB, r *inputs.Runner) {
	t.Helper()
	// RabbitMQ shows no unacked count over AMQP: once the consumer is
	// gone, whatever it had not acked is back in the queue.
	require.NoError(t, r.Stop(context.Background()))
	b.mu.Lock()
	defer b.mu.Unlock()
	q, err := b.ch.QueueDeclarePassive(b.queue, true, false, false, false, nil)
	require.NoError(t, err)
	require.Zero(t, q.Messages, "messages left in %s", b.queue)
}

func (b *amqpBroker) deadLetterCount(t testing.TB) int {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	q, err := b.ch.QueueDeclarePassive(b.dlq, true, false, false, false, nil)
	require.NoError(t, err)
	return q.Messages
}

// natsBroker is a JetStream stream of the test with one subject, and the
// default dead-letter subject.
type natsBroker struct {
	url, stream, subject, dl string
	js                       nats.JetStreamContext
	dlSub                    *nats.Subscription
}

func newStream(t testing.TB) *natsBroker {
	t.Helper()
	url := testbroker.NATSURL(t)
	b := &natsBroker{url: url, stream: testbroker.Stream(t)}
	b.subject = "erp." + b.stream + ".invoices"
	b.dl = b.subject + inputs.DeadLetterSuffix
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	b.js, err = nc.JetStream(nats.MaxWait(wait))
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := b.js.DeleteStream(b.stream + inputs.DeadLetterStreamSuffix); err != nil && !errors.Is(err, nats.ErrStreamNotFound) {
			t.Errorf("delete the dead-letter stream: %v", err)
		}
	})
	return b
}

func (b *natsBroker) input() inputs.Input {
	return inputs.Input{Name: "erp_invoices", Kind: inputs.KindStream, URL: b.url, Subject: b.subject, Stream: b.stream, Message: invoicePosted.UniqueName}
}

func (b *natsBroker) publish(t testing.TB, m outgoing) {
	t.Helper()
	msg := nats.NewMsg(b.subject)
	msg.Data = []byte(m.body)
	for k, v := range m.headers {
		msg.Header.Set(k, v)
	}
	if m.id != "" {
		msg.Header.Set(nats.MsgIdHdr, m.id)
	}
	_, err := b.js.PublishMsg(msg)
	require.NoError(t, err)
}

func (b *natsBroker) deadLetters(t testing.TB, n int) []received {
	t.Helper()
	if b.dlSub == nil {
		var err error
		require.Eventually(t, func() bool {
			b.dlSub, err = b.js.SubscribeSync(b.dl, nats.BindStream(b.stream+inputs.DeadLetterStreamSuffix), nats.OrderedConsumer())
			return err == nil
		}, wait, 10*time.Millisecond)
		t.Cleanup(func() { _ = b.dlSub.Unsubscribe() })
	}
	var out []received
	deadline := time.Now().Add(wait)
	for len(out) < n {
		m, err := b.dlSub.NextMsg(time.Until(deadline))
		require.NoError(t, err, "expected %d dead letters on %s, got %d", n, b.dl, len(out))
		r := received{id: m.Header.Get(inputs.HeaderMessageID), body: string(m.Data), headers: map[string]string{}}
		for k, v := range m.Header {
			r.headers[strings.ToLower(k)] = strings.Join(v, ", ")
		}
		out = append(out, r)
	}
	return out
}

func (b *natsBroker) settled(t testing.TB, _ *inputs.Runner) {
	t.Helper()
	var info *nats.ConsumerInfo
	require.Eventually(t, func() bool {
		var err error
		info, err = b.js.ConsumerInfo(b.stream, inputs.DurablePrefix+"erp_invoices")
		require.NoError(t, err)
		return info.NumAckPending == 0 && info.NumPending == 0
	}, wait, 10*time.Millisecond, "consumer not settled: %+v", info)
}

func (b *natsBroker) deadLetterCount(t testing.TB) int {
	t.Helper()
	info, err := b.js.StreamInfo(b.stream + inputs.DeadLetterStreamSuffix)
	require.NoError(t, err)
	return int(info.State.Msgs)
}

// flaky wraps a Service: fail decides, per call of a message (by its
// idempotency key, counting from 0), whether the call fails, and whether it
// fails after running the message (as when the ack is lost).
type flaky struct {
	svc   inputs.Service
	fail  func(req pipeline.Request, n int) (err error, after bool)
	mu    sync.Mutex
	calls map[string]int
}

func (f *flaky) Execute(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	n := f.calls[req.IdempotencyKey]
	f.calls[req.IdempotencyKey]++
	f.mu.Unlock()
	err, after := f.fail(req, n)
	if err != nil && !after {
		return pipeline.Response{}, err
	}
	resp, xerr := f.svc.Execute(ctx, req)
	if xerr != nil {
		return resp, xerr
	}
	if err != nil {
		return pipeline.Response{}, err
	}
	return resp, nil
}

// count returns how many times the message of key was run.
func (f *flaky) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

// unavailableErr is a transient failure.
type unavailableErr struct{}

func (unavailableErr) Error() string { return "the database is gone for a moment" }

func (unavailableErr) ErrorCode() errcode.Code { return errcode.Unavailable }

func newID() string { return uuid.NewString() }
