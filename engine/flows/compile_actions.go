package flows

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/expression"
	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
)

func itoa(i int) string { return strconv.Itoa(i) }

// Default action retry: 4 attempts, 1 s then 2 s then 4 s apart.
var defaultActionRetry = jobs.Policy{MaxAttempts: 4, InitialDelay: time.Second, MaxDelay: 30 * time.Second, Multiplier: 2, Jitter: 0.1}

// MaxActionTimeout bounds an action's timeout.
const MaxActionTimeout = time.Hour

// block compiles a list of actions.
func (c *compiler) block(as []ActionDef, path []string) []*action {
	out := make([]*action, 0, len(as))
	for i := range as {
		if a := c.action(&as[i], append(slices.Clip(path), itoa(i))); a != nil {
			out = append(out, a)
		}
	}
	return out
}

func (c *compiler) action(d *ActionDef, path []string) *action {
	kind, n := kindOf(d)
	if n != 1 {
		return nil // reported by collect
	}
	a := &action{def: d, name: d.Name, kind: kind}
	c.flow.byName[d.Name] = a
	a.runAfter = []string{Succeeded}
	if len(d.RunAfter) > 0 {
		a.runAfter = nil
		for k, s := range d.RunAfter {
			if !slices.Contains(runAfterStatuses, s) {
				c.add(append(path, "runAfter", itoa(k)), "action %s: runAfter status %q must be one of %s", d.Name, s, strings.Join(runAfterStatuses, ", "))
			}
			a.runAfter = append(a.runAfter, s)
		}
	}
	if d.Timeout != "" {
		t, err := time.ParseDuration(d.Timeout)
		if err != nil || t <= 0 || t > MaxActionTimeout {
			c.add(append(path, "timeout"), "action %s: timeout %q must be a duration between 1ms and %s", d.Name, d.Timeout, MaxActionTimeout)
		}
		a.timeout = t
	}
	p, err := d.Retry.Policy(defaultActionRetry)
	if err != nil {
		c.add(append(path, "retry"), "action %s: %v", d.Name, err)
	}
	if d.Retry != nil && kind != KindExecute && kind != KindHTTP {
		c.add(append(path, "retry"), "action %s: only execute and http actions retry; a %s action takes no retry", d.Name, kind)
	}
	a.retry = p
	kp := append(slices.Clip(path), kind)
	switch kind {
	case KindExecute:
		c.execute(a, d.Execute, kp)
	case KindHTTP:
		c.http(a, d.HTTP, kp)
	case KindSetVariable, KindAppendVariable:
		s := d.SetVariable
		if s == nil {
			s = d.AppendVariable
		}
		a.variable = s.Name
		t, ok := c.vars[s.Name]
		switch {
		case !ok:
			c.add(append(kp, "name"), "action %s: variable %s is not declared under variables", d.Name, s.Name)
		case c.parallel:
			c.add(kp, "action %s: a forEach with a concurrency above 1 may not change variables (its iterations would race)", d.Name)
		case kind == KindAppendVariable && t.Kind != expression.List && t.Kind != expression.String:
			c.add(append(kp, "name"), "action %s: appendVariable needs an array or string variable; %s is %s", d.Name, s.Name, t)
		}
		a.varType = t
		a.val = c.compileValue(s.Value, append(kp, "value"))
	case KindCompose:
		a.val = c.compileValue(d.Compose.Value, append(kp, "value"))
	case KindCondition:
		a.cond = c.expr(d.Condition.If, expression.Bool, append(kp, "if"))
		a.then = c.block(d.Condition.Then, append(kp, "then"))
		a.els = c.block(d.Condition.Else, append(kp, "else"))
	case KindSwitch:
		a.cond = c.expr(d.Switch.On, expression.Any, append(kp, "on"))
		if len(d.Switch.Cases) == 0 {
			c.add(append(kp, "cases"), "action %s: a switch needs at least one case", d.Name)
		}
		for k, cs := range d.Switch.Cases {
			if s, ok := cs.Value.(string); ok {
				if _, isE := isExpr(s); isE {
					c.add(append(kp, "cases", itoa(k), "value"), "action %s: a case value is a literal, not an expression", d.Name)
				}
			}
			a.cases = append(a.cases, switchCase{value: normalize(cs.Value), actions: c.block(cs.Actions, append(kp, "cases", itoa(k), "actions"))})
		}
		a.children = c.block(d.Switch.Default, append(kp, "default"))
	case KindForEach:
		a.items = c.expr(d.ForEach.Items, expression.Any, append(kp, "items"))
		if a.items != nil {
			if k := a.items.Type().Kind; k != expression.List && k != expression.Any {
				c.add(append(kp, "items"), "action %s: items must be a list, not %s", d.Name, a.items.Type())
			}
		}
		a.concurrency = d.ForEach.Concurrency
		switch {
		case a.concurrency == 0:
			a.concurrency = 1
		case a.concurrency < 1 || a.concurrency > 50:
			c.add(append(kp, "concurrency"), "action %s: concurrency %d must be between 1 and 50", d.Name, a.concurrency)
		}
		saved := c.parallel
		c.parallel = c.parallel || a.concurrency > 1
		a.children = c.block(d.ForEach.Actions, append(kp, "actions"))
		c.parallel = saved
	case KindDelay:
		dd := d.Delay
		switch {
		case (dd.For == "") == (dd.Until == ""):
			c.add(kp, "action %s: set one of for and until", d.Name)
		case dd.For != "":
			t, err := time.ParseDuration(dd.For)
			if err != nil || t < 0 {
				c.add(append(kp, "for"), "action %s: for %q is not a duration such as 10m", d.Name, dd.For)
			}
			a.delay = t
		default:
			a.until = c.expr(dd.Until, expression.Any, append(kp, "until"))
			if a.until != nil {
				if k := a.until.Type().Kind; k != expression.Time && k != expression.Any && k != expression.String {
					c.add(append(kp, "until"), "action %s: until must be a time, not %s", d.Name, a.until.Type())
				}
			}
		}
		if c.flow.Kind == TriggerRequest {
			c.add(kp, "action %s: a flow-defined action runs inside its caller's transaction and cannot wait", d.Name)
		}
	case KindTerminate:
		switch d.Terminate.Status {
		case Succeeded, Failed, Canceled:
		default:
			c.add(append(kp, "status"), "action %s: status %q must be succeeded, failed or canceled", d.Name, d.Terminate.Status)
		}
		a.status = d.Terminate.Status
		a.code = d.Terminate.Code
		a.val = c.compileValue(d.Terminate.Message, append(kp, "message"))
	case KindScope:
		a.children = c.block(d.Scope.Actions, append(kp, "actions"))
	case KindResponse:
		if c.flow.Kind != TriggerRequest {
			c.add(kp, "action %s: response answers the caller of a flow-defined action: this flow has no request trigger", d.Name)
		} else if c.flow.API != nil {
			for k := range d.Response.Properties {
				if !slices.ContainsFunc(c.flow.API.ResponseProperties, func(p customapi.Parameter) bool { return p.UniqueName == k }) {
					c.add(append(kp, "properties", k), "action %s: %s is not a response property of %s", d.Name, k, c.flow.API.UniqueName)
				}
			}
		}
		a.val = c.compileMap(d.Response.Properties, append(kp, "properties"))
	}
	a.effect = kind == KindExecute || kind == KindHTTP || kind == KindDelay
	return a
}

