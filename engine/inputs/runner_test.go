package inputs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/inputs"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/internal/testbroker"
)

// params returns an event's input parameters, numbers as json.Number.
func params(t testing.TB, ev eventlog.Event) map[string]any {
	t.Helper()
	var data struct {
		InputParameters map[string]any `json:"inputParameters"`
	}
	dec := json.NewDecoder(bytes.NewReader(ev.Data))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&data))
	return data.InputParameters
}

func TestValidMessagesBecomeEvents(t *testing.T) {
	t.Parallel()
	eachBroker(t, func(t *testing.T, br broker) {
		e := newEngine(t)
		in := br.input()
		in.User = uuid.New()
		r := start(t, e.e, in, fastConfig(t))

		plainCorr, ceCorr := uuid.New(), uuid.New()
		br.publish(t, outgoing{id: newID(), headers: map[string]string{inputs.HeaderCorrelationID: plainCorr.String()},
			body: `{"InvoiceNumber": "INV-1", "Amount": 12.50}`})
		br.publish(t, outgoing{body: `{"specversion": "1.0", "id": "evt-2", "source": "/erp/ledger", "type": "com.erp.invoice.posted",
			"datacontenttype": "application/json", "correlationid": "` + ceCorr.String() + `",
			"data": {"InvoiceNumber": "INV-2", "Amount": 7}}`})

		evs := e.waitEvents(t, 2)
		require.Len(t, evs, 2)
		byNumber := map[string]eventlog.Event{}
		for _, ev := range evs {
			byNumber[params(t, ev)["InvoiceNumber"].(string)] = ev
		}
		first, second := byNumber["INV-1"], byNumber["INV-2"]
		require.Equal(t, "12.5", params(t, first)["Amount"].(json.Number).String())
		require.Equal(t, plainCorr.String(), first.Metadata.CorrelationID)
		require.Equal(t, in.User.String(), first.Metadata.UserID)
		require.Equal(t, "7", params(t, second)["Amount"].(json.Number).String())
		require.Equal(t, ceCorr.String(), second.Metadata.CorrelationID)
		br.settled(t, r)
		require.Zero(t, br.deadLetterCount(t))
	})
}

func TestRedeliveredMessageStoresOneEvent(t *testing.T) {
	t.Parallel()
	eachBroker(t, func(t *testing.T, br broker) {
		e := newEngine(t)
		// The first run of "lost-ack" commits and then fails, as when the
		// process dies before it acks: the retry is the redelivery.
		svc := &flaky{svc: e.e, fail: func(req pipeline.Request, n int) (error, bool) {
			if req.IdempotencyKey == "lost-ack" && n == 0 {
				return unavailableErr{}, true
			}
			return nil, false
		}}
		r := start(t, svc, br.input(), fastConfig(t))

		twice := newID()
		body := `{"InvoiceNumber": "INV-10", "Amount": 100}`
		br.publish(t, outgoing{id: twice, body: body})
		br.publish(t, outgoing{id: twice, body: body})
		br.publish(t, outgoing{id: "lost-ack", body: `{"InvoiceNumber": "INV-11", "Amount": 5}`})
		br.publish(t, outgoing{id: newID(), body: `{"InvoiceNumber": "INV-12", "Amount": 1}`})

		e.waitEvents(t, 3)
		br.settled(t, r)
		evs := e.events(t)
		require.Len(t, evs, 3, "one event per message id")
		require.Equal(t, 2, svc.count("lost-ack"), "run, then replayed")
		require.Zero(t, br.deadLetterCount(t))
	})
}

func TestBadMessagesAreDeadLettered(t *testing.T) {
	t.Parallel()
	eachBroker(t, func(t *testing.T, br broker) {
		e := newEngine(t)
		r := start(t, e.e, br.input(), fastConfig(t))

		bad := []struct {
			id, body, code, reason string
		}{
			{newID(), `{"InvoiceNumber": `, "invalid_argument", "not valid JSON"},
			{newID(), `{"InvoiceNumber": "INV-20", "Amount": 3, "Discount": 1}`, "invalid_value", "Discount"},
			{newID(), `{"InvoiceNumber": 20, "Amount": 3}`, "invalid_value", "InvoiceNumber"},
			{newID(), `[1, 2]`, "invalid_argument", "JSON object"},
			{newID(), `{"specversion": "1.0", "id": "x", "source": "/erp", "type": "t", "data_base64": "e30="}`, "invalid_argument", "data_base64"},
		}
		for _, m := range bad {
			br.publish(t, outgoing{id: m.id, headers: map[string]string{"x-erp-batch": "7"}, body: m.body})
		}
		br.publish(t, outgoing{id: newID(), body: `{"InvoiceNumber": "INV-21", "Amount": 3}`})

		dls := br.deadLetters(t, len(bad))
		byID := map[string]received{}
		for _, d := range dls {
			byID[d.id] = d
		}
		for _, m := range bad {
			d, ok := byID[m.id]
			require.True(t, ok, "dead letter of %s", m.body)
			require.Equal(t, m.body, d.body)
			require.Equal(t, m.code, d.headers[inputs.HeaderErrorCode], m.body)
			require.Contains(t, d.headers[inputs.HeaderError], m.reason)
			require.Equal(t, "erp_invoices", d.headers[inputs.HeaderInput])
			require.Equal(t, m.id, d.headers[inputs.HeaderMessageID])
			require.Equal(t, "7", d.headers["x-erp-batch"], "the original headers")
		}
		evs := e.waitEvents(t, 1)
		require.Equal(t, "INV-21", params(t, evs[0])["InvoiceNumber"])
		br.settled(t, r)
		require.Len(t, e.events(t), 1)
	})
}

