// Package sdk is what a bizevents plugin author writes against, in Go: an
// ordinary function per handler, registered by name, built with the
// standard toolchain into a WebAssembly module that the engine runs in a
// sandbox, inside the stage its step is registered on.
//
//	package main
//
//	import sdk "github.com/bizevents/bizevents/sdk/go"
//
//	func init() { sdk.Register("ValidatePurchase", validatePurchase) }
//
//	func validatePurchase(ctx *sdk.Context) error {
//		amount, err := ctx.InputDecimal("Amount")
//		if err != nil {
//			return err
//		}
//		if amount.Sign() < 0 {
//			return sdk.Fail("the amount %s is negative", amount)
//		}
//		return nil
//	}
//
//	func main() {}
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o contoso_validation.wasm
//
// and register a step with handler "contoso_validation/ValidatePurchase".
// The module is a reactor: its init functions run once per instance, its
// main never runs, so Register belongs in init.
//
// The package owns the module's exports (bizevents_handle and the ABI
// marker) and wraps the host functions of sdk/ABI.md. Reading the context
// is pulled field by field (ctx.InputDecimal asks the host for that one
// parameter), so a handler pays for what it reads; values are small JSON
// texts read without reflection. Decimals and money are [Decimal]s, exact;
// GUIDs are strings; lookups and entity references are [Reference]s; times
// are time.Time. The guest's clock reads the message's operation time, and
// it has no file system, network or environment.
//
// A handler fails its message by returning an error: [Fail] for a message
// meant for the caller, or the *[Error] the organization service returned,
// which keeps the engine's code (depth_exceeded, invalid_value, ...). A
// panic, a trap, running out of memory or past the deadline fails the
// message too, with the host's description and the plugin's trace.
package sdk
