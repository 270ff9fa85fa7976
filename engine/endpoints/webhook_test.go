package endpoints_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/errcode"
)

func TestDeliverFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format endpoints.Format
		replay bool
	}{
		{endpoints.FormatContext, false},
		{endpoints.FormatContext, true},
		{endpoints.FormatCloudEventsStructured, false},
		{endpoints.FormatCloudEventsStructured, true},
		{endpoints.FormatCloudEventsBinary, false},
		{endpoints.FormatCloudEventsBinary, true},
	}
	for _, tt := range tests {
		name := string(tt.format)
		if tt.replay {
			name += "/replay"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, got := receiver(t, nil)
			w := newWebhook(t, endpoints.WebhookConfig{UserAgent: "bizevents-test"})
			e := hook(srv.URL + "/hooks")
			e.Format = tt.format
			c := sampleContext(t)
			a := w.Deliver(context.Background(), e, endpoints.Delivery{ID: "job-7", Attempt: 2, Replay: tt.replay, Context: c})
			require.NoError(t, a.Err)
			require.Equal(t, http.StatusNoContent, a.Status)
			require.False(t, a.Retryable)
			require.Positive(t, a.Duration)
			require.Empty(t, c.OperationID, "Deliver does not change the caller's context")

			r := next(t, got)
			h := r.Header
			require.Equal(t, "bizevents-test", h.Get("User-Agent"))
			require.Equal(t, "job-7", h.Get("Webhook-Id"))
			require.Equal(t, "job-7", h.Get("Idempotency-Key"))
			require.NotEmpty(t, h.Get("Webhook-Timestamp"))
			require.Empty(t, h.Values("Webhook-Signature"), "no secrets, no signature")
			require.Equal(t, "2", h.Get("X-Bizevents-Attempt"))
			if tt.replay {
				require.Equal(t, "true", h.Get("X-Bizevents-Replay"))
			} else {
				require.Empty(t, h.Values("X-Bizevents-Replay"))
			}

			data := r.Body
			switch tt.format {
			case endpoints.FormatContext:
				require.Equal(t, "application/json", h.Get("Content-Type"))
				require.Equal(t, "contoso-prod", h.Get("X-Ms-Dynamics-Organization"))
				require.Equal(t, "account", h.Get("X-Ms-Dynamics-Entity-Name"))
				require.Equal(t, "Create", h.Get("X-Ms-Dynamics-Request-Name"))
				require.Equal(t, correlation, h.Get("X-Ms-Correlation-Request-Id"))
				require.Equal(t, requestID, h.Get("X-Request-Id"))
				require.Empty(t, h.Values("Ce-Id"))
			case endpoints.FormatCloudEventsStructured:
				require.Equal(t, "application/cloudevents+json", h.Get("Content-Type"))
				requireSchema(t, cloudEventSchema, r.Body)
				var env map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(r.Body, &env))
				want := map[string]string{
					"specversion": `"1.0"`, "id": `"job-7"`, "source": `"/bizevents/contoso-prod/contoso"`,
					"type": `"bizevents.account.Create"`, "subject": `"account/` + accountID.String() + `"`,
					"time": `"2026-03-01T12:30:45.123456Z"`, "datacontenttype": `"application/json"`,
					"dataschema":    `"` + endpoints.ExecutionContextSchema + `"`,
					"correlationid": `"` + correlation + `"`, "position": `"42"`,
				}
				if tt.replay {
					want["bizeventsreplay"] = `true`
				}
				for k, v := range want {
					require.JSONEq(t, v, string(env[k]), k)
				}
				if !tt.replay {
					require.NotContains(t, env, "bizeventsreplay")
				}
				require.Len(t, env, len(want)+1, "the attributes and data, nothing else")
				data = env["data"]
			case endpoints.FormatCloudEventsBinary:
				require.Equal(t, "application/json", h.Get("Content-Type"))
				want := map[string]string{
					"Ce-Specversion": "1.0", "Ce-Id": "job-7", "Ce-Source": "/bizevents/contoso-prod/contoso",
					"Ce-Type": "bizevents.account.Create", "Ce-Subject": "account/" + accountID.String(),
					"Ce-Time": "2026-03-01T12:30:45.123456Z", "Ce-Dataschema": endpoints.ExecutionContextSchema,
					"Ce-Correlationid": correlation, "Ce-Position": "42",
				}
				if tt.replay {
					want["Ce-Bizeventsreplay"] = "true"
				}
				for k, v := range want {
					require.Equal(t, v, h.Get(k), k)
				}
				require.Empty(t, h.Values("Ce-Datacontenttype"), "binary mode carries it as Content-Type")
				if !tt.replay {
					require.Empty(t, h.Values("Ce-Bizeventsreplay"))
				}
			}
			requireSchema(t, contextSchema, data)
			var sent endpoints.ExecutionContext
			require.NoError(t, json.Unmarshal(data, &sent))
			require.Equal(t, "job-7", sent.OperationID, "the delivery's id fills OperationId")
			require.Contains(t, string(data), `"revenue","value":`+revenue+`}`, "exact number")
			require.Contains(t, string(data), `"Contoso <Ltd> & Co"`, "no HTML escaping")
		})
	}
}

