// Command stamp is a plugin for the tests of bizevents plugin test: its
// handlers change the Target, execute a message and panic.
package main

import sdk "github.com/bizevents/bizevents/sdk/go"

func init() {
	sdk.Register("Stamp", stamp)
	sdk.Register("Execute", execute)
	sdk.Register("Panic", func(*sdk.Context) error { panic("stamp: no stamps left") })
}

// stamp marks the Target row as checked, renames it, and says so in an
// output parameter.
func stamp(ctx *sdk.Context) error {
	name, err := ctx.Target().GetString("name")
	if err != nil {
		return err
	}
	if err := ctx.SetTarget("name", name+" (checked)"); err != nil {
		return err
	}
	if err := ctx.SetTarget("checked", true); err != nil {
		return err
	}
	ctx.Trace("stamped %s with config %q", name, ctx.Config())
	return ctx.SetOutput("Stamped", name)
}

// execute creates a row: there is no engine under bizevents plugin test.
func execute(ctx *sdk.Context) error {
	_, err := ctx.Service().Create("account", sdk.Fields{"name": "Fabrikam"})
	return err
}

func main() {}
