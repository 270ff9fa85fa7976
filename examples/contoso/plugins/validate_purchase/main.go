// Command validate_purchase is the PreOperation plugin of
// contoso_CustomerPurchase: it refuses a purchase that is not positive, in
// a currency the step's config does not list, with too many items, dated
// in the future, or by a customer (an account) that does not exist, before
// anything is written. The point-of-sale system gets its message in the
// response and nothing is recorded.
//
// It is examples/plugins/validate_purchase adapted to Contoso's purchase.
// Build it with
//
//	bizevents plugin build examples/contoso/plugins/validate_purchase -o examples/contoso/modules/contoso_pos_validation.wasm
package main

import (
	"slices"
	"strings"
	"time"

	sdk "github.com/bizevents/bizevents/sdk/go"
)

func init() { sdk.Register("ValidatePurchase", validatePurchase) }

// config is the step's configuration, a JSON object.
type config struct {
	// Currencies are the ISO 4217 codes accepted; any when empty.
	Currencies []string
	// MaxItems bounds a purchase's items; default 100.
	MaxItems int64
}

// clockSkew is how far in the future PurchasedOn may be: the point of
// sale's clock and ours disagree a little.
const clockSkew = 5 * time.Minute

// readConfig reads the step's config with the SDK's JSON reader, which
// is much cheaper in a guest than encoding/json's reflection.
func readConfig(raw string) (config, error) {
	cfg := config{MaxItems: 100}
	if raw == "" {
		return cfg, nil
	}
	row, err := sdk.Value(raw).AsRow()
	if err != nil {
		return cfg, err
	}
	if v, err := row.Get("currencies"); err == nil {
		if cfg.Currencies, err = v.AsStrings(); err != nil {
			return cfg, err
		}
	}
	if v, err := row.Get("maxItems"); err == nil {
		if cfg.MaxItems, err = v.AsInt(); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

func validatePurchase(ctx *sdk.Context) error {
	amount, err := ctx.InputDecimal("Amount")
	if err != nil {
		return err
	}
	if amount.Sign() <= 0 {
		return sdk.Fail("the amount %s is not positive: a purchase cannot take money back; record a return instead", amount)
	}
	cfg, err := readConfig(ctx.Config())
	if err != nil {
		return sdk.Fail("the step's config: %v", err)
	}
	currency, err := ctx.InputString("Currency")
	if err != nil {
		return err
	}
	if len(cfg.Currencies) > 0 && !slices.Contains(cfg.Currencies, strings.ToUpper(currency)) {
		return sdk.Fail("currency %q is not accepted; want one of %s", currency, strings.Join(cfg.Currencies, ", "))
	}
	if items, err := ctx.Input("Items"); err == nil {
		n, err := items.Len() // counted, not decoded: the guest pays for what it reads
		if err != nil {
			return err
		}
		if int64(n) > cfg.MaxItems {
			return sdk.Fail("a purchase has at most %d items, this one %d", cfg.MaxItems, n)
		}
	}
	// The plugin's clock reads the message's time.
	on, err := ctx.InputTime("PurchasedOn")
	if err != nil {
		return err
	}
	if now := ctx.OperationTime(); on.After(now.Add(clockSkew)) {
		return sdk.Fail("the purchase is dated %s, after now (%s)", on.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	// The customer is an account row: ask the organization service.
	customer, err := ctx.InputGUID("CustomerId")
	if err != nil {
		return err
	}
	if _, err := ctx.Service().Retrieve("account", customer, "name"); sdk.IsNotFound(err) {
		return sdk.Fail("customer %s is not an account", customer)
	} else if err != nil {
		return err
	}
	ctx.Trace("purchase of %s %s by %s is valid", amount, currency, customer)
	return nil
}

func main() {}
