package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/tables"
)

// errDuplicateRow matches an insert of an id that exists.
var errDuplicateRow = storage.ErrDuplicate

// main runs the main operation (stage 30).
func (m *message) main(ctx context.Context, q storage.Querier) error {
	if m.api != nil {
		return m.mainAPI(ctx)
	}
	t, ex, now := m.table, m.ex, m.ex.OperationTime
	switch m.c.req.Message {
	case Create:
		w := tables.Write{Version: 1, At: now}
		if t.Ownership == tables.UserOwned {
			w.Owner = ex.UserID
		}
		row, err := m.e.rows.Insert(ctx, q, t, ex.ID, ex.Target(), w)
		if err != nil {
			return err
		}
		m.post = row
		ex.OutputParameters["id"] = ex.ID
	case Update:
		version := m.preVersion()
		row, err := m.e.rows.Update(ctx, q, t, ex.ID, ex.Target(), tables.Write{Version: version + 1, ExpectedVersion: version, At: now})
		if err != nil {
			return err
		}
		m.post = row
	case Assign:
		version := m.preVersion()
		row, err := m.e.rows.SetOwner(ctx, q, t, ex.ID, tables.Write{Version: version + 1, ExpectedVersion: version, At: now, Owner: m.c.req.Owner})
		if err != nil {
			return err
		}
		m.post = row
	case Delete:
		if err := m.e.rows.Delete(ctx, q, t, ex.ID, m.preVersion()); err != nil {
			return err
		}
		if err := m.e.shares.DeleteRow(ctx, q, t.LogicalName, ex.ID); err != nil {
			return err
		}
	case GrantAccess, ModifyAccess, RevokeAccess:
		return m.mainShare(ctx, q)
	case Retrieve:
		cols, _ := ex.InputParameters["ColumnSet"].([]string)
		row, err := m.e.rows.Get(ctx, q, t, ex.ID, cols)
		if err != nil {
			return err
		}
		ex.OutputParameters["Entity"] = row
	case RetrieveMultiple:
		query, _ := ex.InputParameters["Query"].(*tables.Query)
		rows, next, err := m.e.rows.Query(ctx, q, t, *query)
		if err != nil {
			return err
		}
		ex.OutputParameters["EntityCollection"] = rows
		ex.OutputParameters["PageToken"] = next
	}
	return nil
}

// mainShare changes the principal's share of the row: GrantAccess adds
// the rights to those it has, ModifyAccess replaces them, RevokeAccess
// removes the share (a principal without one is fine: nothing changes).
// The row's values stay as they are, but its version goes up: the share's
// event is on the row's stream, whose version the row's is.
func (m *message) mainShare(ctx context.Context, q storage.Querier) error {
	t, ex := m.table, m.ex
	principal, rights, err := m.shareInput()
	if err != nil {
		return err
	}
	before, err := m.e.shares.Rights(ctx, q, t.LogicalName, ex.ID, principal)
	if err != nil {
		return err
	}
	after := rights
	switch m.c.req.Message {
	case GrantAccess:
		after = before | rights
	case RevokeAccess:
		after = 0
	}
	if err := m.e.shares.Set(ctx, q, t.LogicalName, ex.ID, principal, after, ex.OperationTime); err != nil {
		return err
	}
	version := m.preVersion()
	if err := m.e.rows.SetVersion(ctx, q, t, ex.ID, tables.Write{Version: version + 1, ExpectedVersion: version, At: ex.OperationTime}); err != nil {
		return err
	}
	m.share = &shareData{Principal: principal, Rights: after, Previous: before, At: ex.OperationTime}
	return nil
}

// shareData is what a share message's event records of the share: the
// principal and its rights after the message (None after RevokeAccess)
// and before, so that the shares can be rebuilt from the log without
// replaying the merge.
type shareData struct {
	Principal uuid.UUID           `json:"principal"`
	Rights    tables.AccessRights `json:"rights"`
	Previous  tables.AccessRights `json:"previous"`
	// At is the message's operation time: when the share changed.
	At time.Time `json:"at"`
}

