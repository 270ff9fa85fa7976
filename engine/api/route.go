package api

import (
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
)

// whoAmI is Dataverse's built-in function; a custom API of that name wins.
const whoAmIName = "WhoAmI"

// route finds what a Web API request addresses and serves it.
func (h *Handler) route(w http.ResponseWriter, c *call) error {
	escaped, ok := strings.CutPrefix(c.r.URL.EscapedPath(), h.cfg.BasePath)
	if !ok {
		escaped = strings.TrimPrefix(c.r.URL.Path, h.cfg.BasePath)
	}
	res, err := parsePath(escaped)
	if err != nil {
		return err
	}
	key, err := idempotencyKey(c.r)
	if err != nil {
		return err
	}
	if key != "" && c.r.Method != http.MethodPost {
		return errorf(errcode.InvalidArgument, "%s applies to POST (Create and actions) only", HeaderIdempotencyKey)
	}
	c.idempotencyKey = key

	name := res.head.name
	if t, ok := h.deps.Metadata.TableByPlural(name); ok {
		return h.serveTable(w, c, t, res)
	}
	if res.op.name != "" {
		return errorf(errcode.NotFound, "no table has the entity set name %q", name)
	}
	if pipeline.IsShareMessage(name) {
		return h.serveShare(w, c, name, res.head)
	}
	if a, ok := h.deps.Metadata.CustomAPI(name); ok {
		return h.serveAPI(w, c, a, nil, uuid.Nil, false, res.head)
	}
	if name == whoAmIName {
		return h.whoAmI(w, c, res.head)
	}
	return errorf(errcode.NotFound, "no table has the entity set name %q and no custom API is named %q", name, name)
}
