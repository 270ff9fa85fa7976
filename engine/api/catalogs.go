package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/bizevents/bizevents/engine/catalog"
	"github.com/bizevents/bizevents/engine/errcode"
)

// catalogTree is the body of GET <catalog path>.
type catalogTree struct {
	Catalogs []*catalog.CatalogInfo `json:"catalogs"`
}

// catalogEvents is the body of GET <catalog path>/{catalog}/events.
type catalogEvents struct {
	Catalog string           `json:"catalog"`
	Events  []*catalog.Event `json:"events"`
}

// serveCatalogs serves catalog discovery, GET only:
//
//	<catalog path>                            {"catalogs": [catalog → categories → assignments → events]}
//	<catalog path>/{catalog}                  one catalog's tree
//	<catalog path>/{catalog}/events/{event}   one event: its parameters and the JSON Schema of its context
func (h *Handler) serveCatalogs(w http.ResponseWriter, c *call) {
	h.admitted(w, c, func(w http.ResponseWriter, c *call) error {
		if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
			return notAllowed(c.r.Method, "catalog discovery", http.MethodGet)
		}
		if len(c.r.URL.Query()) > 0 {
			return errorf(errcode.InvalidArgument, "catalog discovery takes no query parameters")
		}
		if h.deps.Catalogs == nil {
			return errorf(errcode.NotFound, "catalog discovery is not served here: the server has no catalog source")
		}
		rest := strings.Trim(strings.TrimPrefix(c.r.URL.EscapedPath(), h.cfg.CatalogPath), "/")
		var parts []string
		if rest != "" {
			for _, p := range strings.Split(rest, "/") {
				u, err := url.PathUnescape(p)
				if err != nil || u == "" {
					return errorf(errcode.InvalidArgument, "path segment %q is not validly escaped", p)
				}
				parts = append(parts, u)
			}
		}
		x, err := h.deps.Catalogs.Catalogs(c.r.Context())
		if err != nil {
			return err
		}
		switch {
		case len(parts) == 0:
			return writePlainJSON(w, catalogTree{Catalogs: nonNil(x.Catalogs())})
		case len(parts) == 1:
			cat, err := x.Catalog(parts[0])
			if err != nil {
				return err
			}
			return writePlainJSON(w, cat)
		case len(parts) == 2 && parts[1] == "events":
			cat, err := x.Catalog(parts[0])
			if err != nil {
				return err
			}
			out := catalogEvents{Catalog: cat.UniqueName, Events: []*catalog.Event{}}
			for _, k := range cat.Categories {
				for _, a := range k.Assignments {
					for _, s := range a.Events {
						ev, err := x.Event(cat.UniqueName, s.Name)
						if err != nil {
							return err
						}
						if !containsEvent(out.Events, ev) {
							out.Events = append(out.Events, ev)
						}
					}
				}
			}
			return writePlainJSON(w, out)
		case len(parts) == 3 && parts[1] == "events":
			ev, err := x.Event(parts[0], parts[2])
			if err != nil {
				return err
			}
			return writePlainJSON(w, ev)
		}
		return errorf(errcode.NotFound, "nothing is served at %s; discovery serves %s, %s/{catalog} and %s/{catalog}/events/{event}",
			c.r.URL.Path, h.cfg.CatalogPath, h.cfg.CatalogPath, h.cfg.CatalogPath)
	})
}

func containsEvent(evs []*catalog.Event, ev *catalog.Event) bool {
	for _, e := range evs {
		if e == ev {
			return true
		}
	}
	return false
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// writePlainJSON writes a 200 JSON response that is not OData.
func writePlainJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("render the response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(b, '\n'))
	return nil
}
