package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
)

// serveTable serves an entity set, one of its rows, or an operation bound
// to either.
func (h *Handler) serveTable(w http.ResponseWriter, c *call, t *tables.Table, res resource) error {
	var id uuid.UUID
	if res.head.parens {
		var err error
		if id, err = parseKey(res.head.inner, t.PrimaryKey); err != nil {
			return err
		}
	}
	if res.op.name != "" {
		a, ok := h.deps.Metadata.CustomAPI(res.op.name)
		if !ok {
			return errorf(errcode.NotFound, "no custom API is named %q", res.op.name)
		}
		return h.serveAPI(w, c, a, t, id, res.head.parens, res.op)
	}
	method := c.r.Method
	if !res.head.parens {
		switch method {
		case http.MethodGet:
			return h.retrieveMultiple(w, c, t)
		case http.MethodPost:
			return h.create(w, c, t)
		}
		return notAllowed(method, t.PluralName, http.MethodGet, http.MethodPost)
	}
	switch method {
	case http.MethodGet:
		return h.retrieve(w, c, t, id)
	case http.MethodPatch:
		return h.update(w, c, t, id)
	case http.MethodDelete:
		return h.delete(w, c, t, id)
	}
	return notAllowed(method, t.PluralName+"(<id>)", http.MethodGet, http.MethodPatch, http.MethodDelete)
}

func notAllowed(method, what string, allow ...string) error {
	return &Error{Code: errcode.MethodNotAllowed, Allow: allow,
		Message: method + " is not allowed on " + what + "; use " + strings.Join(allow, " or ")}
}

// create serves POST /<entity set>: Create.
func (h *Handler) create(w http.ResponseWriter, c *call, t *tables.Table) error {
	pref, err := parsePrefer(c.r.Header)
	if err != nil {
		return err
	}
	cols, err := selectOnly(t, c.r.URL.Query())
	if err != nil {
		return err
	}
	body, err := h.readObject(w, c.r)
	if err != nil {
		return err
	}
	target, err := h.values(body)
	if err != nil {
		return err
	}
	req := pipeline.Request{Message: pipeline.Create, Table: t.LogicalName, Target: target, IdempotencyKey: c.idempotencyKey}
	if req.ID, err = primaryKey(t, target); err != nil {
		return err
	}
	resp, err := h.execute(c, req)
	if err != nil {
		return err
	}
	setReplayed(w, resp)
	id := resp.ID
	if id == uuid.Nil {
		id = req.ID
	}
	return h.written(w, c, t, id, resp, pref, cols, http.StatusCreated)
}

