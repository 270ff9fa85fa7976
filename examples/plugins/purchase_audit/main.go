// Command purchase_audit is an async plugin: after a pos_CustomerPurchase
// is committed it writes one audit line to the plugin trace log, with
// who recorded the purchase, when, and the correlation id that ties it to
// the request. It changes nothing, so it can run again on a retry.
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o ../modules/pos_audit.wasm
package main

import (
	"time"

	sdk "github.com/bizevents/bizevents/sdk/go"
)

func init() { sdk.Register("AuditPurchase", auditPurchase) }

func auditPurchase(ctx *sdk.Context) error {
	amount, err := ctx.InputDecimal("Amount")
	if err != nil {
		return err
	}
	currency, err := ctx.InputString("Currency")
	if err != nil {
		return err
	}
	customer, err := ctx.InputGUID("CustomerId")
	if err != nil {
		return err
	}
	store := "online"
	if s, err := ctx.InputString("StoreId"); err == nil && s != "" {
		store = s
	}
	ctx.Trace("audit: purchase of %s %s by customer %s in %s, recorded by user %s at %s (correlation %s, %s step, depth %d)",
		amount, currency, customer, store, ctx.UserID(), ctx.OperationTime().Format(time.RFC3339), ctx.CorrelationID(), ctx.Mode(), ctx.Depth())
	return nil
}

func main() {}
