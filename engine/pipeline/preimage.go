package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/tables"
)

// Pre images after commit.
//
// A sync step reads the row before the operation from the table, inside the
// transaction. An async step and an endpoint delivery run after commit from
// the event alone, and the event holds the row after the change only. The
// log is event sourced, so the row before is in it: the row of a change at
// stream version N is the row after version N-1 of the row's stream, the
// "row" of the last event at or below N-1 that has one. Only a share
// (GrantAccess, ModifyAccess, RevokeAccess) has none: it moves the row's
// version on and leaves its columns alone, so the row after it is the row
// of the event before it, at the share's version. A Create has no row
// before it; a Delete's pre image is the row it deleted.
//
// A row-bound custom API's event is on the API's stream, not the row's: it
// records the version of the row it found (and locked) as rowVersion, and
// the row before it is the row at that version. An external event (no
// transaction, no row read) records none, so it has no pre image.

// PreRow returns the row an event's message found before it ran, in the
// log's storage form (as an event's "row" holds it, the form
// endpoints.StepInfo.PreRow takes), read from the log: the pre image of an
// async step or an endpoint delivery, which run after commit. It returns
// nil for an event that has no row before it: a Create, a message on no
// row, an event that is not a message's.
func (e *Engine) PreRow(ctx context.Context, ev eventlog.Event) (json.RawMessage, error) {
	return preRow(ctx, e.db.Log(), ev)
}

// preRowPage is how many events a walk back over shares reads at a time,
// after the first read of one.
const preRowPage = 64

func preRow(ctx context.Context, log eventlog.Store, ev eventlog.Event) (json.RawMessage, error) {
	stream, version, err := preRowAt(ev)
	if err != nil || version < 1 {
		return nil, err
	}
	limit := 1 // the event before is almost always the one with the row
	for upTo := version; upTo >= 1; {
		evs, err := log.ReadStream(ctx, eventlog.StreamQuery{StreamID: stream, FromVersion: upTo, Backward: true, Limit: limit})
		if err != nil {
			return nil, fmt.Errorf("event %s: read the row before it, %s at version %d: %w", ev.ID, stream, version, err)
		}
		for _, prev := range evs {
			var d struct {
				MessageName string          `json:"messageName"`
				Row         json.RawMessage `json:"row"`
			}
			if err := json.Unmarshal(prev.Data, &d); err != nil {
				return nil, errorf(errcode.InvalidEvent, "event %s (%s version %d), read for the row before event %s: %v", prev.ID, stream, prev.StreamVersion, ev.ID, err)
			}
			switch {
			case len(d.Row) > 0 && !bytes.Equal(d.Row, []byte("null")):
				if prev.StreamVersion == version {
					return d.Row, nil
				}
				return withVersion(d.Row, version)
			case d.MessageName == Delete:
				return nil, nil // no row: nothing is appended after a Delete, but be safe
			}
			// A share: the row as the event before it left it.
		}
		upTo = evs[len(evs)-1].StreamVersion - 1
		limit = preRowPage
	}
	return nil, errorf(errcode.InvalidEvent, "event %s: stream %s has no row at or before version %d", ev.ID, stream, version)
}

// preRowAt says where the row an event's message found is: its stream and
// the version it was at; version 0 when there is none.
func preRowAt(ev eventlog.Event) (string, int64, error) {
	var d struct {
		MessageName       string     `json:"messageName"`
		PrimaryEntityName string     `json:"primaryEntityName"`
		PrimaryEntityID   *uuid.UUID `json:"primaryEntityId"`
		RowVersion        int64      `json:"rowVersion"`
	}
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		return "", 0, errorf(errcode.InvalidEvent, "event %d (%s) is not a message's event: %v", ev.Position, ev.Type, err)
	}
	if d.PrimaryEntityName == "" || d.PrimaryEntityID == nil || *d.PrimaryEntityID == uuid.Nil {
		return "", 0, nil
	}
	stream := d.PrimaryEntityName + "/" + d.PrimaryEntityID.String()
	if IsTableMessage(d.MessageName) && ev.Type == d.PrimaryEntityName+"."+d.MessageName {
		switch d.MessageName {
		case Create, Retrieve, RetrieveMultiple:
			return "", 0, nil
		}
		if ev.StreamID != stream {
			return "", 0, errorf(errcode.InvalidEvent, "event %d (%s) is on stream %s, not on its row's %s", ev.Position, ev.Type, ev.StreamID, stream)
		}
		return stream, ev.StreamVersion - 1, nil
	}
	return stream, d.RowVersion, nil
}

// withVersion returns a row in storage form with its version set: the row
// a share left, whose columns are those of the event before it.
func withVersion(row json.RawMessage, version int64) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(row, &m); err != nil {
		return nil, errorf(errcode.InvalidEvent, "a row in the log is not a JSON object: %v", err)
	}
	m[tables.ColumnVersion] = json.RawMessage(strconv.FormatInt(version, 10))
	return json.Marshal(m)
}

// cutImages cuts the named images out of a row of t: all its columns, or
// the named ones and the primary key. No row, no images.
func cutImages(t *tables.Table, defs []Image, row tables.Row) map[string]tables.Row {
	out := make(map[string]tables.Row, len(defs))
	if row == nil {
		return out
	}
	for _, im := range defs {
		img := tables.Row{}
		for c, v := range row {
			if len(im.Columns) == 0 || c == t.PrimaryKey || slices.Contains(im.Columns, c) {
				img[c] = v
			}
		}
		out[im.Name] = img
	}
	return out
}
