package tables

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/google/uuid"
)

// cursor is what a page token holds: where the previous page ended. It is
// a keyset position, not an offset, so rows inserted or deleted between
// pages neither repeat nor shift a row.
type cursor struct {
	// Order is the query's sort keys ("name,-createdon"); a token only
	// continues a query with the same ones.
	Order string `json:"o"`
	// Values are the last row's sort values, as EncodeRow writes them.
	Values []any `json:"v"`
	// ID is the last row's primary key.
	ID string `json:"id"`
	// N is the number of rows returned so far, for Top.
	N int `json:"n"`
}

func orderSignature(keys []orderKey) string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = k.f.name
		if k.desc {
			s[i] = "-" + s[i]
		}
	}
	return strings.Join(s, ",")
}

// encodeCursor makes the token that continues after row r, whose primary
// key is id, when n rows have been returned in all.
func encodeCursor(keys []orderKey, r Row, id uuid.UUID, n int) (string, error) {
	c := cursor{Order: orderSignature(keys), Values: make([]any, len(keys)), ID: id.String(), N: n}
	for i, k := range keys {
		v, err := encodeValue(k.f, r[k.f.name])
		if err != nil {
			return "", err
		}
		c.Values[i] = v
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// decodeCursor reads a page token of a query with the given sort keys and
// returns the sort values (as filterValue returns them), the id and the
// count so far.
func decodeCursor(token string, keys []orderKey) ([]any, string, int, error) {
	bad := func(why string) ([]any, string, int, error) {
		return nil, "", 0, invalidArg("$skiptoken", -1, "invalid page token: %s", why)
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return bad("not base64url")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var c cursor
	if err := dec.Decode(&c); err != nil {
		return bad("malformed")
	}
	if c.Order != orderSignature(keys) {
		return bad("it belongs to a query with another $orderby")
	}
	if len(c.Values) != len(keys) || c.N < 0 {
		return bad("malformed")
	}
	id, err := uuid.Parse(c.ID)
	if err != nil {
		return bad("malformed id")
	}
	vals := make([]any, len(keys))
	for i, k := range keys {
		v, reason := coerce(&k.f.col, c.Values[i])
		if reason == "" {
			v, reason = filterValue(k.f, v)
		}
		if reason != "" {
			return bad("a sort value does not fit its column")
		}
		vals[i] = v
	}
	return vals, id.String(), c.N, nil
}
