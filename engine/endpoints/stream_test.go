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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/internal/testbroker"
)

// newStream is a Stream closed with the test.
func newStream(t testing.TB, cfg endpoints.StreamConfig) *endpoints.Stream {
	if cfg.Now == nil {
		cfg.Now = fixedNow
	}
	s := endpoints.NewStream(cfg)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// streamEndpoint is a stream endpoint on the test server, publishing to
// stream's subject stream.events.
func streamEndpoint(url, stream string) endpoints.Endpoint {
	return endpoints.Endpoint{Name: "contoso_erp_stream", Kind: endpoints.KindStream, URL: url,
		Subject: stream + ".events", Stream: stream, Timeout: 10 * time.Second}
}

// natsJS is a JetStream client of the test's own.
func natsJS(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

// fetch reads the n messages of a stream from its start, with an ordered
// consumer, failing the test after 10 s.
func fetch(t *testing.T, url, stream string, n int) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := natsJS(t, url).OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	var out []jetstream.Msg
	for len(out) < n {
		batch, err := cons.Fetch(n-len(out), jetstream.FetchMaxWait(5*time.Second))
		require.NoError(t, err)
		for m := range batch.Messages() {
			out = append(out, m)
		}
		require.NoError(t, batch.Error())
		require.NoError(t, ctx.Err(), "got %d of %d messages from stream %s", len(out), n, stream)
	}
	return out
}

// streamInfo is the stream's state and configuration.
func streamInfo(t *testing.T, url, stream string) *jetstream.StreamInfo {
	t.Helper()
	s, err := natsJS(t, url).Stream(context.Background(), stream)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return info
}

func TestStreamDeliverFormats(t *testing.T) {
	t.Parallel()
	url := testbroker.NATSURL(t)
	s := newStream(t, endpoints.StreamConfig{})
	for _, f := range []endpoints.Format{endpoints.FormatContext, endpoints.FormatCloudEventsStructured, endpoints.FormatCloudEventsBinary} {
		for _, replay := range []bool{false, true} {
			name := string(f)
			if replay {
				name += "/replay"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				stream := testbroker.Stream(t)
				e := streamEndpoint(url, stream)
				e.Format = f
				e.Secrets = []string{secretA, secretB}
				d := endpoints.Delivery{ID: "job-7", Attempt: 2, Replay: replay, ReplayID: "r-1", Context: sampleContext(t)}
				a := s.Deliver(context.Background(), e, d)
				require.NoError(t, a.Err)
				require.False(t, a.Retryable)
				require.Zero(t, a.Status)
				require.Positive(t, a.Duration)

				want := webhookSends(t, f, e.Secrets, d)
				m := fetch(t, url, stream, 1)[0]
				require.Equal(t, string(want.Body), string(m.Data()), "the body a web hook receives")
				require.Equal(t, e.Subject, m.Subject())
				for k := range m.Headers() {
					if !strings.HasPrefix(k, "Nats-") {
						require.Equal(t, strings.ToLower(k), k, "header names in lower case")
					}
				}
				require.Equal(t, "job-7", m.Headers().Get("webhook-id"))
				require.Equal(t, want.Header.Get("Content-Type"), m.Headers().Get("content-type"))
				h := endpoints.HeaderFrom(m.Headers())
				requireSameHeaders(t, want.Header, h)
				require.Equal(t, "job-7", h.Get("Webhook-Id"))
				require.Equal(t, "2", h.Get("X-Bizevents-Attempt"))
				require.Equal(t, correlation, h.Get(endpoints.HeaderCorrelationID))
				require.Equal(t, stream, h.Get(nats.ExpectedStreamHdr))
				if replay {
					require.Equal(t, "true", h.Get(endpoints.HeaderReplay))
					require.Equal(t, "job-7/replay/r-1", h.Get(nats.MsgIdHdr), "a replay is no duplicate of the first delivery")
				} else {
					require.Empty(t, h.Values(endpoints.HeaderReplay))
					require.Equal(t, "job-7", h.Get(nats.MsgIdHdr))
				}
				if f == endpoints.FormatCloudEventsBinary {
					require.Equal(t, "job-7", m.Headers().Get("ce-id"), "as the CloudEvents NATS binding writes it")
					require.Equal(t, "bizevents.account.Create", h.Get("Ce-Type"))
				}
				for _, secret := range e.Secrets {
					require.NoError(t, endpoints.Verify(secret, h, m.Data(), brokerNow, time.Minute), "each secret of the rotation verifies")
				}
			})
		}
	}
}