func (c *compiler) execute(a *action, d *ExecuteDef, path []string) {
	a.message, a.table, a.columns, a.top = d.Message, d.Table, d.Columns, d.Top
	if api, ok := c.defs.CustomAPI(d.Message); ok {
		a.api = api
		if api.Binding != customapi.Global && d.Table == "" {
			a.table = api.BoundTable
		}
		for k := range d.Parameters {
			if !slices.ContainsFunc(api.RequestParameters, func(p customapi.Parameter) bool { return p.UniqueName == k }) {
				c.add(append(path, "parameters", k), "custom API %s has no request parameter %s", api.UniqueName, k)
			}
		}
		for _, p := range api.RequestParameters {
			if _, ok := d.Parameters[p.UniqueName]; !ok && !p.Optional {
				c.add(append(path, "parameters"), "custom API %s needs its parameter %s", api.UniqueName, p.UniqueName)
			}
		}
		if len(d.Target) > 0 {
			c.add(append(path, "target"), "a custom API takes parameters, not a target")
		}
	} else if pipeline.IsTableMessage(d.Message) {
		t, ok := c.defs.Table(d.Table)
		switch {
		case d.Table == "":
			c.add(path, "message %s needs a table", d.Message)
		case !ok:
			c.add(append(path, "table"), "table %s does not exist", d.Table)
		}
		switch d.Message {
		case pipeline.GrantAccess, pipeline.ModifyAccess, pipeline.RevokeAccess:
			c.add(append(path, "message"), "message %s is not supported in flows yet", d.Message)
		case pipeline.Create, pipeline.Update:
			if ok {
				for k := range d.Target {
					if !t.HasColumn(k) {
						c.add(append(path, "target", k), "table %s has no column %s", t.LogicalName, k)
					}
				}
			}
		}
		needsID := d.Message != pipeline.Create && d.Message != pipeline.RetrieveMultiple
		if needsID && d.ID == nil {
			c.add(path, "message %s needs an id", d.Message)
		}
		if d.Message == pipeline.Assign && d.Owner == nil {
			c.add(path, "message Assign needs an owner")
		}
		if ok {
			for k, col := range d.Columns {
				if !t.HasColumn(col) && col != primaryKey(t) {
					c.add(append(path, "columns", itoa(k)), "table %s has no column %s", t.LogicalName, col)
				}
			}
			if f, ok := d.Filter.(string); ok {
				if _, isE := isExpr(f); !isE {
					if _, err := tables.ParseFilter(t, f); err != nil {
						c.add(append(path, "filter"), "filter: %v", err)
					}
				}
			}
		}
	} else {
		c.add(append(path, "message"), "message %s is neither a table message nor a custom API", d.Message)
	}
	a.id = compileOpt(c, d.ID, append(path, "id"))
	a.owner = compileOpt(c, d.Owner, append(path, "owner"))
	a.target = c.compileMap(d.Target, append(path, "target"))
	a.params = c.compileMap(d.Parameters, append(path, "parameters"))
	a.filter = compileOpt(c, d.Filter, append(path, "filter"))
}

