package expression

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/bizevents/bizevents/engine/errcode"
)

// Values holds one evaluation's variables, converted to the environment's
// struct. A Values is not safe for concurrent use: Run keeps the budget of
// the evaluation in it, and Set changes it. Evaluate programs on one
// Values one after another, or give each goroutine its own.
type Values struct {
	env   *Env
	ptr   reflect.Value // *struct of env.rt
	iface any           // ptr.Interface(), what the VM gets
	run   runState
}

// ValueError is a value that does not fit its declared type; Path names it
// (trigger.InputParameters.Amount). Its code is invalid_value.
type ValueError struct {
	Path string
	Want string
	Got  string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("%s: want %s, got %s", e.Path, e.Want, e.Got)
}

// ErrorCode returns invalid_value.
func (e *ValueError) ErrorCode() errcode.Code { return errcode.InvalidValue }

// Values converts one evaluation's variables to the environment's struct by
// the declared types. It takes decoded JSON (map[string]any, []any,
// float64 or json.Number, string, bool, nil) and the Go values Run returns
// (int64, time.Time...): Time from RFC 3339 strings, Int from integral
// numbers, Float from any number (money and decimals), Duration from
// strings like "1h30m". A missing key, or null, is the zero value (nil for
// Any and Map, an Object with zero fields for Object); keys the types do
// not declare are ignored. A value of the wrong type is a *[ValueError]
// naming the path (trigger.InputParameters.Amount: want number, got string).
// Values under Any are kept as they are, except that json.Number becomes
// float64.
func (e *Env) Values(vars map[string]any) (*Values, error) {
	v := &Values{env: e, ptr: reflect.New(e.rt)}
	v.iface = v.ptr.Interface()
	v.ptr.Elem().Field(e.runIdx).Set(reflect.ValueOf(&v.run))
	if err := e.root.setObject(v.ptr.Elem(), vars, nil); err != nil {
		return nil, err
	}
	return v, nil
}

// Set replaces one top-level variable (a flow sets outputs and variables as
// it runs); same conversion rules as [Env.Values]. On error the variable is
// left at its zero value.
func (v *Values) Set(name string, value any) error {
	i, ok := v.env.root.byName[name]
	if !ok {
		return fmt.Errorf("set %s: the environment has no such variable", name)
	}
	f := v.ptr.Elem().Field(i)
	f.SetZero()
	c := v.env.root.fields[i]
	if err := c.set(f, value, &path{name: name}); err != nil {
		f.SetZero()
		return err
	}
	return nil
}

// codec converts values of one Type into its Go type.
type codec struct {
	t      Type
	rt     reflect.Type
	fields []*codec       // Object
	names  []string       // Object: field names
	byName map[string]int // Object
	elem   *codec         // List, Map
}

func newCodec(t Type, rt reflect.Type) *codec {
	c := &codec{t: t, rt: rt}
	switch t.Kind {
	case Object:
		c.byName = make(map[string]int, len(t.Fields))
		for i, f := range t.Fields {
			c.fields = append(c.fields, newCodec(f.Type, rt.Field(i).Type))
			c.names = append(c.names, f.Name)
			c.byName[f.Name] = i
		}
	case List, Map:
		c.elem = newCodec(t.elem(), rt.Elem())
	}
	return c
}

// path is where a value sits, built only when an error needs it.
type path struct {
	parent *path
	name   string
	index  int // for list elements, when name is ""
}

func (p *path) String() string {
	if p == nil {
		return "value"
	}
	var parts []string
	for q := p; q != nil; q = q.parent {
		if q.name != "" {
			parts = append(parts, "."+q.name)
		} else {
			parts = append(parts, "["+strconv.Itoa(q.index)+"]")
		}
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString(parts[i])
	}
	return strings.TrimPrefix(b.String(), ".")
}

func (c *codec) fail(p *path, v any) error {
	want := c.t.Kind.String()
	switch c.t.Kind {
	case Int:
		want = "integer"
	case Float:
		want = "number"
	case Bool:
		want = "boolean"
	case Time:
		want = "RFC 3339 time string"
	case Duration:
		want = "duration string such as 1h30m"
	case List:
		want = "array"
	case Map, Object:
		want = "object"
	}
	return &ValueError{Path: p.String(), Want: want, Got: jsonKind(v)}
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case string:
		return "string"
	case float64, float32, json.Number, int, int64, int32, int16, int8, uint, uint64, uint32, uint16, uint8:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case time.Time:
		return "time"
	case time.Duration:
		return "duration"
	default:
		rv := reflect.ValueOf(x)
		switch rv.Kind() {
		case reflect.Map, reflect.Struct:
			return "object"
		case reflect.Slice, reflect.Array:
			return "array"
		}
		return fmt.Sprintf("%T", v)
	}
}