func (m *message) preVersion() int64 {
	v, _ := m.pre[tables.ColumnVersion].(int64)
	return v
}

// mainAPI runs a custom API's main handler, if it has one, and checks what
// it answered against the response properties.
func (m *message) mainAPI(ctx context.Context) error {
	a, ex := m.api, m.ex
	if a.Handler == "" {
		return nil
	}
	h, ok := m.e.cfg.Handlers.Handler(a.Handler)
	if !ok {
		return stepError("", MainOperation, fmt.Errorf("handler %q of custom API %s is not registered: %w", a.Handler, a.UniqueName, errNoHandler))
	}
	ex.Stage, ex.Mode, ex.Step = MainOperation, Sync, ""
	ex.Service = &boundService{e: m.e, parent: m.c, event: m.eventID}
	if err := safeHandle(ctx, h, ex); err != nil {
		return stepError("", MainOperation, err)
	}
	out, err := a.CheckOutput(ex.OutputParameters, m.c.defs.Table)
	if err != nil {
		return &StepError{Stage: MainOperation, Code: errcode.HandlerFailed, Err: err,
			Message: fmt.Sprintf("the handler's response does not fit custom API %s: %v", a.UniqueName, err)}
	}
	ex.OutputParameters = out
	return nil
}

// eventData is what a message's event holds: its execution context, as
// subscribers receive it, and the row after a table change, from which the
// rows can be rebuilt.
type eventData struct {
	MessageName       string         `json:"messageName"`
	PrimaryEntityName string         `json:"primaryEntityName,omitempty"`
	PrimaryEntityID   *uuid.UUID     `json:"primaryEntityId,omitempty"`
	Depth             int            `json:"depth"`
	InputParameters   map[string]any `json:"inputParameters"`
	OutputParameters  map[string]any `json:"outputParameters,omitempty"`
	// Row is the row after a Create, Update or Assign, in storage form.
	Row json.RawMessage `json:"row,omitempty"`
	// Share is the share a GrantAccess, ModifyAccess or RevokeAccess left.
	Share *shareData `json:"share,omitempty"`
	// RowVersion is the version of the row a row-bound custom API found
	// and locked: where its pre image is in the row's stream, since the
	// API's event is on a stream of its own (see preimage.go).
	RowVersion int64 `json:"rowVersion,omitempty"`
	// ChangedColumns are the columns an Update changed: in its Target with
	// a value other than the row's before, sorted. Subscribers with
	// filtering columns (flows' table triggers) read them.
	ChangedColumns []string `json:"changedColumns,omitempty"`
	// AsyncSteps names the async steps registered on the message when it
	// committed: the router runs them.
	AsyncSteps []string `json:"asyncSteps,omitempty"`
	// RequestHash tells an idempotent retry from a new request that reuses
	// its key.
	RequestHash string `json:"requestHash,omitempty"`
}

// streamID is the stream of the message's event.
func (m *message) streamID() string {
	if m.api == nil {
		return streamOf(m.table, m.ex.ID)
	}
	if k := m.c.req.IdempotencyKey; k != "" && m.c.depth == 1 {
		if len(k) > 64 {
			sum := sha256.Sum256([]byte(k))
			k = "sha256:" + hex.EncodeToString(sum[:])
		}
		return m.api.UniqueName + "/key/" + k
	}
	return m.api.UniqueName + "/" + m.eventID.String()
}

// streamOf is a row's stream.
func streamOf(t *tables.Table, id uuid.UUID) string { return t.LogicalName + "/" + id.String() }

