package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/tables"
)

// message is a resolved, checked request on its way through the stages.
type message struct {
	e     *Engine
	c     *call
	ex    *Execution
	table *tables.Table  // the table of a table message or a bound API
	api   *customapi.API // nil for a table message
	// eventID is the id of the event this message will append.
	eventID uuid.UUID
	// share is what a share message did, for its event.
	share *shareData
	// pre is the row before the operation (Update, Delete, Assign, the
	// share messages), post the row after it (Create, Update, Assign).
	pre, post tables.Row
	// requestHash identifies an idempotent request's content.
	requestHash string
	resp        Response
}

// resolve finds the message's definition and checks the request against it.
func (e *Engine) resolve(c *call) (*message, error) {
	req := &c.req
	now := e.cfg.Now().UTC()
	m := &message{e: e, c: c, eventID: newID()}
	m.ex = &Execution{
		Message:          req.Message,
		Depth:            c.depth,
		UserID:           req.Caller.UserID,
		InitiatingUserID: req.Caller.InitiatingUserID,
		CorrelationID:    req.CorrelationID,
		RequestID:        req.RequestID,
		OperationTime:    now,
		InputParameters:  map[string]any{},
		OutputParameters: map[string]any{},
		SharedVariables:  map[string]any{},
		PreImages:        map[string]tables.Row{},
		PostImages:       map[string]tables.Row{},
	}
	if IsTableMessage(req.Message) {
		t, ok := c.defs.Table(req.Table)
		if !ok {
			return nil, errorf(errcode.NotFound, "table %q is not defined", req.Table)
		}
		m.table = t
		m.ex.Table = t.LogicalName
		return m, m.checkTableRequest()
	}
	a, ok := c.defs.CustomAPI(req.Message)
	if !ok {
		return nil, errorf(errcode.NotFound, "message %q is neither a table message nor a custom API", req.Message)
	}
	m.api = a
	return m, m.checkAPIRequest()
}

func (m *message) checkTableRequest() error {
	req, t, ex := &m.c.req, m.table, m.ex
	switch req.Message {
	case Create:
		row, err := t.CheckCreate(req.Target)
		if err != nil {
			return err
		}
		id := req.ID
		if v, ok := row[t.PrimaryKey].(uuid.UUID); ok {
			if id != uuid.Nil && id != v {
				return errorf(errcode.InvalidValue, "column %q: %s differs from the id %s of the request", t.PrimaryKey, v, id)
			}
			id = v
		}
		if id == uuid.Nil && req.IdempotencyKey != "" {
			// A retry with the same key makes the same row: the second
			// insert is a duplicate and answers with the first.
			id = uuid.NewSHA1(idempotencyNamespace, []byte(t.LogicalName+"\x00"+req.IdempotencyKey))
		}
		if id == uuid.Nil {
			id = newID()
		}
		delete(row, t.PrimaryKey)
		ex.ID = id
		ex.InputParameters["Target"] = row
	case Update:
		if req.ID == uuid.Nil {
			return errorf(errcode.InvalidArgument, "Update of %s needs the row's id", t.LogicalName)
		}
		row, err := t.CheckUpdate(req.Target)
		if err != nil {
			return err
		}
		if v, ok := row[t.PrimaryKey]; ok {
			if v != req.ID {
				return errorf(errcode.InvalidValue, "column %q: the primary key cannot change", t.PrimaryKey)
			}
			delete(row, t.PrimaryKey)
		}
		ex.ID = req.ID
		ex.InputParameters["Target"] = row
	case Retrieve, Delete, Assign:
		if req.ID == uuid.Nil {
			return errorf(errcode.InvalidArgument, "%s of %s needs the row's id", req.Message, t.LogicalName)
		}
		ex.ID = req.ID
		ex.InputParameters["Target"] = tables.Reference{Table: t.LogicalName, ID: req.ID}
		if req.Message == Assign {
			if t.Ownership != tables.UserOwned {
				return errorf(errcode.InvalidArgument, "table %s is organization-owned: its rows have no owner to assign", t.LogicalName)
			}
			if req.Owner == uuid.Nil {
				return errorf(errcode.InvalidArgument, "Assign needs the new owner")
			}
			ex.InputParameters["Assignee"] = req.Owner
		}
		if req.Message == Retrieve && len(req.Columns) > 0 {
			for _, col := range req.Columns {
				if !t.HasColumn(col) {
					return errorf(errcode.InvalidArgument, "column %q is not a column of %s", col, t.LogicalName)
				}
			}
			ex.InputParameters["ColumnSet"] = slices.Clone(req.Columns)
		}
	case GrantAccess, ModifyAccess, RevokeAccess:
		return m.checkShareRequest()
	case RetrieveMultiple:
		q := req.Query
		if q == nil {
			q = &tables.Query{}
		}
		ex.InputParameters["Query"] = q
	}
	return nil
}

