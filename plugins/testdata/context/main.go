// Command context reads and writes the execution context.
package main

import (
	"errors"
	"strings"
	"time"

	sdk "github.com/bizevents/bizevents/sdk/go"
)

func init() {
	sdk.Register("Echo", echo)
	sdk.Register("Write", write)
	sdk.Register("Errors", errorsOf)
	sdk.Register("Context", whole)
}

// echo copies what it reads into output parameters, typed.
func echo(ctx *sdk.Context) error {
	out := sdk.Fields{
		"handler":     ctx.Handler(),
		"message":     ctx.Message(),
		"table":       ctx.Table(),
		"id":          ctx.ID(),
		"stage":       int64(ctx.Stage()),
		"mode":        ctx.Mode(),
		"depth":       ctx.Depth(),
		"user":        ctx.UserID(),
		"initiator":   ctx.InitiatingUserID(),
		"correlation": ctx.CorrelationID(),
		"request":     ctx.RequestID(),
		"time":        ctx.OperationTime(),
		"clock":       time.Now(),
		"step":        ctx.Step(),
		"config":      ctx.Config(),
		"secure":      ctx.SecureConfig(),
	}
	amount, err := ctx.InputDecimal("Amount")
	if err != nil {
		return err
	}
	out["amount_plus_one"] = amount.Add(sdk.MustDecimal("1"))
	if n, err := ctx.InputInt("Count"); err == nil {
		out["count"] = n * 2
	}
	if b, err := ctx.InputBool("Flag"); err == nil {
		out["flag"] = !b
	}
	if g, err := ctx.InputGUID("Customer"); err == nil {
		out["customer"] = g
	}
	if ref, err := ctx.InputReference("Account"); err == nil {
		out["account_table"] = ref.Table
		out["account_id"] = ref.ID
	}
	if at, err := ctx.InputTime("At"); err == nil {
		out["at_year"] = at.Year()
	}
	if items, err := ctx.Input("Items"); err == nil {
		list, err := items.AsStrings()
		if err != nil {
			return err
		}
		out["items"] = strings.Join(list, "+")
	}
	if s, err := ctx.InputString("Note"); err == nil {
		out["note"] = s
	}
	target := ctx.Target()
	if name, err := target.GetString("name"); err == nil {
		out["target_name"] = name
	}
	if rev, err := target.GetDecimal("revenue"); err == nil {
		out["target_revenue"] = rev
	}
	if ref, err := target.GetReference("parent"); err == nil {
		out["target_parent"] = ref.ID
	}
	if _, err := target.GetString("nope"); sdk.IsNotFound(err) {
		out["missing_is_not_found"] = true
	}
	if v, err := ctx.PreImage("before").GetDecimal("revenue"); err == nil {
		out["pre_revenue"] = v
	}
	if v, err := ctx.Shared("seen"); err == nil {
		out["shared_seen"] = v
	}
	for k, v := range out {
		if err := ctx.SetOutput(k, v); err != nil {
			return err
		}
	}
	ctx.Trace("echoed %d fields", len(out))
	return nil
}

// write changes the Target, output and shared variables.
func write(ctx *sdk.Context) error {
	name, err := ctx.Target().GetString("name")
	if err != nil {
		return err
	}
	if err := ctx.SetTarget("name", strings.ToUpper(name)); err != nil {
		return err
	}
	if err := ctx.SetShared("stamped", true); err != nil {
		return err
	}
	return ctx.SetOutput("Greeting", "hello "+name)
}

// errorsOf reports the ABI errors it gets as output parameters.
func errorsOf(ctx *sdk.Context) error {
	report := func(key string, err error) {
		var e *sdk.Error
		code := "none"
		if errors.As(err, &e) {
			code = e.Code
		}
		_ = ctx.SetOutput(key, code)
	}
	_, err := ctx.Get("nonsense")
	report("get_unknown_root", err)
	_, err = ctx.Input("Missing")
	report("get_missing_param", err)
	_, err = ctx.Get("input//x")
	report("get_empty_segment", err)
	report("set_readonly", ctx.SetTarget("name", "x"))
	_, err = ctx.Get("message/deeper")
	report("get_scalar_child", err)
	return nil
}

// whole returns the whole context document as an output parameter.
func whole(ctx *sdk.Context) error {
	v, err := ctx.Get("context")
	if err != nil {
		return err
	}
	return ctx.SetOutput("context", v)
}

func main() {}
