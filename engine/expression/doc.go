// Package expression holds typed expr-lang programs whose environment is
// known at import: compile once, evaluate many times with a budget.
//
// Flows use it for trigger filters, conditions and mappings. [NewEnv] builds
// the environment from declared [Type]s (a struct type made with
// reflect.StructOf, so that a misspelled field at any depth of an Object
// fails at [Env.Compile], with its line and column); [Env.Values] converts
// one evaluation's decoded JSON to that struct; [Program.Run] and
// [Program.RunBool] evaluate it within [Limits] and return JSON-shaped
// results.
//
// # Language
//
// The language is expr's (https://expr-lang.org), minus $env and names
// starting with $, plus these functions:
//
//	now()                 the evaluation's instant, UTC; one value per Run
//	coalesce(a, b, ...)   the first argument that is not nil
//	addDays(t, n)         t plus n calendar days
//	addMonths(t, n)       t plus n calendar months
//	startOfDay(t)         midnight of t's day, in t's zone
//	daysBetween(a, b)     whole days from a to b
//	roundTo(x, digits)    x rounded half away from zero
//
// Times compare with < <= > >= == !=, subtract to a duration, and add
// durations: trigger.CreatedOn + duration("24h") < now(). date("2026-01-02")
// and friends parse in UTC unless given a zone.
//
// # Determinism
//
// Everything is deterministic except now(), which reads the clock once per
// Run (Limits.Now replaces the clock, e.g. to replay a run).
//
// # Why a budget and no goroutine
//
// expr's VM cannot be preempted, and running it in a goroutine that is
// abandoned at a deadline would leave it burning CPU and memory. So Compile
// patches the program: every loop body first calls a step counter that
// also checks the time limit and the context, and string concatenation is
// charged to a byte budget; expr's VM counts arrays, maps and ranges
// against its memory budget. What stays unbounded is listed on [Limits].
package expression
