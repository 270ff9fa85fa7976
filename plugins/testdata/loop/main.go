// Command loop never returns.
package main

import sdk "github.com/bizevents/bizevents/sdk/go"

var sink int

func init() {
	sdk.Register("Forever", func(*sdk.Context) error {
		for i := 0; ; i++ {
			sink += i
		}
	})
	sdk.Register("Sleep", func(*sdk.Context) error {
		select {} // blocks every goroutine: the Go runtime reports a deadlock
	})
	sdk.Register("Quick", func(ctx *sdk.Context) error { return ctx.SetOutput("ok", true) })
}

func main() {}
