// Command flood writes far more trace than a call keeps.
package main

import (
	"fmt"
	"os"
	"strings"

	sdk "github.com/bizevents/bizevents/sdk/go"
)

func init() {
	sdk.Register("Flood", func(ctx *sdk.Context) error {
		long := strings.Repeat("x", 10_000)
		for i := range 20_000 {
			ctx.Trace("line %d", i)
		}
		ctx.Trace("%s", long)
		for i := range 2_000 {
			fmt.Println("stdout line", i)
			fmt.Fprintln(os.Stderr, "stderr line", i)
		}
		return nil
	})
	sdk.Register("Few", func(ctx *sdk.Context) error {
		ctx.Trace("one")
		fmt.Print("two\nthree")
		fmt.Fprintln(os.Stderr, "four")
		return nil
	})
}

func main() {}
