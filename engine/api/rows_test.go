package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/api"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
)

func TestCreate(t *testing.T) {
	t.Parallel()
	f := setup(t)

	r := f.do(t, http.MethodPost, base+"/accounts", `{"name":"Contoso","revenue":12.50,"@odata.type":"Microsoft.Dynamics.CRM.account"}`)
	require.Equal(t, http.StatusNoContent, r.status, string(r.body))
	require.Empty(t, r.body)
	require.Equal(t, f.srv.URL+base+"/accounts("+newID.String()+")", r.header.Get("OData-EntityId"))
	require.Equal(t, `W/"1"`, r.header.Get("ETag"))
	require.Equal(t, "4.0", r.header.Get("OData-Version"))

	req := f.svc.last(t)
	require.Equal(t, pipeline.Create, req.Message)
	require.Equal(t, "account", req.Table)
	require.Equal(t, f.keyUser, req.Caller.UserID)
	require.Equal(t, map[string]any{"name": "Contoso", "revenue": json.Number("12.50")}, req.Target, "numbers stay exact; annotations are dropped")
}

func TestCreateReturnRepresentation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.do(t, http.MethodPost, base+"/accounts?$select=name", `{"accountid":"`+rowID.String()+`","name":"Contoso"}`,
		"Prefer", "return=representation")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	require.Equal(t, "return=representation", r.header.Get("Preference-Applied"))
	loc := f.srv.URL + base + "/accounts(" + rowID.String() + ")"
	require.Equal(t, loc, r.header.Get("Location"))
	require.Equal(t, loc, r.header.Get("OData-EntityId"))
	body := r.json(t)
	require.Equal(t, "Contoso", body["name"])
	require.Equal(t, `W/"1"`, body["@odata.etag"])
	require.Equal(t, f.srv.URL+base+"/$metadata#accounts(name)/$entity", body["@odata.context"])

	req := f.svc.last(t)
	require.Equal(t, rowID, req.ID, "the primary key in the body becomes the request's id")
	require.NotContains(t, req.Target, "accountid")
}

func TestCreateWithIdempotencyKey(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.svc.set(func(_ context.Context, req pipeline.Request) (pipeline.Response, error) {
		return pipeline.Response{ID: newID, Replayed: true}, nil
	})
	r := f.do(t, http.MethodPost, base+"/accounts", `{"name":"x"}`, "Idempotency-Key", "order-42")
	require.Equal(t, http.StatusNoContent, r.status)
	require.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
	require.Equal(t, "order-42", f.svc.last(t).IdempotencyKey)

	r = f.do(t, http.MethodPost, base+"/accounts", `{"name":"x"}`, "MSCRM.IdempotencyKey", "order-43")
	require.Equal(t, http.StatusNoContent, r.status)
	require.Equal(t, "order-43", f.svc.last(t).IdempotencyKey)

	n := f.svc.count()
	for _, tt := range []struct{ name, method, path string }{
		{"patch", http.MethodPatch, base + "/accounts(" + rowID.String() + ")"},
		{"delete", http.MethodDelete, base + "/accounts(" + rowID.String() + ")"},
	} {
		r := f.do(t, tt.method, tt.path, `{}`, "Idempotency-Key", "k")
		require.Equal(t, http.StatusBadRequest, r.status, tt.name)
		require.Equal(t, errcode.InvalidArgument, r.errorCode(t))
	}
	r = f.do(t, http.MethodPost, base+"/accounts", `{}`, "Idempotency-Key", "has space")
	require.Equal(t, errcode.InvalidArgument, r.errorCode(t))
	require.Equal(t, n, f.svc.count(), "refused before the engine")
}

func TestRetrieve(t *testing.T) {
	t.Parallel()
	f := setup(t)
	path := base + "/accounts(" + rowID.String() + ")"

	r := f.do(t, http.MethodGet, path+"?$select=name,revenue", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, `W/"3"`, r.header.Get("ETag"))
	require.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "application/json"))
	body := r.json(t)
	require.Equal(t, f.srv.URL+base+"/$metadata#accounts(name,revenue)/$entity", body["@odata.context"])
	require.Equal(t, `W/"3"`, body["@odata.etag"])
	require.Equal(t, "Contoso", body["name"])
	require.Equal(t, rowID.String(), body["accountid"])
	req := f.svc.last(t)
	require.Equal(t, pipeline.Retrieve, req.Message)
	require.Equal(t, rowID, req.ID)
	require.Equal(t, []string{"name", "revenue"}, req.Columns)

	// The primary key spelled out works too.
	r = f.do(t, http.MethodGet, base+"/accounts(accountid="+rowID.String()+")", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, f.srv.URL+base+"/$metadata#accounts/$entity", r.json(t)["@odata.context"])

	// A matching If-None-Match is 304.
	r = f.do(t, http.MethodGet, path, "", "If-None-Match", `W/"3"`)
	require.Equal(t, http.StatusNotModified, r.status)
	r = f.do(t, http.MethodGet, path, "", "If-None-Match", `W/"2"`)
	require.Equal(t, http.StatusOK, r.status)
}

