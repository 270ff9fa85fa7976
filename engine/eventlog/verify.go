package eventlog

import (
	"bytes"
	"context"
	"fmt"

	"github.com/google/uuid"
)

// VerifyReport is the outcome of [Verify].
type VerifyReport struct {
	// From and To are the positions checked, inclusive.
	From, To int64
	// Checked counts the events whose hash was recomputed.
	Checked int64
	// Head is the log's head when the check started; Head.Unsealed is the
	// tail that no check can cover yet.
	Head Head
	// Broken is the first broken link, nil when the range is intact.
	Broken *Break
}

// OK reports whether the checked range is intact.
func (r *VerifyReport) OK() bool { return r.Broken == nil }

// Err returns nil when the checked range is intact, else an error matching
// [ErrChainBroken] (code chain_broken) that names the first broken link.
func (r *VerifyReport) Err() error {
	if r.Broken == nil {
		return nil
	}
	return Errorf(ErrChainBroken, "%s", r.Broken)
}

// Break is a broken link of the chain.
type Break struct {
	Position int64
	// EventID is the event found at Position (zero when it is missing).
	EventID uuid.UUID
	// Reason says what is wrong: its hash does not match its content and
	// its predecessor, or the position is missing.
	Reason string
}

func (b *Break) String() string {
	if b.EventID == uuid.Nil {
		return fmt.Sprintf("position %d: %s", b.Position, b.Reason)
	}
	return fmt.Sprintf("position %d (event %s): %s", b.Position, b.EventID, b.Reason)
}

// Verify recomputes the hash chain over positions from..to (inclusive; 0 for
// either means the start or the sealed head) and reports the first broken
// link: an event altered, removed or reordered after it was sealed.
func Verify(ctx context.Context, s Store, from, to int64) (*VerifyReport, error) {
	head, err := s.Head(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if from <= 0 {
		from = 1
	}
	if to <= 0 || to > head.Position {
		to = head.Position
	}
	rep := &VerifyReport{From: from, To: to, Head: head}
	if from > to {
		return rep, nil
	}
	var prev []byte
	if from > 1 {
		evs, err := s.Read(ctx, ReadQuery{After: from - 2, Limit: 1})
		if err != nil {
			return nil, fmt.Errorf("verify: read position %d: %w", from-1, err)
		}
		if len(evs) == 0 || evs[0].Position != from-1 {
			rep.Broken = &Break{Position: from - 1, Reason: "position missing"}
			return rep, nil
		}
		prev = evs[0].Hash
	}
	next := from
	for next <= to {
		evs, err := s.Read(ctx, ReadQuery{After: next - 1, Limit: int(min(int64(verifyPage), to-next+1))})
		if err != nil {
			return nil, fmt.Errorf("verify: read after %d: %w", next-1, err)
		}
		if len(evs) == 0 {
			rep.Broken = &Break{Position: next, Reason: "position missing"}
			return rep, nil
		}
		for i := range evs {
			e := &evs[i]
			if e.Position > to {
				return rep, nil
			}
			if e.Position != next {
				rep.Broken = &Break{Position: next, Reason: fmt.Sprintf("position missing (next event found is at %d)", e.Position)}
				return rep, nil
			}
			if want := ChainHash(prev, e); !bytes.Equal(want, e.Hash) {
				rep.Broken = &Break{Position: e.Position, EventID: e.ID, Reason: "hash does not match the event's content and its predecessor"}
				return rep, nil
			}
			prev = e.Hash
			rep.Checked++
			next++
		}
	}
	return rep, nil
}

// verifyPage is how many events Verify reads at a time; below any sane
// MaxReadLimit.
const verifyPage = 500