// SystemUserTable is the logical name of the table of users, which a
// share's principal is a row of, as in Dataverse.
const SystemUserTable = "systemuser"

// checkShareRequest checks a GrantAccess, ModifyAccess or RevokeAccess: a
// row of a user-owned table, a principal, and for the first two the
// rights.
func (m *message) checkShareRequest() error {
	req, t, ex := &m.c.req, m.table, m.ex
	if req.ID == uuid.Nil {
		return errorf(errcode.InvalidArgument, "%s of %s needs the row's id", req.Message, t.LogicalName)
	}
	if t.Ownership != tables.UserOwned {
		return errorf(errcode.InvalidArgument, "table %s is organization-owned: its rows belong to the organization and are not shared", t.LogicalName)
	}
	if req.Principal == uuid.Nil {
		return errorf(errcode.InvalidArgument, "%s needs the principal: the id of the user the row is shared with", req.Message)
	}
	ex.ID = req.ID
	ex.InputParameters["Target"] = tables.Reference{Table: t.LogicalName, ID: req.ID}
	principal := tables.Reference{Table: SystemUserTable, ID: req.Principal}
	if req.Message == RevokeAccess {
		if req.AccessRights != 0 {
			return errorf(errcode.InvalidArgument, "RevokeAccess takes no access rights: it removes the principal's whole share (ModifyAccess changes it)")
		}
		ex.InputParameters["Revokee"] = principal
		return nil
	}
	if req.AccessRights == 0 {
		return errorf(errcode.InvalidArgument, "%s needs at least one access right (%s); RevokeAccess removes a share",
			req.Message, strings.Join(tables.ShareableRightNames(), ", "))
	}
	if err := req.AccessRights.CheckShareable(); err != nil {
		return err
	}
	ex.InputParameters["PrincipalAccess"] = map[string]any{"Principal": principal, "AccessMask": req.AccessRights}
	return nil
}

// shareInput reads the principal and the rights of a share message from
// its input parameters, as the steps before the main operation left them.
func (m *message) shareInput() (uuid.UUID, tables.AccessRights, error) {
	in := m.ex.InputParameters
	bad := func(format string, args ...any) (uuid.UUID, tables.AccessRights, error) {
		return uuid.Nil, 0, &StepError{Stage: MainOperation, Code: errcode.HandlerFailed,
			Message: fmt.Sprintf("%s: a handler set "+format, append([]any{m.c.req.Message}, args...)...)}
	}
	principal := func(v any) (uuid.UUID, bool) {
		ref, ok := v.(tables.Reference)
		return ref.ID, ok && ref.Table == SystemUserTable && ref.ID != uuid.Nil
	}
	if m.c.req.Message == RevokeAccess {
		id, ok := principal(in["Revokee"])
		if !ok {
			return bad("Revokee to %T, not a reference to a %s", in["Revokee"], SystemUserTable)
		}
		return id, 0, nil
	}
	pa, ok := in["PrincipalAccess"].(map[string]any)
	if !ok {
		return bad("PrincipalAccess to %T, not a map with Principal and AccessMask", in["PrincipalAccess"])
	}
	id, ok := principal(pa["Principal"])
	if !ok {
		return bad("PrincipalAccess.Principal to %T, not a reference to a %s", pa["Principal"], SystemUserTable)
	}
	rights, ok := pa["AccessMask"].(tables.AccessRights)
	if !ok || rights == 0 {
		return bad("PrincipalAccess.AccessMask to %v, not a tables.AccessRights with one right or more", pa["AccessMask"])
	}
	if err := rights.CheckShareable(); err != nil {
		return uuid.Nil, 0, &StepError{Stage: MainOperation, Code: errcode.InvalidValue, Err: err, Message: fmt.Sprintf("%s: a handler set %v", m.c.req.Message, err)}
	}
	return id, rights, nil
}