func TestStreamCreatesTheStream(t *testing.T) {
	t.Parallel()
	url := testbroker.NATSURL(t)
	stream := testbroker.Stream(t)
	s := newStream(t, endpoints.StreamConfig{})
	require.NoError(t, s.Deliver(context.Background(), streamEndpoint(url, stream), endpoints.Delivery{ID: "d-1", Context: sampleContext(t)}).Err)
	info := streamInfo(t, url, stream)
	require.Equal(t, []string{stream + ".events"}, info.Config.Subjects)
	require.Equal(t, jetstream.FileStorage, info.Config.Storage, "persistent")
	require.Equal(t, jetstream.LimitsPolicy, info.Config.Retention)
	require.Equal(t, uint64(1), info.State.Msgs)
}

func TestStreamUsesAnExistingStreamAsItIs(t *testing.T) {
	t.Parallel()
	url := testbroker.NATSURL(t)
	stream := testbroker.Stream(t)
	_, err := natsJS(t, url).CreateStream(context.Background(), jetstream.StreamConfig{
		Name: stream, Subjects: []string{stream + ".>"}, Storage: jetstream.MemoryStorage, MaxMsgs: 100,
	})
	require.NoError(t, err)
	s := newStream(t, endpoints.StreamConfig{})
	require.NoError(t, s.Deliver(context.Background(), streamEndpoint(url, stream), endpoints.Delivery{ID: "d-1", Context: sampleContext(t)}).Err)
	info := streamInfo(t, url, stream)
	require.Equal(t, []string{stream + ".>"}, info.Config.Subjects, "not changed")
	require.Equal(t, jetstream.MemoryStorage, info.Config.Storage)
	require.Equal(t, uint64(1), info.State.Msgs)

	// Without a stream named, whichever stream captures the subject.
	e := streamEndpoint(url, stream)
	e.Stream = ""
	e.Subject = stream + ".other"
	require.NoError(t, s.Deliver(context.Background(), e, endpoints.Delivery{ID: "d-2", Context: sampleContext(t)}).Err)
	require.Equal(t, uint64(2), streamInfo(t, url, stream).State.Msgs)
}

func TestStreamDeduplicates(t *testing.T) {
	t.Parallel()
	url := testbroker.NATSURL(t)
	stream := testbroker.Stream(t)
	s := newStream(t, endpoints.StreamConfig{})
	e := streamEndpoint(url, stream)
	d := endpoints.Delivery{ID: "job-7", Attempt: 1, Context: sampleContext(t)}
	require.NoError(t, s.Deliver(context.Background(), e, d).Err)
	d.Attempt = 2 // a retry of an attempt whose ack was lost
	require.NoError(t, s.Deliver(context.Background(), e, d).Err, "a duplicate is a success")
	require.Equal(t, uint64(1), streamInfo(t, url, stream).State.Msgs, "the duplicate window dropped the second copy")

	// A replay is delivered again, once however often it is tried.
	replay := endpoints.Delivery{ID: "job-7", Attempt: 1, Replay: true, ReplayID: "r-1", Context: sampleContext(t)}
	for range 2 {
		require.NoError(t, s.Deliver(context.Background(), e, replay).Err)
	}
	require.Equal(t, uint64(2), streamInfo(t, url, stream).State.Msgs)
	got := fetch(t, url, stream, 2)
	require.Equal(t, "1", got[0].Headers().Get("x-bizevents-attempt"), "the first copy is kept")
	require.Equal(t, "true", got[1].Headers().Get("x-bizevents-replay"))
}

func TestStreamRefusals(t *testing.T) {
	t.Parallel()
	url := testbroker.NATSURL(t)
	s := newStream(t, endpoints.StreamConfig{})
	js := natsJS(t, url)
	mine, other := testbroker.Stream(t), testbroker.Stream(t)
	for _, name := range []string{mine, other} {
		_, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: name, Subjects: []string{name + ".*"}, Storage: jetstream.MemoryStorage})
		require.NoError(t, err)
	}

	t.Run("subject of another stream", func(t *testing.T) {
		e := streamEndpoint(url, mine)
		e.Subject = other + ".events"
		a := s.Deliver(context.Background(), e, endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
		var be *endpoints.BrokerError
		require.ErrorAs(t, a.Err, &be)
		require.False(t, a.Retryable, "the endpoint's to fix")
		require.Contains(t, a.Err.Error(), "is not captured by stream "+mine)
		require.Equal(t, errcode.Unavailable, errcode.Of(a.Err))
		require.Equal(t, uint64(0), streamInfo(t, url, other).State.Msgs, "nothing landed elsewhere")
	})
	t.Run("new stream on a captured subject", func(t *testing.T) {
		e := streamEndpoint(url, testbroker.Stream(t))
		e.Subject = other + ".events"
		a := s.Deliver(context.Background(), e, endpoints.Delivery{ID: "d-2", Context: sampleContext(t)})
		var be *endpoints.BrokerError
		require.ErrorAs(t, a.Err, &be)
		require.False(t, a.Retryable)
		require.Contains(t, a.Err.Error(), "captured by another stream")
	})
	t.Run("no stream", func(t *testing.T) {
		e := streamEndpoint(url, "")
		e.Stream = ""
		e.Subject = testbroker.Name(t) + ".events"
		a := s.Deliver(context.Background(), e, endpoints.Delivery{ID: "d-3", Context: sampleContext(t)})
		var be *endpoints.BrokerError
		require.ErrorAs(t, a.Err, &be)
		require.True(t, a.Retryable, "a stream may come, or its leader be elected")
		require.ErrorIs(t, a.Err, nats.ErrNoStreamResponse)
		require.Contains(t, a.Err.Error(), "no stream captures subject "+e.Subject)
	})
}

