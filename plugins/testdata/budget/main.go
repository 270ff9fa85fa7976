// Command budget calls host functions without end.
package main

import sdk "github.com/bizevents/bizevents/sdk/go"

func init() {
	sdk.Register("Spin", func(ctx *sdk.Context) error {
		for {
			_ = ctx.Depth()
		}
	})
}

func main() {}
