package tables

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ParseQuery reads RetrieveMultiple's OData query options:
//
//	$select     columns to return, comma-separated (see ParseSelect)
//	$filter     which rows (see ParseFilter)
//	$orderby    sort keys (see ParseOrderBy)
//	$top        the most rows in all, a positive integer
//	$skiptoken  the page token of the previous page's next link
//
// The page size is not a query option: it comes from the Prefer header's
// odata.maxpagesize, which the caller sets as Query.PageSize. $expand,
// $count, $skip, $search, $apply and $compute are errcode.NotSupported;
// another option starting with $, or one given twice, is
// errcode.InvalidArgument. Parameters without a $ are left to the caller.
// Every option's problem is reported, joined; each is a *QueryError.
func ParseQuery(t *Table, v url.Values) (Query, error) {
	var q Query
	var errs []error
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, "$") {
			continue
		}
		vals := v[k]
		if len(vals) != 1 {
			errs = append(errs, invalidArg(k, -1, "given %d times; give it once", len(vals)))
			continue
		}
		s := vals[0]
		var err error
		switch k {
		case "$select":
			q.Select, err = ParseSelect(t, s)
		case "$filter":
			q.Filter, err = ParseFilter(t, s)
		case "$orderby":
			q.OrderBy, err = ParseOrderBy(t, s)
		case "$top":
			n, perr := strconv.Atoi(strings.TrimSpace(s))
			switch {
			case perr != nil:
				err = invalidArg(k, -1, "%q is not a whole number", s)
			case n < 1:
				err = invalidArg(k, -1, "%d must be at least 1", n)
			default:
				q.Top = n
			}
		case "$skiptoken":
			q.PageToken = s
		case "$expand", "$count", "$skip", "$search", "$apply", "$compute", "$levels", "$index":
			err = notSupported(k, -1, "the query option %s is not supported", k)
		default:
			err = invalidArg(k, -1, "unknown query option %s", k)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return Query{}, errors.Join(errs...)
	}
	return q, nil
}

// ParseSelect parses a $select: column names separated by commas (a lookup
// x also as _x_value). It returns the columns' logical names, each once, in
// the order given; "*" or "" selects every column (nil). An unknown column
// is a *QueryError with errcode.InvalidArgument; a path (a/b) is
// errcode.NotSupported.
func ParseSelect(t *Table, s string) ([]string, error) {
	if strings.TrimSpace(s) == "" || strings.TrimSpace(s) == "*" {
		return nil, nil
	}
	var out []string
	pos := 0
	for item := range strings.SplitSeq(s, ",") {
		at := pos + len(item) - len(strings.TrimLeft(item, " "))
		pos += len(item) + 1
		name := strings.TrimSpace(item)
		switch {
		case name == "":
			return nil, invalidArg("$select", at, "empty column name")
		case strings.ContainsAny(name, "/("):
			return nil, notSupported("$select", at, "%q: only column names are supported", name)
		}
		f, ok := t.queryField(name)
		if !ok {
			return nil, invalidArg("$select", at, "unknown column %q of table %s", name, t.LogicalName)
		}
		if !slices.Contains(out, f.name) {
			out = append(out, f.name)
		}
	}
	return out, nil
}

// ParseOrderBy parses an $orderby: sort keys separated by commas, each a
// column name (a lookup x also as _x_value) and optionally asc (the
// default) or desc. Rows with no value sort first ascending and last
// descending. The primary key breaks ties, so it need not be given. An
// unknown or repeated column, or another word than asc or desc, is a
// *QueryError with errcode.InvalidArgument; a path (a/b) is
// errcode.NotSupported.
func ParseOrderBy(t *Table, s string) ([]Order, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []Order
	pos := 0
	for item := range strings.SplitSeq(s, ",") {
		at := pos + len(item) - len(strings.TrimLeft(item, " "))
		pos += len(item) + 1
		words := strings.Fields(item)
		if len(words) == 0 {
			return nil, invalidArg("$orderby", at, "empty sort key")
		}
		if strings.ContainsAny(words[0], "/(") {
			return nil, notSupported("$orderby", at, "%q: only column names are supported", words[0])
		}
		f, ok := t.queryField(words[0])
		if !ok {
			return nil, invalidArg("$orderby", at, "unknown column %q of table %s", words[0], t.LogicalName)
		}
		o := Order{Column: f.name}
		switch {
		case len(words) == 1:
		case len(words) == 2 && words[1] == "asc":
		case len(words) == 2 && words[1] == "desc":
			o.Desc = true
		default:
			return nil, invalidArg("$orderby", at, "%q: want a column, then asc or desc", strings.TrimSpace(item))
		}
		if slices.ContainsFunc(out, func(x Order) bool { return x.Column == o.Column }) {
			return nil, invalidArg("$orderby", at, "column %s is given twice", o.Column)
		}
		out = append(out, o)
	}
	return out, nil
}
