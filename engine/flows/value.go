package flows

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/bizevents/bizevents/engine/expression"
)

// value is a compiled value of a flow file: a literal, an expression, or a
// map or list of values (an expression may sit at any depth).
type value struct {
	lit  any
	prog *expression.Program
	m    map[string]*value
	keys []string // m's keys, sorted
	l    []*value
}

// isExpr reports whether s is an expression ("=..."), and its source.
func isExpr(s string) (string, bool) {
	if strings.HasPrefix(s, "==") {
		return "", false
	}
	src, ok := strings.CutPrefix(s, "=")
	return src, ok
}

// literal returns s without the escape of a literal "=".
func literal(s string) string {
	if strings.HasPrefix(s, "==") {
		return s[1:]
	}
	return s
}

// compileValue compiles v, reporting problems at path.
func (c *compiler) compileValue(v any, path []string) *value {
	switch v := v.(type) {
	case string:
		if src, ok := isExpr(v); ok {
			return &value{prog: c.expr(src, expression.Any, path)}
		}
		return &value{lit: literal(v)}
	case map[string]any:
		out := &value{m: make(map[string]*value, len(v))}
		for k, e := range v {
			out.m[k] = c.compileValue(e, append(slices.Clip(path), k))
		}
		out.keys = slices.Sorted(maps.Keys(out.m))
		return out
	case []any:
		out := &value{l: make([]*value, len(v))}
		for i, e := range v {
			out.l[i] = c.compileValue(e, append(slices.Clip(path), strconv.Itoa(i)))
		}
		return out
	}
	return &value{lit: v}
}

// compileMap compiles a map of values.
func (c *compiler) compileMap(m map[string]any, path []string) *value {
	if m == nil {
		return nil
	}
	return c.compileValue(m, path)
}

// eval evaluates the value; a nil value is nil.
func (v *value) eval(ctx context.Context, vals *expression.Values) (any, error) {
	switch {
	case v == nil:
		return nil, nil
	case v.prog != nil:
		return v.prog.Run(ctx, vals)
	case v.m != nil:
		out := make(map[string]any, len(v.m))
		for _, k := range v.keys {
			e, err := v.m[k].eval(ctx, vals)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = e
		}
		return out, nil
	case v.l != nil:
		out := make([]any, len(v.l))
		for i, e := range v.l {
			x, err := e.eval(ctx, vals)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = x
		}
		return out, nil
	}
	return v.lit, nil
}

// evalMap evaluates a map value.
func (v *value) evalMap(ctx context.Context, vals *expression.Values) (map[string]any, error) {
	x, err := v.eval(ctx, vals)
	if err != nil || x == nil {
		return nil, err
	}
	m, ok := x.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want an object, got %T", x)
	}
	return m, nil
}

// evalString evaluates a value that must be a string (a URL, a message).
func (v *value) evalString(ctx context.Context, vals *expression.Values) (string, error) {
	x, err := v.eval(ctx, vals)
	if err != nil {
		return "", err
	}
	switch x := x.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case fmt.Stringer:
		return x.String(), nil
	}
	return fmt.Sprint(x), nil
}

// typ is the value's type when known.
func (v *value) typ() expression.Type {
	if v != nil && v.prog != nil {
		return v.prog.Type()
	}
	if v != nil && v.lit != nil {
		switch v.lit.(type) {
		case string:
			return stringType
		case bool:
			return boolType
		case int, int64:
			return intType
		case float64:
			return floatType
		}
	}
	return anyType
}
