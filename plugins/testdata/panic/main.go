// Command panic panics.
package main

import sdk "github.com/bizevents/bizevents/sdk/go"

func init() {
	sdk.Register("Panic", func(ctx *sdk.Context) error {
		ctx.Trace("about to panic")
		panic("boom: the ledger is upside down")
	})
	sdk.Register("Nil", func(ctx *sdk.Context) error {
		var m map[string]*int
		return ctx.SetOutput("v", *m["x"])
	})
	sdk.Register("Quick", func(ctx *sdk.Context) error { return ctx.SetOutput("ok", true) })
}

func main() {}