func TestDeliverKeepsOperationID(t *testing.T) {
	t.Parallel()
	srv, got := receiver(t, nil)
	c := sampleContext(t)
	c.OperationID = "job-from-step"
	a := newWebhook(t, endpoints.WebhookConfig{}).Deliver(context.Background(), hook(srv.URL), endpoints.Delivery{ID: "d-1", Context: c})
	require.NoError(t, a.Err)
	r := next(t, got)
	var sent endpoints.ExecutionContext
	require.NoError(t, json.Unmarshal(r.Body, &sent))
	require.Equal(t, "job-from-step", sent.OperationID)
	require.Equal(t, endpoints.DefaultUserAgent, r.Header.Get("User-Agent"))
	require.Equal(t, "1", r.Header.Get("X-Bizevents-Attempt"), "attempt 0 counts as 1")
}

func TestDeliverCloudEventHeaderEncoding(t *testing.T) {
	t.Parallel()
	srv, got := receiver(t, nil)
	c := sampleContext(t)
	c.StreamID = `order "7"/50% €`
	c.OrganizationName = "Contoso Prod"
	c.Solution = ""
	e := hook(srv.URL)
	e.Format = endpoints.FormatCloudEventsBinary
	a := newWebhook(t, endpoints.WebhookConfig{}).Deliver(context.Background(), e, endpoints.Delivery{ID: "d-1", Context: c})
	require.NoError(t, a.Err)
	h := next(t, got).Header
	require.Equal(t, "order%20%227%22/50%25%20%E2%82%AC", h.Get("Ce-Subject"), "percent-encoded as the HTTP binding says")
	source, err := url.PathUnescape(h.Get("Ce-Source"))
	require.NoError(t, err)
	require.Equal(t, "/bizevents/Contoso%20Prod/engine", source, "a URI-reference, its own %% encoded once more in the header")
	subject, err := url.PathUnescape(h.Get("Ce-Subject"))
	require.NoError(t, err)
	require.Equal(t, c.StreamID, subject)
}

func TestCloudEventType(t *testing.T) {
	t.Parallel()
	tests := []struct{ table, message, want string }{
		{"account", "Create", "bizevents.account.Create"},
		{"none", "pos_CustomerPurchase", "bizevents.pos_CustomerPurchase"},
		{"", "pos_CustomerPurchase", "bizevents.pos_CustomerPurchase"},
		{"account", "contoso_Score", "bizevents.account.contoso_Score"},
	}
	for _, tt := range tests {
		c := &endpoints.ExecutionContext{PrimaryEntityName: tt.table, MessageName: tt.message}
		require.Equal(t, tt.want, endpoints.CloudEventType(c))
	}
}

func TestDeliverSigned(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		name    string
		secrets []string
		sent    time.Time // the sender's clock
	}{
		{"one secret", []string{secretA}, now},
		{"rotation", []string{secretB, secretC}, now},
		{"sender clock ten minutes behind", []string{secretA}, now.Add(-10 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, got := receiver(t, nil)
			w := newWebhook(t, endpoints.WebhookConfig{Now: func() time.Time { return tt.sent }})
			e := hook(srv.URL)
			e.Secrets = tt.secrets
			a := w.Deliver(context.Background(), e, endpoints.Delivery{ID: "job-9", Attempt: 1, Context: sampleContext(t)})
			require.NoError(t, a.Err)
			r := next(t, got)
			require.Len(t, strings.Fields(r.Header.Get("Webhook-Signature")), len(tt.secrets), "one signature per secret")

			late := now.Sub(tt.sent) > endpoints.DefaultTolerance
			for _, s := range tt.secrets {
				err := endpoints.Verify(s, r.Header, r.Body, now, 0)
				if late {
					require.ErrorIs(t, err, endpoints.ErrSignatureTimestamp)
				} else {
					require.NoError(t, err, "a receiver holding either secret verifies")
				}
			}
			if late {
				return
			}
			if want := errIfNot(tt.secrets, secretC); want != nil {
				require.ErrorIs(t, endpoints.Verify(secretC, r.Header, r.Body, now, 0), want, "a wrong secret")
			}
			tampered := append([]byte(nil), r.Body...)
			tampered[len(tampered)-2] ^= 1
			require.ErrorIs(t, endpoints.Verify(tt.secrets[0], r.Header, tampered, now, 0), endpoints.ErrSignatureMismatch)
			replayed := r.Header.Clone()
			replayed.Set("Webhook-Id", "job-10")
			require.ErrorIs(t, endpoints.Verify(tt.secrets[0], replayed, r.Body, now, 0), endpoints.ErrSignatureMismatch)
			require.ErrorIs(t, endpoints.Verify(tt.secrets[0], r.Header, r.Body, now.Add(time.Hour), 0), endpoints.ErrSignatureTimestamp)
		})
	}
}