func TestStreamServerDown(t *testing.T) {
	t.Parallel()
	s := newStream(t, endpoints.StreamConfig{})
	e := streamEndpoint("nats://bizevents:secret-password@127.0.0.1:1", "orders")
	a := s.Deliver(context.Background(), e, endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
	var ne *endpoints.NetworkError
	require.ErrorAs(t, a.Err, &ne, "%v", a.Err)
	require.True(t, a.Retryable)
	require.ErrorIs(t, a.Err, syscall.ECONNREFUSED)
	require.Equal(t, errcode.Unavailable, errcode.Of(a.Err))
	require.NotContains(t, a.Err.Error(), "secret-password")
}

func TestStreamTimeout(t *testing.T) {
	t.Parallel()
	s := newStream(t, endpoints.StreamConfig{DialTimeout: time.Second})
	e := streamEndpoint("nats://"+silentServer(t), "orders")
	e.Timeout = 200 * time.Millisecond
	start := time.Now()
	a := s.Deliver(context.Background(), e, endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
	require.ErrorIs(t, a.Err, endpoints.ErrTimeout)
	require.True(t, a.Retryable)
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestStreamReconnects(t *testing.T) {
	t.Parallel()
	server := testbroker.NATSURL(t)
	u, err := url.Parse(server)
	require.NoError(t, err)
	p := newProxy(t, u.Host)
	u.Host = p.addr()
	stream := testbroker.Stream(t)
	s := newStream(t, endpoints.StreamConfig{})
	e := streamEndpoint(u.String(), stream)
	e.Timeout = 2 * time.Second
	deliver := func(id string) func() endpoints.Attempt {
		return func() endpoints.Attempt {
			return s.Deliver(context.Background(), e, endpoints.Delivery{ID: id, Context: sampleContext(t)})
		}
	}
	require.NoError(t, deliver("before")().Err)
	for i := range 3 {
		p.cut()
		failed := untilDelivered(t, deliver(fmt.Sprint("after-", i)))
		t.Logf("cut %d: %d attempts failed before one went through", i, failed)
	}
	got := fetch(t, server, stream, 4)
	ids := map[string]bool{}
	for _, m := range got {
		ids[m.Headers().Get(nats.MsgIdHdr)] = true
	}
	for _, id := range []string{"before", "after-0", "after-1", "after-2"} {
		require.True(t, ids[id], "%s arrived", id)
	}
}

func TestStreamHammer(t *testing.T) {
	t.Parallel()
	url := testbroker.NATSURL(t)
	stream := testbroker.Stream(t)
	s := newStream(t, endpoints.StreamConfig{})
	const senders, each = 16, 25
	c := sampleContext(t)
	var wg sync.WaitGroup
	errs := make(chan error, senders*each)
	for n := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				a := s.Deliver(context.Background(), streamEndpoint(url, stream), endpoints.Delivery{ID: fmt.Sprintf("d-%d-%d", n, i), Context: c})
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
	require.Equal(t, uint64(senders*each), streamInfo(t, url, stream).State.Msgs)
}

func TestStreamClosedAndWrongKind(t *testing.T) {
	t.Parallel()
	s := endpoints.NewStream(endpoints.StreamConfig{})
	a := s.Deliver(context.Background(), queueEndpoint("amqp://127.0.0.1/", "orders"), endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
	var fe *endpoints.FieldError
	require.ErrorAs(t, a.Err, &fe)
	require.Equal(t, "kind", fe.Field)
	require.False(t, a.Retryable)
	require.NoError(t, s.Close())
	a = s.Deliver(context.Background(), streamEndpoint("nats://127.0.0.1:1", "orders"), endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
	require.ErrorIs(t, a.Err, endpoints.ErrClosed)
	require.True(t, a.Retryable)
}
