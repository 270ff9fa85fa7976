// Package wake is the broadcast the log backends use to wake waiters when
// events are sealed: a position that only grows, and a channel closed each
// time it moves.
package wake

import (
	"context"
	"sync"
	"time"
)

// Head holds the last sealed position and wakes waiters when it grows. The
// zero value is ready to use.
type Head struct {
	mu  sync.Mutex
	pos int64
	ch  chan struct{}
}

// Advance raises the position to pos (a lower one is ignored) and wakes every
// waiter either way: after a reconnect, when notifications may have been
// lost, callers wake everyone to make them re-read.
func (h *Head) Advance(pos int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if pos > h.pos {
		h.pos = pos
	}
	if h.ch != nil {
		close(h.ch)
		h.ch = nil
	}
}

// Position returns the last known sealed position.
func (h *Head) Position() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pos
}

// Wait returns errClosed when closed is closed, checked first, so a closed
// store answers so even when the position is past after or a wake-up
// arrives at the same time; else nil when the position is past after, at
// the next Advance, or after poll; ctx's error when ctx ends.
func (h *Head) Wait(ctx context.Context, after int64, poll time.Duration, closed <-chan struct{}, errClosed error) error {
	if isClosed(closed) {
		return errClosed
	}
	h.mu.Lock()
	if h.pos > after {
		h.mu.Unlock()
		return nil
	}
	if h.ch == nil {
		h.ch = make(chan struct{})
	}
	ch := h.ch
	h.mu.Unlock()
	timer := time.NewTimer(poll)
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
	case <-ctx.Done():
		return ctx.Err()
	case <-closed:
		return errClosed
	}
	// select picks at random among ready cases: a close racing the wake-up
	// still wins.
	if isClosed(closed) {
		return errClosed
	}
	return nil
}

// isClosed reports whether closed is closed; a nil channel never is.
func isClosed(closed <-chan struct{}) bool {
	select {
	case <-closed:
		return true
	default:
		return false
	}
}