func TestTransientFailuresAreRetriedThenDeadLettered(t *testing.T) {
	t.Parallel()
	eachBroker(t, func(t *testing.T, br broker) {
		e := newEngine(t)
		svc := &flaky{svc: e.e, fail: func(req pipeline.Request, n int) (error, bool) {
			switch {
			case req.IdempotencyKey == "twice" && n < 2:
				return unavailableErr{}, false
			case req.IdempotencyKey == "always":
				return unavailableErr{}, false
			}
			return nil, false
		}}
		cfg := fastConfig(t)
		r := start(t, svc, br.input(), cfg)

		br.publish(t, outgoing{id: "twice", body: `{"InvoiceNumber": "INV-30", "Amount": 1}`})
		br.publish(t, outgoing{id: "always", body: `{"InvoiceNumber": "INV-31", "Amount": 1}`})

		dls := br.deadLetters(t, 1)
		require.Equal(t, "always", dls[0].id)
		require.Equal(t, string(errcode.Unavailable), dls[0].headers[inputs.HeaderErrorCode])
		require.Contains(t, dls[0].headers[inputs.HeaderError], "gone for a moment")
		require.Equal(t, cfg.Retries+1, svc.count("always"))

		evs := e.waitEvents(t, 1)
		require.Equal(t, "INV-30", params(t, evs[0])["InvoiceNumber"])
		require.Equal(t, 3, svc.count("twice"))
		br.settled(t, r)
	})
}

func TestStopLeavesTheMessageToTheBroker(t *testing.T) {
	t.Parallel()
	eachBroker(t, func(t *testing.T, br broker) {
		e := newEngine(t)
		down := &flaky{svc: e.e, fail: func(pipeline.Request, int) (error, bool) { return unavailableErr{}, false }}
		cfg := fastConfig(t)
		cfg.Retries, cfg.RetryDelay, cfg.MaxRetryDelay = 1000, 20*time.Millisecond, 20*time.Millisecond
		cfg.CloseTimeout = 5 * time.Second
		r1 := start(t, down, br.input(), cfg)
		br.publish(t, outgoing{id: "m1", body: `{"InvoiceNumber": "INV-40", "Amount": 1}`})
		require.Eventually(t, func() bool { return down.count("m1") >= 2 }, wait, 5*time.Millisecond)

		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		require.NoError(t, r1.Stop(ctx))
		require.Zero(t, br.deadLetterCount(t), "a stopping input does not dead-letter")

		// Another engine process picks the message up.
		r2 := start(t, e.e, br.input(), fastConfig(t))
		evs := e.waitEvents(t, 1)
		require.Equal(t, "INV-40", params(t, evs[0])["InvoiceNumber"])
		br.settled(t, r2)
		require.Zero(t, br.deadLetterCount(t))
	})
}

func TestStartFailsWhenTheBrokerIsDown(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	for _, in := range []inputs.Input{
		{Name: "erp_invoices", Kind: inputs.KindQueue, URL: "amqp://erp:s3cret@127.0.0.1:1/", Queue: "invoices", Message: invoicePosted.UniqueName},
		{Name: "erp_invoices", Kind: inputs.KindStream, URL: "nats://erp:s3cret@127.0.0.1:1", Subject: "erp.invoices", Message: invoicePosted.UniqueName},
	} {
		t.Run(string(in.Kind), func(t *testing.T) {
			t.Parallel()
			r, err := inputs.New(e.e, []inputs.Input{in}, inputs.Config{ConnectTimeout: 2 * time.Second, Logger: testLogger(t)})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			err = r.Start(ctx)
			require.Error(t, err)
			require.Equal(t, errcode.Unavailable, errcode.Of(err))
			require.Contains(t, err.Error(), "input erp_invoices")
			require.Contains(t, err.Error(), "127.0.0.1:1")
			require.NotContains(t, err.Error(), "s3cret")
			require.NoError(t, r.Stop(ctx), "nothing to stop")
		})
	}
}

func TestQueueDeclaredElsewhereIsUsedAsItIs(t *testing.T) {
	t.Parallel()
	br := newQueue(t)
	// Declared with arguments the input does not know: declaring it again
	// without them would fail.
	_, err := br.ch.QueueDeclare(br.queue, true, false, false, false, amqp.Table{"x-max-length": int32(1000)})
	require.NoError(t, err)
	e := newEngine(t)
	in := br.input()
	in.DeadLetter = testbroker.Queue(t)
	r := start(t, e.e, in, fastConfig(t))
	br.publish(t, outgoing{id: newID(), body: `{"InvoiceNumber": "INV-50", "Amount": 1}`})
	e.waitEvents(t, 1)
	br.settled(t, r)
}

func TestNewReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := inputs.New(nil, []inputs.Input{
		{Name: "a", Kind: inputs.KindQueue, URL: "amqp://h/", Queue: "q", Message: "m"},
		{Name: "a", Kind: inputs.KindQueue, URL: "amqp://h/", Queue: "q2", Message: "m"},
		{Name: "Bad", Kind: "pulsar"},
	}, inputs.Config{})
	require.Error(t, err)
	for _, want := range []string{"input a: name: is given twice", `input "Bad": name:`, `input "Bad": kind: "pulsar" is not supported`, `input "Bad": message: is required`} {
		require.Contains(t, err.Error(), want)
	}
	require.Equal(t, 4, strings.Count(err.Error(), "\n")+1)
}
