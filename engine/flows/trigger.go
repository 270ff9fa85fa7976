package flows

import (
	"slices"
	"strings"
	"time"

	"github.com/bizevents/bizevents/engine/catalog"
	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/expression"
	"github.com/bizevents/bizevents/engine/pipeline"
)

// ScheduleEventType is the type of the event a schedule's tick appends to
// the log: the run of a scheduled flow starts from it, as any other run
// starts from its trigger event.
const ScheduleEventType = "bizevents.FlowScheduled"

// MinEvery bounds a schedule's recurrence.
const MinEvery = time.Second

// HandlerPrefix prefixes the handler name of a flow-defined action's
// custom API: "flow:<flow name>".
const HandlerPrefix = "flow:"

// tableMessages are the table messages a table trigger can name.
var tableMessages = []string{pipeline.Create, pipeline.Update, pipeline.Delete, pipeline.Assign}

// RequestAPI returns the custom API of a flow-defined action (a flow with a
// request trigger): Global, sync and async steps allowed, its main
// operation the flow. ok is false for any other flow.
func RequestAPI(def Def) (api customapi.API, ok bool) {
	r := def.Trigger.Request
	if r == nil {
		return api, false
	}
	api = customapi.API{
		UniqueName:      r.UniqueName,
		DisplayName:     r.DisplayName,
		Description:     r.Description,
		Binding:         customapi.Global,
		AllowedStepType: customapi.StepsSyncAndAsync,
		Handler:         HandlerPrefix + def.Name,
	}
	if api.DisplayName == "" {
		api.DisplayName = def.DisplayName
	}
	if api.Description == "" {
		api.Description = def.Description
	}
	for _, p := range r.RequestParameters {
		api.RequestParameters = append(api.RequestParameters, parameter(p))
	}
	for _, p := range r.ResponseProperties {
		pp := parameter(p)
		pp.Optional = true
		api.ResponseProperties = append(api.ResponseProperties, pp)
	}
	return api, true
}

func parameter(p ParameterDef) customapi.Parameter {
	return customapi.Parameter{UniqueName: p.UniqueName, DisplayName: p.DisplayName, Description: p.Description,
		Type: customapi.ParamType(p.Type), Optional: p.Optional, Table: p.Table}
}

// trigger checks the trigger, fills the flow's trigger fields and returns
// the type of what expressions see as trigger.
func (c *compiler) trigger(f *Flow) expression.Type {
	t := &c.def.Trigger
	path := []string{"trigger"}
	n := 0
	for _, set := range []bool{t.Action != nil, t.Table != nil, t.Schedule != nil, t.Request != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		c.add(path, "set exactly one of action, table, schedule and request")
		return expression.Type{}
	}
	switch {
	case t.Action != nil:
		f.Kind = TriggerAction
		return c.actionTrigger(f, t.Action, append(path, "action"))
	case t.Table != nil:
		f.Kind = TriggerTable
		return c.tableTrigger(f, t.Table, append(path, "table"))
	case t.Schedule != nil:
		f.Kind = TriggerSchedule
		p := append(path, "schedule")
		every, err := time.ParseDuration(t.Schedule.Every)
		switch {
		case err != nil:
			c.add(append(p, "every"), "every %q is not a duration such as 15m", t.Schedule.Every)
		case every < MinEvery:
			c.add(append(p, "every"), "every %s is shorter than %s", every, MinEvery)
		}
		f.Every = every
		f.Start = time.Unix(0, 0).UTC()
		if t.Schedule.Start != "" {
			start, err := time.Parse(time.RFC3339, t.Schedule.Start)
			if err != nil {
				c.add(append(p, "start"), "start %q is not an RFC 3339 time such as 2026-01-01T08:00:00Z", t.Schedule.Start)
			}
			f.Start = start.UTC()
		}
		f.Events = []string{ScheduleEventType}
		return scheduleTriggerType()
	default:
		f.Kind = TriggerRequest
		p := append(path, "request")
		api, ok := c.defs.CustomAPI(t.Request.UniqueName)
		if !ok || api.Handler != HandlerPrefix+c.def.Name {
			c.add(append(p, "uniqueName"), "flow-defined action %s is not defined", t.Request.UniqueName)
			return expression.Type{}
		}
		f.API = api
		fs := envelope()
		in := make([]expression.Field, 0, len(api.RequestParameters))
		for _, p := range api.RequestParameters {
			in = append(in, field(p.UniqueName, paramType(catalog.Parameter{Name: p.UniqueName, Type: string(p.Type), Table: p.Table}, c.defs.Table)))
		}
		fs = append(fs, field("InputParameters", object(in...)))
		return object(fs...)
	}
}

