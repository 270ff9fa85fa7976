package solution

import (
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bizevents/bizevents/engine/catalog"
	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/flows"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
)

// flowAPIs returns the custom APIs of the solution's flow-defined actions,
// checked: their names must not collide with the custom APIs', and they
// must validate as custom APIs do. They are added to apis and folded, so
// that catalogs can assign them.
func (m *model) flowAPIs(ps *problems, tableNames map[string]bool, apis map[string]*customapi.API, folded map[string]string) []customapi.API {
	var out []customapi.API
	for _, it := range m.flows {
		a, ok := flows.RequestAPI(it.def)
		if !ok {
			continue
		}
		at := it.at.at("trigger", "request", "uniqueName")
		lower := strings.ToLower(a.UniqueName)
		if first, ok := folded[lower]; ok {
			ps.add(at, "flow %s: flow-defined action %s: the name is taken by custom API %s", it.def.Name, a.UniqueName, first)
			continue
		}
		folded[lower] = a.UniqueName
		for _, err := range split(a.Validate(tableNames)) {
			ps.add(at, "flow %s: flow-defined action %s: %v", it.def.Name, a.UniqueName, err)
		}
		apis[a.UniqueName] = &a
		out = append(out, a)
	}
	return out
}

// checkFlows compiles the solution's flows against its own definitions:
// every expression is type-checked against its trigger's schema, so that a
// misspelled field is an import problem at its file and line.
func (m *model) checkFlows(ps *problems, ts []tables.Table, as, flowAPIs []customapi.API, steps []pipeline.Step) []flows.Def {
	if len(m.flows) == 0 {
		return nil
	}
	defs, err := pipeline.NewDefinitions(ts, append(append([]customapi.API(nil), as...), flowAPIs...), steps)
	if err != nil {
		return nil // reported by the checks of tables, custom APIs and steps
	}
	var entries []catalog.Entry
	for _, it := range m.catalogs {
		entries = append(entries, catalog.Entry{Solution: m.manifest.Name, Catalog: it.def.Catalog()})
	}
	x, err := catalog.Build(entries, defs)
	if err != nil {
		x = nil
	}
	names := map[string]origin{}
	var out []flows.Def
	for _, it := range m.flows {
		if first, ok := names[it.def.Name]; ok {
			ps.add(it.at.at("name"), "flow %s: defined twice%s", it.def.Name, paren("first at ", first))
			continue
		}
		names[it.def.Name] = it.at.at("name")
		_, err := flows.Compile(it.def, m.manifest.Name, defs, x)
		var ce *flows.CompileError
		switch {
		case errors.As(err, &ce):
			for _, p := range ce.Problems {
				ps.addAt(flowProblemAt(it.at, p), "flow %s: %s", it.def.Name, p.Msg)
			}
		case err != nil:
			ps.add(it.at, "flow %s: %v", it.def.Name, err)
		default:
			out = append(out, it.def)
		}
	}
	return out
}

// position is a problem's place: a node, and for an expression the line and
// column inside it.
type position struct {
	at           origin
	line, column int
}

// flowProblemAt points a flow problem at its value and, for an
// expression, at the line and column of the mistake inside it.
func flowProblemAt(at origin, p flows.Problem) position {
	o := at.at(p.Path...)
	pos := position{at: o, line: o.line(), column: o.column()}
	n := o.node
	if p.Line == 0 || n == nil || n.Kind != yaml.ScalarNode {
		return pos
	}
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// The text starts on the line after the indicator, at the
		// block's indentation.
		pos.line = n.Line + p.Line
		pos.column = n.Column + p.Column
		return pos
	}
	pos.line = n.Line + p.Line - 1
	if p.Line == 1 {
		lead := 0
		if strings.HasPrefix(n.Value, "=") && !strings.HasPrefix(n.Value, "==") && !isBareExpressionKey(p.Path) {
			lead = 1 // the "=" that marks an expression
		}
		if n.Style == yaml.DoubleQuotedStyle || n.Style == yaml.SingleQuotedStyle {
			lead++
		}
		pos.column = n.Column + lead + p.Column - 1
	} else {
		pos.column = p.Column
	}
	return pos
}

// isBareExpressionKey reports whether the value at path is an expression
// without the "=" mark (filter, if, on, items, until).
func isBareExpressionKey(path []string) bool {
	if len(path) == 0 {
		return false
	}
	switch path[len(path)-1] {
	case "filter", "if", "on", "items", "until", "orderBy":
		return true
	}
	return false
}

// addAt adds a problem at a position.
func (ps *problems) addAt(p position, format string, args ...any) {
	ps.list = append(ps.list, Problem{File: p.at.file, Line: p.line, Column: p.column, Message: fmt.Sprintf(format, args...)})
}

// CompileFlows compiles the flows of the imported solutions against their
// merged definitions and catalogs, for the engine to run.
func CompileFlows(sols []*Solution) ([]*flows.Flow, *pipeline.Definitions, error) {
	defs, x, err := merge(sols)
	if err != nil {
		return nil, nil, err
	}
	var out []*flows.Flow
	owner := map[string]string{}
	var errs []error
	for _, s := range sols {
		for _, d := range s.Flows {
			if other, ok := owner[d.Name]; ok {
				errs = append(errs, fmt.Errorf("flow %s is defined by solutions %s and %s", d.Name, other, s.Name))
				continue
			}
			owner[d.Name] = s.Name
			f, err := flows.Compile(d, s.Name, defs, x)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, f)
		}
	}
	return out, defs, errors.Join(errs...)
}