func (m *message) checkAPIRequest() error {
	req, a, ex := &m.c.req, m.api, m.ex
	if a.Binding != customapi.Global {
		t, ok := m.c.defs.Table(a.BoundTable)
		if !ok {
			return errorf(errcode.NotFound, "custom API %s is bound to table %q, which is not defined", a.UniqueName, a.BoundTable)
		}
		if req.Table != "" && req.Table != t.LogicalName {
			return errorf(errcode.InvalidArgument, "custom API %s is bound to %s, not %s", a.UniqueName, t.LogicalName, req.Table)
		}
		m.table = t
		ex.Table = t.LogicalName
	} else if req.Table != "" {
		return errorf(errcode.InvalidArgument, "custom API %s is not bound to a table", a.UniqueName)
	}
	if a.Binding == customapi.TableBound {
		if req.ID == uuid.Nil {
			return errorf(errcode.InvalidArgument, "custom API %s is bound to a row of %s: the request needs its id", a.UniqueName, a.BoundTable)
		}
		ex.ID = req.ID
		ex.InputParameters["Target"] = tables.Reference{Table: a.BoundTable, ID: req.ID}
	}
	params, err := a.CheckParameters(req.Parameters, m.c.defs.Table)
	if err != nil {
		return err
	}
	maps.Copy(ex.InputParameters, params)
	if req.IdempotencyKey != "" {
		var hashed any = req.Parameters
		if a.Binding == customapi.TableBound {
			// The key's stream is the API's, not the row's: the same
			// parameters on another row are another request.
			hashed = map[string]any{"target": ex.InputParameters["Target"], "parameters": req.Parameters}
		}
		sum := sha256.Sum256(canonicalJSON(hashed))
		m.requestHash = fmt.Sprintf("%x", sum[:16])
	}
	return nil
}

// idempotencyNamespace derives row ids from idempotency keys.
var idempotencyNamespace = uuid.MustParse("6f0c3a52-8f1e-4f4e-9d59-3b1f4a0f5e11")

// isRead reports whether the message changes nothing.
func (m *message) isRead() bool {
	if m.api != nil {
		return m.api.IsFunction
	}
	return m.c.req.Message == Retrieve || m.c.req.Message == RetrieveMultiple
}

// stepTable is the table part of the steps' key.
func (m *message) stepTable() string {
	if m.api != nil {
		return ""
	}
	return m.table.LogicalName
}

func (m *message) steps(stage Stage, mode Mode) []*Step {
	return m.c.defs.Steps(m.c.req.Message, m.stepTable(), stage, mode)
}

func (m *message) hasSyncSteps() bool {
	return len(m.steps(PreOperation, Sync)) > 0 || len(m.steps(PostOperation, Sync)) > 0
}

func (m *message) run(ctx context.Context) (Response, error) {
	// PreValidation runs before the transaction; in a message a handler
	// executed, inside the caller's.
	if err := m.runStage(ctx, m.c.tx, PreValidation); err != nil {
		return Response{}, err
	}
	// An external event needs no transaction: validation, append, done.
	if m.api != nil && m.api.IsExternalEvent() && m.c.tx == nil {
		return m.appendAlone(ctx)
	}
	if m.isRead() && m.c.tx == nil && !m.hasSyncSteps() && (m.api == nil || m.api.Handler == "") {
		if err := m.main(ctx, m.e.db); err != nil {
			return Response{}, err
		}
		return m.response(), nil
	}
	tx, own := m.c.tx, false
	if tx == nil {
		var err error
		if tx, err = m.e.db.Begin(ctx); err != nil {
			return Response{}, err
		}
		own = true
		m.c.tx = tx
		defer func() { _ = tx.Rollback(ctx) }()
	}
	if err := m.inTransaction(ctx, tx); err != nil {
		if own {
			_ = tx.Rollback(ctx)
			return m.replayOnConflict(ctx, err)
		}
		return Response{}, err
	}
	if own {
		if m.isRead() {
			// A function or a read has no side effects, whatever its
			// handlers tried.
			return m.response(), tx.Rollback(ctx)
		}
		if err := tx.Commit(ctx); err != nil {
			return m.replayOnConflict(ctx, err)
		}
	}
	return m.response(), nil
}

