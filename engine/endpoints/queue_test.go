package endpoints_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/internal/testbroker"
)

// newQueue is a Queue closed with the test.
func newQueue(t testing.TB, cfg endpoints.QueueConfig) *endpoints.Queue {
	if cfg.Now == nil {
		cfg.Now = fixedNow
	}
	q := endpoints.NewQueue(cfg)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	return q
}

// queueEndpoint is a queue endpoint on the test broker.
func queueEndpoint(url, queue string) endpoints.Endpoint {
	return endpoints.Endpoint{Name: "contoso_erp_queue", Kind: endpoints.KindQueue, URL: url, Queue: queue, Timeout: 10 * time.Second}
}

// amqpChannel is a channel of a connection of the test's own, closed with
// the test.
func amqpChannel(t *testing.T, url string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err)
	return ch
}

// consume reads n messages of a queue, failing the test after 10 s.
func consume(t *testing.T, url, queue string, n int) []amqp.Delivery {
	t.Helper()
	ch := amqpChannel(t, url)
	msgs, err := ch.Consume(queue, "", true, false, false, false, nil)
	require.NoError(t, err)
	var out []amqp.Delivery
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case m := <-msgs:
			out = append(out, m)
		case <-timeout:
			t.Fatalf("got %d of %d messages from queue %s", len(out), n, queue)
		}
	}
	return out
}

func TestQueueDeliverFormats(t *testing.T) {
	t.Parallel()
	url := testbroker.AMQPURL(t)
	q := newQueue(t, endpoints.QueueConfig{})
	for _, f := range []endpoints.Format{endpoints.FormatContext, endpoints.FormatCloudEventsStructured, endpoints.FormatCloudEventsBinary} {
		for _, replay := range []bool{false, true} {
			name := string(f)
			if replay {
				name += "/replay"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				queue := testbroker.Queue(t)
				e := queueEndpoint(url, queue)
				e.Format = f
				e.Secrets = []string{secretA, secretB}
				d := endpoints.Delivery{ID: "job-7", Attempt: 2, Replay: replay, Context: sampleContext(t)}
				a := q.Deliver(context.Background(), e, d)
				require.NoError(t, a.Err)
				require.False(t, a.Retryable)
				require.Zero(t, a.Status)
				require.Empty(t, a.Response)
				require.Positive(t, a.Duration)

				want := webhookSends(t, f, e.Secrets, d)
				m := consume(t, url, queue, 1)[0]
				require.Equal(t, string(want.Body), string(m.Body), "the body a web hook receives")
				require.Equal(t, want.Header.Get("Content-Type"), m.ContentType)
				require.Equal(t, amqp.Persistent, m.DeliveryMode, "persistent")
				require.Equal(t, "job-7", m.MessageId)
				require.Equal(t, correlation, m.CorrelationId)
				require.Equal(t, "bizevents.account.Create", m.Type)
				require.Equal(t, endpoints.QueueAppID, m.AppId)
				require.Equal(t, brokerNow, m.Timestamp.UTC())
				require.Equal(t, "", m.Exchange, "the default exchange")
				require.Equal(t, queue, m.RoutingKey)

				for k, v := range m.Headers {
					require.IsType(t, "", v, k)
					require.Equal(t, strings.ToLower(k), k, "header names in lower case")
				}
				require.Equal(t, "job-7", m.Headers["webhook-id"])
				h := endpoints.HeaderFrom(m.Headers)
				requireSameHeaders(t, want.Header, h, "Content-Type") // a property
				require.Equal(t, "job-7", h.Get("Webhook-Id"))
				require.Equal(t, "2", h.Get("X-Bizevents-Attempt"))
				require.Equal(t, correlation, h.Get(endpoints.HeaderCorrelationID))
				if replay {
					require.Equal(t, "true", h.Get(endpoints.HeaderReplay))
				} else {
					require.Empty(t, h.Values(endpoints.HeaderReplay))
				}
				if f == endpoints.FormatCloudEventsBinary {
					require.Equal(t, "job-7", h.Get("Ce-Id"))
					require.Equal(t, "bizevents.account.Create", h.Get("Ce-Type"))
				}
				for _, s := range e.Secrets {
					require.NoError(t, endpoints.Verify(s, h, m.Body, brokerNow, time.Minute), "each secret of the rotation verifies")
				}
				require.Len(t, m.Headers, len(h), "no header but ours")
			})
		}
	}
}

