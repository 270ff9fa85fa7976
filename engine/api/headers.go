package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/bizevents/bizevents/engine/errcode"
)

// maxIdempotencyKey bounds an idempotency key's length.
const maxIdempotencyKey = 255

// idempotencyKey returns the request's idempotency key, from
// Idempotency-Key or MSCRM.IdempotencyKey: printable ASCII, at most 255
// bytes; "" when there is none.
func idempotencyKey(r *http.Request) (string, error) {
	a, b := r.Header.Get(HeaderIdempotencyKey), r.Header.Get(HeaderIdempotencyKeyMSCRM)
	if a != "" && b != "" && a != b {
		return "", errorf(errcode.InvalidArgument, "%s and %s differ; send one", HeaderIdempotencyKey, HeaderIdempotencyKeyMSCRM)
	}
	k := a
	if k == "" {
		k = b
	}
	if len(k) > maxIdempotencyKey {
		return "", errorf(errcode.InvalidArgument, "the idempotency key is longer than %d bytes", maxIdempotencyKey)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return "", errorf(errcode.InvalidArgument, "the idempotency key must be printable ASCII without spaces")
		}
	}
	return k, nil
}

// preferences are the understood parts of the Prefer header (RFC 7240);
// the rest is ignored, as the RFC asks.
type preferences struct {
	representation bool // return=representation
	maxPageSize    int  // odata.maxpagesize, 0 when absent
}

func parsePrefer(h http.Header) (preferences, error) {
	var p preferences
	for _, line := range h.Values("Prefer") {
		for _, pref := range strings.Split(line, ",") {
			pref, _, _ = strings.Cut(pref, ";") // no parameters are understood
			name, val, _ := strings.Cut(strings.TrimSpace(pref), "=")
			val = strings.Trim(strings.TrimSpace(val), `"`)
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "return":
				p.representation = val == "representation"
			case "odata.maxpagesize":
				n, err := strconv.Atoi(val)
				if err != nil || n < 1 {
					return p, errorf(errcode.InvalidArgument, "odata.maxpagesize=%q must be a positive whole number", val)
				}
				p.maxPageSize = n
			}
		}
	}
	return p, nil
}

// etag renders a row version as a weak entity tag, as Dataverse does.
func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch returns the version an If-Match header expects: 0 for none or
// "*" (Update and Delete need the row to exist anyway).
func ifMatch(r *http.Request) (int64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return 0, nil
	}
	n, ok := parseETag(v)
	if !ok {
		return 0, errorf(errcode.InvalidArgument, `If-Match %q must be one entity tag, W/"<version>"`, v)
	}
	return n, nil
}

// parseETag parses W/"n" or "n".
func parseETag(v string) (int64, bool) {
	v = strings.TrimPrefix(v, "W/")
	if len(v) < 3 || v[0] != '"' || v[len(v)-1] != '"' {
		return 0, false
	}
	n, err := strconv.ParseInt(v[1:len(v)-1], 10, 64)
	return n, err == nil && n > 0
}

// noneMatch reports whether If-None-Match names the version (or is "*").
func noneMatch(r *http.Request, version int64) bool {
	for _, line := range r.Header.Values("If-None-Match") {
		for _, t := range strings.Split(line, ",") {
			t = strings.TrimSpace(t)
			if n, ok := parseETag(t); t == "*" || (ok && n == version) {
				return true
			}
		}
	}
	return false
}
