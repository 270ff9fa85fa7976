package api

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
)

// serveAPI serves a custom API: a function with GET, its parameters in the
// path's parentheses (with @aliases) or the query; an action with POST, its
// parameters in the body. t is the bound table, nil when called unbound;
// hasKey says the path named a row (id).
func (h *Handler) serveAPI(w http.ResponseWriter, c *call, a *customapi.API, t *tables.Table, id uuid.UUID, hasKey bool, seg segment) error {
	if err := checkBinding(a, t, hasKey); err != nil {
		return err
	}
	req := pipeline.Request{Message: a.UniqueName, ID: id}
	if t != nil {
		req.Table = t.LogicalName
	}
	if a.IsFunction {
		if c.r.Method != http.MethodGet {
			return notAllowed(c.r.Method, "function "+a.UniqueName, http.MethodGet)
		}
		params, err := functionParams(seg.inner, c.r.URL.Query())
		if err != nil {
			return err
		}
		req.Parameters = params
	} else {
		if c.r.Method != http.MethodPost {
			return notAllowed(c.r.Method, "action "+a.UniqueName, http.MethodPost)
		}
		if seg.parens {
			return errorf(errcode.InvalidArgument, "action %s takes its parameters in the body, not in parentheses", a.UniqueName)
		}
		body, err := h.readObject(w, c.r)
		if err != nil {
			return err
		}
		if req.Parameters, err = h.values(body); err != nil {
			return err
		}
		req.IdempotencyKey = c.idempotencyKey
	}
	resp, err := h.execute(c, req)
	if err != nil {
		return err
	}
	setReplayed(w, resp)
	if len(a.ResponseProperties) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	body := outputObject(resp.Output)
	body["@odata.context"] = h.serviceRoot(c.r) + "/$metadata#" + crmNamespace + a.UniqueName + "Response"
	return writeJSON(w, http.StatusOK, body)
}

// checkBinding checks that an API is called the way it is bound: Global
// unbound, Table on a row, TableCollection on its entity set.
func checkBinding(a *customapi.API, t *tables.Table, hasKey bool) error {
	binding := a.Binding
	if binding == "" {
		binding = customapi.Global
	}
	switch {
	case t == nil && binding == customapi.Global:
		return nil
	case t == nil && binding == customapi.TableBound:
		return errorf(errcode.NotFound, "custom API %s is bound to a row of %s; call it as /<entity set>(<id>)/%s%s", a.UniqueName, a.BoundTable, crmNamespace, a.UniqueName)
	case t == nil:
		return errorf(errcode.NotFound, "custom API %s is bound to table %s; call it as /<entity set>/%s%s", a.UniqueName, a.BoundTable, crmNamespace, a.UniqueName)
	case binding == customapi.Global:
		return errorf(errcode.NotFound, "custom API %s is not bound; call it as /%s", a.UniqueName, a.UniqueName)
	case a.BoundTable != t.LogicalName:
		return errorf(errcode.NotFound, "custom API %s is bound to %s, not to %s", a.UniqueName, a.BoundTable, t.LogicalName)
	case binding == customapi.TableBound && !hasKey:
		return errorf(errcode.NotFound, "custom API %s is bound to a row: call it as /%s(<id>)/%s%s", a.UniqueName, t.PluralName, crmNamespace, a.UniqueName)
	case binding == customapi.TableCollection && hasKey:
		return errorf(errcode.NotFound, "custom API %s is bound to the entity set: call it as /%s/%s%s", a.UniqueName, t.PluralName, crmNamespace, a.UniqueName)
	}
	return nil
}

// whoAmI serves GET /WhoAmI, Dataverse's function that says who the
// caller is: {"UserId": ...}.
func (h *Handler) whoAmI(w http.ResponseWriter, c *call, seg segment) error {
	if c.r.Method != http.MethodGet {
		return notAllowed(c.r.Method, "function WhoAmI", http.MethodGet)
	}
	if seg.inner != "" {
		return errorf(errcode.InvalidArgument, "WhoAmI takes no parameters")
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context": h.serviceRoot(c.r) + "/$metadata#" + crmNamespace + "WhoAmIResponse",
		"UserId":         c.caller.UserID,
	})
}