func TestRetrieveRefusals(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name, path string
		status     int
		code       errcode.Code
	}{
		{"filter on a row", "/accounts(" + rowID.String() + ")?$filter=name%20eq%20'x'", 400, errcode.NotSupported},
		{"bad select", "/accounts(" + rowID.String() + ")?$select=na%20me", 400, errcode.InvalidArgument},
		{"bad key", "/accounts(123)", 400, errcode.InvalidArgument},
		{"alternate key", "/accounts(name='x')", 400, errcode.NotSupported},
		{"navigation", "/accounts(" + rowID.String() + ")/parentaccountid", 400, errcode.NotSupported},
		{"metadata", "/$metadata", 400, errcode.NotSupported},
		{"service document", "/", 400, errcode.NotSupported},
		{"unknown set", "/widgets", 404, errcode.NotFound},
		{"unknown set with key", "/widgets(" + rowID.String() + ")", 404, errcode.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := f.do(t, http.MethodGet, base+tt.path, "")
			require.Equal(t, tt.status, r.status, string(r.body))
			require.Equal(t, tt.code, r.errorCode(t))
		})
	}
	r := f.do(t, http.MethodGet, base+"/widgets", "")
	require.Contains(t, r.message(t), `"widgets"`, "the message names what was not found")
}

func TestRetrieveMultiple(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.do(t, http.MethodGet, base+"/accounts?$select=name&$filter="+url.QueryEscape("name eq 'A'")+"&$orderby=name%20desc&$top=10",
		"", "Prefer", "odata.maxpagesize=1, odata.include-annotations=\"*\"")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, "odata.maxpagesize=1", r.header.Get("Preference-Applied"))
	body := r.json(t)
	require.Equal(t, f.srv.URL+base+"/$metadata#accounts(name)", body["@odata.context"])
	value := body["value"].([]any)
	require.Len(t, value, 1)
	require.Equal(t, "A", value[0].(map[string]any)["name"])
	require.Equal(t, `W/"2"`, value[0].(map[string]any)["@odata.etag"])

	req := f.svc.last(t)
	require.Equal(t, pipeline.RetrieveMultiple, req.Message)
	require.Equal(t, "account", req.Table)
	require.NotNil(t, req.Query)
	require.Equal(t, 1, req.Query.PageSize)
	require.Equal(t, 10, req.Query.Top)
	require.Equal(t, []string{"name"}, req.Query.Select)
	require.Equal(t, []tables.Order{{Column: "name", Desc: true}}, req.Query.OrderBy)
	require.NotNil(t, req.Query.Filter)
	require.Empty(t, req.Query.PageToken)

	// The next link keeps the query and adds the skip token.
	next, ok := body["@odata.nextLink"].(string)
	require.True(t, ok, "a next link: %s", r.body)
	u, err := url.Parse(next)
	require.NoError(t, err)
	require.Equal(t, "page/2+", u.Query().Get("$skiptoken"))
	require.Equal(t, "name eq 'A'", u.Query().Get("$filter"))

	r = f.do(t, http.MethodGet, next, "", "Prefer", "odata.maxpagesize=1")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	body = r.json(t)
	require.NotContains(t, body, "@odata.nextLink", "the last page")
	require.Equal(t, "page/2+", f.svc.last(t).Query.PageToken)
	require.Equal(t, "B", body["value"].([]any)[0].(map[string]any)["name"])
}

