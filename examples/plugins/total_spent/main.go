// Command total_spent is a PostOperation plugin: it adds a
// pos_CustomerPurchase's amount to its customer's total spent and counts
// the purchase, through the organization service. It runs in the
// purchase's transaction, so the customer's update and the purchase are
// stored together or not at all; an unknown customer fails the purchase.
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o ../modules/pos_totals.wasm
package main

import (
	sdk "github.com/bizevents/bizevents/sdk/go"
)

func init() { sdk.Register("AddToTotalSpent", addToTotalSpent) }

const customers = "pos_customer"

func addToTotalSpent(ctx *sdk.Context) error {
	customerID, err := ctx.InputGUID("CustomerId")
	if err != nil {
		return err
	}
	amount, err := ctx.InputDecimal("Amount")
	if err != nil {
		return err
	}
	svc := ctx.Service()
	customer, err := svc.Retrieve(customers, customerID, "totalspent", "purchases")
	if sdk.IsNotFound(err) {
		return sdk.Fail("customer %s does not exist", customerID)
	}
	if err != nil {
		return err
	}
	total := sdk.MustDecimal("0")
	if v, err := customer.Get("totalspent"); err == nil && !v.IsNull() {
		if total, err = v.AsDecimal(); err != nil {
			return err
		}
	}
	var purchases int64
	if v, err := customer.Get("purchases"); err == nil && !v.IsNull() {
		if purchases, err = v.AsInt(); err != nil {
			return err
		}
	}
	total = total.Add(amount)
	if err := svc.Update(customers, customerID, sdk.Fields{"totalspent": total, "purchases": purchases + 1}); err != nil {
		return err
	}
	ctx.Trace("customer %s has spent %s in %d purchases", customerID, total, purchases+1)
	return nil
}

func main() {}
