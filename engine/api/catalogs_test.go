package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/api"
	"github.com/bizevents/bizevents/engine/catalog"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/security"
	"github.com/bizevents/bizevents/engine/solution"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
)

// catalogServer serves the API over a database with the Contoso example
// imported, discovery reading its catalogs as serve wires it; source nil
// serves no discovery.
func catalogServer(t *testing.T, open storagetest.Opener, withSource bool) *httptest.Server {
	t.Helper()
	db := open(t, slices.Concat(tables.Migrations, solution.Migrations)...)
	s, err := solution.Load("../../internal/testdata/contoso")
	require.NoError(t, err)
	_, err = solution.Import(t.Context(), db, s, pipeline.Caller{})
	require.NoError(t, err)
	e := pipeline.New(db, pipeline.Config{})
	require.NoError(t, solution.Activate(t.Context(), e, nil))
	auth, err := security.New(security.Config{APIKeys: []security.APIKey{{Name: "t", Key: apiKey, UserID: uuid.New()}}, TokenKeys: [][]byte{tokenKey}})
	require.NoError(t, err)
	deps := api.Deps{Metadata: e, Service: e, Auth: auth}
	if withSource {
		deps.Catalogs = api.CatalogSourceFunc(func(ctx context.Context) (*catalog.Index, error) { return solution.Catalogs(ctx, db) })
	}
	h, err := api.New(deps, api.Config{})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, method, path string, withKey bool) result {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
	require.NoError(t, err)
	if withKey {
		req.Header.Set(security.HeaderAPIKey, apiKey)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

func TestCatalogDiscovery(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		srv := catalogServer(t, open, true)

		r := get(t, srv, http.MethodGet, "/api/catalogs", true)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
		var tree struct {
			Catalogs []struct {
				UniqueName, DisplayName, Solution string
				Categories                        []struct {
					UniqueName  string
					Assignments []struct {
						Table, CustomAPI string `json:",omitempty"`
						Events           []struct{ Name, Message, Table string }
					}
				}
			}
		}
		dec := json.NewDecoder(strings.NewReader(string(r.body)))
		require.NoError(t, dec.Decode(&tree))
		require.Len(t, tree.Catalogs, 1)
		c := tree.Catalogs[0]
		require.Equal(t, "contoso_customers", c.UniqueName)
		require.Equal(t, "Contoso Customer Management", c.DisplayName)
		require.Equal(t, "contoso_customers", c.Solution)
		require.Equal(t, "contoso_customer_events", c.Categories[0].UniqueName)
		contact := c.Categories[0].Assignments[4]
		require.Equal(t, "contact", contact.Table)
		require.Len(t, contact.Events, 7)
		require.Equal(t, struct{ Name, Message, Table string }{"contact.GrantAccess", "GrantAccess", "contact"}, contact.Events[4])
		var raw map[string]any
		require.NoError(t, json.Unmarshal(r.body, &raw))
		first := raw["catalogs"].([]any)[0].(map[string]any)["categories"].([]any)[0].(map[string]any)["assignments"].([]any)[0].(map[string]any)
		require.Equal(t, "contoso_EnteredStore", first["customApi"])
		require.Equal(t, []any{map[string]any{"name": "contoso_EnteredStore", "message": "contoso_EnteredStore", "displayName": "Entered Store"}}, first["events"])

		r = get(t, srv, http.MethodGet, "/api/catalogs/contoso_customers", true)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.Equal(t, "contoso_customers", r.json(t)["uniqueName"])

		r = get(t, srv, http.MethodGet, "/api/catalogs/contoso_customers/events", true)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		events := r.json(t)["events"].([]any)
		require.Len(t, events, 20)

		r = get(t, srv, http.MethodGet, "/api/catalogs/contoso_customers/events/contoso_CustomerPurchase", true)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		ev := r.json(t)
		require.Equal(t, "contoso_CustomerPurchase", ev["name"])
		require.Equal(t, []any{"contoso_external_events"}, ev["categories"])
		require.Len(t, ev["parameters"], 6)
		schema := ev["schema"].(map[string]any)
		require.Equal(t, "contoso_CustomerPurchase", schema["title"])
		require.Equal(t, map[string]any{"const": "contoso_CustomerPurchase", "description": "The message that recorded the event."},
			schema["properties"].(map[string]any)["MessageName"])

		r = get(t, srv, http.MethodGet, "/api/catalogs/contoso_customers/events/contact.Update", true)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.Equal(t, "Update", r.json(t)["message"])

		for _, tt := range []struct {
			method, path string
			key          bool
			status       int
			code         errcode.Code
			mentions     string
		}{
			{http.MethodGet, "/api/catalogs/nope", true, 404, errcode.NotFound, "no catalog is named nope (the catalogs are contoso_customers)"},
			{http.MethodGet, "/api/catalogs/nope/events/contact.Create", true, 404, errcode.NotFound, "no catalog is named nope"},
			{http.MethodGet, "/api/catalogs/contoso_customers/events/membership.Create", true, 404, errcode.NotFound, "exposes no event membership.Create"},
			{http.MethodGet, "/api/catalogs/contoso_customers/categories", true, 404, errcode.NotFound, "nothing is served at"},
			{http.MethodGet, "/api/catalogs?depth=2", true, 400, errcode.InvalidArgument, "takes no query parameters"},
			{http.MethodPost, "/api/catalogs", true, 405, errcode.MethodNotAllowed, "catalog discovery"},
			{http.MethodGet, "/api/catalogs", false, 401, errcode.Unauthenticated, ""},
		} {
			r := get(t, srv, tt.method, tt.path, tt.key)
			require.Equal(t, tt.status, r.status, "%s %s: %s", tt.method, tt.path, r.body)
			require.Equal(t, tt.code, r.errorCode(t), tt.path)
			require.Contains(t, r.message(t), tt.mentions)
		}
		require.Equal(t, "GET", get(t, srv, http.MethodDelete, "/api/catalogs/contoso_customers", true).header.Get("Allow"))
	})
}

func TestCatalogDiscoveryNotServed(t *testing.T) {
	t.Parallel()
	srv := catalogServer(t, storagetest.SQLite, false)
	r := get(t, srv, http.MethodGet, "/api/catalogs", true)
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, errcode.NotFound, r.errorCode(t))
	require.Contains(t, r.message(t), "the server has no catalog source")
}

func TestCatalogPathConfig(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		path string
		ok   bool
	}{
		{"/discovery", true},
		{"/api/data/v9.2/catalogs", false},
		{"/api", false},
		{"/oauth2/token", false},
		{"catalogs", false},
		{"/catalogs/", false},
	} {
		cfg := api.Config{CatalogPath: tt.path}.WithDefaults()
		err := cfg.Validate()
		if tt.ok {
			require.NoError(t, err, tt.path)
		} else {
			require.Error(t, err, tt.path)
		}
	}
}