func TestRetrieveMultipleRefusals(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name, query string
		code        errcode.Code
	}{
		{"unknown column", "$filter=" + url.QueryEscape("nope eq 1"), errcode.InvalidArgument},
		{"unknown option", "$bogus=1", errcode.InvalidArgument},
		{"expand", "$expand=parentaccountid", errcode.NotSupported},
		{"bad top", "$top=-1", errcode.InvalidArgument},
		{"two skip tokens", "$skiptoken=a&$skiptoken=b", errcode.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := f.do(t, http.MethodGet, base+"/accounts?"+tt.query, "")
			require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
			require.Equal(t, tt.code, r.errorCode(t))
		})
	}
	t.Cleanup(func() { require.Zero(t, f.svc.count(), "refused before the engine") })
}

func TestRetrieveMultiplePageSize(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *api.Config) { c.MaxPageSize = 50 })
	r := f.do(t, http.MethodGet, base+"/accounts", "", "Prefer", "odata.maxpagesize=100000")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "odata.maxpagesize=50", r.header.Get("Preference-Applied"))
	require.Equal(t, 50, f.svc.last(t).Query.PageSize)

	r = f.do(t, http.MethodGet, base+"/accounts", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, 50, f.svc.last(t).Query.PageSize, "the default page is the maximum")

	r = f.do(t, http.MethodGet, base+"/accounts", "", "Prefer", "odata.maxpagesize=zero")
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, errcode.InvalidArgument, r.errorCode(t))
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	f := setup(t)
	path := base + "/accounts(" + rowID.String() + ")"

	r := f.do(t, http.MethodPatch, path, `{"name":"Renamed"}`, "If-Match", `W/"3"`)
	require.Equal(t, http.StatusNoContent, r.status, string(r.body))
	require.Equal(t, f.srv.URL+path, r.header.Get("OData-EntityId"))
	require.Equal(t, `W/"4"`, r.header.Get("ETag"))
	req := f.svc.last(t)
	require.Equal(t, pipeline.Update, req.Message)
	require.Equal(t, rowID, req.ID)
	require.EqualValues(t, 3, req.ExpectedVersion)
	require.Equal(t, map[string]any{"name": "Renamed"}, req.Target)

	// A stale If-Match is 412, as in Dataverse; without If-Match a
	// conflict is 409.
	r = f.do(t, http.MethodPatch, path, `{"name":"Renamed"}`, "If-Match", `W/"2"`)
	require.Equal(t, http.StatusPreconditionFailed, r.status)
	require.Equal(t, errcode.VersionConflict, r.errorCode(t))
	f.svc.set(func(context.Context, pipeline.Request) (pipeline.Response, error) {
		return pipeline.Response{}, coded{errcode.VersionConflict, "concurrent write"}
	})
	r = f.do(t, http.MethodPatch, path, `{"name":"Renamed"}`)
	require.Equal(t, http.StatusConflict, r.status)
	require.Equal(t, errcode.VersionConflict, r.errorCode(t))
	f.svc.set(nil)

	// If-Match: * is no version.
	r = f.do(t, http.MethodPatch, path, `{"name":"x"}`, "If-Match", "*")
	require.Equal(t, http.StatusNoContent, r.status)
	require.Zero(t, f.svc.last(t).ExpectedVersion)

	r = f.do(t, http.MethodPatch, path+"?$select=name", `{"name":"Renamed","accountid":"`+rowID.String()+`"}`, "Prefer", "return=representation")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	body := r.json(t)
	require.Equal(t, "Renamed", body["name"])
	require.Equal(t, `W/"4"`, body["@odata.etag"])
	require.NotContains(t, f.svc.last(t).Target, "accountid")
}

func TestUpdateRefusals(t *testing.T) {
	t.Parallel()
	f := setup(t)
	path := base + "/accounts(" + rowID.String() + ")"
	tests := []struct {
		name, body string
		headers    []string
		code       errcode.Code
	}{
		{"other id in body", `{"accountid":"` + otherID.String() + `"}`, nil, errcode.InvalidValue},
		{"id not a guid", `{"accountid":42}`, nil, errcode.InvalidValue},
		{"bad if-match", `{}`, []string{"If-Match", "3"}, errcode.InvalidArgument},
		{"if-none-match", `{}`, []string{"If-None-Match", "*"}, errcode.NotSupported},
		{"owner with columns", `{"ownerid@odata.bind":"/systemusers(` + otherID.String() + `)","name":"x"}`, nil, errcode.InvalidValue},
		{"owner not a user", `{"ownerid@odata.bind":"/accounts(` + otherID.String() + `)"}`, nil, errcode.InvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := f.do(t, http.MethodPatch, path, tt.body, tt.headers...)
			require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
			require.Equal(t, tt.code, r.errorCode(t))
		})
	}
	require.Zero(t, f.svc.count(), "refused before the engine")
}

