// Package pipeline runs a message through its stages, as DESIGN.md's "path of
// one message" describes: PreValidation steps outside the transaction, then in
// one transaction the PreOperation steps, the main operation (a table write or
// a custom API's handler), the PostOperation steps and the append of the
// message's event to the log. A failure anywhere rolls everything back and the
// caller gets the failing step's message and code.
//
// Handlers are behind the [Handler] interface: Go functions registered in
// code, and WASM plugins (package plugins) alike. A handler may execute further
// messages through its [Execution]'s Service: they run the whole pipeline
// again, in the same transaction, one level deeper.
package pipeline
