// Package flows runs flows: automation written in a solution's YAML files,
// the Power Automate of bizevents. A flow is a trigger, typed variables and
// actions ([Def]; schemas/flow.schema.json checks the files).
//
// # Triggers
//
//   - action: "when an action is performed", a catalogued event (catalog,
//     optionally category and table, and the event), as Power Automate's
//     Dataverse trigger offers;
//   - table: a Create, Update, Delete or Assign of a table's rows, an
//     Update only when one of the filtering columns changed;
//   - schedule: every so often, counted from a start time, each tick an
//     event in the log ([ScheduleEventType]);
//   - request: the flow is a flow-defined action (below).
//
// Each may have a filter, an expr-lang condition on the trigger: an event it
// is false for starts no run.
//
// # Expressions
//
// Conditions and mappings are expr-lang, through package expression. A
// value that is a string starting with "=" is an expression; filter, if,
// on, items and until are expressions as written. Expressions see
//
//	trigger     the trigger event: MessageName, PrimaryEntityName,
//	            PrimaryEntityId, UserId, CorrelationId, EventId, Position,
//	            Time, Depth, InputParameters.<parameter>,
//	            OutputParameters.<property>, and Row (the row after the
//	            change) for a table's events
//	variables   the flow's variables, by name
//	outputs     each action's outputs, by action name: an execute's id,
//	            version, eventId, row, rows, more and output (a custom API's
//	            response); an http's status, headers and body; a compose's
//	            value; a condition's result
//	item        the element of the innermost forEach
//	run         id, flow, attempt
//
// Every expression is compiled once, when the solution is loaded, against
// types built from the catalog and the tables: a misspelled parameter,
// column or action name is an import problem at its file, line and column.
// Evaluation is bounded by a memory budget, a step budget and a time limit.
//
// # Runs
//
// A run is a router job of kind flow (subscriber "flow:<name>"), so it is
// listed, retried and canceled like every job. What it does is recorded in
// the log, in its own stream (flowrun/<run id>): the run started, the
// actions that completed with their inputs, outputs, status, duration and
// attempts, and how it finished. Records are written in batches: before an
// action that reads or changes the world (execute, http, delay) starts, the
// records not written yet are, when one of them is of such an action, and
// the rest with the run's end; so a run with one HTTP request costs one
// append, and a resumed run computes again what only computed. A run whose engine stopped resumes on
// the job's next attempt from its stream, without repeating what it holds;
// an action cut off before it was recorded runs again, with the same
// Idempotency-Key header (HTTP), idempotency key (custom APIs) or row id
// (Create), so that it is recognised. Messages a run executes follow from
// its trigger event, one level deeper: a flow that keeps triggering itself
// stops at the depth limit.
//
// Execute and HTTP actions retry failures a retry may fix per their policy.
// A failed action fails its block unless a later action runs after it
// (runAfter failed); the run fails when its last action that ran failed,
// and its job is then failed, with the failure as its error. A retry of
// the job runs the run again from its first failed action; a resubmit
// ([Resubmit]) starts a new run on the same event. A delay longer than
// Config.InlineDelay snoozes the job until it is due, holding no worker.
//
// # Flow-defined actions
//
// A flow with a request trigger defines a custom API ([RequestAPI]) whose
// main operation is the flow: Dataverse's custom process action. It runs
// inside the caller's transaction, its messages at depth + 1, and its
// response action fills the custom API's response properties; a failure
// fails the message, and nothing is stored. Its run is not a job: the
// message's own event records the call. Disabled, the action refuses calls
// with state_conflict. To make it a plain custom API, move its requestParameters
// and responseProperties into a customApis entry with a handler (a plugin)
// and remove the flow; callers and catalog assignments keep the unique name.
package flows
