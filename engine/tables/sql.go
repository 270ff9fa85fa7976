package tables

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/storage"
)

// sqlWriter builds a statement with `?` parameters. Values never enter the
// text: only column names, which are checked against ValidName.
type sqlWriter struct {
	d    storage.Dialect
	b    strings.Builder
	args []any
}

func (w *sqlWriter) str(s string) { w.b.WriteString(s) }

// fieldExpr is the SQL expression of a field's value, typed so that
// comparing and sorting it compares values:
//
//	system fields   the rows column: id, owner_id (text), created_on,
//	                modified_on (microseconds), version
//	PostgreSQL      numbers  (data->>'col')::numeric
//	                boolean  (data->>'col')::boolean
//	                others   (data->>'col') COLLATE "C"  (byte order; a
//	                         datetime's fixed-width text sorts as time)
//	SQLite          json_extract(data, '$.col')  (numbers come out as
//	                INTEGER or REAL, booleans as 1 or 0, others as TEXT,
//	                compared by bytes)
func (w *sqlWriter) fieldExpr(f field) (string, error) {
	if f.sys != "" {
		return f.sys, nil
	}
	if !ValidName(f.name) {
		return "", fmt.Errorf("column name %q cannot be used in a query", f.name)
	}
	switch w.d {
	case storage.Postgres:
		switch f.col.Type {
		case Integer, Choice, Decimal, Money, Float:
			return "(data->>'" + f.name + "')::numeric", nil
		case Boolean:
			return "(data->>'" + f.name + "')::boolean", nil
		}
		return "(data->>'" + f.name + `') COLLATE "C"`, nil
	case storage.SQLite:
		return "json_extract(data, '$." + f.name + "')", nil
	}
	return "", fmt.Errorf("unknown SQL dialect %q", w.d)
}

// param writes a placeholder for v, a value as filterValue returns it, and
// adds v in the form fieldExpr compares with.
func (w *sqlWriter) param(f field, v any) error {
	var arg any
	holder := "?"
	switch x := v.(type) {
	case string:
		arg = x
	case bool:
		arg = x
		if w.d == storage.SQLite {
			arg = int64(0)
			if x {
				arg = int64(1)
			}
		}
	case int64:
		arg = x
	case Number:
		switch {
		case w.d == storage.Postgres:
			arg, holder = string(x), "CAST(? AS NUMERIC)"
		default:
			if i, err := x.Int64(); err == nil {
				arg = i
			} else {
				arg = x.Float64()
			}
		}
	case time.Time:
		if f.sys != "" {
			arg = storage.Micros(x)
		} else {
			arg = x.UTC().Format(timeLayout)
		}
	case uuid.UUID:
		arg = x.String()
	default:
		return fmt.Errorf("column %s: cannot compare with a %T", f.name, v)
	}
	if w.d == storage.Postgres && f.sys == "" {
		if _, ok := v.(int64); ok {
			holder = "CAST(? AS NUMERIC)"
		}
	}
	w.str(holder)
	w.args = append(w.args, arg)
	return nil
}

// filterErr reports a problem of an Expr at translation.
func filterErr(format string, args ...any) error { return invalidArg("$filter", -1, format, args...) }

// expr writes a filter as a condition that is never NULL, so that not works
// as in OData: a comparison with a row that has no value is false (true for
// ne).
func (w *sqlWriter) expr(t *Table, e Expr) error {
	switch x := e.(type) {
	case *And:
		if x != nil {
			return w.expr(t, *x)
		}
	case *Or:
		if x != nil {
			return w.expr(t, *x)
		}
	case *Not:
		if x != nil {
			return w.expr(t, *x)
		}
	case *Compare:
		if x != nil {
			return w.expr(t, *x)
		}
	case *In:
		if x != nil {
			return w.expr(t, *x)
		}
	case *Match:
		if x != nil {
			return w.expr(t, *x)
		}
	case And:
		return w.logic(t, x.Left, " AND ", x.Right)
	case Or:
		return w.logic(t, x.Left, " OR ", x.Right)
	case Not:
		if x.X == nil {
			return filterErr("not needs an expression")
		}
		w.str("NOT ")
		return w.group(t, x.X)
	case Compare:
		return w.compare(t, x)
	case In:
		return w.in(t, x)
	case Match:
		return w.match(t, x)
	case nil:
		return filterErr("missing expression")
	default:
		return filterErr("unknown expression %T", e)
	}
	return filterErr("missing expression")
}

func (w *sqlWriter) group(t *Table, e Expr) error {
	w.str("(")
	if err := w.expr(t, e); err != nil {
		return err
	}
	w.str(")")
	return nil
}

func (w *sqlWriter) logic(t *Table, l Expr, op string, r Expr) error {
	w.str("(")
	if err := w.expr(t, l); err != nil {
		return err
	}
	w.str(op)
	if err := w.expr(t, r); err != nil {
		return err
	}
	w.str(")")
	return nil
}

var sqlOps = map[CompareOp]string{Eq: " = ", Ne: " <> ", Gt: " > ", Ge: " >= ", Lt: " < ", Le: " <= "}

// filterField resolves a column of an Expr.
func filterField(t *Table, name string) (field, error) {
	f, ok := t.queryField(name)
	if !ok {
		return field{}, filterErr("unknown column %q of table %s", name, t.LogicalName)
	}
	return f, nil
}

