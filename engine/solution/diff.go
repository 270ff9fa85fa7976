package solution

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// ChangeKind says how a definition changed between two versions of a
// solution.
type ChangeKind string

// The kinds of change.
const (
	Added   ChangeKind = "added"
	Removed ChangeKind = "removed"
	Changed ChangeKind = "changed"
)

// Change is one difference between two versions of a solution.
type Change struct {
	Kind ChangeKind `json:"kind"`
	// What is the kind of definition: "solution", "table", "column",
	// "custom API", "step", "plugin", "catalog" or "category".
	What string `json:"what"`
	// Name names the definition; a column as table.column, a category as
	// catalog/category.
	Name string `json:"name"`
	// Details lists what changed, by key, with the old and new value of a
	// scalar: `type: "money" → "decimal"`.
	Details []string `json:"details,omitempty"`
	// Warning, when set, says why the change may lose data: a table or a
	// column removed, a column's type changed. Such a change is allowed.
	Warning string `json:"warning,omitempty"`
}

// String formats the change on one line, e.g.
// `changed column account.revenue: type: "money" → "decimal" (warning: ...)`.
func (c Change) String() string {
	s := fmt.Sprintf("%s %s %s", c.Kind, c.What, c.Name)
	if len(c.Details) > 0 {
		s += ": " + strings.Join(c.Details, "; ")
	}
	if c.Warning != "" {
		s += " (warning: " + c.Warning + ")"
	}
	return s
}

// Changes is what an import of a new version of a solution changes: the
// solution's manifest, then tables (each followed by its columns), custom
// APIs, steps, plugins and catalogs (each followed by its categories),
// each sorted by name.
type Changes []Change

// Warnings returns the changes that have a warning.
func (cs Changes) Warnings() Changes {
	var ws Changes
	for _, c := range cs {
		if c.Warning != "" {
			ws = append(ws, c)
		}
	}
	return ws
}

// String formats the changes one per line.
func (cs Changes) String() string {
	lines := make([]string, len(cs))
	for i, c := range cs {
		lines[i] = c.String()
	}
	return strings.Join(lines, "\n")
}

// Diff lists what changes from old to new, two versions of a solution; old
// is nil for a first import, where everything is added.
func Diff(old, new *Solution) Changes {
	var o, n Definition
	if old != nil {
		o = old.Definition()
	}
	if new != nil {
		n = new.Definition()
	}
	var cs Changes
	if old != nil && new != nil {
		if d := fieldDiff(manifest(o), manifest(n)); len(d) > 0 {
			cs = append(cs, Change{Kind: Changed, What: "solution", Name: n.Name, Details: d})
		}
	}
	diffLists(&cs, "table", o.Tables, n.Tables, func(t TableDef) string { return t.LogicalName },
		func(a, b TableDef) {
			ca, cb := a.Columns, b.Columns
			a.Columns, b.Columns = nil, nil
			if d := fieldDiff(a, b); len(d) > 0 {
				cs = append(cs, Change{Kind: Changed, What: "table", Name: b.LogicalName, Details: d})
			}
			diffColumns(&cs, b.LogicalName, ca, cb)
		},
		func(c *Change, t TableDef) {
			if c.Kind == Removed {
				c.Warning = "the rows of the table lose their definition"
			}
		})
	diffLists(&cs, "custom API", o.CustomAPIs, n.CustomAPIs, func(a CustomAPIDef) string { return a.UniqueName },
		func(a, b CustomAPIDef) {
			if d := fieldDiff(a, b); len(d) > 0 {
				cs = append(cs, Change{Kind: Changed, What: "custom API", Name: b.UniqueName, Details: d})
			}
		}, nil)
	diffLists(&cs, "step", o.Steps, n.Steps, func(s StepDef) string { return s.Name },
		func(a, b StepDef) {
			if d := fieldDiff(a, b); len(d) > 0 {
				cs = append(cs, Change{Kind: Changed, What: "step", Name: b.Name, Details: d})
			}
		}, nil)
	diffLists(&cs, "plugin", o.Plugins, n.Plugins, func(p PluginDef) string { return p.Name },
		func(a, b PluginDef) {
			if d := fieldDiff(a, b); len(d) > 0 {
				cs = append(cs, Change{Kind: Changed, What: "plugin", Name: b.Name, Details: d})
			}
		}, nil)
	diffLists(&cs, "endpoint", o.Endpoints, n.Endpoints, func(e EndpointDef) string { return e.Name },
		func(a, b EndpointDef) {
			if d := fieldDiff(a, b); len(d) > 0 {
				cs = append(cs, Change{Kind: Changed, What: "endpoint", Name: b.Name, Details: d})
			}
		}, nil)
	diffLists(&cs, "input", o.Inputs, n.Inputs, func(in InputDef) string { return in.Name },
		func(a, b InputDef) {
			if d := fieldDiff(a, b); len(d) > 0 {
				cs = append(cs, Change{Kind: Changed, What: "input", Name: b.Name, Details: d})
			}
		}, nil)
	diffLists(&cs, "catalog", o.Catalogs, n.Catalogs, func(c CatalogDef) string { return c.UniqueName },
		func(a, b CatalogDef) {
			ca, cb := a.Categories, b.Categories
			a.Categories, b.Categories = nil, nil
			if d := fieldDiff(a, b); len(d) > 0 {
				cs = append(cs, Change{Kind: Changed, What: "catalog", Name: b.UniqueName, Details: d})
			}
			diffCategories(&cs, b.UniqueName, ca, cb)
		}, nil)
	return cs
}