// event builds the message's event and the expectation it is appended with.
func (m *message) event() (eventlog.NewEvent, map[string]int64, error) {
	ex := m.ex
	data := eventData{
		MessageName:      ex.Message,
		Depth:            ex.Depth,
		InputParameters:  m.outputParams(ex.InputParameters),
		OutputParameters: m.outputParams(ex.OutputParameters),
		RequestHash:      m.requestHashFor(),
	}
	if m.table != nil {
		data.PrimaryEntityName = m.table.LogicalName
		if ex.ID != uuid.Nil {
			id := ex.ID
			data.PrimaryEntityID = &id
		}
	}
	data.Share = m.share
	if m.c.req.Message == Update && m.table != nil {
		for c, v := range ex.Target() {
			if m.pre == nil || !tables.Equal(m.pre[c], v) {
				data.ChangedColumns = append(data.ChangedColumns, c)
			}
		}
		slices.Sort(data.ChangedColumns)
	}
	if m.api != nil && m.pre != nil {
		data.RowVersion = m.preVersion()
	}
	if m.post != nil {
		raw, err := tables.EncodeRow(m.table, m.post)
		if err != nil {
			return eventlog.NewEvent{}, nil, fmt.Errorf("encode row: %w", err)
		}
		data.Row = raw
	}
	for _, s := range m.steps(PostOperation, Async) {
		if m.filterMatches(s, PostOperation) {
			data.AsyncSteps = append(data.AsyncSteps, s.Name)
		}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return eventlog.NewEvent{}, nil, fmt.Errorf("encode event of %s: %w", ex.Message, err)
	}
	stream := m.streamID()
	ev := eventlog.NewEvent{
		ID:       m.eventID,
		StreamID: stream,
		Type:     m.eventType(),
		Data:     raw,
		Metadata: eventlog.Metadata{
			UserID:           idString(ex.UserID),
			InitiatingUserID: idString(ex.InitiatingUserID),
			CorrelationID:    idString(ex.CorrelationID),
			RequestID:        idString(ex.RequestID),
			CausationID:      idString(m.c.parentEvent),
			Depth:            ex.Depth,
		},
	}
	var expect map[string]int64
	switch {
	case m.api != nil && m.c.req.IdempotencyKey != "" && m.c.depth == 1:
		expect = map[string]int64{stream: eventlog.NoStream}
	case m.api != nil:
	case m.c.req.Message == Create:
		// Row ids are never reused, not even after a Delete.
		expect = map[string]int64{stream: eventlog.NoStream}
	default:
		expect = map[string]int64{stream: m.preVersion()}
	}
	return ev, expect, nil
}

// eventType is the event's type: "<table>.<Message>" for table messages, the
// unique name for custom APIs.
func (m *message) eventType() string {
	if m.api != nil {
		return m.api.UniqueName
	}
	return m.table.LogicalName + "." + m.c.req.Message
}

// outputParams renders parameters as JSON-friendly values.
func (m *message) outputParams(p map[string]any) map[string]any {
	if len(p) == 0 {
		return nil
	}
	out := make(map[string]any, len(p))
	for k, v := range p {
		switch v := v.(type) {
		case tables.Row:
			if m.table != nil {
				out[k] = m.table.Output(v, nil)
			} else {
				out[k] = v
			}
		default:
			out[k] = v
		}
	}
	return out
}

func idString(id uuid.UUID) string {
	if id == uuid.Nil {
		return ""
	}
	return id.String()
}

// response builds the caller's response.
func (m *message) response() Response {
	r := m.resp
	ex := m.ex
	r.ID = ex.ID
	r.EventID = m.eventID
	switch {
	case m.api != nil:
		r.Output = ex.OutputParameters
		if m.isRead() {
			r.EventID = uuid.Nil
		}
	case m.c.req.Message == Retrieve:
		r.Row, _ = ex.OutputParameters["Entity"].(tables.Row)
		r.Version, _ = r.Row[tables.ColumnVersion].(int64)
		r.EventID = uuid.Nil
	case m.c.req.Message == RetrieveMultiple:
		r.Rows, _ = ex.OutputParameters["EntityCollection"].([]tables.Row)
		next, _ := ex.OutputParameters["PageToken"].(string)
		r.More = next != ""
		r.PageToken = next
		r.EventID = uuid.Nil
	default:
		r.Row = m.post
		r.Version = m.preVersion() + 1
	}
	return r
}