func TestQueueDeclaresDurableQueue(t *testing.T) {
	t.Parallel()
	url := testbroker.AMQPURL(t)
	queue := testbroker.Queue(t)
	q := newQueue(t, endpoints.QueueConfig{})
	for i := range 3 {
		a := q.Deliver(context.Background(), queueEndpoint(url, queue), endpoints.Delivery{ID: fmt.Sprint("d-", i), Context: sampleContext(t)})
		require.NoError(t, a.Err)
	}
	ch := amqpChannel(t, url)
	info, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	require.NoError(t, err)
	require.Equal(t, 3, info.Messages)
	// Declaring it again as not durable is refused: it is durable.
	_, err = ch.QueueDeclare(queue, false, false, false, false, nil)
	var ae *amqp.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, amqp.PreconditionFailed, ae.Code)
}

func TestQueueUsesAnExistingQueueAsItIs(t *testing.T) {
	t.Parallel()
	url := testbroker.AMQPURL(t)
	queue := testbroker.Queue(t)
	ch := amqpChannel(t, url)
	// A queue with arguments our own declaration would not match.
	_, err := ch.QueueDeclare(queue, true, false, false, false, amqp.Table{"x-max-length": int32(100)})
	require.NoError(t, err)
	q := newQueue(t, endpoints.QueueConfig{})
	a := q.Deliver(context.Background(), queueEndpoint(url, queue), endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
	require.NoError(t, a.Err)
	require.Len(t, consume(t, url, queue, 1), 1)
}

func TestQueueExchange(t *testing.T) {
	t.Parallel()
	url := testbroker.AMQPURL(t)
	ch := amqpChannel(t, url)
	exchange := testbroker.Name(t)
	require.NoError(t, ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, false, false, false, false, nil))
	t.Cleanup(func() {
		ch := amqpChannel(t, url)
		_ = ch.ExchangeDelete(exchange, false, false)
	})
	q := newQueue(t, endpoints.QueueConfig{})

	t.Run("routed by type", func(t *testing.T) {
		// A subscriber's own queue, bound to the accounts' events.
		sub := testbroker.Queue(t)
		ch := amqpChannel(t, url)
		_, err := ch.QueueDeclare(sub, false, false, false, false, nil)
		require.NoError(t, err)
		require.NoError(t, ch.QueueBind(sub, "bizevents.account.*", exchange, false, nil))
		e := queueEndpoint(url, "")
		e.Exchange = exchange
		a := q.Deliver(context.Background(), e, endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
		require.NoError(t, a.Err)
		m := consume(t, url, sub, 1)[0]
		require.Equal(t, exchange, m.Exchange)
		require.Equal(t, "bizevents.account.Create", m.RoutingKey)
	})
	t.Run("queue bound to it", func(t *testing.T) {
		queue := testbroker.Queue(t)
		e := queueEndpoint(url, queue)
		e.Exchange = exchange
		a := q.Deliver(context.Background(), e, endpoints.Delivery{ID: "d-2", Context: sampleContext(t)})
		require.NoError(t, a.Err)
		m := consume(t, url, queue, 1)[0]
		require.Equal(t, exchange, m.Exchange)
		require.Equal(t, queue, m.RoutingKey)
	})
	t.Run("missing exchange", func(t *testing.T) {
		e := queueEndpoint(url, "")
		e.Exchange = testbroker.Name(t)
		a := q.Deliver(context.Background(), e, endpoints.Delivery{ID: "d-3", Context: sampleContext(t)})
		var be *endpoints.BrokerError
		require.ErrorAs(t, a.Err, &be)
		require.False(t, a.Retryable, "a missing exchange is the solution's to fix")
		require.Contains(t, a.Err.Error(), e.Exchange)
		require.Contains(t, a.Err.Error(), "NOT_FOUND")
		require.Equal(t, errcode.Unavailable, errcode.Of(a.Err))
		// The connection is still good for the next delivery.
		queue := testbroker.Queue(t)
		require.NoError(t, q.Deliver(context.Background(), queueEndpoint(url, queue), endpoints.Delivery{ID: "d-4", Context: sampleContext(t)}).Err)
	})
}

func TestQueueBrokerDown(t *testing.T) {
	t.Parallel()
	q := newQueue(t, endpoints.QueueConfig{})
	e := queueEndpoint("amqp://guest:secret-password@127.0.0.1:1/", "orders")
	a := q.Deliver(context.Background(), e, endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
	var ne *endpoints.NetworkError
	require.ErrorAs(t, a.Err, &ne)
	require.True(t, a.Retryable)
	require.ErrorIs(t, a.Err, syscall.ECONNREFUSED)
	require.Equal(t, errcode.Unavailable, errcode.Of(a.Err))
	require.NotContains(t, a.Err.Error(), "secret-password")
	// The failed dial is not kept: the next attempt dials again.
	a = q.Deliver(context.Background(), e, endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
	require.ErrorIs(t, a.Err, syscall.ECONNREFUSED)
}

func TestQueueTimeout(t *testing.T) {
	t.Parallel()
	// A server that accepts the connection and says nothing: the dial
	// waits for the AMQP handshake until the endpoint's timeout.
	ln := silentServer(t)
	q := newQueue(t, endpoints.QueueConfig{DialTimeout: time.Second})
	e := queueEndpoint("amqp://guest:guest@"+ln+"/", "orders")
	e.Timeout = 200 * time.Millisecond
	start := time.Now()
	a := q.Deliver(context.Background(), e, endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
	require.ErrorIs(t, a.Err, endpoints.ErrTimeout)
	require.True(t, a.Retryable)
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestQueueReconnects(t *testing.T) {
	t.Parallel()
	broker := testbroker.AMQPURL(t)
	u, err := url.Parse(broker)
	require.NoError(t, err)
	p := newProxy(t, u.Host)
	u.Host = p.addr()
	queue := testbroker.Queue(t)
	q := newQueue(t, endpoints.QueueConfig{Channels: 2})
	e := queueEndpoint(u.String(), queue)
	e.Timeout = 2 * time.Second
	deliver := func(id string) func() endpoints.Attempt {
		return func() endpoints.Attempt {
			return q.Deliver(context.Background(), e, endpoints.Delivery{ID: id, Context: sampleContext(t)})
		}
	}
	require.NoError(t, deliver("before")().Err)
	for i := range 3 {
		p.cut()
		failed := untilDelivered(t, deliver(fmt.Sprint("after-", i)))
		t.Logf("cut %d: %d attempts failed before one went through", i, failed)
	}
	got := consume(t, broker, queue, 4)
	ids := map[string]bool{}
	for _, m := range got {
		ids[m.MessageId] = true
	}
	for _, id := range []string{"before", "after-0", "after-1", "after-2"} {
		require.True(t, ids[id], "%s arrived", id)
	}
}

func TestQueueHammer(t *testing.T) {
	t.Parallel()
	url := testbroker.AMQPURL(t)
	queue := testbroker.Queue(t)
	q := newQueue(t, endpoints.QueueConfig{Channels: 4})
	const senders, each = 16, 25
	c := sampleContext(t)
	var wg sync.WaitGroup
	errs := make(chan error, senders*each)
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				a := q.Deliver(context.Background(), queueEndpoint(url, queue), endpoints.Delivery{ID: fmt.Sprintf("d-%d-%d", s, i), Context: c})
				if a.Err != nil {
					errs <- a.Err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got := consume(t, url, queue, senders*each)
	seen := map[string]bool{}
	for _, m := range got {
		require.False(t, seen[m.MessageId], "one message per delivery")
		seen[m.MessageId] = true
	}
}

func TestQueueClosedAndWrongKind(t *testing.T) {
	t.Parallel()
	q := endpoints.NewQueue(endpoints.QueueConfig{})
	a := q.Deliver(context.Background(), hook("https://erp.example/hooks"), endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
	var fe *endpoints.FieldError
	require.ErrorAs(t, a.Err, &fe)
	require.Equal(t, "kind", fe.Field)
	require.False(t, a.Retryable)

	require.NoError(t, q.Close())
	require.NoError(t, q.Close(), "twice is fine")
	a = q.Deliver(context.Background(), queueEndpoint("amqp://127.0.0.1:1/", "orders"), endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
	require.ErrorIs(t, a.Err, endpoints.ErrClosed)
	require.True(t, a.Retryable)

	w := newWebhook(t, endpoints.WebhookConfig{})
	a = w.Deliver(context.Background(), queueEndpoint("amqp://127.0.0.1/", "orders"), endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
	require.ErrorAs(t, a.Err, &fe)
	require.Equal(t, "kind", fe.Field)
}