func diffCategories(cs *Changes, catalog string, old, new []CategoryDef) {
	diffLists(cs, "category", old, new, func(c CategoryDef) string { return c.UniqueName },
		func(a, b CategoryDef) {
			aa, ab := a.Assignments, b.Assignments
			a.Assignments, b.Assignments = nil, nil
			d := fieldDiff(a, b)
			if ad := assignmentsDiff(aa, ab); ad != "" {
				d = append(d, ad)
			}
			if len(d) > 0 {
				*cs = append(*cs, Change{Kind: Changed, What: "category", Name: catalog + "/" + b.UniqueName, Details: d})
			}
		},
		func(c *Change, cat CategoryDef) { c.Name = catalog + "/" + cat.UniqueName })
}

// assignmentsDiff words how a category's assignments changed:
// "assignments: added table account; removed custom API contoso_X", or
// "assignments: reordered"; "" when they did not.
func assignmentsDiff(old, new []AssignmentDef) string {
	name := func(a AssignmentDef) string {
		switch {
		case a.Table != "":
			return "table " + a.Table
		case a.CustomAPI != "":
			return "custom API " + a.CustomAPI
		}
		return "flow " + a.Flow
	}
	var o, n []string
	for _, a := range old {
		o = append(o, name(a))
	}
	for _, a := range new {
		n = append(n, name(a))
	}
	if slices.Equal(o, n) {
		return ""
	}
	var parts []string
	for _, x := range n {
		if !slices.Contains(o, x) {
			parts = append(parts, "added "+x)
		}
	}
	for _, x := range o {
		if !slices.Contains(n, x) {
			parts = append(parts, "removed "+x)
		}
	}
	if len(parts) == 0 {
		return "assignments: reordered"
	}
	return "assignments: " + strings.Join(parts, ", ")
}

func diffColumns(cs *Changes, table string, old, new []ColumnDef) {
	diffLists(cs, "column", old, new, func(c ColumnDef) string { return c.LogicalName },
		func(a, b ColumnDef) {
			d := fieldDiff(a, b)
			if len(d) == 0 {
				return
			}
			c := Change{Kind: Changed, What: "column", Name: table + "." + b.LogicalName, Details: d}
			if a.Type != b.Type {
				c.Warning = fmt.Sprintf("existing %s values may not convert to %s", a.Type, b.Type)
			}
			*cs = append(*cs, c)
		},
		func(c *Change, col ColumnDef) {
			c.Name = table + "." + col.LogicalName
			if c.Kind == Removed {
				c.Warning = "existing rows lose the column's values"
			}
		})
}

// diffLists appends the added and removed items of two lists, and calls
// both for the items in both, in name order. edit, when set, adjusts the
// change of an added or removed item.
func diffLists[T any](cs *Changes, what string, old, new []T, name func(T) string, both func(a, b T), edit func(*Change, T)) {
	byName := func(list []T) map[string]T {
		m := make(map[string]T, len(list))
		for _, it := range list {
			m[name(it)] = it
		}
		return m
	}
	o, n := byName(old), byName(new)
	var names []string
	for k := range o {
		names = append(names, k)
	}
	for k := range n {
		if _, ok := o[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		a, inOld := o[k]
		b, inNew := n[k]
		switch {
		case inOld && inNew:
			both(a, b)
		case inOld:
			c := Change{Kind: Removed, What: what, Name: k}
			if edit != nil {
				edit(&c, a)
			}
			*cs = append(*cs, c)
		default:
			c := Change{Kind: Added, What: what, Name: k}
			if edit != nil {
				edit(&c, b)
			}
			*cs = append(*cs, c)
		}
	}
}

// manifest is the part of a Definition that solution.yaml holds.
func manifest(d Definition) Definition {
	return Definition{Name: d.Name, DisplayName: d.DisplayName, Version: d.Version, Publisher: d.Publisher, Description: d.Description}
}

// fieldDiff lists the fields of two values of one struct type that
// differ, by JSON key, with the old and new values of scalars.
func fieldDiff(a, b any) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := range va.NumField() {
		fa, fb := va.Field(i), vb.Field(i)
		if reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			continue
		}
		key, _, _ := strings.Cut(va.Type().Field(i).Tag.Get("json"), ",")
		if sa, ok := scalar(fa); ok {
			sb, _ := scalar(fb)
			out = append(out, fmt.Sprintf("%s: %s → %s", key, sa, sb))
		} else {
			out = append(out, key)
		}
	}
	return out
}

// scalar formats a string, number, boolean or pointer to one.
func scalar(v reflect.Value) (string, bool) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "none", true
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		return fmt.Sprintf("%q", v.String()), true
	case reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		return fmt.Sprint(v.Interface()), true
	}
	return "", false
}