func compileOpt(c *compiler, v any, path []string) *value {
	if v == nil {
		return nil
	}
	return c.compileValue(v, path)
}

func (c *compiler) http(a *action, d *HTTPDef, path []string) {
	a.method = strings.ToUpper(d.Method)
	if a.method == "" {
		a.method = http.MethodPost
		if d.Body == nil {
			a.method = http.MethodGet
		}
	}
	switch a.method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead:
	default:
		c.add(append(path, "method"), "method %q must be GET, POST, PUT, PATCH, DELETE or HEAD", d.Method)
	}
	if d.URL == nil {
		c.add(path, "an HTTP action needs a url")
	}
	if s, ok := d.URL.(string); ok {
		if _, isE := isExpr(s); !isE && !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") && !strings.HasPrefix(s, "env:") {
			c.add(append(path, "url"), "url %q must start with http:// or https:// (or be env:NAME or an expression)", s)
		}
	}
	if d.Auth != nil {
		switch d.Auth.Type {
		case "basic", "bearer", "header":
		default:
			c.add(append(path, "auth", "type"), "auth type %q must be basic, bearer or header", d.Auth.Type)
		}
		if d.Auth.Type == "header" && d.Auth.Name == "" {
			c.add(append(path, "auth", "name"), "header auth needs the header's name")
		}
	}
	for k, s := range d.Accept {
		if s < 100 || s > 599 {
			c.add(append(path, "accept", itoa(k)), "status %d is not an HTTP status", s)
		}
	}
	a.url = compileOpt(c, d.URL, append(path, "url"))
	a.headers = c.compileMap(d.Headers, append(path, "headers"))
	a.query = c.compileMap(d.Query, append(path, "query"))
	a.body = compileOpt(c, d.Body, append(path, "body"))
	a.auth = d.Auth
	a.accept = d.Accept
}

// normalize makes a literal comparable with what an expression gives:
// integers as int64.
func normalize(v any) any {
	switch v := v.(type) {
	case int:
		return int64(v)
	case float64:
		if v == float64(int64(v)) {
			return int64(v)
		}
	}
	return v
}