func (w *sqlWriter) compare(t *Table, c Compare) error {
	f, err := filterField(t, c.Column)
	if err != nil {
		return err
	}
	op, ok := sqlOps[c.Op]
	if !ok {
		return filterErr("unknown comparison operator %q", c.Op)
	}
	v, reason := filterValue(f, c.Value)
	if reason != "" {
		return filterErr("cannot compare column %s (%s) with %s: %s", f.name, f.col.Type, literalString(c.Value), reason)
	}
	e, err := w.fieldExpr(f)
	if err != nil {
		return err
	}
	switch {
	case v == nil && c.Op == Eq:
		w.str(e + " IS NULL")
		return nil
	case v == nil && c.Op == Ne:
		w.str(e + " IS NOT NULL")
		return nil
	case v == nil:
		return filterErr("column %s cannot be compared with null by %s", f.name, c.Op)
	case c.Op == Ne:
		w.str("(" + e + " IS NULL OR " + e + op)
	default:
		w.str("(" + e + " IS NOT NULL AND " + e + op)
	}
	if err := w.param(f, v); err != nil {
		return err
	}
	w.str(")")
	return nil
}

func (w *sqlWriter) in(t *Table, in In) error {
	f, err := filterField(t, in.Column)
	if err != nil {
		return err
	}
	if len(in.Values) == 0 {
		w.str("1 = 0")
		return nil
	}
	if len(in.Values) > maxInValues {
		return filterErr("in holds more than %d values", maxInValues)
	}
	e, err := w.fieldExpr(f)
	if err != nil {
		return err
	}
	w.str("(" + e + " IS NOT NULL AND " + e + " IN (")
	for i, raw := range in.Values {
		v, reason := filterValue(f, raw)
		if reason != "" {
			return filterErr("cannot compare column %s (%s) with %s: %s", f.name, f.col.Type, literalString(raw), reason)
		}
		if v == nil {
			return filterErr("in cannot hold null")
		}
		if i > 0 {
			w.str(", ")
		}
		if err := w.param(f, v); err != nil {
			return err
		}
	}
	w.str("))")
	return nil
}

// likePattern escapes LIKE's wildcards (and the escape character) in s and
// folds its ASCII letters to lower case.
func likePattern(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == '%' || c == '_':
			b.WriteByte('\\')
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func (w *sqlWriter) match(t *Table, m Match) error {
	f, err := filterField(t, m.Column)
	if err != nil {
		return err
	}
	if f.col.Type != String {
		return filterErr("%s needs a string column; %s is %s", m.Func, f.name, f.col.Type)
	}
	if reason := checkText(m.Value); reason != "" {
		return filterErr("%s: the string %s", m.Func, reason)
	}
	pattern := likePattern(m.Value)
	switch m.Func {
	case Contains:
		pattern = "%" + pattern + "%"
	case StartsWith:
		pattern += "%"
	case EndsWith:
		pattern = "%" + pattern
	default:
		return filterErr("unknown function %q", m.Func)
	}
	e, err := w.fieldExpr(f)
	if err != nil {
		return err
	}
	// SQLite's LIKE ignores the case of ASCII letters; PostgreSQL's lower()
	// under the C collation folds exactly those.
	folded := e
	if w.d == storage.Postgres {
		folded = "lower(" + e + ")"
	}
	w.str("(" + e + " IS NOT NULL AND " + folded + ` LIKE ? ESCAPE '\')`)
	w.args = append(w.args, pattern)
	return nil
}

// orderKey is a resolved sort key.
type orderKey struct {
	f    field
	desc bool
}

// orderBy writes the ORDER BY list. Nulls sort first ascending and last
// descending, on both backends (as if null were the smallest value); the
// id breaks ties.
func (w *sqlWriter) orderBy(keys []orderKey) error {
	w.str(" ORDER BY ")
	for _, k := range keys {
		e, err := w.fieldExpr(k.f)
		if err != nil {
			return err
		}
		if k.desc {
			w.str(e + " DESC NULLS LAST, ")
		} else {
			w.str(e + " ASC NULLS FIRST, ")
		}
	}
	w.str("id ASC")
	return nil
}

// after writes the keyset condition: rows after the one with sort values
// vals (as filterValue returns them) and id, in keys' order.
//
//	(k1 after v1) OR (k1 = v1 AND k2 after v2) OR ... OR (k1 = v1 AND ... AND id > ?)
func (w *sqlWriter) after(keys []orderKey, vals []any, id string) error {
	w.str("(")
	for i := 0; i <= len(keys); i++ {
		if i > 0 {
			w.str(" OR ")
		}
		w.str("(")
		for j := 0; j < i; j++ {
			e, err := w.fieldExpr(keys[j].f)
			if err != nil {
				return err
			}
			if vals[j] == nil {
				w.str(e + " IS NULL AND ")
				continue
			}
			w.str(e + " = ")
			if err := w.param(keys[j].f, vals[j]); err != nil {
				return err
			}
			w.str(" AND ")
		}
		if i == len(keys) {
			w.str("id > ?)")
			w.args = append(w.args, id)
			continue
		}
		k := keys[i]
		e, err := w.fieldExpr(k.f)
		if err != nil {
			return err
		}
		switch {
		case vals[i] == nil && !k.desc:
			w.str(e + " IS NOT NULL)")
		case vals[i] == nil:
			w.str("1 = 0)")
		case !k.desc:
			w.str(e + " > ")
			if err := w.param(k.f, vals[i]); err != nil {
				return err
			}
			w.str(")")
		default:
			w.str("(" + e + " IS NULL OR " + e + " < ")
			if err := w.param(k.f, vals[i]); err != nil {
				return err
			}
			w.str("))")
		}
	}
	w.str(")")
	return nil
}
