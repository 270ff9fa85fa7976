package api

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
)

// contentTypeJSON is the content type of every JSON response.
const contentTypeJSON = "application/json; odata.metadata=minimal; charset=utf-8"

// writeJSON writes v as a JSON response; an error means nothing was
// written, and goes to writeError.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("render the response: %w", err)
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// serviceRoot is the absolute URL of the Web API's service root.
func (h *Handler) serviceRoot(r *http.Request) string {
	if h.cfg.PublicURL != "" {
		return h.cfg.PublicURL + h.cfg.BasePath
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + h.cfg.BasePath
}

// entityURL is a row's URL, for OData-EntityId and Location.
func (h *Handler) entityURL(r *http.Request, t *tables.Table, id uuid.UUID) string {
	return h.serviceRoot(r) + "/" + t.PluralName + "(" + id.String() + ")"
}

// contextURL is the @odata.context of an entity set, or of one of its
// rows; with the selected columns in parentheses, as OData writes them.
func (h *Handler) contextURL(r *http.Request, t *tables.Table, cols []string, entity bool) string {
	s := h.serviceRoot(r) + "/$metadata#" + t.PluralName
	if len(cols) > 0 {
		s += "(" + strings.Join(cols, ",") + ")"
	}
	if entity {
		s += "/$entity"
	}
	return s
}

// renderRow renders a row for JSON with its @odata.etag.
func renderRow(t *tables.Table, row tables.Row, cols []string) map[string]any {
	out := t.Output(row, cols)
	if out == nil {
		out = map[string]any{}
	}
	if v := rowVersion(row); v > 0 {
		out["@odata.etag"] = etag(v)
	}
	return out
}

// rowVersion is a row's versionnumber, 0 when it has none.
func rowVersion(row tables.Row) int64 {
	switch v := row[tables.ColumnVersion].(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case json.Number:
		n, _ := v.Int64()
		return n
	case float64:
		return int64(v)
	}
	return 0
}

// version is the row version a write or a Retrieve answered.
func version(resp pipeline.Response) int64 {
	if resp.Version > 0 {
		return resp.Version
	}
	return rowVersion(resp.Row)
}

// outputValue turns a custom API's response property into a JSON value:
// decimals and money as JSON numbers, times in RFC 3339, rows and
// collections recursively; values that render themselves (json.Marshaler)
// are left alone.
func outputValue(v any) any {
	switch v := v.(type) {
	case tables.Number:
		return json.Number(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case json.Marshaler:
		return v
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return v
	case tables.Row:
		return outputObject(v)
	case map[string]any:
		return outputObject(v)
	case []tables.Row:
		out := make([]any, len(v))
		for i, r := range v {
			out[i] = outputObject(r)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = outputValue(e)
		}
		return out
	}
	return v
}

func outputObject(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = outputValue(v)
	}
	return out
}

// setReplayed marks a response an idempotency key replayed.
func setReplayed(w http.ResponseWriter, resp pipeline.Response) {
	if resp.Replayed {
		w.Header().Set(HeaderReplayed, "true")
	}
}