// errIfNot is the error Verify gives for secret: nil when secrets hold it.
func errIfNot(secrets []string, secret string) error {
	for _, s := range secrets {
		if s == secret {
			return nil
		}
	}
	return endpoints.ErrSignatureMismatch
}

func TestDeliverUnsignedFailsVerify(t *testing.T) {
	t.Parallel()
	srv, got := receiver(t, nil)
	a := newWebhook(t, endpoints.WebhookConfig{}).Deliver(context.Background(), hook(srv.URL), endpoints.Delivery{ID: "d", Context: sampleContext(t)})
	require.NoError(t, a.Err)
	r := next(t, got)
	require.ErrorIs(t, endpoints.Verify(secretA, r.Header, r.Body, time.Now(), 0), endpoints.ErrSignatureMissing)
}

func TestDeliverAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		path       string
		auth       endpoints.Auth
		wantHeader map[string]string
		wantQuery  url.Values
	}{
		{"none", "/h", endpoints.Auth{}, nil, url.Values{}},
		{"http header", "/h", endpoints.Auth{Type: endpoints.AuthHTTPHeader, Name: "Authorization", Value: "Bearer s3cret"},
			map[string]string{"Authorization": "Bearer s3cret"}, url.Values{}},
		{"webhook key", "/api/hook", endpoints.Auth{Type: endpoints.AuthWebhookKey, Value: "00000000-0000-0000-0000-000000000001"},
			nil, url.Values{"code": {"00000000-0000-0000-0000-000000000001"}}},
		{"webhook key after the url's query", "/api/hook?tenant=7", endpoints.Auth{Type: endpoints.AuthWebhookKey, Value: "k&y=1"},
			nil, url.Values{"tenant": {"7"}, "code": {"k&y=1"}}},
		{"query string pair", "/h?x=1", endpoints.Auth{Type: endpoints.AuthQueryString, Name: "sig", Value: "a b"},
			nil, url.Values{"x": {"1"}, "sig": {"a b"}}},
		{"query string pairs", "/h", endpoints.Auth{Type: endpoints.AuthQueryString, Value: "a=1&b=2"},
			nil, url.Values{"a": {"1"}, "b": {"2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, got := receiver(t, nil)
			e := hook(srv.URL + tt.path)
			e.Auth = tt.auth
			a := newWebhook(t, endpoints.WebhookConfig{}).Deliver(context.Background(), e, endpoints.Delivery{ID: "d", Context: sampleContext(t)})
			require.NoError(t, a.Err)
			r := next(t, got)
			for k, v := range tt.wantHeader {
				require.Equal(t, v, r.Header.Get(k))
			}
			require.Equal(t, tt.wantQuery, url.Values(r.Query))
		})
	}
}

