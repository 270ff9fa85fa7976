package tables

import (
	"encoding/json"
	"reflect"
	"time"

	"github.com/google/uuid"
)

// HasColumn reports whether a row of t can have a value named name: one of
// its columns, its primary key, or a system column (createdon, modifiedon,
// ownerid, versionnumber).
func (t *Table) HasColumn(name string) bool {
	_, ok := t.field(name)
	return ok
}

// Equal reports whether two values of a Row are the same value: numbers
// by value whatever their Go type (int64(5), Number("5.0"), json.Number("5")
// and 5.0 are equal), times by instant, a Reference and a UUID by id, and
// other values by ==. nil equals only nil. It is how an Update's filtering
// columns tell whether a column changed.
func Equal(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if isNumber(a) && isNumber(b) {
		na, ra := toNumber(a, false)
		nb, rb := toNumber(b, false)
		return ra == "" && rb == "" && na == nb
	}
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	ida, oka := idOf(a)
	idb, okb := idOf(b)
	if oka || okb {
		if ra, ok := a.(Reference); ok {
			if rb, ok := b.(Reference); ok && ra.Table != rb.Table {
				return false
			}
		}
		return oka && okb && ida == idb
	}
	return reflect.DeepEqual(a, b)
}

func isNumber(v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, json.Number, Number:
		return true
	}
	return false
}

func idOf(v any) (uuid.UUID, bool) {
	switch x := v.(type) {
	case uuid.UUID:
		return x, true
	case Reference:
		return x.ID, true
	}
	return uuid.Nil, false
}
