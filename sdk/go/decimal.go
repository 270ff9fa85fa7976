package sdk

import (
	"errors"
	"math/big"
	"strconv"
	"strings"
)

// Decimal is an exact decimal number in canonical text: an optional minus
// sign, digits, and when there is a fraction a point and digits without
// trailing zeros ("12.5", "-3", "0.0001"). Decimal and money columns and
// parameters are Decimals: the host sends them as JSON numbers with their
// exact digits, never through a float.
type Decimal string

// maxExponent bounds the exponent ParseDecimal accepts.
const maxExponent = 1000

var errNotDecimal = errors.New("not a decimal number")

// ParseDecimal parses a decimal number, exactly: an optional sign, digits,
// an optional point and digits, an optional exponent ("12.50", "-3",
// "+0.5", "1e3"), and returns its canonical form.
func ParseDecimal(s string) (Decimal, error) {
	in := s
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart := s[:i]
	s = s[i:]
	frac := ""
	if s != "" && s[0] == '.' {
		j := 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		frac = s[1:j]
		s = s[j:]
	}
	if intPart == "" && frac == "" {
		return "", errors.New(strconv.Quote(in) + " is not a decimal number")
	}
	exp := 0
	if s != "" && (s[0] == 'e' || s[0] == 'E') {
		v, err := strconv.Atoi(s[1:])
		if err != nil || v > maxExponent || v < -maxExponent {
			return "", errors.New(strconv.Quote(in) + " is not a decimal number in range")
		}
		exp = v
		s = ""
	}
	if s != "" {
		return "", errors.New(strconv.Quote(in) + " is not a decimal number")
	}
	coef := strings.TrimLeft(intPart+frac, "0")
	exp -= len(frac)
	if coef == "" {
		return "0", nil
	}
	n := len(coef)
	for coef[n-1] == '0' {
		n--
		exp++
	}
	coef = coef[:n]
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	switch {
	case exp >= 0:
		b.WriteString(coef)
		b.WriteString(strings.Repeat("0", exp))
	case len(coef) > -exp:
		b.WriteString(coef[:len(coef)+exp])
		b.WriteByte('.')
		b.WriteString(coef[len(coef)+exp:])
	default:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -exp-len(coef)))
		b.WriteString(coef)
	}
	return Decimal(b.String()), nil
}

// MustDecimal is ParseDecimal that panics on a malformed number, for
// constants.
func MustDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

// String returns d's text.
func (d Decimal) String() string { return string(d) }

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int {
	c, err := ParseDecimal(string(d))
	switch {
	case err != nil || c == "0":
		return 0
	case c[0] == '-':
		return -1
	}
	return 1
}

// IsZero reports whether d is zero.
func (d Decimal) IsZero() bool { return d.Sign() == 0 }

// Cmp compares d and e exactly: -1, 0 or +1.
func (d Decimal) Cmp(e Decimal) int {
	a, b := d.rat(), e.rat()
	return a.Cmp(b)
}

// Add returns d + e, exactly.
func (d Decimal) Add(e Decimal) Decimal { return fromRat(new(big.Rat).Add(d.rat(), e.rat())) }

// Sub returns d - e, exactly.
func (d Decimal) Sub(e Decimal) Decimal { return fromRat(new(big.Rat).Sub(d.rat(), e.rat())) }

// Neg returns -d.
func (d Decimal) Neg() Decimal { return fromRat(new(big.Rat).Neg(d.rat())) }

// Float64 returns the float64 nearest to d.
func (d Decimal) Float64() float64 {
	f, _ := strconv.ParseFloat(string(d), 64)
	return f
}

// Int64 returns d as an int64; it fails when d has a fraction or does not
// fit.
func (d Decimal) Int64() (int64, error) {
	c, err := ParseDecimal(string(d))
	if err != nil {
		return 0, err
	}
	if strings.IndexByte(string(c), '.') >= 0 {
		return 0, errors.New(string(c) + " is not a whole number")
	}
	return strconv.ParseInt(string(c), 10, 64)
}

func (d Decimal) rat() *big.Rat {
	r, ok := new(big.Rat).SetString(string(d))
	if !ok {
		return new(big.Rat)
	}
	return r
}

// fromRat formats a rational that has a finite decimal expansion (a sum or
// difference of decimals).
func fromRat(r *big.Rat) Decimal {
	// The denominator of a sum of decimals divides a power of ten; find
	// the smallest scale that makes it whole.
	scale := 0
	den := new(big.Int).Set(r.Denom())
	ten := big.NewInt(10)
	for den.Cmp(big.NewInt(1)) != 0 && scale < 2*maxExponent {
		g := new(big.Int).GCD(nil, nil, den, ten)
		if g.Cmp(big.NewInt(1)) == 0 {
			break
		}
		den.Quo(den, g)
		scale++
	}
	d, _ := ParseDecimal(r.FloatString(scale))
	return d
}
