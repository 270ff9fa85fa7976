package api

import (
	"net/url"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/tables"
)

// parseQuery parses RetrieveMultiple's query options ($select, $filter,
// $orderby, $top, $skiptoken) with package tables.
func parseQuery(t *tables.Table, v url.Values) (tables.Query, error) {
	q, err := tables.ParseQuery(t, v)
	return q, coded(err)
}

// coded gives an error from a parser without a code of its own the code
// invalid_argument: it is about the caller's input.
func coded(err error) error {
	if err != nil && errcode.Of(err) == errcode.Internal {
		return &Error{Code: errcode.InvalidArgument, Message: err.Error()}
	}
	return err
}