func (m *message) inTransaction(ctx context.Context, tx storage.Tx) error {
	if err := m.loadPre(ctx, tx); err != nil {
		return err
	}
	if err := m.runStage(ctx, tx, PreOperation); err != nil {
		return err
	}
	if err := m.main(ctx, tx); err != nil {
		return err
	}
	if err := m.runStage(ctx, tx, PostOperation); err != nil {
		return err
	}
	if m.isRead() {
		return nil
	}
	ev, expect, err := m.event()
	if err != nil {
		return err
	}
	evs, err := tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{ev}, Expect: expect})
	if err != nil {
		if m.api == nil && m.c.req.Message == Create && errors.Is(err, eventlog.ErrVersionConflict) {
			return &Error{Code: errcode.Duplicate, Err: err,
				Message: fmt.Sprintf("%s %s existed before and was deleted; row ids are never reused", m.table.LogicalName, m.ex.ID)}
		}
		return err
	}
	m.resp.Position = evs[0].Position
	return nil
}

// appendAlone records an external event in a transaction of its own, which
// on SQLite joins other callers' in one group commit.
func (m *message) appendAlone(ctx context.Context) (Response, error) {
	ev, expect, err := m.event()
	if err != nil {
		return Response{}, err
	}
	evs, err := m.e.db.Log().Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{ev}, Expect: expect})
	if err != nil {
		return m.replayOnConflict(ctx, err)
	}
	m.resp.Position = evs[0].Position
	return m.response(), nil
}

// loadPre reads the row an Update, Delete, Assign or bound API works on,
// locked for the rest of the transaction.
func (m *message) loadPre(ctx context.Context, tx storage.Tx) error {
	if m.table == nil || m.ex.ID == uuid.Nil {
		return nil
	}
	switch m.c.req.Message {
	case Create, Retrieve, RetrieveMultiple:
		return nil
	}
	row, err := m.e.rows.GetForUpdate(ctx, tx, m.table, m.ex.ID)
	if err != nil {
		return err
	}
	if v := m.c.req.ExpectedVersion; v > 0 && m.api == nil {
		if got, _ := row[tables.ColumnVersion].(int64); got != v {
			return &eventlog.VersionConflictError{StreamID: streamOf(m.table, m.ex.ID), Expected: v, Actual: got}
		}
	}
	m.pre = row
	return nil
}

// runStage runs a stage's sync steps in rank order.
func (m *message) runStage(ctx context.Context, tx storage.Tx, stage Stage) error {
	steps := m.steps(stage, Sync)
	if len(steps) == 0 {
		return nil
	}
	ex := m.ex
	ex.Stage, ex.Mode = stage, Sync
	ex.Service = &boundService{e: m.e, parent: m.c, event: m.eventID}
	for _, s := range steps {
		if !m.filterMatches(s, stage) {
			continue
		}
		h, ok := m.e.cfg.Handlers.Handler(s.Handler)
		if !ok {
			return stepError(s.Name, stage, fmt.Errorf("handler %q is not registered: %w", s.Handler, errNoHandler))
		}
		ex.Step, ex.Config, ex.SecureConfig = s.Name, s.Config, s.SecureConfig
		ex.PreImages = m.images(s.PreImages, m.pre)
		if stage == PostOperation {
			ex.PostImages = m.images(s.PostImages, m.post)
		} else {
			ex.PostImages = map[string]tables.Row{}
		}
		if err := safeHandle(ctx, h, ex); err != nil {
			return stepError(s.Name, stage, err)
		}
		if err := m.recheckTarget(stage); err != nil {
			return stepError(s.Name, stage, err)
		}
		if err := m.recheckOutput(); err != nil {
			return &StepError{Step: s.Name, Stage: stage, Code: errcode.HandlerFailed, Err: err, Message: err.Error()}
		}
	}
	ex.Step, ex.Config, ex.SecureConfig = "", "", ""
	return nil
}

// recheckTarget checks a Target a handler may have changed: only
// PreValidation and PreOperation may, and what they set must still fit.
func (m *message) recheckTarget(stage Stage) error {
	target, ok := m.ex.InputParameters["Target"].(tables.Row)
	if !ok || m.table == nil || m.api != nil {
		return nil
	}
	if stage == PostOperation {
		return nil // too late to matter: the row is written
	}
	var err error
	var checked tables.Row
	if m.c.req.Message == Create {
		checked, err = m.table.CheckCreate(map[string]any(target))
	} else {
		checked, err = m.table.CheckUpdate(map[string]any(target))
	}
	if err != nil {
		return fmt.Errorf("the handler set a Target that does not fit table %s: %w", m.table.LogicalName, err)
	}
	delete(checked, m.table.PrimaryKey)
	m.ex.InputParameters["Target"] = checked
	return nil
}

