package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
)

// execRequest is the JSON request of execute (sdk/ABI.md, "execute").
type execRequest struct {
	Message         string         `json:"message"`
	Table           string         `json:"table"`
	ID              string         `json:"id"`
	Target          map[string]any `json:"target"`
	Parameters      map[string]any `json:"parameters"`
	Columns         []string       `json:"columns"`
	Filter          string         `json:"filter"`
	OrderBy         string         `json:"orderby"`
	Top             int            `json:"top"`
	PageSize        int            `json:"page_size"`
	PageToken       string         `json:"page_token"`
	Owner           string         `json:"owner"`
	ExpectedVersion int64          `json:"expected_version"`
	// Principal and AccessRights are the share messages': a GUID or a
	// {table: systemuser, id} reference, and rights as names or bits.
	Principal    json.RawMessage `json:"principal"`
	AccessRights json.RawMessage `json:"access_rights"`
}

// request turns a guest's request into a pipeline.Request.
func (c *call) request(raw []byte) (pipeline.Request, error) {
	bad := func(format string, args ...any) (pipeline.Request, error) {
		return pipeline.Request{}, &execError{code: errcode.InvalidArgument, msg: fmt.Sprintf(format, args...)}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var r execRequest
	if err := dec.Decode(&r); err != nil {
		return bad("execute: the request is not a valid request object: %v", err)
	}
	if r.Message == "" {
		return bad("execute: the request names no message")
	}
	req := pipeline.Request{
		Message: r.Message, Table: r.Table, Target: r.Target, Parameters: r.Parameters,
		Columns: r.Columns, ExpectedVersion: r.ExpectedVersion,
	}
	var err error
	if r.ID != "" {
		if req.ID, err = uuid.Parse(r.ID); err != nil {
			return bad("execute %s: id %q is not a GUID", r.Message, r.ID)
		}
	}
	if r.Owner != "" {
		if req.Owner, err = uuid.Parse(r.Owner); err != nil {
			return bad("execute %s: owner %q is not a GUID", r.Message, r.Owner)
		}
	}
	if req.Principal, req.AccessRights, err = shareMembers(r); err != nil {
		return pipeline.Request{}, err
	}
	if r.Message == pipeline.RetrieveMultiple {
		q := &tables.Query{Select: r.Columns, Top: r.Top, PageSize: r.PageSize, PageToken: r.PageToken}
		req.Columns = nil
		if r.Filter != "" || r.OrderBy != "" {
			find := c.m.rt.cfg.Tables
			if find == nil {
				return pipeline.Request{}, &execError{code: errcode.NotSupported,
					msg: "execute RetrieveMultiple: filter and orderby need table definitions, and this host has none"}
			}
			t, ok := find(r.Table)
			if !ok {
				return pipeline.Request{}, &execError{code: errcode.NotFound, msg: fmt.Sprintf("execute RetrieveMultiple: table %q is not defined", r.Table)}
			}
			if r.Filter != "" {
				if q.Filter, err = tables.ParseFilter(t, r.Filter); err != nil {
					return pipeline.Request{}, err
				}
			}
			if r.OrderBy != "" {
				if q.OrderBy, err = tables.ParseOrderBy(t, r.OrderBy); err != nil {
					return pipeline.Request{}, err
				}
			}
		}
		req.Query = q
	} else if r.Filter != "" || r.OrderBy != "" || r.Top != 0 || r.PageSize != 0 || r.PageToken != "" {
		return bad("execute %s: filter, orderby, top, page_size and page_token belong to RetrieveMultiple", r.Message)
	}
	return req, nil
}

// shareMembers reads the principal and access_rights of a GrantAccess,
// ModifyAccess or RevokeAccess request (sdk/ABI.md, "execute"); on any
// other message they are refused. null, "" and 0 count as absent.
func shareMembers(r execRequest) (uuid.UUID, tables.AccessRights, error) {
	bad := func(code errcode.Code, format string, args ...any) (uuid.UUID, tables.AccessRights, error) {
		return uuid.Nil, 0, &execError{code: code, msg: fmt.Sprintf("execute %s: ", r.Message) + fmt.Sprintf(format, args...)}
	}
	absent := func(v json.RawMessage) bool {
		v = bytes.TrimSpace(v)
		return len(v) == 0 || string(v) == "null" || string(v) == `""` || string(v) == "0"
	}
	if absent(r.Principal) && absent(r.AccessRights) {
		return uuid.Nil, 0, nil
	}
	if !pipeline.IsShareMessage(r.Message) {
		return bad(errcode.InvalidArgument, "principal and access_rights belong to GrantAccess, ModifyAccess and RevokeAccess")
	}
	var principal uuid.UUID
	if !absent(r.Principal) {
		var s string
		var ref struct {
			Table string `json:"table"`
			ID    string `json:"id"`
		}
		switch {
		case json.Unmarshal(r.Principal, &s) == nil:
		case json.Unmarshal(r.Principal, &ref) == nil && ref.ID != "":
			if ref.Table != pipeline.SystemUserTable {
				return bad(errcode.InvalidArgument, "principal is a reference to a %q row; a share's principal is a %s", ref.Table, pipeline.SystemUserTable)
			}
			s = ref.ID
		default:
			return bad(errcode.InvalidArgument, "principal %s is neither a GUID string nor a {\"table\": %q, \"id\"} reference", r.Principal, pipeline.SystemUserTable)
		}
		id, err := uuid.Parse(s)
		if err != nil {
			return bad(errcode.InvalidArgument, "principal %q is not a GUID", s)
		}
		principal = id
	}
	var rights tables.AccessRights
	if !absent(r.AccessRights) {
		if err := rights.UnmarshalJSON(r.AccessRights); err != nil {
			return uuid.Nil, 0, fmt.Errorf("execute %s: access_rights: %w", r.Message, err)
		}
	}
	return principal, rights, nil
}

// execute runs a guest's request through the engine and returns the
// response JSON, or the error.
func (c *call) execute(ctx context.Context, raw []byte) ([]byte, error) {
	req, err := c.request(raw)
	if err != nil {
		return nil, err
	}
	resp, err := c.ex.Service.Execute(ctx, req)
	if err != nil {
		return nil, err
	}
	return appendResponse(nil, req.Message, resp), nil
}

// appendResponse renders a response (sdk/ABI.md, "execute").
func appendResponse(dst []byte, message string, r pipeline.Response) []byte {
	m := map[string]any{}
	if r.ID != uuid.Nil {
		m["id"] = r.ID
	}
	if r.Row != nil {
		m["row"] = r.Row
	}
	if message == pipeline.RetrieveMultiple {
		rows := r.Rows
		if rows == nil {
			rows = []tables.Row{}
		}
		m["rows"] = rows
		m["more"] = r.More
		if r.PageToken != "" {
			m["page_token"] = r.PageToken
		}
	}
	if r.Output != nil {
		m["output"] = r.Output
	}
	if r.Version != 0 {
		m["version"] = r.Version
	}
	if r.EventID != uuid.Nil {
		m["event_id"] = r.EventID
	}
	return appendMap(dst, m)
}

// maxErrorMessage bounds the message of an execute's failure, so that
// the error object stays far below any value limit.
const maxErrorMessage = 16 << 10

// appendError renders an execute's failure: {"code", "message"}.
func appendError(dst []byte, err error) []byte {
	dst = append(dst, `{"code":`...)
	dst = appendString(dst, string(errcode.Of(err)))
	dst = append(dst, `,"message":`...)
	msg := err.Error()
	if len(msg) > maxErrorMessage {
		msg = truncate(msg, maxErrorMessage) + "…"
	}
	dst = appendString(dst, msg)
	return append(dst, '}')
}
