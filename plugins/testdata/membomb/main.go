// Command membomb allocates until it dies.
package main

import sdk "github.com/bizevents/bizevents/sdk/go"

var keep [][]byte

func init() {
	sdk.Register("Bomb", func(*sdk.Context) error {
		for {
			keep = append(keep, make([]byte, 8<<20))
		}
	})
	sdk.Register("Small", func(ctx *sdk.Context) error { return ctx.SetOutput("ok", true) })
}

func main() {}
