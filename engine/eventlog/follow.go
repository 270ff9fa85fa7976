package eventlog

import (
	"context"
	"fmt"
)

// FollowConfig configures [Follow].
type FollowConfig struct {
	// Subscriber names the durable offset. Follow resumes after the
	// subscriber's stored offset and stores a new one after every handled
	// batch. Empty: follow without storing anything.
	Subscriber string
	// From is the position to start after when there is no stored offset.
	From int64
	// BatchSize is how many events a batch holds at most. Default: the
	// store's default read limit.
	BatchSize int
}

// BatchHandler handles a batch of events in position order. An error stops
// [Follow]; the batch was not acknowledged and will be delivered again.
type BatchHandler func(ctx context.Context, events []Event) error

// Follow hands every sealed event after the start position to handle, in
// position order and in batches, then waits for more, until ctx is done or
// handle fails. Delivery is at least once: a batch whose offset was not
// stored (a crash, an error) is delivered again on the next Follow.
// It returns ctx's error or the handler's error, wrapped.
func Follow(ctx context.Context, s Store, cfg FollowConfig, handle BatchHandler) error {
	pos := cfg.From
	if cfg.Subscriber != "" {
		stored, ok, err := s.Offset(ctx, cfg.Subscriber)
		if err != nil {
			return fmt.Errorf("follow %s: load offset: %w", cfg.Subscriber, err)
		}
		if ok {
			pos = stored
		}
	}
	for {
		evs, err := s.Read(ctx, ReadQuery{After: pos, Limit: cfg.BatchSize})
		if err != nil {
			return fmt.Errorf("follow %s: read after %d: %w", cfg.Subscriber, pos, err)
		}
		if len(evs) == 0 {
			if err := s.Wait(ctx, pos); err != nil {
				return err
			}
			continue
		}
		if err := handle(ctx, evs); err != nil {
			return fmt.Errorf("follow %s: handle %d..%d: %w", cfg.Subscriber, evs[0].Position, evs[len(evs)-1].Position, err)
		}
		pos = evs[len(evs)-1].Position
		if cfg.Subscriber != "" {
			if err := s.SetOffset(ctx, cfg.Subscriber, pos); err != nil {
				return fmt.Errorf("follow %s: store offset %d: %w", cfg.Subscriber, pos, err)
			}
		}
	}
}