func (c *compiler) actionTrigger(f *Flow, a *ActionTriggerDef, path []string) expression.Type {
	if c.cats == nil {
		c.add(append(path, "catalog"), "catalog %s does not exist: the solutions define no catalog", a.Catalog)
		return expression.Type{}
	}
	cat, err := c.cats.Catalog(a.Catalog)
	if err != nil {
		c.add(append(path, "catalog"), "catalog %s does not exist", a.Catalog)
		return expression.Type{}
	}
	if a.Category != "" && !slices.ContainsFunc(cat.Categories, func(cc catalog.CategoryInfo) bool { return strings.EqualFold(cc.UniqueName, a.Category) }) {
		c.add(append(path, "category"), "catalog %s has no category %s", a.Catalog, a.Category)
	}
	ev, err := c.cats.Event(cat.UniqueName, a.Action)
	if err != nil {
		c.add(append(path, "action"), "catalog %s has no event %s", a.Catalog, a.Action)
		return expression.Type{}
	}
	if a.Category != "" && !slices.ContainsFunc(ev.Categories, func(s string) bool { return strings.EqualFold(s, a.Category) }) {
		c.add(append(path, "action"), "event %s is not in category %s of catalog %s", ev.Name, a.Category, a.Catalog)
	}
	if a.Table != "" && a.Table != ev.Table && !(a.Table == catalog.NoEntity && ev.Table == "") {
		c.add(append(path, "table"), "event %s is not on table %s", ev.Name, a.Table)
	}
	f.Events = []string{ev.Name}
	f.Table = ev.Table
	return eventTriggerType(ev, c.defs.Table)
}

func (c *compiler) tableTrigger(f *Flow, tt *TableTriggerDef, path []string) expression.Type {
	t, ok := c.defs.Table(tt.Name)
	if !ok {
		c.add(append(path, "name"), "table %s does not exist", tt.Name)
		return expression.Type{}
	}
	msgs := tt.Messages
	if len(msgs) == 0 {
		msgs = []string{pipeline.Create, pipeline.Update, pipeline.Delete}
	}
	for i, m := range msgs {
		if !slices.Contains(tableMessages, m) {
			c.add(append(path, "messages", itoa(i)), "message %q must be one of %s", m, strings.Join(tableMessages, ", "))
		}
	}
	for i, col := range tt.Columns {
		if !t.HasColumn(col) {
			c.add(append(path, "columns", itoa(i)), "table %s has no column %s", t.LogicalName, col)
		}
	}
	if len(tt.Columns) > 0 && !slices.Contains(msgs, pipeline.Update) {
		c.add(append(path, "columns"), "filtering columns apply to Update: add Update to messages")
	}
	f.Table = t.LogicalName
	f.Messages = msgs
	f.Columns = tt.Columns
	for _, m := range msgs {
		f.Events = append(f.Events, t.LogicalName+"."+m)
	}
	ev := &catalog.Event{EventSummary: catalog.EventSummary{Table: t.LogicalName}}
	ev.Parameters = []catalog.Parameter{{Name: "Target", Type: string(customapi.Entity), Table: t.LogicalName}}
	ev.ResponseProperties = []catalog.Parameter{{Name: "id", Type: string(customapi.GUID)}}
	return eventTriggerType(ev, c.defs.Table)
}
