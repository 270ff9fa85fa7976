package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
)

// Catalog is a solution's root catalog: its events, grouped in categories.
type Catalog struct {
	// UniqueName identifies the catalog among every imported solution's
	// catalogs and categories, e.g. contoso_customers.
	UniqueName  string
	DisplayName string
	Description string
	// Categories are one level deep, in the order written.
	Categories []Category
}

// Category is a group of events of a catalog.
type Category struct {
	// UniqueName is unique like a catalog's, e.g. contoso_customer_events.
	UniqueName  string
	DisplayName string
	Description string
	// Assignments are the category's items, in the order written.
	Assignments []Assignment
}

// Assignment puts one item in a category: exactly one of Table and
// CustomAPI is set.
type Assignment struct {
	// Table is a table's logical name: the category shows its table
	// events.
	Table string
	// CustomAPI is a custom API's unique name: the category shows its
	// action's event.
	CustomAPI string
}

// String names the assignment's item: "table contact", "custom API
// contoso_CustomerPurchase".
func (a Assignment) String() string {
	if a.Table != "" {
		return "table " + a.Table
	}
	return "custom API " + a.CustomAPI
}

// TableEvents are the messages whose events a table assignment exposes:
// all of them on a user-owned table, the first three on an
// organization-owned one.
var TableEvents = []string{pipeline.Create, pipeline.Update, pipeline.Delete,
	pipeline.Assign, pipeline.GrantAccess, pipeline.ModifyAccess, pipeline.RevokeAccess}

// tableEvents returns the messages whose events a table has.
func tableEvents(t *tables.Table) []string {
	if t.Ownership == tables.OrganizationOwned {
		return slices.DeleteFunc(slices.Clone(TableEvents), pipeline.OwnerMessage)
	}
	return TableEvents
}

// Catalogable returns why a custom API cannot be catalogued, or nil: only
// public actions can. Its message completes "custom API X ...".
func Catalogable(a *customapi.API) error {
	switch {
	case a.IsFunction:
		return errors.New("is a function: only actions can be catalogued (a function changes nothing, so it records no event)")
	case a.IsPrivate:
		return errors.New("is private (isPrivate): it is hidden from discovery, so it cannot be catalogued; make it public or leave it out")
	}
	return nil
}

// Definitions finds the tables and custom APIs assignments name;
// *pipeline.Definitions is one.
type Definitions interface {
	Table(name string) (*tables.Table, bool)
	CustomAPI(name string) (*customapi.API, bool)
}

var _ Definitions = (*pipeline.Definitions)(nil)

// Entry is a catalog and the solution that defines it.
type Entry struct {
	Solution string
	Catalog  Catalog
}

// Index is the catalogs of the imported solutions with the events their
// assignments expose. It is read-only once built and safe for concurrent
// use; what its methods return must not be changed.
type Index struct {
	catalogs []*CatalogInfo
	byName   map[string]*CatalogInfo
	events   map[string]map[string]*Event // catalog → event name → event
}

// CatalogInfo is a catalog as discovery shows it: its categories, their
// assignments and the events of each.
type CatalogInfo struct {
	UniqueName  string         `json:"uniqueName"`
	DisplayName string         `json:"displayName,omitempty"`
	Description string         `json:"description,omitempty"`
	Solution    string         `json:"solution,omitempty"`
	Categories  []CategoryInfo `json:"categories"`
}

// CategoryInfo is a category as discovery shows it.
type CategoryInfo struct {
	UniqueName  string           `json:"uniqueName"`
	DisplayName string           `json:"displayName,omitempty"`
	Description string           `json:"description,omitempty"`
	Assignments []AssignmentInfo `json:"assignments"`
}

