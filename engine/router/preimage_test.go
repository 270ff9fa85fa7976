package router_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
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

// An endpoint step with a pre image gets the row before the change, read
// from the log, in its execution context.
func TestEndpointPreImage(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		rc := &receiver{}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		eps := map[string]endpoints.Endpoint{"erp": {Name: "erp", Kind: endpoints.KindWebhook, URL: srv.URL, Timeout: 5 * time.Second}}
		db := open(t, append(append([]storage.Migration{}, tables.Migrations...), jobs.Migrations...)...)
		e := pipeline.New(db, pipeline.Config{})
		d, err := pipeline.NewDefinitions([]tables.Table{account}, nil, []pipeline.Step{
			{Name: "upd", Message: pipeline.Update, Table: "account", Stage: pipeline.PostOperation, Mode: pipeline.Async, Endpoint: "erp",
				PreImages: []pipeline.Image{{Name: "before", Columns: []string{"name"}}}},
		})
		require.NoError(t, err)
		e.SetDefinitions(d)
		runner := router.EndpointRunner(router.EndpointConfig{Engine: e, Webhook: endpoints.NewWebhook(endpoints.WebhookConfig{}),
			Endpoint: func(name string) (endpoints.Endpoint, bool) { ep, ok := eps[name]; return ep, ok }})
		r, err := router.New(db, jobs.NewStore(db, nil), map[string]router.Runner{router.KindEndpoint: runner}, router.Config{PollInterval: 20 * time.Millisecond})
		require.NoError(t, err)
		require.NoError(t, r.Sync(router.StepSubscriptions(d, fastRetry)))
		require.NoError(t, r.Start(ctx))
		defer r.Stop(ctx)
		resp, err := e.Execute(ctx, pipeline.Request{Message: pipeline.Create, Table: "account", Target: map[string]any{"name": "Old"}})
		require.NoError(t, err)
		_, err = e.Execute(ctx, pipeline.Request{Message: pipeline.Update, Table: "account", ID: resp.ID, Target: map[string]any{"name": "New"}})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(rc.received()) == 1 }, wait, 10*time.Millisecond)
		var ec endpoints.ExecutionContext
		require.NoError(t, json.Unmarshal(rc.received()[0].body, &ec))
		raw, ok := ec.PreEntityImages.Get("before")
		require.True(t, ok)
		t.Log(string(raw))
		require.Contains(t, string(raw), `{"key":"name","value":"Old"}`)
	})
}
