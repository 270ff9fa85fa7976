package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/tables"
)

// Defaults for [Config].
const (
	// DefaultMaxDepth is how deep handlers may call back into the engine;
	// Dataverse's limit.
	DefaultMaxDepth = 8
)

// Config configures an [Engine].
type Config struct {
	// Handlers finds a step's or a main operation's handler by name.
	// Default: none, so any step with a handler fails.
	Handlers Handlers
	// MaxDepth is the deepest message a handler may execute. Default
	// [DefaultMaxDepth].
	MaxDepth int
	// Now returns the current time; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Handlers == nil {
		c.Handlers = HandlerMap{}
	}
	if c.MaxDepth == 0 {
		c.MaxDepth = DefaultMaxDepth
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Handlers finds handlers by name.
type Handlers interface {
	Handler(name string) (Handler, bool)
}

// HandlerMap is Handlers from a map, for handlers written in Go.
type HandlerMap map[string]Handler

// Handler returns the named handler.
func (m HandlerMap) Handler(name string) (Handler, bool) {
	h, ok := m[name]
	return h, ok
}

// Engine runs messages through the pipeline. It is safe for concurrent use.
type Engine struct {
	db     storage.DB
	cfg    Config
	log    *slog.Logger
	defs   atomic.Pointer[Definitions]
	rows   *tables.Rows
	shares *tables.Shares
}

var _ Service = (*Engine)(nil)

// New returns an engine on db with empty definitions.
func New(db storage.DB, cfg Config) *Engine {
	cfg = cfg.WithDefaults()
	e := &Engine{db: db, cfg: cfg, log: cfg.Logger.With("component", "pipeline"), rows: tables.NewRows(db.Dialect()), shares: tables.NewShares()}
	empty, _ := NewDefinitions(nil, nil, nil)
	e.defs.Store(empty)
	return e
}

// Definitions returns the definitions messages run on now.
func (e *Engine) Definitions() *Definitions { return e.defs.Load() }

// SetDefinitions swaps the definitions; messages already running finish on
// the old ones.
func (e *Engine) SetDefinitions(d *Definitions) { e.defs.Store(d) }

// DB returns the engine's database.
func (e *Engine) DB() storage.DB { return e.db }

// Execute runs a message from outside the engine (depth 1).
func (e *Engine) Execute(ctx context.Context, req Request) (Response, error) {
	if req.CorrelationID == uuid.Nil {
		req.CorrelationID = newID()
	}
	if req.RequestID == uuid.Nil {
		req.RequestID = newID()
	}
	if req.Caller.InitiatingUserID == uuid.Nil {
		req.Caller.InitiatingUserID = req.Caller.UserID
	}
	depth := 1
	if req.Cause != nil {
		depth = req.Cause.Depth + 1
	}
	c := &call{req: req, depth: depth, defs: e.defs.Load()}
	if req.Cause != nil {
		c.parentEvent = req.Cause.EventID
	}
	return e.run(ctx, c)
}

// call is one message's run: the request, where it runs (depth, the
// transaction of the message that executed it, if any) and what it found.
type call struct {
	req   Request
	depth int
	defs  *Definitions
	// tx is the transaction of the outermost message, nil until it begins.
	tx storage.Tx
	// parentEvent is the event id of the message whose handler executed
	// this one: the causation of this one's event.
	parentEvent uuid.UUID
}

// boundService executes messages from a handler: in the same transaction,
// one level deeper.
type boundService struct {
	e      *Engine
	parent *call
	event  uuid.UUID
}

func (s *boundService) Execute(ctx context.Context, req Request) (Response, error) {
	p := s.parent
	if req.Caller.UserID == uuid.Nil {
		req.Caller = p.req.Caller
	}
	if req.Caller.InitiatingUserID == uuid.Nil {
		req.Caller.InitiatingUserID = p.req.Caller.InitiatingUserID
	}
	req.CorrelationID = p.req.CorrelationID
	req.RequestID = p.req.RequestID
	req.IdempotencyKey = ""
	return s.e.run(ctx, &call{req: req, depth: p.depth + 1, defs: p.defs, tx: p.tx, parentEvent: s.event})
}

func (e *Engine) run(ctx context.Context, c *call) (Response, error) {
	if c.depth > e.cfg.MaxDepth {
		return Response{}, errorf(errcode.DepthExceeded,
			"message %s at depth %d: handlers executed messages deeper than the limit of %d; this looks like a loop", c.req.Message, c.depth, e.cfg.MaxDepth)
	}
	m, err := e.resolve(c)
	if err != nil {
		return Response{}, err
	}
	return m.run(ctx)
}

// newID makes a time-ordered UUID (version 7), so ids sort by creation.
func newID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.New()
	}
	return id
}

// safeHandle runs a handler, turning a panic into an error.
func safeHandle(ctx context.Context, h Handler, ex *Execution) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return h.Handle(ctx, ex)
}

var errNoHandler = errors.New("no such handler")

// TableByPlural returns a table of the current definitions by plural name.
func (e *Engine) TableByPlural(name string) (*tables.Table, bool) {
	return e.defs.Load().TableByPlural(name)
}

// Table returns a table of the current definitions by logical name.
func (e *Engine) Table(name string) (*tables.Table, bool) {
	return e.defs.Load().Table(name)
}

// Shares returns the shares of a row of a table, by principal: what
// GrantAccess and ModifyAccess gave and RevokeAccess did not take back.
func (e *Engine) Shares(ctx context.Context, table string, id uuid.UUID) ([]tables.Share, error) {
	return e.shares.List(ctx, e.db, table, id)
}

// CustomAPI returns a custom API of the current definitions.
func (e *Engine) CustomAPI(name string) (*customapi.API, bool) {
	return e.defs.Load().CustomAPI(name)
}
