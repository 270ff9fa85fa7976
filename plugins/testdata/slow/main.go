// Command slow answers with its version after a pause; built twice with
// different versions for the module swap test.
package main

import (
	"time"

	sdk "github.com/bizevents/bizevents/sdk/go"
)

var version = "1"

func init() {
	sdk.Register("Version", func(ctx *sdk.Context) error {
		if ms, err := ctx.InputInt("PauseMillis"); err == nil && ms > 0 {
			start := time.Now()
			for time.Since(start) < time.Duration(ms)*time.Millisecond {
			}
		}
		return ctx.SetOutput("version", version)
	})
}

func main() {}
