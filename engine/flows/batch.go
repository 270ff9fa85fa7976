package flows

import (
	"context"
	"sync"
	"time"

	"github.com/bizevents/bizevents/engine/eventlog"
)

// batcher appends the records of concurrent runs together: group commit.
// The first caller appends what is queued; callers that arrive meanwhile
// queue, and the next of them appends them all at once, so that under load
// many runs share one transaction and no caller waits for a timer. Each
// run's append keeps its own expected version; when a batch fails (one
// run's version conflicts, an event is refused), its appends are made one
// by one, so each caller gets its own outcome.
type batcher struct {
	log   eventlog.Store
	mu    sync.Mutex
	queue []*batchItem
	busy  bool
}

type batchItem struct {
	stream string
	expect int64
	evs    []eventlog.NewEvent
	err    error
	done   chan struct{}
}

// maxBatch bounds the appends of one batch.
const maxBatch = 128

// flushTimeout bounds one batch's append: it runs for several callers, so
// it does not take any one caller's context.
const flushTimeout = 30 * time.Second

func (b *batcher) append(stream string, expect int64, evs []eventlog.NewEvent) error {
	it := &batchItem{stream: stream, expect: expect, evs: evs, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, it)
	if b.busy {
		b.mu.Unlock()
		<-it.done
		return it.err
	}
	b.busy = true
	for len(b.queue) > 0 {
		n := min(len(b.queue), maxBatch)
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()
		b.flush(batch)
		b.mu.Lock()
	}
	b.busy = false
	b.mu.Unlock()
	<-it.done
	return it.err
}

func (b *batcher) flush(batch []*batchItem) {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	defer func() {
		for _, it := range batch {
			close(it.done)
		}
	}()
	if len(batch) > 1 {
		req := eventlog.AppendRequest{Expect: make(map[string]int64, len(batch))}
		for _, it := range batch {
			req.Events = append(req.Events, it.evs...)
			req.Expect[it.stream] = it.expect
		}
		if _, err := b.log.Append(ctx, req); err == nil {
			return
		}
	}
	for _, it := range batch {
		_, it.err = b.log.Append(ctx, eventlog.AppendRequest{Events: it.evs, Expect: map[string]int64{it.stream: it.expect}})
	}
}
