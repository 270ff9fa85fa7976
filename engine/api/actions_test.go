package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
)

func TestUnboundAction(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.do(t, http.MethodPost, base+"/contoso_Purchase", `{"Amount":10.25,"Customer@odata.bind":"/accounts(`+rowID.String()+`)"}`,
		"Idempotency-Key", "purchase-1")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, map[string]any{
		"@odata.context": f.srv.URL + base + "/$metadata#Microsoft.Dynamics.CRM.contoso_PurchaseResponse",
		"Total":          10.25,
		"When":           "2025-03-01T12:00:00Z",
	}, r.json(t))
	require.Contains(t, string(r.body), `"Total":10.25`, "decimals are JSON numbers")
	require.Empty(t, r.header.Get("Idempotent-Replayed"))

	req := f.svc.last(t)
	require.Equal(t, "contoso_Purchase", req.Message)
	require.Empty(t, req.Table)
	require.Equal(t, uuid.Nil, req.ID)
	require.Equal(t, "purchase-1", req.IdempotencyKey)
	require.Equal(t, map[string]any{
		"Amount":   json.Number("10.25"),
		"Customer": map[string]any{"table": "account", "id": rowID.String()},
	}, req.Parameters)
}

func TestActionWithoutResponse(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.svc.set(func(context.Context, pipeline.Request) (pipeline.Response, error) {
		return pipeline.Response{Replayed: true}, nil
	})
	r := f.do(t, http.MethodPost, base+"/contoso_Notify", "", "Idempotency-Key", "n-1")
	require.Equal(t, http.StatusNoContent, r.status, string(r.body))
	require.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
	require.Equal(t, map[string]any{}, f.svc.last(t).Parameters, "an empty body is no parameters")

	// Private APIs are callable.
	r = f.do(t, http.MethodPost, base+"/contoso_Hidden", `{}`)
	require.Equal(t, http.StatusNoContent, r.status, string(r.body))
	require.Equal(t, "contoso_Hidden", f.svc.last(t).Message)
}

func TestFunction(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name, path string
		want       map[string]any
	}{
		{"aliases", "/contoso_Price(Sku=@s,Qty=3)?@s='A,(b)'", map[string]any{"Sku": "A,(b)", "Qty": json.Number("3")}},
		{"inline", "/contoso_Price(Sku='it''s',Qty=-2)", map[string]any{"Sku": "it's", "Qty": json.Number("-2")}},
		{"query", "/contoso_Price?Sku='x'&Qty=4", map[string]any{"Sku": "x", "Qty": json.Number("4")}},
		{"mixed", "/contoso_Price(Sku='x')?Qty=4", map[string]any{"Sku": "x", "Qty": json.Number("4")}},
		{"empty", "/contoso_Price()", map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			r := f.do(t, http.MethodGet, base+tt.path, "")
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			require.Equal(t, map[string]any{
				"@odata.context": f.srv.URL + base + "/$metadata#Microsoft.Dynamics.CRM.contoso_PriceResponse",
				"Price":          3.0,
			}, r.json(t))
			req := f.svc.last(t)
			require.Equal(t, "contoso_Price", req.Message)
			require.Equal(t, tt.want, req.Parameters)
		})
	}

	refusals := []struct {
		name, path string
		code       errcode.Code
	}{
		{"missing alias", "/contoso_Price(Sku=@s)", errcode.InvalidArgument},
		{"unquoted string", "/contoso_Price(Sku=abc)", errcode.InvalidArgument},
		{"twice", "/contoso_Price(Qty=1)?Qty=2", errcode.InvalidArgument},
		{"query option", "/contoso_Price?$top=1", errcode.NotSupported},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := f.do(t, http.MethodGet, base+tt.path, "")
			require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
			require.Equal(t, tt.code, r.errorCode(t))
		})
	}
}

