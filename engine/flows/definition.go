package flows

import "github.com/bizevents/bizevents/engine/jobs"

// Def is a flow as written in a solution file (the flows: section, checked
// by schemas/solution-file.schema.json): a trigger, variables, and the
// actions that run, in order, for each event the trigger accepts.
type Def struct {
	// Name is unique across the imported solutions, e.g.
	// contoso_purchase_totals. It names the flow's subscriber
	// ("flow:<name>") and its runs.
	Name        string `json:"name" yaml:"name"`
	DisplayName string `json:"displayName,omitempty" yaml:"displayName"`
	Description string `json:"description,omitempty" yaml:"description"`
	// Disabled keeps the flow defined but stops new runs; for a
	// flow-defined action it makes the action refuse calls.
	Disabled bool `json:"disabled,omitempty" yaml:"disabled"`

	Trigger TriggerDef `json:"trigger" yaml:"trigger"`
	// Variables are declared with a type and an initial value, as Power
	// Automate's "Initialize variable"; SetVariable and AppendVariable
	// change them.
	Variables []VariableDef `json:"variables,omitempty" yaml:"variables"`
	Actions   []ActionDef   `json:"actions" yaml:"actions"`

	// Retry is the run's retry policy when an attempt fails in a way a
	// retry may fix (the engine stopped, the log could not be written): the
	// next attempt resumes where the run was. Default: 5 attempts.
	Retry *RetryDef `json:"retry,omitempty" yaml:"retry"`
	// Ordered runs the runs of one row (stream) one at a time, in log order.
	Ordered bool `json:"ordered,omitempty" yaml:"ordered"`
	// OrderBy is an expression on the trigger whose value runs the runs one
	// at a time, in log order, per value instead of per stream: a custom
	// API's events are each a stream of their own, so a flow that reads
	// and writes the customer they name orders by it
	// (trigger.InputParameters.CustomerId). It implies Ordered.
	OrderBy string `json:"orderBy,omitempty" yaml:"orderBy"`
}

// TriggerDef says which events start a run: exactly one of Action, Table,
// Schedule and Request, and an optional Filter.
type TriggerDef struct {
	// Action is "when an action is performed": a catalogued event.
	Action *ActionTriggerDef `json:"action,omitempty" yaml:"action"`
	// Table is a change to a table's rows.
	Table *TableTriggerDef `json:"table,omitempty" yaml:"table"`
	// Schedule is a recurrence.
	Schedule *ScheduleTriggerDef `json:"schedule,omitempty" yaml:"schedule"`
	// Request makes the flow a flow-defined action: a custom API whose main
	// operation is the flow, run inside the caller's transaction.
	Request *RequestTriggerDef `json:"request,omitempty" yaml:"request"`
	// Filter is an expr-lang condition on the trigger (a trigger
	// condition): an event it is false for starts no run.
	Filter string `json:"filter,omitempty" yaml:"filter"`
}

// ActionTriggerDef selects catalogued events as Power Automate's Dataverse
// trigger "When an action is performed" does: a catalog, optionally a
// category and a table, and the action (event) name, e.g.
// contoso_CustomerPurchase or contact.Create.
type ActionTriggerDef struct {
	Catalog  string `json:"catalog" yaml:"catalog"`
	Category string `json:"category,omitempty" yaml:"category"`
	Table    string `json:"table,omitempty" yaml:"table"`
	Action   string `json:"action" yaml:"action"`
}

// TableTriggerDef selects changes to a table's rows: the messages (Create,
// Update, Delete; all three when empty) and, for Update, the filtering
// columns, one of which must be set by the update.
type TableTriggerDef struct {
	Name     string   `json:"name" yaml:"name"`
	Messages []string `json:"messages,omitempty" yaml:"messages"`
	Columns  []string `json:"columns,omitempty" yaml:"columns"`
}

// ScheduleTriggerDef is a recurrence: a run every Every (a Go duration, at
// least a second), counted from Start (RFC 3339; default the Unix epoch),
// so that every engine process agrees on the ticks.
type ScheduleTriggerDef struct {
	Every string `json:"every" yaml:"every"`
	Start string `json:"start,omitempty" yaml:"start"`
}