// recheckOutput checks a custom API's response as a step may have changed
// it: the caller gets, and the event records, only response properties of
// their types, whether a main handler or a step set them.
func (m *message) recheckOutput() error {
	if m.api == nil {
		return nil
	}
	out, err := m.api.CheckOutput(m.ex.OutputParameters, m.c.defs.Table)
	if err != nil {
		return fmt.Errorf("the step's response does not fit custom API %s: %w", m.api.UniqueName, err)
	}
	m.ex.OutputParameters = out
	return nil
}

// filterMatches applies an Update step's filtering columns: the step runs
// when one of them changes. Before the row is read (PreValidation), a
// column in the Target counts as a change.
func (m *message) filterMatches(s *Step, stage Stage) bool {
	if len(s.FilteringColumns) == 0 || m.c.req.Message != Update {
		return true
	}
	target := m.ex.Target()
	for _, c := range s.FilteringColumns {
		v, ok := target[c]
		if !ok {
			continue
		}
		if m.pre == nil || stage == PreValidation || !tables.Equal(m.pre[c], v) {
			return true
		}
	}
	return false
}

// images cuts the named images out of a row.
func (m *message) images(defs []Image, row tables.Row) map[string]tables.Row {
	return cutImages(m.table, defs, row)
}

// replayOnConflict answers a retried request whose idempotency key was
// used before with the first request's response; any other error passes.
func (m *message) replayOnConflict(ctx context.Context, err error) (Response, error) {
	key := m.c.req.IdempotencyKey
	if key == "" || m.c.depth > 1 {
		return Response{}, err
	}
	if !errors.Is(err, eventlog.ErrVersionConflict) && !errors.Is(err, errDuplicateRow) {
		return Response{}, err
	}
	evs, rerr := m.firstEvent(ctx, m.streamID())
	if rerr != nil {
		return Response{}, err
	}
	// Numbers stay json.Number: a money or decimal response property must
	// come back with the digits the first response had.
	var first eventData
	dec := json.NewDecoder(bytes.NewReader(evs[0].Data))
	dec.UseNumber()
	if jerr := dec.Decode(&first); jerr != nil {
		return Response{}, fmt.Errorf("idempotency key %q: read the first request's event: %w", key, jerr)
	}
	if first.RequestHash != m.requestHashFor() {
		return Response{}, errorf(errcode.InvalidArgument,
			"idempotency key %q was used before with a different request; use a new key for a new request", key)
	}
	resp := Response{ID: m.ex.ID, Output: first.OutputParameters, EventID: evs[0].ID, Position: evs[0].Position, Version: evs[0].StreamVersion, Replayed: true}
	if m.api != nil {
		// The response properties as the first response typed them; as
		// stored when the definition has changed since.
		if out, cerr := m.api.CheckOutput(first.OutputParameters, m.c.defs.Table); cerr == nil {
			resp.Output = out
		}
	} else if len(first.Row) > 0 {
		// A Create's row as the first request wrote it, for a caller that
		// asked for it back.
		row, derr := tables.DecodeRow(m.table, first.Row)
		if derr != nil {
			return Response{}, fmt.Errorf("idempotency key %q: read the first request's row: %w", key, derr)
		}
		resp.Row = row
	}
	return resp, nil
}

// firstEvent reads the first event of an idempotency key's stream, which
// the conflict says exists: both backends report a conflict only once the
// events that beat the append are committed.
func (m *message) firstEvent(ctx context.Context, stream string) ([]eventlog.Event, error) {
	evs, err := m.e.db.Log().ReadStream(ctx, eventlog.StreamQuery{StreamID: stream, Limit: 1})
	if err == nil && len(evs) == 0 {
		err = fmt.Errorf("stream %s is empty", stream)
	}
	return evs, err
}

// requestHashFor is the hash an idempotent request is compared by.
func (m *message) requestHashFor() string {
	if m.requestHash == "" && m.c.req.IdempotencyKey != "" {
		sum := sha256.Sum256(canonicalJSON(m.c.req.Target))
		m.requestHash = fmt.Sprintf("%x", sum[:16])
	}
	return m.requestHash
}

// canonicalJSON encodes v with sorted keys (encoding/json sorts map keys).
func canonicalJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