func TestBoundOperations(t *testing.T) {
	t.Parallel()
	f := setup(t)

	r := f.do(t, http.MethodPost, base+"/accounts("+rowID.String()+")/Microsoft.Dynamics.CRM.contoso_Close", `{"Reason":"done"}`)
	require.Equal(t, http.StatusNoContent, r.status, string(r.body))
	req := f.svc.last(t)
	require.Equal(t, "contoso_Close", req.Message)
	require.Equal(t, "account", req.Table)
	require.Equal(t, rowID, req.ID)
	require.Equal(t, map[string]any{"Reason": "done"}, req.Parameters)

	r = f.do(t, http.MethodGet, base+"/accounts/Microsoft.Dynamics.CRM.contoso_Count()", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.EqualValues(t, 7, r.json(t)["Count"])
	req = f.svc.last(t)
	require.Equal(t, "contoso_Count", req.Message)
	require.Equal(t, "account", req.Table)
	require.Equal(t, uuid.Nil, req.ID)

	n := f.svc.count()
	refusals := []struct {
		name, method, path string
		status             int
		code               errcode.Code
	}{
		{"row API unbound", http.MethodPost, "/contoso_Close", 404, errcode.NotFound},
		{"row API on the set", http.MethodPost, "/accounts/Microsoft.Dynamics.CRM.contoso_Close", 404, errcode.NotFound},
		{"set API on a row", http.MethodGet, "/accounts(" + rowID.String() + ")/Microsoft.Dynamics.CRM.contoso_Count", 404, errcode.NotFound},
		{"wrong table", http.MethodPost, "/contacts(" + rowID.String() + ")/Microsoft.Dynamics.CRM.contoso_Close", 404, errcode.NotFound},
		{"global API bound", http.MethodPost, "/accounts/Microsoft.Dynamics.CRM.contoso_Notify", 404, errcode.NotFound},
		{"unknown bound API", http.MethodPost, "/accounts/Microsoft.Dynamics.CRM.contoso_Nope", 404, errcode.NotFound},
		{"unknown set", http.MethodPost, "/widgets/Microsoft.Dynamics.CRM.contoso_Close", 404, errcode.NotFound},
		{"GET on bound action", http.MethodGet, "/accounts(" + rowID.String() + ")/Microsoft.Dynamics.CRM.contoso_Close", 405, errcode.MethodNotAllowed},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := f.do(t, tt.method, base+tt.path, "")
			require.Equal(t, tt.status, r.status, string(r.body))
			require.Equal(t, tt.code, r.errorCode(t))
		})
	}
	require.Equal(t, n, f.svc.count(), "refused before the engine")
}

func TestAPIMethodNotAllowed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name, method, path, allow string
	}{
		{"POST to a function", http.MethodPost, "/contoso_Price", "GET"},
		{"GET on an action", http.MethodGet, "/contoso_Purchase", "POST"},
		{"PATCH on an action", http.MethodPatch, "/contoso_Purchase", "POST"},
		{"POST to WhoAmI", http.MethodPost, "/WhoAmI", "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := f.do(t, tt.method, base+tt.path, `{}`)
			require.Equal(t, http.StatusMethodNotAllowed, r.status, string(r.body))
			require.Equal(t, errcode.MethodNotAllowed, r.errorCode(t))
			require.Equal(t, tt.allow, r.header.Get("Allow"))
		})
	}
	r := f.do(t, http.MethodPost, base+"/contoso_Purchase(Amount=1)", `{}`)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, errcode.InvalidArgument, r.errorCode(t))
	require.Zero(t, f.svc.count())
}

func TestUnknownAPI(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.do(t, http.MethodPost, base+"/contoso_DoesNotExist", `{}`)
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, errcode.NotFound, r.errorCode(t))
	require.Contains(t, r.message(t), `"contoso_DoesNotExist"`)

	r = f.do(t, http.MethodGet, "/api/other", "")
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, errcode.NotFound, r.errorCode(t))
}

func TestWhoAmI(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.do(t, http.MethodGet, base+"/WhoAmI", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, f.keyUser.String(), r.json(t)["UserId"])
	require.Zero(t, f.svc.count())
}
