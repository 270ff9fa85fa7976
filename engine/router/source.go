package router

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/bizevents/bizevents/engine/eventlog"
)

// Metadata keys of the messages a [LogSource] emits.
const (
	// MetaFirst and MetaLast are the positions of a message's first and
	// last event.
	MetaFirst = "first_position"
	MetaLast  = "last_position"
	MetaCount = "events"
)

// LogSource is the event log as a watermill Subscriber: the topic is a
// subscriber's name, and Subscribe emits, in log order, the sealed events
// after that subscriber's stored offset that its filter keeps. A message
// is a batch of events (one keyset read of the log, filtered), so that a
// subscriber stores its jobs and its offset once per batch, not per event
// (DESIGN.md, "The router"); the events are in the message's context
// ([EventsOf]) and their positions in its metadata. Each message waits to
// be acked; the offset is stored after it, so an event is delivered at
// least once, and again after a crash before its batch's offset was
// stored. A nacked message is delivered again.
//
// Why not watermill-sql: there is no watermill SQLite pub/sub, and the log
// already has commit-order-safe reads on both backends (DESIGN.md).
type LogSource struct {
	store eventlog.Store
	// filter says whether the subscriber called topic receives ev.
	filter func(topic string, ev eventlog.Event) bool
	// offsetName is the log offset a topic's follower keeps.
	offsetName func(topic string) string
	batch      int

	mu     sync.Mutex
	closed bool
	cancel []context.CancelFunc
	wg     sync.WaitGroup
}

var _ message.Subscriber = (*LogSource)(nil)

// NewLogSource returns a source over store.
func NewLogSource(store eventlog.Store, batch int, filter func(topic string, ev eventlog.Event) bool) *LogSource {
	return &LogSource{store: store, filter: filter, batch: batch, offsetName: func(t string) string { return "router/" + t }}
}

// Subscribe follows the log for the subscriber called topic until ctx is
// done or the source is closed.
func (s *LogSource) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("router: the log source is closed")
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = append(s.cancel, cancel)
	s.wg.Add(1)
	s.mu.Unlock()

	out := make(chan *message.Message)
	go func() {
		defer s.wg.Done()
		defer close(out)
		cfg := eventlog.FollowConfig{Subscriber: s.offsetName(topic), BatchSize: s.batch}
		_ = eventlog.Follow(ctx, s.store, cfg, func(ctx context.Context, evs []eventlog.Event) error {
			kept := make([]eventlog.Event, 0, len(evs))
			for _, ev := range evs {
				if s.filter == nil || s.filter(topic, ev) {
					kept = append(kept, ev)
				}
			}
			if len(kept) == 0 {
				return nil
			}
			return deliver(ctx, out, kept)
		})
	}()
	return out, nil
}

// deliver sends a batch of events until it is acked.
func deliver(ctx context.Context, out chan<- *message.Message, evs []eventlog.Event) error {
	for {
		msg := message.NewMessage(evs[0].ID.String(), nil)
		msg.Metadata.Set(MetaFirst, strconv.FormatInt(evs[0].Position, 10))
		msg.Metadata.Set(MetaLast, strconv.FormatInt(evs[len(evs)-1].Position, 10))
		msg.Metadata.Set(MetaCount, strconv.Itoa(len(evs)))
		msg.SetContext(withEvents(ctx, evs))
		select {
		case out <- msg:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-msg.Acked():
			return nil
		case <-msg.Nacked():
			// Delivered again.
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops every subscription and waits for them.
func (s *LogSource) Close() error {
	s.mu.Lock()
	s.closed = true
	cancels := s.cancel
	s.cancel = nil
	s.mu.Unlock()
	for _, c := range cancels {
		c()
	}
	s.wg.Wait()
	return nil
}

type eventsKey struct{}

func withEvents(ctx context.Context, evs []eventlog.Event) context.Context {
	return context.WithValue(ctx, eventsKey{}, evs)
}

// EventsOf returns the events a message of a LogSource carries.
func EventsOf(msg *message.Message) ([]eventlog.Event, bool) {
	evs, ok := msg.Context().Value(eventsKey{}).([]eventlog.Event)
	return evs, ok
}

// idle is a watermill Subscriber that emits nothing until it is closed:
// it keeps the router running while it has no subscription (watermill
// closes a router whose handlers have all stopped).
type idle struct {
	once sync.Once
	done chan struct{}
}

func newIdle() *idle { return &idle{done: make(chan struct{})} }

func (i *idle) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		select {
		case <-ctx.Done():
		case <-i.done:
		}
	}()
	return out, nil
}

func (i *idle) Close() error { i.once.Do(func() { close(i.done) }); return nil }