// RequestTriggerDef defines the custom API a flow-defined action is: its
// request parameters and response properties are typed as a custom API's,
// and the flow's Response action fills the response.
type RequestTriggerDef struct {
	// UniqueName names the custom API, e.g. contoso_AwardPoints.
	UniqueName  string `json:"uniqueName" yaml:"uniqueName"`
	DisplayName string `json:"displayName,omitempty" yaml:"displayName"`
	Description string `json:"description,omitempty" yaml:"description"`
	// RequestParameters and ResponseProperties are as a custom API's.
	RequestParameters  []ParameterDef `json:"requestParameters,omitempty" yaml:"requestParameters"`
	ResponseProperties []ParameterDef `json:"responseProperties,omitempty" yaml:"responseProperties"`
}

// ParameterDef is a request parameter or response property of a
// flow-defined action.
type ParameterDef struct {
	UniqueName  string `json:"uniqueName" yaml:"uniqueName"`
	DisplayName string `json:"displayName,omitempty" yaml:"displayName"`
	Description string `json:"description,omitempty" yaml:"description"`
	Type        string `json:"type" yaml:"type"`
	Table       string `json:"table,omitempty" yaml:"table"`
	Optional    bool   `json:"optional,omitempty" yaml:"optional"`
}

// VariableDef declares a variable: string, integer, float, boolean, array
// or object, and its initial value (a literal, or an "=" expression on the
// trigger); without one it starts null.
type VariableDef struct {
	Name  string `json:"name" yaml:"name"`
	Type  string `json:"type" yaml:"type"`
	Value any    `json:"value,omitempty" yaml:"value"`
}

// ActionDef is one action: a name unique in the flow, what runs after what
// (RunAfter), and exactly one kind.
//
// Values: a string that starts with "=" is an expr-lang expression (write
// "==" for a literal string that starts with "="); any other value is a
// literal; maps and lists are walked, so an expression may sit at any depth
// of a body or a Target.
type ActionDef struct {
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description"`
	// RunAfter lists the statuses of the action before this one (in the
	// same block) that let this one run: succeeded, failed, skipped,
	// timedOut. Default [succeeded]. The first action of a block runs when
	// its block runs.
	RunAfter []string `json:"runAfter,omitempty" yaml:"runAfter"`
	// Timeout bounds one attempt of the action (a Go duration); an action
	// that runs over it is timedOut.
	Timeout string `json:"timeout,omitempty" yaml:"timeout"`
	// Retry is the policy of Execute and HTTP actions for failures a retry
	// may fix. Default: 4 attempts, 1s, 2s, 4s apart; an HTTP 429's or
	// 503's Retry-After is honoured.
	Retry *RetryDef `json:"retry,omitempty" yaml:"retry"`

	Execute        *ExecuteDef   `json:"execute,omitempty" yaml:"execute"`
	HTTP           *HTTPDef      `json:"http,omitempty" yaml:"http"`
	SetVariable    *SetDef       `json:"setVariable,omitempty" yaml:"setVariable"`
	AppendVariable *SetDef       `json:"appendVariable,omitempty" yaml:"appendVariable"`
	Compose        *ComposeDef   `json:"compose,omitempty" yaml:"compose"`
	Condition      *ConditionDef `json:"condition,omitempty" yaml:"condition"`
	Switch         *SwitchDef    `json:"switch,omitempty" yaml:"switch"`
	ForEach        *ForEachDef   `json:"forEach,omitempty" yaml:"forEach"`
	Delay          *DelayDef     `json:"delay,omitempty" yaml:"delay"`
	Terminate      *TerminateDef `json:"terminate,omitempty" yaml:"terminate"`
	Scope          *ScopeDef     `json:"scope,omitempty" yaml:"scope"`
	Response       *ResponseDef  `json:"response,omitempty" yaml:"response"`
}

// RetryDef is a retry policy; durations are Go durations.
type RetryDef = jobs.RetryDef

