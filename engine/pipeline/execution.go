package pipeline

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/tables"
)

// Handler runs a step, or a custom API's main operation. It reads and
// changes the Execution; an error fails the message (a sync step's, or the
// main operation's) and rolls it back: a *StepError keeps its code and
// message for the caller, any other error is reported as a plugin failure.
type Handler interface {
	Handle(ctx context.Context, ex *Execution) error
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, ex *Execution) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, ex *Execution) error { return f(ctx, ex) }

// Caller is who sends a message.
type Caller struct {
	// UserID is the user the message runs as.
	UserID uuid.UUID
	// InitiatingUserID is the user who started the chain of messages: the
	// same as UserID unless a step impersonates another user.
	InitiatingUserID uuid.UUID
}

// Request is a message sent to the engine.
type Request struct {
	// Message is a table message (Create, Retrieve, ...) or a custom API's
	// unique name.
	Message string
	// Table is the table of a table message, or of a bound custom API.
	Table string
	// ID is the row of Retrieve, Update, Delete, Assign and a Table-bound
	// custom API; on Create, an ID the caller chose (optional).
	ID uuid.UUID
	// Target holds the column values of Create and Update, undecoded JSON
	// values by column; they are checked against the table.
	Target map[string]any
	// Parameters are a custom API's request parameters, undecoded JSON
	// values by name; they are checked against the API.
	Parameters map[string]any
	// Columns limits the columns Retrieve returns; empty returns all.
	Columns []string
	// Query is RetrieveMultiple's query.
	Query *tables.Query
	// Owner is Assign's new owner.
	Owner uuid.UUID
	// Principal is the user GrantAccess and ModifyAccess share the row
	// with, and RevokeAccess takes the share from.
	Principal uuid.UUID
	// AccessRights are the rights GrantAccess adds to the principal's share
	// and ModifyAccess makes it hold; at least one, of
	// tables.ShareableRights. RevokeAccess takes none.
	AccessRights tables.AccessRights
	// ExpectedVersion, when positive, makes Update, Delete and Assign fail
	// with a version conflict unless the row is at that version.
	ExpectedVersion int64

	Caller Caller
	// CorrelationID ties the messages of one business operation together;
	// zero makes a new one.
	CorrelationID uuid.UUID
	// RequestID identifies this request; zero makes a new one.
	RequestID uuid.UUID
	// IdempotencyKey, when set on an action, makes a retry with the same key
	// return the first attempt's response instead of running again.
	IdempotencyKey string
	// Cause, when set, is the committed event that this message follows
	// from outside its transaction (a flow run's trigger): the message runs
	// one level deeper than that event's message and names it as its
	// cause, so that a flow that keeps triggering itself stops at the depth
	// limit like a plugin that does.
	Cause *Cause
}

// Cause is the event a message follows from; see [Request.Cause].
type Cause struct {
	EventID uuid.UUID
	// Depth is the depth of the event's message.
	Depth int
}

// Response is what a message gave back.
type Response struct {
	// ID is the row the message was about (Create's new row).
	ID uuid.UUID
	// Row is Retrieve's row, and Create's and Update's row after the write.
	Row tables.Row
	// Rows and More are RetrieveMultiple's page, and whether more follow.
	Rows []tables.Row
	More bool
	// PageToken continues RetrieveMultiple after this page; empty on the
	// last page.
	PageToken string
	// Output holds a custom API's response properties.
	Output map[string]any
	// Version is the row's version after a write.
	Version int64
	// Position is the log position of the message's event when already
	// sealed, else 0; EventID identifies the event either way.
	Position int64
	EventID  uuid.UUID
	// Replayed is true when an idempotency key matched an earlier request
	// and this response is that request's.
	Replayed bool
}

// Service executes messages: the organization service of Dataverse. The
// engine implements it; an Execution hands handlers one bound to the
// current transaction and depth.
type Service interface {
	Execute(ctx context.Context, req Request) (Response, error)
}

// Execution is the execution context a handler sees and changes.
type Execution struct {
	Message string
	Table   string
	ID      uuid.UUID
	Stage   Stage
	Mode    Mode
	// Depth is 1 for a message from outside, one more for each message a
	// handler executes.
	Depth            int
	UserID           uuid.UUID
	InitiatingUserID uuid.UUID
	CorrelationID    uuid.UUID
	RequestID        uuid.UUID
	OperationTime    time.Time

	// InputParameters holds the checked request: "Target" (a tables.Row for
	// Create and Update, a tables.Reference otherwise) and a custom API's
	// parameters. A PreOperation handler may change the Target.
	//
	// The share messages have Dataverse's parameters: GrantAccess and
	// ModifyAccess "PrincipalAccess", a map with "Principal" (a
	// tables.Reference to a systemuser) and "AccessMask" (a
	// tables.AccessRights); RevokeAccess "Revokee", a tables.Reference to a
	// systemuser. A PreValidation or PreOperation handler may change them;
	// the main operation shares what they hold then.
	InputParameters map[string]any
	// OutputParameters holds the response: "id" after Create, a custom
	// API's response properties.
	OutputParameters map[string]any
	// SharedVariables pass values from step to step of one message.
	SharedVariables map[string]any
	PreImages       map[string]tables.Row
	PostImages      map[string]tables.Row

	// Step is the running step's name, Config and SecureConfig its
	// configuration; empty for a main operation.
	Step         string
	Config       string
	SecureConfig string

	// Service executes further messages in the same transaction, one level
	// deeper. Nil in async steps until the router gives them one.
	Service Service
}

// Target returns the Target row of Create and Update, nil otherwise.
func (ex *Execution) Target() tables.Row {
	r, _ := ex.InputParameters["Target"].(tables.Row)
	return r
}