// set converts v into dst, which is settable and holds the zero value.
func (c *codec) set(dst reflect.Value, v any, p *path) error {
	if v == nil {
		return nil
	}
	switch c.t.Kind {
	case String:
		s, ok := v.(string)
		if !ok {
			return c.fail(p, v)
		}
		dst.SetString(s)
	case Bool:
		b, ok := v.(bool)
		if !ok {
			return c.fail(p, v)
		}
		dst.SetBool(b)
	case Float:
		f, ok := number(v)
		if !ok {
			return c.fail(p, v)
		}
		dst.SetFloat(f)
	case Int:
		n, err := integer(v)
		if err != nil {
			if err == errNotNumber {
				return c.fail(p, v)
			}
			return &ValueError{Path: p.String(), Want: "integer", Got: err.Error()}
		}
		dst.SetInt(n)
	case Time:
		switch x := v.(type) {
		case time.Time:
			dst.Set(reflect.ValueOf(x))
		case string:
			t, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return &ValueError{Path: p.String(), Want: "RFC 3339 time string such as 2026-01-02T15:04:05Z", Got: strconv.Quote(x)}
			}
			dst.Set(reflect.ValueOf(t))
		default:
			return c.fail(p, v)
		}
	case Duration:
		switch x := v.(type) {
		case time.Duration:
			dst.SetInt(int64(x))
		case string:
			d, err := time.ParseDuration(x)
			if err != nil {
				return &ValueError{Path: p.String(), Want: "duration string such as 1h30m", Got: strconv.Quote(x)}
			}
			dst.SetInt(int64(d))
		default:
			return c.fail(p, v)
		}
	case Any:
		dst.Set(reflect.ValueOf(normalize(v)))
	case Object:
		switch m := v.(type) {
		case map[string]any:
			return c.setObject(dst, m, p)
		default:
			rv := reflect.ValueOf(v)
			if rv.Type() == c.rt {
				dst.Set(rv)
				return nil
			}
			if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
				return c.fail(p, v)
			}
			for i, name := range c.names {
				x := rv.MapIndex(reflect.ValueOf(name).Convert(rv.Type().Key()))
				if !x.IsValid() {
					continue
				}
				if err := c.fields[i].set(dst.Field(i), x.Interface(), &path{parent: p, name: name}); err != nil {
					return err
				}
			}
		}
	case List:
		if c.elem.t.Kind == Any {
			if l, ok := v.([]any); ok {
				dst.Set(reflect.ValueOf(normalizeList(l)))
				return nil
			}
		}
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
			return c.fail(p, v)
		}
		if rv.Type() == c.rt {
			dst.Set(rv)
			return nil
		}
		n := rv.Len()
		out := reflect.MakeSlice(c.rt, n, n)
		for i := range n {
			if err := c.elem.set(out.Index(i), rv.Index(i).Interface(), &path{parent: p, index: i}); err != nil {
				return err
			}
		}
		dst.Set(out)
	case Map:
		if c.elem.t.Kind == Any {
			if m, ok := v.(map[string]any); ok {
				dst.Set(reflect.ValueOf(normalizeMap(m)))
				return nil
			}
		}
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
			return c.fail(p, v)
		}
		if rv.Type() == c.rt {
			dst.Set(rv)
			return nil
		}
		out := reflect.MakeMapWithSize(c.rt, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			k := it.Key().String()
			ev := reflect.New(c.rt.Elem()).Elem()
			if err := c.elem.set(ev, it.Value().Interface(), &path{parent: p, name: k}); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k), ev)
		}
		dst.Set(out)
	}
	return nil
}

func (c *codec) setObject(dst reflect.Value, m map[string]any, p *path) error {
	for i, name := range c.names {
		x, ok := m[name]
		if !ok || x == nil {
			continue
		}
		if err := c.fields[i].set(dst.Field(i), x, &path{parent: p, name: name}); err != nil {
			return err
		}
	}
	return nil
}

// number accepts any Go or JSON number.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float32:
		return float64(x), true
	case int32:
		return float64(x), true
	case int16:
		return float64(x), true
	case int8:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint8:
		return float64(x), true
	}
	return 0, false
}

var errNotNumber = fmt.Errorf("not a number")

// integer accepts integral numbers that fit an int64.
func integer(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		f, err := x.Float64()
		if err != nil {
			return 0, errNotNumber
		}
		return integral(f)
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("%d, too large", x)
		}
		return int64(x), nil
	}
	f, ok := number(v)
	if !ok {
		return 0, errNotNumber
	}
	return integral(f)
}

func integral(f float64) (int64, error) {
	if f != math.Trunc(f) || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%v, not a whole number", f)
	}
	if f < -(1<<63) || f >= 1<<63 {
		return 0, fmt.Errorf("%v, too large", f)
	}
	return int64(f), nil
}

// normalize turns json.Number into float64 inside a value of type Any,
// copying a map or list only when something in it changes.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case map[string]any:
		return normalizeMap(x)
	case []any:
		return normalizeList(x)
	case int64:
		return int(x)
	}
	return v
}

func normalizeMap(m map[string]any) map[string]any {
	var out map[string]any
	for k, x := range m {
		if !needsNormal(x) {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(m))
			for k2, x2 := range m {
				out[k2] = x2
			}
		}
		out[k] = normalize(x)
	}
	if out == nil {
		return m
	}
	return out
}

func normalizeList(l []any) []any {
	var out []any
	for i, x := range l {
		if !needsNormal(x) {
			continue
		}
		if out == nil {
			out = append([]any(nil), l...)
		}
		out[i] = normalize(x)
	}
	if out == nil {
		return l
	}
	return out
}

func needsNormal(v any) bool {
	switch x := v.(type) {
	case json.Number, int64:
		return true
	case map[string]any:
		for _, y := range x {
			if needsNormal(y) {
				return true
			}
		}
	case []any:
		for _, y := range x {
			if needsNormal(y) {
				return true
			}
		}
	}
	return false
}
