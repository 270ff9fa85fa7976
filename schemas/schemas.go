// Package schemas holds the JSON Schemas (draft 2020-12) of the files
// bizevents reads, embedded so that the engine validates against exactly
// the schemas editors see:
//
//	solution.schema.json       solution.yaml, a solution's manifest
//	solution-file.schema.json  every other YAML file of a solution folder:
//	                           one of tables, customApis, steps, plugins,
//	                           endpoints, inputs, catalogs, flows
//	flow.schema.json           one flow, an item of a flows: file: its
//	                           trigger, variables and actions
//	execution-context.schema.json
//	                           the execution context every subscriber receives
//	                           (Dataverse's RemoteExecutionContext)
//	cloudevent.schema.json     the CloudEvents 1.0 envelope of a delivery in
//	                           structured mode, around an execution context
//
// Editors running yaml-language-server complete and check a solution file
// when it starts with a modeline such as
//
//	# yaml-language-server: $schema=../../schemas/solution-file.schema.json
//
// Why one schema for all definition files rather than one per kind: a file
// is recognised by its single top-level key, not by its name, so one
// schema with one property per kind lets an editor complete the key itself
// and lets a new kind (catalogs, flows, endpoints, roles) be one new
// property and one new $defs entry.
//
// Why flows have a file of their own: a flow is a tree of actions of a
// dozen kinds, about as large as every other kind together; kept apart it
// reads on its own, and an editor can check a single flow against it.
// The two files refer to each other by relative $ref (a flows: item, and
// names and parameters), resolved against [BaseURL], so a validator adds
// every file of [FS] as a resource under BaseURL and its name before
// compiling.
package schemas

import (
	"embed"
	"io/fs"
)

// The schema files, by name in [FS].
const (
	Solution     = "solution.schema.json"
	SolutionFile = "solution-file.schema.json"
	// Flow is one flow of a flows: file; SolutionFile refers to it, and it
	// to SolutionFile's $defs, so a validator adds both as resources.
	Flow = "flow.schema.json"
	// ExecutionContext is what every subscriber receives; CloudEvent its
	// CloudEvents 1.0 envelope (package endpoints).
	ExecutionContext = "execution-context.schema.json"
	CloudEvent       = "cloudevent.schema.json"
)

// BaseURL is the URL the schemas' $id values start with; a schema's $id is
// BaseURL followed by its file name.
const BaseURL = "https://github.com/bizevents/bizevents/raw/main/schemas/"

//go:embed *.schema.json
var files embed.FS

// FS returns the schema files, each at the root of the file system by its
// name (see [Solution] and [SolutionFile]).
func FS() fs.FS { return files }