func TestDeliverStatuses(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		status     int
		retryAfter string
		body       string
		retryable  bool
		wantWait   time.Duration
	}{
		{status: 200, body: `{"ok":true}`},
		{status: 202},
		{status: 500, body: `{"error":"database down"}`, retryable: true},
		{status: 502, retryable: true},
		{status: 503, retryAfter: now.Add(90 * time.Second).Format(http.TimeFormat), retryable: true, wantWait: 90 * time.Second},
		{status: 400, body: "missing field customerId"},
		{status: 401},
		{status: 404},
		{status: 408, retryable: true},
		{status: 409, retryable: true},
		{status: 410},
		{status: 425, retryable: true},
		{status: 429, retryAfter: "7", retryable: true, wantWait: 7 * time.Second},
		{status: 429, retryAfter: "soon", retryable: true},
		{status: 500, retryAfter: "7", retryable: true}, // Retry-After only counts on 429 and 503
		{status: 301},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status)+"/"+tt.retryAfter, func(t *testing.T) {
			t.Parallel()
			srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				if tt.status == 301 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			w := newWebhook(t, endpoints.WebhookConfig{Now: func() time.Time { return now }})
			a := w.Deliver(context.Background(), hook(srv.URL), endpoints.Delivery{ID: "d", Attempt: 1, Context: sampleContext(t)})
			require.Equal(t, tt.status, a.Status, "a redirect is not followed")
			require.Equal(t, tt.body, a.Response)
			require.Equal(t, tt.retryable, a.Retryable)
			require.Equal(t, tt.wantWait, a.RetryAfter)
			if tt.status < 300 {
				require.NoError(t, a.Err)
				return
			}
			var se *endpoints.StatusError
			require.ErrorAs(t, a.Err, &se)
			require.Equal(t, tt.status, se.Status)
			require.Equal(t, "contoso_erp_hook", se.Endpoint)
			require.Equal(t, errcode.Unavailable, errcode.Of(a.Err))
		})
	}
}

func TestDeliverTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	e := hook(srv.URL)
	e.Timeout = 100 * time.Millisecond
	start := time.Now()
	a := newWebhook(t, endpoints.WebhookConfig{}).Deliver(context.Background(), e, endpoints.Delivery{ID: "d", Context: sampleContext(t)})
	require.ErrorIs(t, a.Err, endpoints.ErrTimeout)
	require.True(t, a.Retryable)
	require.Zero(t, a.Status)
	require.GreaterOrEqual(t, a.Duration, e.Timeout)
	require.Less(t, time.Since(start), 5*time.Second, "the attempt ends at the endpoint's timeout")
	require.Equal(t, errcode.Unavailable, errcode.Of(a.Err))
	require.NotErrorIs(t, a.Err, context.DeadlineExceeded, "the endpoint's timeout, not the caller's")
}

func TestDeliverClientTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	w := newWebhook(t, endpoints.WebhookConfig{Client: &http.Client{Timeout: 100 * time.Millisecond}})
	a := w.Deliver(context.Background(), hook(srv.URL), endpoints.Delivery{ID: "d", Context: sampleContext(t)})
	require.ErrorIs(t, a.Err, endpoints.ErrTimeout, "a given client's own timeout counts as the endpoint's")
	require.True(t, a.Retryable)
}

func TestDeliverCanceled(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	var once sync.Once
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(started) })
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
		}
		cancel()
	}()
	a := newWebhook(t, endpoints.WebhookConfig{}).Deliver(ctx, hook(srv.URL), endpoints.Delivery{ID: "d", Context: sampleContext(t)})
	require.ErrorIs(t, a.Err, context.Canceled)
	require.NotErrorIs(t, a.Err, endpoints.ErrTimeout)
	require.True(t, a.Retryable, "the job runs again after a shutdown")
	require.Equal(t, errcode.Canceled, errcode.Of(a.Err))
}

func TestDeliverLargeResponse(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("0123456789abcdef", 5<<20/16) // 5 MiB
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(big))
	})
	a := newWebhook(t, endpoints.WebhookConfig{}).Deliver(context.Background(), hook(srv.URL), endpoints.Delivery{ID: "d", Context: sampleContext(t)})
	require.Equal(t, http.StatusInternalServerError, a.Status)
	require.True(t, a.Retryable)
	require.Len(t, a.Response, endpoints.MaxResponseExcerpt)
	require.Equal(t, big[:endpoints.MaxResponseExcerpt], a.Response)
}

func TestDeliverResponseExcerptUTF8(t *testing.T) {
	t.Parallel()
	pad := strings.Repeat("a", endpoints.MaxResponseExcerpt-1)
	tests := []struct {
		name string
		body string
		want string
	}{
		{"a rune cut at the end is dropped", pad + "é and more", pad},
		{"a rune that fits is kept", pad[1:] + "é and more", pad[1:] + "é"},
		{"invalid bytes become U+FFFD", "ok \xff\xfe done", "ok \uFFFD\uFFFD done"},
		{"a short body that ends mid-rune", "x\xc3", "x\uFFFD"},
		{"replacements never pass the limit", strings.Repeat("\xff", endpoints.MaxResponseExcerpt),
			strings.Repeat("\uFFFD", endpoints.MaxResponseExcerpt/3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(tt.body))
			})
			a := newWebhook(t, endpoints.WebhookConfig{}).Deliver(context.Background(), hook(srv.URL), endpoints.Delivery{ID: "d", Context: sampleContext(t)})
			require.True(t, utf8.ValidString(a.Response))
			require.LessOrEqual(t, len(a.Response), endpoints.MaxResponseExcerpt)
			require.Equal(t, tt.want, a.Response)
		})
	}
}

func TestDeliverConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	e := hook("http://" + addr + "/hook")
	e.Auth = endpoints.Auth{Type: endpoints.AuthWebhookKey, Value: "key-that-must-not-leak"}
	a := newWebhook(t, endpoints.WebhookConfig{}).Deliver(context.Background(), e, endpoints.Delivery{ID: "d", Context: sampleContext(t)})
	require.True(t, a.Retryable)
	require.Zero(t, a.Status)
	var ne *endpoints.NetworkError
	require.ErrorAs(t, a.Err, &ne)
	require.ErrorIs(t, a.Err, syscall.ECONNREFUSED)
	require.NotContains(t, a.Err.Error(), "key-that-must-not-leak")
	require.NotContains(t, a.Err.Error(), "/hook", "no URL in the message")
	require.Equal(t, errcode.Unavailable, errcode.Of(a.Err))
}

func TestDeliverInvalid(t *testing.T) {
	t.Parallel()
	srv, got := receiver(t, nil)
	w := newWebhook(t, endpoints.WebhookConfig{})
	bad := hook(srv.URL)
	bad.Secrets = []string{"not-a-secret"}
	a := w.Deliver(context.Background(), bad, endpoints.Delivery{ID: "d", Context: sampleContext(t)})
	var fe *endpoints.FieldError
	require.ErrorAs(t, a.Err, &fe)
	require.Equal(t, "secrets[0]", fe.Field)
	require.False(t, a.Retryable)
	require.NotContains(t, a.Err.Error(), "not-a-secret")

	for _, d := range []endpoints.Delivery{
		{Context: sampleContext(t)},
		{ID: "two words", Context: sampleContext(t)},
		{ID: "d\n", Context: sampleContext(t)},
		{ID: strings.Repeat("x", 257), Context: sampleContext(t)},
		{ID: "d"},
		{ID: "d", Attempt: -1, Context: sampleContext(t)},
	} {
		a := w.Deliver(context.Background(), hook(srv.URL), d)
		require.ErrorIs(t, a.Err, endpoints.ErrInvalidDelivery, "%+v", d)
		require.False(t, a.Retryable)
		require.Equal(t, errcode.InvalidArgument, errcode.Of(a.Err))
	}
	select {
	case r := <-got:
		t.Fatalf("an invalid delivery was sent: %v", r.Header)
	default:
	}
}

// TestDeliverHammer sends from many goroutines through one Webhook, as the
// job runner does, and checks every delivery arrives signed.
func TestDeliverHammer(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		bad  []error
		seen = map[string]int{}
	)
	srv, got := receiver(t, nil)
	w := newWebhook(t, endpoints.WebhookConfig{})
	e := hook(srv.URL)
	e.Secrets = []string{secretA, secretB}
	e.Format = endpoints.FormatCloudEventsStructured
	c := sampleContext(t)
	const senders, each = 8, 25
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("job-%d-%d", s, i)
				a := w.Deliver(context.Background(), e, endpoints.Delivery{ID: id, Attempt: 1, Context: c})
				if a.Err != nil {
					mu.Lock()
					bad = append(bad, a.Err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	require.Empty(t, bad)
	for range senders * each {
		r := next(t, got)
		require.NoError(t, endpoints.Verify(secretB, r.Header, r.Body, time.Now(), 0))
		var env endpoints.CloudEvent
		require.NoError(t, json.Unmarshal(r.Body, &env))
		require.Equal(t, r.Header.Get("Webhook-Id"), env.ID)
		seen[env.ID]++
	}
	require.Len(t, seen, senders*each, "every delivery once")
	require.Empty(t, c.OperationID)
}

func TestDeliveryErrorsAreDistinct(t *testing.T) {
	t.Parallel()
	errs := []error{endpoints.ErrTimeout, endpoints.ErrInvalidDelivery, endpoints.ErrInvalidSecret,
		endpoints.ErrSignatureMissing, endpoints.ErrSignatureTimestamp, endpoints.ErrSignatureMismatch}
	for i, a := range errs {
		for j, b := range errs {
			require.Equal(t, i == j, errors.Is(a, b), "%v / %v", a, b)
		}
	}
}
