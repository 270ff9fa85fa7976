package plugins

import (
	"fmt"
	"strings"

	"github.com/bizevents/bizevents/engine/errcode"
)

// Kind says how a plugin call went wrong, beyond a handler's own failure.
type Kind string

// The kinds of a [PluginError].
const (
	// KindTimeout: the call ran past its deadline and was stopped.
	KindTimeout Kind = "timeout"
	// KindCanceled: the caller canceled the call.
	KindCanceled Kind = "canceled"
	// KindOutOfMemory: the plugin hit the memory limit.
	KindOutOfMemory Kind = "out_of_memory"
	// KindPanic: the guest's runtime died (a Go panic, a fatal error).
	KindPanic Kind = "panic"
	// KindTrap: the wasm code trapped (unreachable, out-of-bounds memory
	// access, division by zero, stack overflow).
	KindTrap Kind = "trap"
	// KindExit: the plugin exited (proc_exit) in the middle of a call.
	KindExit Kind = "exit"
	// KindHostCalls: the call used up its host call budget.
	KindHostCalls Kind = "host_call_budget"
	// KindABI: the plugin broke the ABI (a bad result, a pointer outside
	// its memory).
	KindABI Kind = "abi_violation"
	// KindInstantiate: an instance could not be created (its _initialize
	// failed or ran out of memory).
	KindInstantiate Kind = "instantiate"
	// KindClosed: the module was closed.
	KindClosed Kind = "closed"
)

// PluginError is a plugin call that failed other than by the handler's
// own choice: it trapped, panicked, ran out of memory or time, or broke
// the ABI. The instance it ran on is discarded; the process, the module
// and other calls are unaffected. Its code is handler_failed (canceled
// when the caller canceled), so the message rolls back and the caller
// sees Error's text.
type PluginError struct {
	Module  string
	Hash    string
	Handler string
	Kind    Kind
	// Message says what happened, in one line.
	Message string
	// Trace is the end of what the plugin wrote in the call.
	Trace []string
	// Err is the runtime's error, with its wasm stack trace.
	Err error
}

func (e *PluginError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plugin %s/%s (%s): %s", e.Module, e.Handler, shortHash(e.Hash), e.Message)
	if len(e.Trace) > 0 {
		b.WriteString("; trace ends: ")
		b.WriteString(strings.Join(e.Trace, " | "))
	}
	return b.String()
}

// Unwrap returns the runtime's error.
func (e *PluginError) Unwrap() error { return e.Err }

// ErrorCode is handler_failed, or canceled for a call the caller canceled.
func (e *PluginError) ErrorCode() errcode.Code {
	if e.Kind == KindCanceled {
		return errcode.Canceled
	}
	return errcode.HandlerFailed
}

// LoadError is a module that cannot be loaded: not WebAssembly, not built
// for this ABI, or importing what a plugin may not. It lists every
// problem.
type LoadError struct {
	Module   string
	Hash     string
	Problems []string
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("plugin module %s (%s): %s", e.Module, shortHash(e.Hash), strings.Join(e.Problems, "; "))
}

// ErrorCode is invalid_argument.
func (e *LoadError) ErrorCode() errcode.Code { return errcode.InvalidArgument }

// execError is an execute that failed before reaching the engine (a
// malformed request), with a code for the guest.
type execError struct {
	code errcode.Code
	msg  string
}

func (e *execError) Error() string           { return e.msg }
func (e *execError) ErrorCode() errcode.Code { return e.code }

func shortHash(h string) string {
	if len(h) > 12 {
		return "sha256:" + h[:12]
	}
	return "sha256:" + h
}
