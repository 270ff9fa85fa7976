package eventlog_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/eventlog"
)

// TestChainHashCoversEveryField: changing any field of a sealed event, or
// its predecessor, changes its hash.
func TestChainHashCoversEveryField(t *testing.T) {
	t.Parallel()
	base := func() eventlog.Event {
		return eventlog.Event{
			ID: uuid.MustParse("0193f0a4-1111-7000-8000-000000000001"), Position: 7, StreamID: "account/1",
			StreamVersion: 3, Type: "Update", Data: []byte(`{"a":1}`),
			Metadata: eventlog.Metadata{UserID: "u", InitiatingUserID: "i", CorrelationID: "c", RequestID: "r",
				CausationID: "x", Depth: 1, Solution: "s", Time: time.Unix(1700000000, 123000).UTC()},
		}
	}
	prev := []byte("0123456789abcdef0123456789abcdef")
	e := base()
	want := eventlog.ChainHash(prev, &e)
	require.Len(t, want, eventlog.HashSize)
	require.Equal(t, want, eventlog.LinkHash(prev, 7, 3, eventlog.ContentHash(&e)))

	changes := map[string]func(e *eventlog.Event){
		"id":        func(e *eventlog.Event) { e.ID[15] = 2 },
		"position":  func(e *eventlog.Event) { e.Position++ },
		"stream":    func(e *eventlog.Event) { e.StreamID = "account/2" },
		"version":   func(e *eventlog.Event) { e.StreamVersion++ },
		"type":      func(e *eventlog.Event) { e.Type = "Delete" },
		"data":      func(e *eventlog.Event) { e.Data = []byte(`{"a":2}`) },
		"user":      func(e *eventlog.Event) { e.Metadata.UserID = "v" },
		"initiator": func(e *eventlog.Event) { e.Metadata.InitiatingUserID = "j" },
		"corr":      func(e *eventlog.Event) { e.Metadata.CorrelationID = "d" },
		"request":   func(e *eventlog.Event) { e.Metadata.RequestID = "s" },
		"causation": func(e *eventlog.Event) { e.Metadata.CausationID = "y" },
		"depth":     func(e *eventlog.Event) { e.Metadata.Depth = 2 },
		"solution":  func(e *eventlog.Event) { e.Metadata.Solution = "t" },
		"time":      func(e *eventlog.Event) { e.Metadata.Time = e.Metadata.Time.Add(time.Microsecond) },
		// Length prefixes: moving a byte from one field to the next.
		"boundary": func(e *eventlog.Event) { e.StreamID, e.Type = "account/1U", "pdate" },
	}
	for name, change := range changes {
		e := base()
		change(&e)
		require.NotEqual(t, want, eventlog.ChainHash(prev, &e), name)
	}
	require.NotEqual(t, want, eventlog.ChainHash(nil, &e), "predecessor")
	require.Equal(t, eventlog.ChainHash(nil, &e), eventlog.ChainHash(make([]byte, eventlog.HashSize), &e), "nil is the zero hash")
}