// written answers a Create or an Update: 204 with OData-EntityId, or the
// row when the caller prefers return=representation.
func (h *Handler) written(w http.ResponseWriter, c *call, t *tables.Table, id uuid.UUID, resp pipeline.Response, pref preferences, cols []string, status int) error {
	loc := h.entityURL(c.r, t, id)
	w.Header().Set(HeaderEntityID, loc)
	v := version(resp)
	if v > 0 {
		w.Header().Set("ETag", etag(v))
	}
	if !pref.representation || resp.Row == nil {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	w.Header().Set("Preference-Applied", "return=representation")
	if status == http.StatusCreated {
		w.Header().Set("Location", loc)
	}
	body := renderRow(t, resp.Row, cols)
	body["@odata.context"] = h.contextURL(c.r, t, cols, true)
	if v > 0 {
		body["@odata.etag"] = etag(v)
	}
	return writeJSON(w, status, body)
}

// primaryKey takes the row id a Create's or Update's body may carry out of
// the Target: zero when absent.
func primaryKey(t *tables.Table, target tables.Row) (uuid.UUID, error) {
	v, ok := target[t.PrimaryKey]
	if !ok {
		return uuid.Nil, nil
	}
	delete(target, t.PrimaryKey)
	s, _ := v.(string)
	id, err := parseGUID(s)
	if err != nil || id == uuid.Nil {
		return uuid.Nil, errorf(errcode.InvalidValue, "%s must be a GUID", t.PrimaryKey)
	}
	return id, nil
}

// retrieve serves GET /<entity set>(<id>): Retrieve.
func (h *Handler) retrieve(w http.ResponseWriter, c *call, t *tables.Table, id uuid.UUID) error {
	cols, err := selectOnly(t, c.r.URL.Query())
	if err != nil {
		return err
	}
	resp, err := h.execute(c, pipeline.Request{Message: pipeline.Retrieve, Table: t.LogicalName, ID: id, Columns: cols})
	if err != nil {
		return err
	}
	v := version(resp)
	if v > 0 {
		w.Header().Set("ETag", etag(v))
		if noneMatch(c.r, v) {
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
	}
	body := renderRow(t, resp.Row, cols)
	body["@odata.context"] = h.contextURL(c.r, t, cols, true)
	return writeJSON(w, http.StatusOK, body)
}

// selectOnly parses the query of a single row: $select and nothing else
// but custom options (names without "$"), which are ignored.
func selectOnly(t *tables.Table, q url.Values) ([]string, error) {
	var cols []string
	for name, vals := range q {
		if !strings.HasPrefix(name, "$") {
			continue
		}
		if name != "$select" {
			return nil, errorf(errcode.NotSupported, "query option %s is not supported on a single row; only $select is", name)
		}
		if len(vals) != 1 {
			return nil, errorf(errcode.InvalidArgument, "$select is given %d times", len(vals))
		}
		var err error
		if cols, err = tables.ParseSelect(t, vals[0]); err != nil {
			return nil, coded(err)
		}
	}
	return cols, nil
}

// collection is the body of a RetrieveMultiple response, in Dataverse's
// order.
type collection struct {
	Context  string           `json:"@odata.context"`
	Value    []map[string]any `json:"value"`
	NextLink string           `json:"@odata.nextLink,omitempty"`
}

// retrieveMultiple serves GET /<entity set>: RetrieveMultiple, a page at a
// time. "Prefer: odata.maxpagesize=N" sets the page size; the next page's
// URL, with its $skiptoken, is in @odata.nextLink.
func (h *Handler) retrieveMultiple(w http.ResponseWriter, c *call, t *tables.Table) error {
	pref, err := parsePrefer(c.r.Header)
	if err != nil {
		return err
	}
	q, err := parseQuery(t, c.r.URL.Query())
	if err != nil {
		return err
	}
	if pref.maxPageSize > 0 {
		q.PageSize = min(pref.maxPageSize, h.cfg.MaxPageSize)
		w.Header().Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(q.PageSize))
	} else {
		q.PageSize = h.cfg.MaxPageSize
	}
	resp, err := h.execute(c, pipeline.Request{Message: pipeline.RetrieveMultiple, Table: t.LogicalName, Query: &q, Columns: q.Select})
	if err != nil {
		return err
	}
	body := collection{Context: h.contextURL(c.r, t, q.Select, false), Value: make([]map[string]any, len(resp.Rows))}
	for i, row := range resp.Rows {
		body.Value[i] = renderRow(t, row, q.Select)
	}
	if resp.PageToken != "" {
		next := c.r.URL.Query()
		next.Set("$skiptoken", resp.PageToken)
		body.NextLink = h.serviceRoot(c.r) + "/" + t.PluralName + "?" + next.Encode()
	}
	return writeJSON(w, http.StatusOK, body)
}

// update serves PATCH /<entity set>(<id>): Update, or Assign when the body
// only binds a new owner. If-Match: W/"<version>" makes it conditional.
func (h *Handler) update(w http.ResponseWriter, c *call, t *tables.Table, id uuid.UUID) error {
	if c.r.Header.Get("If-None-Match") != "" {
		return errorf(errcode.NotSupported, "If-None-Match on PATCH (create, never update) is not supported: PATCH only updates an existing row; POST creates")
	}
	expected, err := ifMatch(c.r)
	if err != nil {
		return err
	}
	pref, err := parsePrefer(c.r.Header)
	if err != nil {
		return err
	}
	cols, err := selectOnly(t, c.r.URL.Query())
	if err != nil {
		return err
	}
	body, err := h.readObject(w, c.r)
	if err != nil {
		return err
	}
	req := pipeline.Request{Table: t.LogicalName, ID: id, ExpectedVersion: expected}
	if owner, ok := body[ownerBind]; ok {
		if len(body) != 1 {
			return errorf(errcode.InvalidValue, "%s must be alone in the body: changing the owner is an Assign, separate from an Update", ownerBind)
		}
		s, _ := owner.(string)
		set, uid, err := h.parseBind(s)
		if err != nil || set != systemUserSet {
			return errorf(errcode.InvalidValue, "%s must be \"/systemusers(<id>)\"", ownerBind)
		}
		req.Message, req.Owner = pipeline.Assign, uid
	} else {
		req.Message = pipeline.Update
		if req.Target, err = h.values(body); err != nil {
			return err
		}
		bodyID, err := primaryKey(t, req.Target)
		if err != nil {
			return err
		}
		if bodyID != uuid.Nil && bodyID != id {
			return errorf(errcode.InvalidValue, "%s in the body (%s) is not the row's id in the URL (%s)", t.PrimaryKey, bodyID, id)
		}
	}
	resp, err := h.execute(c, req)
	if err != nil {
		return err
	}
	return h.written(w, c, t, id, resp, pref, cols, http.StatusOK)
}

// delete serves DELETE /<entity set>(<id>): Delete, conditional with
// If-Match.
func (h *Handler) delete(w http.ResponseWriter, c *call, t *tables.Table, id uuid.UUID) error {
	expected, err := ifMatch(c.r)
	if err != nil {
		return err
	}
	if _, err := h.execute(c, pipeline.Request{Message: pipeline.Delete, Table: t.LogicalName, ID: id, ExpectedVersion: expected}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
