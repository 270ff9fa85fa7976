// Package postgres is the PostgreSQL backend of the event log, on pgx v5.
//
// Appends are plain INSERTs, one statement per request, so concurrent
// writers never wait for each other (except on the same stream). A sealer
// goroutine gives committed events their position and chained hash: it reads
// unsealed rows in (transaction id, id) order below the snapshot's xmin, the
// order in which no transaction can still add a row before them, and records
// each seal in an append-only seals table; event rows are never updated.
// Every Store runs a sealer; sealers of several processes on one database
// take turns under an advisory lock. A NOTIFY after each sealed batch wakes
// followers in every process.
package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/eventlog/internal/wake"
)

// DefaultSchema holds the log's tables unless Config.Schema says otherwise.
const DefaultSchema = "bizevents"

// Config configures a Store.
type Config struct {
	eventlog.Config
	// Schema holds the log's tables; created if missing. Default
	// [DefaultSchema].
	Schema string
	// Logger receives the sealer's and listener's problems. Default: discard.
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.Config = c.Config.WithDefaults()
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// Store is the PostgreSQL event log.
type Store struct {
	pool     *pgxpool.Pool
	ownsPool bool
	cfg      Config
	q        queries
	log      *slog.Logger

	head      wake.Head     // last sealed position known to this process
	sealWake  chan struct{} // an append committed: seal
	closed    chan struct{}
	closeOnce sync.Once
	isClosed  atomic.Bool
	// stopListen ends the listener; stopSeal the sealer, which otherwise
	// runs its final pass when closed closes. finalErr is that pass's
	// outcome, read by Close after wg.
	stopListen, stopSeal context.CancelFunc
	finalErr             error
	wg                   sync.WaitGroup
}

// closeSealTimeout bounds the final seal pass of Close.
//
// Why a bound: the pass may wait for a transaction still open below the
// store's rows, or for a database that does not answer; Close must return.
// What it leaves is sealed by the next store to run on the database.
const closeSealTimeout = 5 * time.Second

var (
	_ eventlog.Store = (*Store)(nil)
	_ eventlog.Tx    = (*Tx)(nil)
)

// Open connects to connString with a pool of its own, closed by Close, and
// returns a ready Store (see New).
func Open(ctx context.Context, connString string, cfg Config) (*Store, error) {
	pool, err := pgxpool.New(ctx, connString)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s, err := New(ctx, pool, cfg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownsPool = true
	return s, nil
}

// New returns a Store on pool, which the caller keeps and closes after the
// Store. It runs the schema migrations (safe to run twice and from several
// processes at once) and starts the sealer and the notification listener,
// which hold one connection each while they work.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Store, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{
		pool:     pool,
		cfg:      cfg,
		q:        newQueries(cfg.Schema),
		log:      cfg.Logger.With("component", "eventlog", "schema", cfg.Schema),
		sealWake: make(chan struct{}, 1),
		closed:   make(chan struct{}),
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	var pos int64
	if err := pool.QueryRow(ctx, s.q.headPosition).Scan(&pos); err != nil {
		return nil, fmt.Errorf("postgres: read head: %w", mapError(ctx, err))
	}
	s.head.Advance(pos)
	sealCtx, stopSeal := context.WithCancel(context.Background())
	listenCtx, stopListen := context.WithCancel(context.Background())
	s.stopSeal, s.stopListen = stopSeal, stopListen
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.sealLoop(sealCtx) }()
	go func() { defer s.wg.Done(); s.listenLoop(listenCtx) }()
	s.kickSealer()
	return s, nil
}

// Close seals the events committed so far (a final pass of the sealer, at
// most 5 seconds, so that a store opened next finds none unsealed), stops
// the sealer and the listener, and closes the pool if Open made it. What the
// final pass could not seal, it reports as an error; the next Store to run on
// the database seals it. Closing twice is fine.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.isClosed.Store(true)
		close(s.closed)
		s.stopListen()
		bound := time.AfterFunc(closeSealTimeout, s.stopSeal)
		s.wg.Wait()
		bound.Stop()
		s.stopSeal()
		if s.ownsPool {
			s.pool.Close()
		}
		if s.finalErr != nil {
			err = fmt.Errorf("postgres: close: %w", s.finalErr)
		}
	})
	return err
}

// Pool returns the pool the store uses.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

func (s *Store) checkOpen() error {
	if s.isClosed.Load() {
		return eventlog.ErrClosed
	}
	return nil
}

// kickSealer tells the sealer that something may be waiting to be sealed.
func (s *Store) kickSealer() {
	select {
	case s.sealWake <- struct{}{}:
	default:
	}
}

// channel is the NOTIFY channel of the schema: identifiers are at most 63
// bytes, so it is named from a digest of the schema name.
func channel(schema string) string {
	sum := sha256.Sum256([]byte(schema))
	return "bizevents_sealed_" + hex.EncodeToString(sum[:8])
}

// ident quotes a schema-qualified name.
func ident(schema, name string) string { return pgx.Identifier{schema, name}.Sanitize() }

var errNoRows = pgx.ErrNoRows

func isNoRows(err error) bool { return errors.Is(err, errNoRows) }
