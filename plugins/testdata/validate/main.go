// Command validate is a realistic validation plugin: it checks a
// CustomerPurchase before it is recorded.
package main

import sdk "github.com/bizevents/bizevents/sdk/go"

func init() { sdk.Register("ValidatePurchase", validatePurchase) }

func validatePurchase(ctx *sdk.Context) error {
	amount, err := ctx.InputDecimal("Amount")
	if err != nil {
		return err
	}
	if amount.Sign() < 0 {
		return sdk.Fail("the amount %s is negative: a purchase cannot take money back; record a refund instead", amount)
	}
	customer, err := ctx.InputGUID("CustomerId")
	if err != nil {
		return err
	}
	if items, err := ctx.Input("Items"); err == nil {
		list, err := items.AsStrings()
		if err != nil {
			return err
		}
		if len(list) > 100 {
			return sdk.Fail("a purchase has at most 100 items, this one %d", len(list))
		}
	}
	ctx.Trace("purchase of %s by %s is valid", amount, customer)
	return nil
}

func main() {}
