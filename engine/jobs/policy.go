package jobs

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Defaults of a [Policy].
const (
	DefaultMaxAttempts  = 5
	DefaultInitialDelay = time.Second
	DefaultMaxDelay     = time.Hour
	DefaultMultiplier   = 2.0
	DefaultJitter       = 0.2
)

// Policy is how a job is retried: attempt n (from 1) failing waits
// InitialDelay * Multiplier^(n-1), at most MaxDelay, spread by ±Jitter,
// before attempt n+1; after MaxAttempts attempts the job fails.
type Policy struct {
	MaxAttempts  int           `json:"maxAttempts"`
	InitialDelay time.Duration `json:"initialDelay"`
	MaxDelay     time.Duration `json:"maxDelay"`
	Multiplier   float64       `json:"multiplier"`
	// Jitter is a fraction of the delay, 0 to 1.
	Jitter float64 `json:"jitter"`
}

// WithDefaults returns p with every zero field set to its default.
func (p Policy) WithDefaults() Policy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.InitialDelay == 0 {
		p.InitialDelay = DefaultInitialDelay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.Multiplier == 0 {
		p.Multiplier = DefaultMultiplier
	}
	if p.Jitter == 0 {
		p.Jitter = DefaultJitter
	}
	return p
}

// Validate reports every problem of a defaulted policy.
func (p Policy) Validate() error {
	var errs []error
	if p.MaxAttempts < 1 || p.MaxAttempts > 1000 {
		errs = append(errs, fmt.Errorf("retry policy: maxAttempts %d must be between 1 and 1000", p.MaxAttempts))
	}
	if p.InitialDelay < 0 || p.MaxDelay < p.InitialDelay {
		errs = append(errs, fmt.Errorf("retry policy: delays must be 0 <= initialDelay (%s) <= maxDelay (%s)", p.InitialDelay, p.MaxDelay))
	}
	if p.Multiplier < 1 {
		errs = append(errs, fmt.Errorf("retry policy: multiplier %g must be at least 1", p.Multiplier))
	}
	if p.Jitter < 0 || p.Jitter > 1 {
		errs = append(errs, fmt.Errorf("retry policy: jitter %g must be between 0 and 1", p.Jitter))
	}
	return errors.Join(errs...)
}

// Backoff returns the delay after failed attempt n (from 1), before jitter.
func (p Policy) Backoff(n int) time.Duration {
	d := float64(p.InitialDelay) * math.Pow(p.Multiplier, float64(max(n-1, 0)))
	if d > float64(p.MaxDelay) || math.IsInf(d, 0) {
		return p.MaxDelay
	}
	return time.Duration(d)
}

// delay is Backoff with jitter.
func (p Policy) delay(n int) time.Duration {
	d := p.Backoff(n)
	if p.Jitter > 0 {
		d += time.Duration((rand.Float64()*2 - 1) * p.Jitter * float64(d))
	}
	return max(d, 0)
}

// RetryDef is a retry policy as a solution file writes it (an endpoint's
// or a flow's retry:): durations are Go durations, zero fields keep the
// base policy's.
type RetryDef struct {
	MaxAttempts  int    `json:"maxAttempts,omitempty" yaml:"maxAttempts"`
	InitialDelay string `json:"initialDelay,omitempty" yaml:"initialDelay"`
	MaxDelay     string `json:"maxDelay,omitempty" yaml:"maxDelay"`
}

// Policy returns base with d's fields set (d may be nil), defaulted and
// validated; every problem is reported at once.
func (d *RetryDef) Policy(base Policy) (Policy, error) {
	p := base
	if d != nil {
		if d.MaxAttempts != 0 {
			p.MaxAttempts = d.MaxAttempts
		}
		var errs []error
		for _, f := range []struct {
			name, s string
			to      *time.Duration
		}{{"initialDelay", d.InitialDelay, &p.InitialDelay}, {"maxDelay", d.MaxDelay, &p.MaxDelay}} {
			if f.s == "" {
				continue
			}
			v, err := time.ParseDuration(f.s)
			if err != nil {
				errs = append(errs, fmt.Errorf("retry %s %q is not a duration such as 30s", f.name, f.s))
				continue
			}
			*f.to = v
		}
		if err := errors.Join(errs...); err != nil {
			return p, err
		}
	}
	p = p.WithDefaults()
	return p, p.Validate()
}