// ExecuteDef runs a message through the pipeline, as a plugin's
// organization service call does: a table message (Create, Retrieve,
// RetrieveMultiple, Update, Delete, Assign) or a custom API.
type ExecuteDef struct {
	Message string `json:"message" yaml:"message"`
	Table   string `json:"table,omitempty" yaml:"table"`
	// ID is the row of Retrieve, Update, Delete, Assign and a Table-bound
	// custom API.
	ID any `json:"id,omitempty" yaml:"id"`
	// Target holds the columns of Create and Update.
	Target map[string]any `json:"target,omitempty" yaml:"target"`
	// Parameters are a custom API's request parameters.
	Parameters map[string]any `json:"parameters,omitempty" yaml:"parameters"`
	// Columns limits what Retrieve returns.
	Columns []string `json:"columns,omitempty" yaml:"columns"`
	// Filter and Top are RetrieveMultiple's query: Filter is an OData
	// $filter (emailaddress1 eq 'a@b.com'), which an expression may build.
	Filter any `json:"filter,omitempty" yaml:"filter"`
	Top    int `json:"top,omitempty" yaml:"top"`
	// Owner is Assign's new owner.
	Owner any `json:"owner,omitempty" yaml:"owner"`
}

// HTTPDef is an HTTP request.
type HTTPDef struct {
	Method  string         `json:"method,omitempty" yaml:"method"`
	URL     any            `json:"url" yaml:"url"`
	Headers map[string]any `json:"headers,omitempty" yaml:"headers"`
	Query   map[string]any `json:"query,omitempty" yaml:"query"`
	Body    any            `json:"body,omitempty" yaml:"body"`
	Auth    *HTTPAuthDef   `json:"auth,omitempty" yaml:"auth"`
	// Accept lists the statuses that succeed; default any 2xx.
	Accept []int `json:"accept,omitempty" yaml:"accept"`
}

// HTTPAuthDef authenticates an HTTP action: basic (Name is the user,
// Value the password), bearer (Value is the token) or header (Name: Value).
// Values written env:NAME are read from the server's environment when the
// request is made.
type HTTPAuthDef struct {
	Type  string `json:"type" yaml:"type"`
	Name  string `json:"name,omitempty" yaml:"name"`
	Value string `json:"value,omitempty" yaml:"value"`
}

// SetDef sets a variable, or appends to an array or string variable.
type SetDef struct {
	Name  string `json:"name" yaml:"name"`
	Value any    `json:"value" yaml:"value"`
}

// ComposeDef makes a value, the action's output.
type ComposeDef struct {
	Value any `json:"value" yaml:"value"`
}

// ConditionDef runs Then when If holds, else Else.
type ConditionDef struct {
	If   string      `json:"if" yaml:"if"`
	Then []ActionDef `json:"then,omitempty" yaml:"then"`
	Else []ActionDef `json:"else,omitempty" yaml:"else"`
}

// SwitchDef runs the actions of the first case whose value equals On, or
// Default.
type SwitchDef struct {
	On      string      `json:"on" yaml:"on"`
	Cases   []CaseDef   `json:"cases" yaml:"cases"`
	Default []ActionDef `json:"default,omitempty" yaml:"default"`
}

// CaseDef is one case of a switch: a literal value.
type CaseDef struct {
	Value   any         `json:"value" yaml:"value"`
	Actions []ActionDef `json:"actions" yaml:"actions"`
}

// ForEachDef runs Actions once per element of Items (an expression giving
// a list), item holding the element; at most Concurrency at a time
// (default 1: in order). A loop with a concurrency above 1 may not set
// variables.
type ForEachDef struct {
	Items       string      `json:"items" yaml:"items"`
	Concurrency int         `json:"concurrency,omitempty" yaml:"concurrency"`
	Actions     []ActionDef `json:"actions" yaml:"actions"`
}

// DelayDef waits For (a Go duration) or Until (an expression giving a
// time). A long wait does not hold a worker: the run is put aside and
// resumes when it is due.
type DelayDef struct {
	For   string `json:"for,omitempty" yaml:"for"`
	Until string `json:"until,omitempty" yaml:"until"`
}

// TerminateDef ends the run: succeeded, failed or canceled, with a code and
// a message for a failure.
type TerminateDef struct {
	Status  string `json:"status" yaml:"status"`
	Code    string `json:"code,omitempty" yaml:"code"`
	Message any    `json:"message,omitempty" yaml:"message"`
}

// ScopeDef groups actions: its status is theirs, so that an action after
// it with runAfter [failed, timedOut] handles any of their failures.
type ScopeDef struct {
	Actions []ActionDef `json:"actions" yaml:"actions"`
}

// ResponseDef sets a flow-defined action's response properties.
type ResponseDef struct {
	Properties map[string]any `json:"properties" yaml:"properties"`
}
