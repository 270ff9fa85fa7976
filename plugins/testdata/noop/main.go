// Command noop is a plugin whose handler does nothing: the call overhead.
package main

import sdk "github.com/bizevents/bizevents/sdk/go"

func init() { sdk.Register("Noop", func(*sdk.Context) error { return nil }) }

func main() {}
