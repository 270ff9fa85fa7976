// Command sandbox tries what a plugin may not: files, the network, the
// environment, the host's clock.
package main

import (
	"net"
	"os"
	"time"

	sdk "github.com/bizevents/bizevents/sdk/go"
)

func init() {
	sdk.Register("Probe", probe)
}

// probe reports each attempt's error (or "allowed") as an output
// parameter.
func probe(ctx *sdk.Context) error {
	report := func(key string, err error) error {
		v := "allowed"
		if err != nil {
			v = err.Error()
		}
		return ctx.SetOutput(key, v)
	}
	_, err := os.ReadFile("/etc/passwd")
	if err := report("read", err); err != nil {
		return err
	}
	err = os.WriteFile("/tmp/bizevents-plugin-was-here", []byte("x"), 0o644)
	if err := report("write", err); err != nil {
		return err
	}
	_, err = os.ReadDir("/")
	if err := report("readdir", err); err != nil {
		return err
	}
	conn, err := net.Dial("tcp", ctx.Config())
	if conn != nil {
		conn.Close()
	}
	if err := report("dial", err); err != nil {
		return err
	}
	if err := ctx.SetOutput("env", len(os.Environ())); err != nil {
		return err
	}
	if err := ctx.SetOutput("args", len(os.Args)); err != nil {
		return err
	}
	host, _ := os.Hostname()
	if err := ctx.SetOutput("hostname", host); err != nil {
		return err
	}
	return ctx.SetOutput("now", time.Now().UTC().Format(time.RFC3339Nano))
}

func main() {}
