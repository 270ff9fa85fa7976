package tables

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// maxExponent bounds the exponent ParseNumber accepts, so that "1e999999999"
// cannot make it write a billion zeros.
const maxExponent = 1000

// ParseNumber parses a decimal number, exactly: an optional sign, digits, an
// optional point and digits, an optional exponent ("12.50", "-3", "+0.5",
// "1e3", "2.5E-2"). It returns the canonical form ("12.5", "-3", "0.5",
// "1000", "0.025"). Exponents beyond ±1000 are refused.
func ParseNumber(s string) (Number, error) {
	in := s
	bad := func() (Number, error) { return "", fmt.Errorf("%q is not a number", in) }
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intPart := s[:i]
	if intPart == "" {
		return bad()
	}
	s = s[i:]
	frac := ""
	if s != "" && s[0] == '.' {
		j := 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		frac = s[1:j]
		if frac == "" {
			return bad()
		}
		s = s[j:]
	}
	exp := 0
	if s != "" && (s[0] == 'e' || s[0] == 'E') {
		e := s[1:]
		if e != "" && (e[0] == '+' || e[0] == '-') {
			e = e[1:]
		}
		if e == "" || strings.TrimLeft(e, "0123456789") != "" {
			return bad()
		}
		v, err := strconv.Atoi(s[1:])
		if err != nil || v > maxExponent || v < -maxExponent {
			return "", fmt.Errorf("%q is out of range", in)
		}
		exp = v
		s = ""
	}
	if s != "" {
		return bad()
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
	return Number(b.String()), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// String returns n's text.
func (n Number) String() string { return string(n) }

// Scale returns the number of digits after the point.
func (n Number) Scale() int {
	if i := strings.IndexByte(string(n), '.'); i >= 0 {
		return len(n) - i - 1
	}
	return 0
}

// IntDigits returns the number of digits before the point, 1 for "0.5".
func (n Number) IntDigits() int {
	s := strings.TrimPrefix(string(n), "-")
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return i
	}
	return len(s)
}

// Rat returns n as an exact rational, or nil when n is not a number.
func (n Number) Rat() *big.Rat {
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		return nil
	}
	return r
}

// Float64 returns the float64 nearest to n.
func (n Number) Float64() float64 {
	f, _ := strconv.ParseFloat(string(n), 64)
	return f
}

// errNotWhole and errIntRange are Int64's failures.
var (
	errNotWhole = errors.New("not a whole number")
	errIntRange = errors.New("out of the integer range")
)

// Int64 returns n as an int64; it fails when n has a fraction or does not
// fit.
func (n Number) Int64() (int64, error) {
	if n.Scale() > 0 {
		return 0, errNotWhole
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return 0, errIntRange
	}
	return v, nil
}

// MarshalJSON writes n as a JSON number, exactly.
func (n Number) MarshalJSON() ([]byte, error) {
	c, err := ParseNumber(string(n))
	if err != nil {
		return nil, err
	}
	return []byte(c), nil
}

// UnmarshalJSON reads a JSON number or a string holding one.
func (n *Number) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		uq, err := strconv.Unquote(s)
		if err != nil {
			return err
		}
		s = uq
	}
	c, err := ParseNumber(s)
	if err != nil {
		return err
	}
	*n = c
	return nil
}
