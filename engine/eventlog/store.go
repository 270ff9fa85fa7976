package eventlog

import (
	"context"
	"fmt"
	"time"
)

// Store is an event log. Implementations are safe for concurrent use.
//
// The contract, checked by eventlogtest.Run against every backend:
//   - Append and Tx.Append are atomic: every event of the request is stored,
//     or none is and an error says why. Invalid input fails before anything is
//     written with an error matching ErrInvalidEvent or ErrEventTooLarge; a
//     failed expectation with a *VersionConflictError, reported only once
//     the events that beat it are committed (a loser that reads the stream
//     finds them).
//   - Read returns sealed events only, in position order, positions gapless;
//     an event becomes readable once, at one position, and never changes.
//   - ReadStream returns every committed event of a stream in version order,
//     sealed or not; with [StreamQuery.Backward], in reverse version order
//     from a version down. A stream without events is an
//     ErrStreamNotFound, a version past its end an ErrUnknownPosition.
//   - Wait returns when an event may have been sealed after the given
//     position, when ctx is done (with ctx's error), or after the store's
//     poll interval; a spurious return is allowed, a missed wake-up is not.
//     On a closed store it returns an error matching ErrClosed, also when
//     the position is already past.
//   - Offset and SetOffset reject a subscriber name or position that
//     [CheckOffset] rejects with an error matching ErrInvalidQuery.
//   - Close seals what appends committed through the store before it
//     returns: a store opened next finds Head.Unsealed 0. (A backend with
//     a sealer bounds this wait; Close then says what it left unsealed.)
//   - Methods fail with an error matching ErrClosed after Close. A database
//     that cannot be reached fails them with one matching ErrUnavailable,
//     which [IsRetryable] accepts.
//
// # One writer at a time
//
// A backend with a single writer connection (SQLite) gives it to a Tx from
// Begin until Commit or Rollback: Append, SetOffset and Begin called
// meanwhile wait for it. So the goroutine holding a Tx must not call them,
// directly or through code it calls: it would wait for itself. The backend
// cannot tell that goroutine from another one, so it does not detect this;
// the call returns only when its ctx ends (with ctx's error) or the store
// closes. Append in the same transaction with Tx.Append instead.
type Store interface {
	// Append appends events in a transaction of its own and returns them as
	// stored (versions, times, and positions where already sealed).
	Append(ctx context.Context, req AppendRequest) ([]Event, error)
	// Begin starts a transaction for appending together with other writes.
	// Backends expose the driver's transaction on their Tx type. See "One
	// writer at a time" above.
	Begin(ctx context.Context) (Tx, error)
	// Read returns sealed events after a position, filtered.
	Read(ctx context.Context, q ReadQuery) ([]Event, error)
	// ReadStream returns a stream's committed events.
	ReadStream(ctx context.Context, q StreamQuery) ([]Event, error)
	// Head describes the end of the log.
	Head(ctx context.Context) (Head, error)
	// Wait blocks until events past after may be readable (see above).
	Wait(ctx context.Context, after int64) error
	// Offset returns the position a named subscriber stored, and false
	// when it has none. The name is checked by [CheckSubscriber].
	Offset(ctx context.Context, subscriber string) (int64, bool, error)
	// SetOffset stores a subscriber's position, replacing the one it had
	// (it may move back, for a replay). The arguments are checked by
	// [CheckOffset].
	SetOffset(ctx context.Context, subscriber string, position int64) error
	// Close seals what was committed through the store (see above), stops
	// background work and releases connections. Closing twice is fine.
	Close() error
}

// Tx is a transaction on the log. Events appended through it are stored
// when, and only when, Commit succeeds. A Tx is used by one goroutine.
type Tx interface {
	Append(ctx context.Context, req AppendRequest) ([]Event, error)
	Commit(ctx context.Context) error
	// Rollback discards the transaction; after Commit it is a no-op, so
	// `defer tx.Rollback(ctx)` is always safe.
	Rollback(ctx context.Context) error
}

// Defaults for [Config].
const (
	DefaultMaxEventSize  = 1 << 20 // 1 MiB
	DefaultReadLimit     = 1000
	DefaultMaxReadLimit  = 10000
	DefaultPollInterval  = time.Second
	DefaultSealBatchSize = 2000
)

// Config is what every backend can tune. Backends embed it in their own config.
type Config struct {
	// MaxEventSize is the largest event accepted, as counted by
	// [NewEvent.Size]. Default [DefaultMaxEventSize].
	MaxEventSize int
	// DefaultReadLimit is the Limit of a read that gives none. Default
	// [DefaultReadLimit].
	DefaultReadLimit int
	// MaxReadLimit is the largest Limit a read may ask for. Default
	// [DefaultMaxReadLimit].
	MaxReadLimit int
	// PollInterval bounds how long Wait sleeps without a wake-up signal; it
	// is the fallback that catches appends made by other processes when no
	// notification arrives. Default [DefaultPollInterval].
	PollInterval time.Duration
	// SealBatchSize is how many events a sealer seals per transaction (where
	// the backend has a sealer). Default [DefaultSealBatchSize].
	SealBatchSize int
	// Now returns the current time; default time.Now. Tests may pin it.
	// It is called once per append: every event of one [AppendRequest]
	// (or of one Tx.Append) gets the same [Metadata.Time], truncated to
	// the microsecond, the precision both backends store.
	Now func() time.Time
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.MaxEventSize == 0 {
		c.MaxEventSize = DefaultMaxEventSize
	}
	if c.DefaultReadLimit == 0 {
		c.DefaultReadLimit = DefaultReadLimit
	}
	if c.MaxReadLimit == 0 {
		c.MaxReadLimit = DefaultMaxReadLimit
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.SealBatchSize == 0 {
		c.SealBatchSize = DefaultSealBatchSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.MaxEventSize < 0:
		return fmt.Errorf("eventlog config: MaxEventSize %d is negative", c.MaxEventSize)
	case c.DefaultReadLimit < 0 || c.MaxReadLimit < 0 || c.DefaultReadLimit > c.MaxReadLimit:
		return fmt.Errorf("eventlog config: read limits default %d, max %d are inconsistent", c.DefaultReadLimit, c.MaxReadLimit)
	case c.PollInterval < 0:
		return fmt.Errorf("eventlog config: PollInterval %s is negative", c.PollInterval)
	case c.SealBatchSize < 0:
		return fmt.Errorf("eventlog config: SealBatchSize %d is negative", c.SealBatchSize)
	}
	return nil
}
