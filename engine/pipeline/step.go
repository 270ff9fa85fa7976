package pipeline

import (
	"errors"
	"fmt"
	"slices"
)

// Stage is where in the pipeline a step runs. The numbers are Dataverse's.
type Stage int

// The stages.
const (
	PreValidation Stage = 10 // before the transaction; sync only
	PreOperation  Stage = 20 // in the transaction, before the main operation; may change the Target
	MainOperation Stage = 30 // a custom API's handler; not a place for steps
	PostOperation Stage = 40 // in the transaction, after the main operation; async steps run after commit
)

func (s Stage) String() string {
	switch s {
	case PreValidation:
		return "PreValidation"
	case PreOperation:
		return "PreOperation"
	case MainOperation:
		return "MainOperation"
	case PostOperation:
		return "PostOperation"
	}
	return fmt.Sprintf("Stage(%d)", int(s))
}

// Mode says whether a step runs in the caller's request or after commit.
type Mode string

// The modes.
const (
	Sync  Mode = "sync"
	Async Mode = "async"
)

// The built-in messages on tables.
const (
	Create           = "Create"
	Retrieve         = "Retrieve"
	RetrieveMultiple = "RetrieveMultiple"
	Update           = "Update"
	Delete           = "Delete"
	Assign           = "Assign"
	// GrantAccess shares a row of a user-owned table with a principal (a
	// user), adding access rights to those it has; ModifyAccess replaces
	// them; RevokeAccess removes the principal's share.
	GrantAccess  = "GrantAccess"
	ModifyAccess = "ModifyAccess"
	RevokeAccess = "RevokeAccess"
)

// TableMessages lists the built-in table messages.
var TableMessages = []string{Create, Retrieve, RetrieveMultiple, Update, Delete, Assign, GrantAccess, ModifyAccess, RevokeAccess}

// IsTableMessage reports whether name is a built-in table message.
func IsTableMessage(name string) bool { return slices.Contains(TableMessages, name) }

// IsShareMessage reports whether name is GrantAccess, ModifyAccess or
// RevokeAccess: a message that changes a row's shares, not its values.
func IsShareMessage(name string) bool {
	return name == GrantAccess || name == ModifyAccess || name == RevokeAccess
}

// OwnerMessage reports whether a message applies to user-owned tables
// only: Assign and the share messages, since an organization-owned row has
// no owner and is not shared.
func OwnerMessage(name string) bool { return name == Assign || IsShareMessage(name) }

// Step registers a handler on a message.
type Step struct {
	// Name identifies the step within its solution.
	Name        string
	Description string
	// Message is a table message (Create, Update, ...) or a custom API's
	// unique name.
	Message string
	// Table is the table of a table message; for a custom API, its bound
	// table (optional).
	Table string
	Stage Stage
	Mode  Mode
	// Rank orders the steps of a stage: lower first, then by Name.
	Rank int
	// FilteringColumns makes an Update step run only when one of them is in
	// the Target; empty runs it on every Update.
	FilteringColumns []string
	// PreImages and PostImages are the row before and after the operation,
	// with the named columns, given to the handler.
	PreImages, PostImages []Image
	// Handler names the handler: a Go handler registered in code or a
	// plugin module's export. Exactly one of Handler and Endpoint is set.
	Handler string
	// Endpoint names the service endpoint an async step delivers to.
	Endpoint string
	// Config and SecureConfig are passed to the handler as they are.
	Config, SecureConfig string
	Disabled             bool
}

// Image is a snapshot of the row given to a step.
type Image struct {
	Name string
	// Columns lists the columns to include; empty includes all.
	Columns []string
}

// Validate reports every problem of a step definition that needs no other
// definition to see.
func (s *Step) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("step %s: "+format, append([]any{s.Name}, args...)...))
	}
	if s.Name == "" {
		bad("a step needs a name")
	}
	if s.Message == "" {
		bad("a step needs a message")
	}
	switch s.Stage {
	case PreValidation, PreOperation, PostOperation:
	case MainOperation:
		bad("stage 30 is the main operation; give a custom API its handler instead")
	default:
		bad("stage %d must be 10 (PreValidation), 20 (PreOperation) or 40 (PostOperation)", int(s.Stage))
	}
	switch s.Mode {
	case Sync:
		if s.Endpoint != "" {
			bad("an endpoint step must be async")
		}
	case Async:
		if s.Stage != PostOperation {
			bad("an async step must be on stage 40 (PostOperation)")
		}
	default:
		bad("mode %q must be sync or async", s.Mode)
	}
	if (s.Handler == "") == (s.Endpoint == "") {
		bad("set exactly one of handler and endpoint")
	}
	if len(s.FilteringColumns) > 0 && s.Message != Update {
		bad("filtering columns apply to Update steps only")
	}
	if len(s.PreImages) > 0 && (s.Message == Create || s.Message == Retrieve || s.Message == RetrieveMultiple) {
		bad("a %s has no row before it, so no pre image", s.Message)
	}
	if len(s.PostImages) > 0 && (s.Message == Delete || s.Message == Retrieve || s.Message == RetrieveMultiple) {
		bad("a %s has no row after it, so no post image", s.Message)
	}
	if len(s.PostImages) > 0 && IsShareMessage(s.Message) {
		bad("a %s changes the row's shares, not its columns, so it has no post image; a pre image has the row", s.Message)
	}
	if len(s.PostImages) > 0 && s.Stage != PostOperation {
		bad("post images exist on stage 40 (PostOperation) only")
	}
	for _, im := range append(slices.Clone(s.PreImages), s.PostImages...) {
		if im.Name == "" {
			bad("an image needs a name")
		}
	}
	return errors.Join(errs...)
}
