// Command trap makes the wasm code trap: a load outside its memory.
package main

import (
	"unsafe"

	sdk "github.com/bizevents/bizevents/sdk/go"
)

var sink byte

func init() {
	sdk.Register("OutOfBounds", func(*sdk.Context) error {
		p := unsafe.Pointer(uintptr(0xfffffff0))
		sink = *(*byte)(p)
		return nil
	})
	sdk.Register("Quick", func(ctx *sdk.Context) error { return ctx.SetOutput("ok", true) })
}

func main() {}
