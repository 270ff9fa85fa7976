package main

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"time"

	"github.com/bizevents/bizevents/engine/eventlog"
)

// eventJSON is the one JSON shape of an event, shared by the HTTP API and
// the command line's --json output. Position and hash are null for an event
// that is committed but not sealed yet (PostgreSQL seals just after commit).
type eventJSON struct {
	Position      *int64          `json:"position"`
	ID            string          `json:"id"`
	StreamID      string          `json:"stream_id"`
	StreamVersion int64           `json:"stream_version"`
	Type          string          `json:"type"`
	Data          json.RawMessage `json:"data"`
	Metadata      metadataJSON    `json:"metadata"`
	Hash          *string         `json:"hash"`
}

// metadataJSON is the JSON shape of [eventlog.Metadata].
type metadataJSON struct {
	UserID           string    `json:"user_id"`
	InitiatingUserID string    `json:"initiating_user_id"`
	CorrelationID    string    `json:"correlation_id"`
	RequestID        string    `json:"request_id"`
	CausationID      string    `json:"causation_id"`
	Depth            int       `json:"depth"`
	Solution         string    `json:"solution"`
	Time             time.Time `json:"time"`
}

func toEventJSON(e *eventlog.Event) eventJSON {
	m := &e.Metadata
	v := eventJSON{
		ID:            e.ID.String(),
		StreamID:      e.StreamID,
		StreamVersion: e.StreamVersion,
		Type:          e.Type,
		Data:          e.Data,
		Metadata: metadataJSON{
			UserID:           m.UserID,
			InitiatingUserID: m.InitiatingUserID,
			CorrelationID:    m.CorrelationID,
			RequestID:        m.RequestID,
			CausationID:      m.CausationID,
			Depth:            m.Depth,
			Solution:         m.Solution,
			Time:             m.Time.UTC(),
		},
	}
	if e.Position > 0 {
		pos := e.Position
		v.Position = &pos
	}
	if e.Hash != nil {
		h := hex.EncodeToString(e.Hash)
		v.Hash = &h
	}
	return v
}

func toEventsJSON(evs []eventlog.Event) []eventJSON {
	out := make([]eventJSON, len(evs)) // never null: [] for no events
	for i := range evs {
		out[i] = toEventJSON(&evs[i])
	}
	return out
}

// headJSON is the JSON shape of [eventlog.Head].
type headJSON struct {
	Position int64  `json:"position"`
	Hash     string `json:"hash"`
	Unsealed int64  `json:"unsealed"`
}

func toHeadJSON(h eventlog.Head) headJSON {
	return headJSON{Position: h.Position, Hash: hex.EncodeToString(h.Hash), Unsealed: h.Unsealed}
}

// newJSONEncoder writes one JSON document per line, without HTML escaping
// (output is for terminals and pipes, not browsers).
func newJSONEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}
