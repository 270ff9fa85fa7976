// Command validate_purchase is a PreOperation plugin: it refuses a
// pos_CustomerPurchase that is negative, in a currency the step's config
// does not list, or with too many items, before anything is written.
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o ../modules/pos_validation.wasm
package main

import (
	"slices"
	"strings"

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
	if amount.Sign() < 0 {
		return sdk.Fail("the amount %s is negative: a purchase cannot take money back; record a return instead", amount)
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
	ctx.Trace("purchase of %s %s is valid", amount, currency)
	return nil
}

func main() {}
