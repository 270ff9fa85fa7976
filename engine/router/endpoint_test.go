package router_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/router"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
)

// receiver is a web hook receiver that answers with the statuses it is
// given, in turn, and keeps what it received.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	got      []received
	secret   string
}

type received struct {
	header http.Header
	body   []byte
	status int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	status := http.StatusNoContent
	if len(rc.statuses) > 0 {
		status, rc.statuses = rc.statuses[0], rc.statuses[1:]
	}
	rc.got = append(rc.got, received{header: r.Header.Clone(), body: body, status: status})
	rc.mu.Unlock()
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "receiver says "+http.StatusText(status))
}

func (rc *receiver) received() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func TestEndpointStepDeliversToAWebhook(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		secret := endpoints.NewSecret()
		rc := &receiver{statuses: []int{500, 503}, secret: secret}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		bad := &receiver{statuses: []int{400}}
		badSrv := httptest.NewServer(bad)
		defer badSrv.Close()
		eps := map[string]endpoints.Endpoint{
			"erp":  {Name: "erp", Kind: endpoints.KindWebhook, URL: srv.URL + "/hook", Secrets: []string{secret}, Timeout: 5 * time.Second},
			"gone": {Name: "gone", Kind: endpoints.KindWebhook, URL: badSrv.URL + "/hook", Timeout: 5 * time.Second},
		}

		db := open(t, append(append([]storage.Migration{}, tables.Migrations...), jobs.Migrations...)...)
		e := pipeline.New(db, pipeline.Config{})
		d, err := pipeline.NewDefinitions([]tables.Table{account}, nil, []pipeline.Step{
			{Name: "notify erp", Message: pipeline.Create, Table: "account", Stage: pipeline.PostOperation, Mode: pipeline.Async, Endpoint: "erp",
				PostImages: []pipeline.Image{{Name: "after", Columns: []string{"name"}}}},
			{Name: "notify gone", Message: pipeline.Create, Table: "account", Stage: pipeline.PostOperation, Mode: pipeline.Async, Endpoint: "gone"},
		})
		require.NoError(t, err)
		e.SetDefinitions(d)
		runner := router.EndpointRunner(router.EndpointConfig{Engine: e, Webhook: endpoints.NewWebhook(endpoints.WebhookConfig{}),
			Endpoint: func(name string) (endpoints.Endpoint, bool) { ep, ok := eps[name]; return ep, ok }, Environment: "test"})
		r, err := router.New(db, jobs.NewStore(db, nil), map[string]router.Runner{router.KindEndpoint: runner},
			router.Config{PollInterval: 20 * time.Millisecond})
		require.NoError(t, err)
		require.NoError(t, r.Sync(router.StepSubscriptions(d, fastRetry)))
		require.NoError(t, r.Start(ctx))
		defer r.Stop(ctx)

		resp, err := e.Execute(ctx, pipeline.Request{Message: pipeline.Create, Table: "account", Target: map[string]any{"name": "Fourth Coffee"}})
		require.NoError(t, err)
		store := r.Jobs()
		require.Eventually(t, func() bool {
			js, err := store.List(ctx, jobs.Filter{Status: []jobs.Status{jobs.Succeeded, jobs.Failed}})
			require.NoError(t, err)
			return len(js) == 2
		}, wait, 10*time.Millisecond)

		// Two 5xx, then delivered: three attempts, one delivery id, signed.
		got := rc.received()
		require.Len(t, got, 3)
		require.Equal(t, []int{500, 503, 204}, []int{got[0].status, got[1].status, got[2].status})
		id := got[0].header.Get(endpoints.HeaderWebhookID)
		require.NotEmpty(t, id)
		for _, g := range got {
			require.Equal(t, id, g.header.Get(endpoints.HeaderWebhookID), "every attempt carries the same delivery id")
			require.NoError(t, endpoints.Verify(secret, g.header, g.body, time.Now(), time.Minute))
		}
		var ec endpoints.ExecutionContext
		require.NoError(t, json.Unmarshal(got[2].body, &ec))
		require.Equal(t, "Create", ec.MessageName)
		require.Equal(t, "account", ec.PrimaryEntityName)
		require.Equal(t, resp.ID.String(), ec.PrimaryEntityID)
		require.Equal(t, "notify erp", ec.StepName)
		require.Equal(t, "test", ec.OrganizationName)
		erp, err := store.List(ctx, jobs.Filter{Subscriber: "step:notify erp"})
		require.NoError(t, err)
		require.Equal(t, jobs.Succeeded, erp[0].Status)
		require.Equal(t, 3, erp[0].Attempts)
		require.Equal(t, erp[0].ID.String(), ec.OperationID)
		atts, err := store.Attempts(ctx, erp[0].ID)
		require.NoError(t, err)
		require.Equal(t, 500, atts[0].Status)
		require.Equal(t, "receiver says Internal Server Error", atts[0].Response)
		require.Equal(t, 204, atts[2].Status)

		// A 400 is not retried: failed, dead-lettered after one attempt.
		gone, err := store.List(ctx, jobs.Filter{Subscriber: "step:notify gone"})
		require.NoError(t, err)
		require.Equal(t, jobs.Failed, gone[0].Status)
		require.True(t, gone[0].DeadLettered)
		require.Equal(t, 1, gone[0].Attempts)
		require.Len(t, bad.received(), 1)

		// A manual retry delivers again, with the same id.
		_, err = store.Retry(ctx, gone[0].ID)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(bad.received()) == 2 }, wait, 10*time.Millisecond)
		require.Equal(t, bad.received()[0].header.Get(endpoints.HeaderWebhookID), bad.received()[1].header.Get(endpoints.HeaderWebhookID))

		// A replay is marked as one.
		_, n, err := r.Replay(ctx, router.ReplayRequest{Subscriber: "step:notify erp", From: 1})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Eventually(t, func() bool { return len(rc.received()) == 4 }, wait, 10*time.Millisecond)
		last := rc.received()[3]
		require.Equal(t, "true", last.header.Get(endpoints.HeaderReplay))
		require.Equal(t, id, last.header.Get(endpoints.HeaderWebhookID))
	})
}
