package endpoints_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/internal/benchload"
)

// benchSenders is how many goroutines deliver at once, as the job runner's
// workers do.
const benchSenders = 16

// benchFixture is the benchmark's receiver and what both sub-benchmarks
// send: the body the baseline posts is the one Deliver posts.
type benchFixture struct {
	srv  *httptest.Server
	c    *endpoints.ExecutionContext
	e    endpoints.Endpoint
	body []byte // the FormatContext body of delivery "bench"
	got  atomic.Int64
}

func newBenchFixture(tb testing.TB) *benchFixture {
	tb.Helper()
	f := &benchFixture{c: sampleContext(tb)}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		f.got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	tb.Cleanup(f.srv.Close)
	f.e = hook(f.srv.URL + "/hooks")
	f.e.Secrets = []string{secretA}
	c := *f.c
	c.OperationID = "bench"
	var err error
	f.body, err = deliveredBody(&c)
	require.NoError(tb, err)
	return f
}

// deliveredBody is what Deliver posts in FormatContext, read back from a
// receiver so the baseline sends the same bytes.
func deliveredBody(c *endpoints.ExecutionContext) ([]byte, error) {
	got := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- b
	}))
	defer srv.Close()
	w := endpoints.NewWebhook(endpoints.WebhookConfig{})
	defer w.CloseIdleConnections()
	a := w.Deliver(context.Background(), hook(srv.URL), endpoints.Delivery{ID: "bench", Context: c})
	if a.Err != nil {
		return nil, a.Err
	}
	return <-got, nil
}

// BenchmarkWebhook compares Deliver (FormatContext, one signing secret)
// with a bare http.Client POST of the same body to the same loopback
// receiver, from benchSenders goroutines: the ratio is what encoding,
// signing, headers and the response excerpt cost.
func BenchmarkWebhook(b *testing.B) {
	f := newBenchFixture(b)
	name := fmt.Sprintf("senders=%d", benchSenders)
	b.Run(name+"/baseline", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchSenders}}
		defer client.CloseIdleConnections()
		url := f.e.URL
		benchload.Report(b, benchSenders, func() error {
			resp, err := client.Post(url, "application/json", bytes.NewReader(f.body))
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		})
	})
	b.Run(name+"/webhook", func(b *testing.B) {
		w := newWebhook(b, endpoints.WebhookConfig{})
		benchload.Report(b, benchSenders, func() error {
			a := w.Deliver(context.Background(), f.e, endpoints.Delivery{ID: "bench", Attempt: 1, Context: f.c})
			return a.Err
		})
	})
}

// TestBenchmarkFixture checks the benchmark compares like with like: the
// baseline's body is the one Deliver sends, and the receiver answers both.
func TestBenchmarkFixture(t *testing.T) {
	t.Parallel()
	f := newBenchFixture(t)
	requireSchema(t, contextSchema, f.body)
	require.Contains(t, string(f.body), `"OperationId":"bench"`)
	resp, err := http.Post(f.e.URL, "application/json", bytes.NewReader(f.body))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	w := newWebhook(t, endpoints.WebhookConfig{})
	a := w.Deliver(context.Background(), f.e, endpoints.Delivery{ID: "bench", Attempt: 1, Context: f.c})
	require.NoError(t, a.Err)
	require.Equal(t, int64(2), f.got.Load())
}