func TestAssign(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.do(t, http.MethodPatch, base+"/accounts("+rowID.String()+")", `{"ownerid@odata.bind":"/systemusers(`+otherID.String()+`)"}`,
		"If-Match", `W/"3"`)
	require.Equal(t, http.StatusNoContent, r.status, string(r.body))
	req := f.svc.last(t)
	require.Equal(t, pipeline.Assign, req.Message)
	require.Equal(t, "account", req.Table)
	require.Equal(t, rowID, req.ID)
	require.Equal(t, otherID, req.Owner)
	require.EqualValues(t, 3, req.ExpectedVersion)
	require.Nil(t, req.Target)
}

func TestDelete(t *testing.T) {
	t.Parallel()
	f := setup(t)
	path := base + "/accounts(" + rowID.String() + ")"
	r := f.do(t, http.MethodDelete, path, "")
	require.Equal(t, http.StatusNoContent, r.status, string(r.body))
	req := f.svc.last(t)
	require.Equal(t, pipeline.Delete, req.Message)
	require.Equal(t, rowID, req.ID)
	require.Zero(t, req.ExpectedVersion)

	r = f.do(t, http.MethodDelete, path, "", "If-Match", `W/"7"`)
	require.Equal(t, http.StatusPreconditionFailed, r.status)
	require.EqualValues(t, 7, f.svc.last(t).ExpectedVersion)

	f.svc.set(func(context.Context, pipeline.Request) (pipeline.Response, error) {
		return pipeline.Response{}, coded{errcode.NotFound, "account " + rowID.String() + " does not exist"}
	})
	r = f.do(t, http.MethodDelete, path, "")
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, errcode.NotFound, r.errorCode(t))
	require.Contains(t, r.message(t), rowID.String())
}

func TestODataBind(t *testing.T) {
	t.Parallel()
	f := setup(t)
	body := `{"name":"Child",
		"parentaccountid@odata.bind":"/accounts(` + rowID.String() + `)",
		"primarycontactid@odata.bind":"` + f.srv.URL + base + `/contacts(` + otherID.String() + `)",
		"name@OData.Community.Display.V1.FormattedValue":"ignored"}`
	r := f.do(t, http.MethodPost, base+"/accounts", body)
	require.Equal(t, http.StatusNoContent, r.status, string(r.body))
	require.Equal(t, map[string]any{
		"name":             "Child",
		"parentaccountid":  map[string]any{"table": "account", "id": rowID.String()},
		"primarycontactid": map[string]any{"table": "contact", "id": otherID.String()},
	}, f.svc.last(t).Target)

	// Update binds too, without the leading slash.
	r = f.do(t, http.MethodPatch, base+"/accounts("+rowID.String()+")", `{"primarycontactid@odata.bind":"contacts(`+otherID.String()+`)"}`)
	require.Equal(t, http.StatusNoContent, r.status, string(r.body))
	require.Equal(t, map[string]any{"primarycontactid": map[string]any{"table": "contact", "id": otherID.String()}}, f.svc.last(t).Target)

	tests := []struct{ name, body, want string }{
		{"unknown set", `{"parentaccountid@odata.bind":"/widgets(` + rowID.String() + `)"}`, `"widgets"`},
		{"not a guid", `{"parentaccountid@odata.bind":"/accounts(42)"}`, "GUID"},
		{"not a string", `{"parentaccountid@odata.bind":42}`, "string"},
		{"value and bind", `{"parentaccountid":null,"parentaccountid@odata.bind":"/accounts(` + rowID.String() + `)"}`, "both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := f.do(t, http.MethodPost, base+"/accounts", tt.body)
			require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
			require.Equal(t, errcode.InvalidValue, r.errorCode(t))
			require.Contains(t, r.message(t), tt.want)
		})
	}
}

func TestTableMethodNotAllowed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.do(t, http.MethodPut, base+"/accounts("+rowID.String()+")", `{}`)
	require.Equal(t, http.StatusMethodNotAllowed, r.status)
	require.Equal(t, errcode.MethodNotAllowed, r.errorCode(t))
	require.Equal(t, "GET, PATCH, DELETE", r.header.Get("Allow"))

	r = f.do(t, http.MethodDelete, base+"/accounts", "")
	require.Equal(t, http.StatusMethodNotAllowed, r.status)
	require.Equal(t, "GET, POST", r.header.Get("Allow"))
}