// AssignmentInfo is an assignment with its item's names and events.
type AssignmentInfo struct {
	// Table or CustomAPI names the item, as in [Assignment].
	Table       string `json:"table,omitempty"`
	CustomAPI   string `json:"customApi,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	Description string `json:"description,omitempty"`
	// Events are the item's events: a table's in the order of
	// [TableEvents], a custom API's one.
	Events []EventSummary `json:"events"`
}

// EventSummary names an event in the tree.
type EventSummary struct {
	// Name is the type of the event in the log: "contact.Create",
	// "contoso_CustomerPurchase".
	Name string `json:"name"`
	// Message is the message that records it: Create, ..., or the custom
	// API's unique name.
	Message string `json:"message"`
	// Table is the table of a table event, or the bound table of a custom
	// API.
	Table       string `json:"table,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// Event is one event of a catalog, with what a subscriber receives for it.
type Event struct {
	Catalog string `json:"catalog"`
	// Categories are the catalog's categories that assign the event's
	// item, in catalog order.
	Categories []string `json:"categories"`
	EventSummary
	// CustomAPI is set for a custom API's event.
	CustomAPI   string `json:"customApi,omitempty"`
	Description string `json:"description,omitempty"`
	// Parameters are the event's input parameters, as in its
	// inputParameters: a table event's Target (and Assignee,
	// PrincipalAccess or Revokee), a custom API's Target when bound to a
	// row and its request parameters.
	Parameters []Parameter `json:"parameters"`
	// ResponseProperties are a custom API's response properties, in its
	// outputParameters; a Create has its new row's id.
	ResponseProperties []Parameter `json:"responseProperties,omitempty"`
	// Schema is the JSON Schema (draft 2020-12) of the event's execution
	// context (see the package documentation).
	Schema json.RawMessage `json:"schema"`
}

// Parameter is an input parameter or a response property of an event.
type Parameter struct {
	Name string `json:"name"`
	// Type is a custom API parameter type (Entity, EntityReference, Guid,
	// Money, ...) or, for GrantAccess and ModifyAccess, PrincipalAccess.
	Type string `json:"type"`
	// Table is the table of an Entity or EntityReference, when fixed.
	Table       string `json:"table,omitempty"`
	Optional    bool   `json:"optional,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	Description string `json:"description,omitempty"`
}

// Build indexes the catalogs and computes each one's events from the
// tables and custom APIs in defs. It reports every problem at once: a
// unique name used twice among the catalogs and categories (names are
// case-insensitive), an assignment that names no item or two, an item defs
// does not have, a custom API that cannot be catalogued, an item assigned
// twice in one category.
func Build(entries []Entry, defs Definitions) (*Index, error) {
	x := &Index{byName: map[string]*CatalogInfo{}, events: map[string]map[string]*Event{}}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	names := map[string]string{} // lower case name → where it is used
	claim := func(name, what string) {
		lower := strings.ToLower(name)
		if first, ok := names[lower]; ok {
			bad("%s: unique name %s is taken by %s", what, name, first)
			return
		}
		names[lower] = what
	}
	for _, en := range entries {
		c := en.Catalog
		where := "catalog " + c.UniqueName
		if en.Solution != "" {
			where += " of solution " + en.Solution
		}
		claim(c.UniqueName, where)
		info := &CatalogInfo{UniqueName: c.UniqueName, DisplayName: c.DisplayName, Description: c.Description, Solution: en.Solution, Categories: []CategoryInfo{}}
		events := map[string]*Event{}
		var order []*Event
		for _, cat := range c.Categories {
			claim(cat.UniqueName, "category "+cat.UniqueName+" of "+where)
			ci := CategoryInfo{UniqueName: cat.UniqueName, DisplayName: cat.DisplayName, Description: cat.Description, Assignments: []AssignmentInfo{}}
			seen := map[Assignment]bool{}
			for _, as := range cat.Assignments {
				prefix := fmt.Sprintf("category %s: %s", cat.UniqueName, as)
				if (as.Table == "") == (as.CustomAPI == "") {
					bad("category %s: an assignment names exactly one of a table and a custom API (table %q, custom API %q)", cat.UniqueName, as.Table, as.CustomAPI)
					continue
				}
				if seen[as] {
					bad("%s is assigned twice", prefix)
					continue
				}
				seen[as] = true
				ai, evs, err := assignment(as, defs)
				if err != nil {
					bad("%s %v", prefix, err)
					continue
				}
				for i := range evs {
					ev := evs[i]
					if first, ok := events[ev.Name]; ok {
						if !slices.Contains(first.Categories, cat.UniqueName) {
							first.Categories = append(first.Categories, cat.UniqueName)
						}
						continue
					}
					ev.Catalog, ev.Categories = c.UniqueName, []string{cat.UniqueName}
					events[ev.Name] = ev
					order = append(order, ev)
				}
				ci.Assignments = append(ci.Assignments, ai)
			}
			info.Categories = append(info.Categories, ci)
		}
		for _, ev := range order {
			s, err := json.Marshal(eventSchema(ev, defs))
			if err != nil {
				bad("event %s: schema: %v", ev.Name, err)
				continue
			}
			ev.Schema = s
		}
		if _, dup := x.byName[c.UniqueName]; dup {
			continue // reported by claim
		}
		x.catalogs = append(x.catalogs, info)
		x.byName[c.UniqueName] = info
		x.events[c.UniqueName] = events
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return x, nil
}

// assignment resolves an assignment's item and lists its events.
func assignment(as Assignment, defs Definitions) (AssignmentInfo, []*Event, error) {
	if as.Table != "" {
		t, ok := defs.Table(as.Table)
		if !ok {
			return AssignmentInfo{}, nil, errors.New("is not a table")
		}
		ai := AssignmentInfo{Table: t.LogicalName, DisplayName: t.DisplayName, Description: t.Description}
		var evs []*Event
		for _, msg := range tableEvents(t) {
			ev := tableEvent(t, msg)
			ai.Events = append(ai.Events, ev.EventSummary)
			evs = append(evs, ev)
		}
		return ai, evs, nil
	}
	a, ok := defs.CustomAPI(as.CustomAPI)
	if !ok {
		return AssignmentInfo{}, nil, errors.New("is not a custom API")
	}
	if err := Catalogable(a); err != nil {
		return AssignmentInfo{}, nil, err
	}
	ev := apiEvent(a)
	ai := AssignmentInfo{CustomAPI: a.UniqueName, DisplayName: a.DisplayName, Description: a.Description, Events: []EventSummary{ev.EventSummary}}
	return ai, []*Event{ev}, nil
}

// tableEventWords describe the table events: the display name's verb and
// the description, of a row of the table named by %s.
var tableEventWords = map[string][2]string{
	pipeline.Create:       {"Create", "A row of %s was created."},
	pipeline.Update:       {"Update", "A row of %s was updated."},
	pipeline.Delete:       {"Delete", "A row of %s was deleted."},
	pipeline.Assign:       {"Assign", "A row of %s was assigned to another owner."},
	pipeline.GrantAccess:  {"Share", "A row of %s was shared with a user, or a user's access rights on it were extended."},
	pipeline.ModifyAccess: {"Modify share of", "The access rights of a user on a shared row of %s were replaced."},
	pipeline.RevokeAccess: {"Unshare", "A user's share of a row of %s was removed."},
}

func displayName(t *tables.Table) string {
	if t.DisplayName != "" {
		return t.DisplayName
	}
	return t.LogicalName
}

// tableEvent is the event of a table message on t.
func tableEvent(t *tables.Table, msg string) *Event {
	words := tableEventWords[msg]
	ev := &Event{
		EventSummary: EventSummary{Name: t.LogicalName + "." + msg, Message: msg, Table: t.LogicalName, DisplayName: words[0] + " " + displayName(t)},
		Description:  fmt.Sprintf(words[1], displayName(t)),
	}
	target := Parameter{Name: "Target", Type: string(customapi.EntityReference), Table: t.LogicalName, Description: "The row."}
	switch msg {
	case pipeline.Create:
		target.Type, target.Description = string(customapi.Entity), "The row's columns as created; its id is primaryEntityId."
		ev.ResponseProperties = []Parameter{{Name: "id", Type: string(customapi.GUID), Description: "The new row's id."}}
	case pipeline.Update:
		target.Type, target.Description = string(customapi.Entity), "The columns the Update set; the others are null."
	}
	ev.Parameters = []Parameter{target}
	switch msg {
	case pipeline.Assign:
		ev.Parameters = append(ev.Parameters, Parameter{Name: "Assignee", Type: string(customapi.GUID), Description: "The new owner: a user's id."})
	case pipeline.GrantAccess, pipeline.ModifyAccess:
		what := "The user and the rights added to those the user has."
		if msg == pipeline.ModifyAccess {
			what = "The user and the rights the user now has."
		}
		ev.Parameters = append(ev.Parameters, Parameter{Name: "PrincipalAccess", Type: "PrincipalAccess", Description: what})
	case pipeline.RevokeAccess:
		ev.Parameters = append(ev.Parameters, Parameter{Name: "Revokee", Type: string(customapi.EntityReference), Table: pipeline.SystemUserTable,
			Description: "The user whose share is removed."})
	}
	return ev
}

// apiEvent is the event of a custom API's action.
func apiEvent(a *customapi.API) *Event {
	name := a.DisplayName
	if name == "" {
		name = a.UniqueName
	}
	ev := &Event{
		EventSummary: EventSummary{Name: a.UniqueName, Message: a.UniqueName, Table: a.BoundTable, DisplayName: name},
		CustomAPI:    a.UniqueName,
		Description:  a.Description,
		Parameters:   []Parameter{},
	}
	if a.Binding == customapi.TableBound {
		ev.Parameters = append(ev.Parameters, Parameter{Name: "Target", Type: string(customapi.EntityReference), Table: a.BoundTable,
			Description: "The row the action is bound to."})
	}
	for _, p := range a.RequestParameters {
		ev.Parameters = append(ev.Parameters, parameter(p))
	}
	for _, p := range a.ResponseProperties {
		rp := parameter(p)
		rp.Optional = true
		ev.ResponseProperties = append(ev.ResponseProperties, rp)
	}
	return ev
}

func parameter(p customapi.Parameter) Parameter {
	return Parameter{Name: p.UniqueName, Type: string(p.Type), Table: p.Table, Optional: p.Optional, DisplayName: p.DisplayName, Description: p.Description}
}

// Catalogs returns the catalogs, in the order they were built.
func (x *Index) Catalogs() []*CatalogInfo { return x.catalogs }

// Catalog returns a catalog by unique name, or a *NotFoundError.
func (x *Index) Catalog(name string) (*CatalogInfo, error) {
	c, ok := x.byName[name]
	if !ok {
		return nil, &NotFoundError{Catalog: name, known: x.names()}
	}
	return c, nil
}

// Event returns an event of a catalog by name, or a *NotFoundError when
// there is no such catalog or the catalog does not expose the event.
func (x *Index) Event(catalog, event string) (*Event, error) {
	if _, err := x.Catalog(catalog); err != nil {
		return nil, err
	}
	ev, ok := x.events[catalog][event]
	if !ok {
		return nil, &NotFoundError{Catalog: catalog, Event: event}
	}
	return ev, nil
}

// FindEvent returns the events named name in every catalog, in catalog
// order; none when no catalog exposes it.
func (x *Index) FindEvent(name string) []*Event {
	var out []*Event
	for _, c := range x.catalogs {
		if ev, ok := x.events[c.UniqueName][name]; ok {
			out = append(out, ev)
		}
	}
	return out
}

func (x *Index) names() []string {
	out := make([]string, len(x.catalogs))
	for i, c := range x.catalogs {
		out[i] = c.UniqueName
	}
	return out
}

// NotFoundError is a catalog, or an event of a catalog, that does not
// exist. Its code is errcode.NotFound.
type NotFoundError struct {
	Catalog string
	// Event is empty when the catalog does not exist.
	Event string
	known []string
}

func (e *NotFoundError) Error() string {
	if e.Event != "" {
		return fmt.Sprintf("catalog %s exposes no event %s; events are named <table>.<Message> (contact.Create) or by their custom API", e.Catalog, e.Event)
	}
	if len(e.known) == 0 {
		return fmt.Sprintf("no catalog is named %s: the imported solutions have no catalog", e.Catalog)
	}
	return fmt.Sprintf("no catalog is named %s (the catalogs are %s)", e.Catalog, strings.Join(e.known, ", "))
}

// ErrorCode is errcode.NotFound.
func (e *NotFoundError) ErrorCode() errcode.Code { return errcode.NotFound }
