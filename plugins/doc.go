// Package plugins is the WebAssembly plugin host: it loads plugin modules
// (written with sdk/go or anything that speaks sdk/ABI.md), runs their
// handlers as pipeline steps and main operations, and keeps them in a
// sandbox.
//
// The parts:
//
//   - [Runtime]: one wazero runtime in compiled mode with a compilation
//     cache on disk, the host functions of module bizevents_v1, and WASI
//     preview 1 without files, network, environment or arguments.
//   - [Module]: a module loaded by content hash (SHA-256) and checked
//     against the ABI at Load: its marker export, its handle export, and
//     imports from bizevents_v1 and WASI only. A module keeps a pool of
//     instances; an instance runs one call at a time and is discarded
//     after a call that trapped, panicked, ran out of memory, ran past
//     its deadline or broke the ABI.
//   - [Registry]: module names to current modules, and the pipeline's
//     Handlers for "module/handler" names. Loading a new version swaps it
//     in; calls in flight finish on the old one.
//   - [Handler]: a module's handler as a pipeline.Handler.
//   - Traces: what a call wrote (trace lines, stdout, stderr), capped, in
//     each [Result] and handed to a [TraceSink].
//
// # Limits
//
// Each instance has a memory cap (Config.MemoryLimitPages); each call a
// deadline (SyncTimeout or AsyncTimeout, by the step's mode), enforced by
// wazero closing the instance when the context is done; a budget of host
// calls; caps on trace lines and bytes; a size limit on values crossing
// the boundary. The guest's wall clock reads the message's operation
// time. A plugin that loops, traps or exhausts its memory fails its own
// call with a *PluginError, never the process or another call.
//
// # Errors
//
// A handler that fails on purpose (sdk.Fail, fail()) fails its message
// with code handler_failed and its own message, as pipeline.Fail does. A
// handler that returns the error of a message it executed passes that
// error on, with its code (depth_exceeded, invalid_value, ...). Anything
// else is a *PluginError, code handler_failed, naming the module, the
// handler, what happened and the end of the trace.
package plugins
