package solution

import (
	"github.com/bizevents/bizevents/engine/flows"

	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/bizevents/bizevents/engine/catalog"
	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
)

// item is a definition and where it was written.
type item[T any] struct {
	def T
	at  origin
}

// model is what the files of a solution hold, before the checks that look
// across definitions.
type model struct {
	manifest   Definition
	manifestAt origin
	// manifestOK is false when solution.yaml is missing or did not pass
	// its schema: its fields are not checked again.
	manifestOK bool

	tables []item[TableDef]
	apis   []item[CustomAPIDef]
	steps  []item[StepDef]
	// plugins are the plugin modules; wasm their bytes by name, when the
	// solution was loaded from a folder.
	plugins []item[PluginDef]
	wasm    map[string][]byte
	// catalogs holds the root catalog; more are a problem.
	catalogs []item[CatalogDef]
	// endpoints are the service endpoints.
	endpoints []item[EndpointDef]
	// inputs are the broker inputs.
	inputs []item[InputDef]
	// flows are the flows.
	flows []item[flows.Def]

	// broken names the definitions that did not pass their schema and so
	// are not checked further; references to them are not reported as
	// unknown, which would only repeat the problem. Keys are section keys
	// (tables, customApis, steps).
	broken map[string]map[string]bool
}

func (m *model) markBroken(section, name string) {
	if m.broken == nil {
		m.broken = map[string]map[string]bool{}
	}
	if m.broken[section] == nil {
		m.broken[section] = map[string]bool{}
	}
	m.broken[section][name] = true
}

// versionPattern is what a solution's version may look like; it is the
// pattern of schemas/solution.schema.json.
var versionPattern = regexp.MustCompile(`^[0-9]+(\.[0-9]+){1,3}(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// check runs every check that needs more than one definition, and each
// definition's Validate, and returns the solution when no problem was
// found before or during the checks.
func (m *model) check(ps *problems) *Solution {
	if m.manifestOK {
		if !tables.ValidName(m.manifest.Name) {
			ps.add(m.manifestAt.at("name"), "name %q must be lower case letters, digits and underscores, starting with a letter", m.manifest.Name)
		}
		if !versionPattern.MatchString(m.manifest.Version) {
			ps.add(m.manifestAt.at("version"), "version %q must be two to four dot-separated numbers, like 1.0.0", m.manifest.Version)
		}
	}

	// Every table name, for lookups: broken tables included.
	tableNames := map[string]bool{}
	for name := range m.broken["tables"] {
		tableNames[name] = true
	}
	for _, it := range m.tables {
		tableNames[it.def.LogicalName] = true
	}
	byName := map[string]*item[TableDef]{}
	byPlural := map[string]*item[TableDef]{}
	var ts []tables.Table
	for i := range m.tables {
		it := &m.tables[i]
		t := it.def.Table()
		if first, ok := byName[t.LogicalName]; ok {
			ps.add(it.at.at("logicalName"), "table %s: defined twice (first at %s)", t.LogicalName, first.at.at("logicalName"))
		} else {
			byName[t.LogicalName] = it
			ts = append(ts, t)
		}
		if first, ok := byPlural[t.PluralName]; ok && first.def.LogicalName != t.LogicalName {
			ps.add(it.at.at("pluralName"), "table %s: plural name %s is taken by table %s (%s)", t.LogicalName, t.PluralName, first.def.LogicalName, first.at.at("pluralName"))
		} else if !ok {
			byPlural[t.PluralName] = it
		}
		for _, err := range split(t.Validate(tableNames)) {
			tableProblem(ps, it.at, t, err.Error())
		}
	}

	apis := map[string]*customapi.API{}
	apiAt := map[string]origin{}
	folded := map[string]string{} // lower case name → name, names are case-insensitive
	var as []customapi.API
	for i := range m.apis {
		it := &m.apis[i]
		a := it.def.CustomAPI()
		lower := strings.ToLower(a.UniqueName)
		switch first, ok := folded[lower]; {
		case ok && first == a.UniqueName:
			ps.add(it.at.at("uniqueName"), "custom API %s: defined twice (first at %s)", a.UniqueName, apiAt[first].at("uniqueName"))
		case ok:
			ps.add(it.at.at("uniqueName"), "custom API %s: names are case-insensitive, and %s is defined at %s", a.UniqueName, first, apiAt[first].at("uniqueName"))
		default:
			folded[lower] = a.UniqueName
			apis[a.UniqueName] = &a
			apiAt[a.UniqueName] = it.at
			as = append(as, a)
		}
		for _, tm := range pipeline.TableMessages {
			if strings.EqualFold(tm, a.UniqueName) {
				ps.add(it.at.at("uniqueName"), "custom API %s: the name of a table message; prefix it with the publisher's, e.g. contoso_%s", a.UniqueName, a.UniqueName)
			}
		}
		for _, err := range split(a.Validate(tableNames)) {
			apiProblem(ps, it.at, a, err.Error())
		}
	}

	flowAPIs := m.flowAPIs(ps, tableNames, apis, folded)
	plugins := m.checkPlugins(ps)

	// A handler "<plugin>/<handler>" names a plugin of the solution.
	handlerRef := func(at origin, what, handler string) {
		mod, h, ok := strings.Cut(handler, "/")
		if !ok {
			return // a Go handler registered in code
		}
		if mod == "" || h == "" || strings.Contains(h, "/") {
			ps.add(at, "%s: handler %q must be <plugin>/<handler>, e.g. contoso_validation/ValidatePurchase", what, handler)
			return
		}
		if _, ok := plugins[mod]; !ok && !m.broken["plugins"][mod] {
			ps.add(at, "%s: handler %s names plugin %s, which the solution does not ship (add it under plugins:)", what, handler, mod)
		}
	}
	for _, it := range m.apis {
		if it.def.Handler != "" {
			handlerRef(it.at.at("handler"), "custom API "+it.def.UniqueName, it.def.Handler)
		}
	}
	for _, it := range m.steps {
		if it.def.Handler != "" {
			handlerRef(it.at.at("handler"), "step "+it.def.Name, it.def.Handler)
		}
	}

	stepAt := map[string]origin{}
	var steps []pipeline.Step
	for i := range m.steps {
		it := &m.steps[i]
		s := it.def.Step()
		if first, ok := stepAt[s.Name]; ok {
			ps.add(it.at.at("name"), "step %s: defined twice (first at %s)", s.Name, first.at("name"))
		} else {
			stepAt[s.Name] = it.at
			steps = append(steps, s)
		}
		for _, err := range split(s.Validate()) {
			stepProblem(ps, it.at, s, err.Error())
		}
		c := stepCheck{ps: ps, at: it.at, s: &s, m: m, tables: byName, tableNames: tableNames, apis: apis, folded: folded}
		c.run()
	}

	m.checkCatalogs(ps, tableNames, apis, folded)
	eps := m.checkEndpoints(ps)
	ins := m.checkInputs(ps, apis)

	if !ps.empty() {
		return nil
	}
	fls := m.checkFlows(ps, ts, as, flowAPIs, steps)
	if !ps.empty() {
		return nil
	}
	slices.SortFunc(fls, func(a, b flows.Def) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(ts, func(a, b tables.Table) int { return cmp.Compare(a.LogicalName, b.LogicalName) })
	slices.SortFunc(as, func(a, b customapi.API) int { return cmp.Compare(a.UniqueName, b.UniqueName) })
	slices.SortFunc(steps, func(a, b pipeline.Step) int { return cmp.Compare(a.Name, b.Name) })
	sol := &Solution{
		Name:        m.manifest.Name,
		DisplayName: m.manifest.DisplayName,
		Version:     m.manifest.Version,
		Publisher:   m.manifest.Publisher,
		Description: m.manifest.Description,
		Tables:      ts,
		CustomAPIs:  as,
		Steps:       steps,
	}
	for _, it := range m.plugins {
		d := it.def
		sol.Plugins = append(sol.Plugins, Plugin{Name: d.Name, Description: d.Description, File: d.File, Source: d.Source,
			Hash: d.Hash, Size: d.Size, Wasm: m.wasm[d.Name]})
	}
	slices.SortFunc(sol.Plugins, func(a, b Plugin) int { return cmp.Compare(a.Name, b.Name) })
	for _, it := range m.catalogs {
		sol.Catalogs = append(sol.Catalogs, it.def.Catalog())
	}
	sol.Endpoints = eps
	sol.Inputs = ins
	sol.Flows = fls
	h, err := sol.hash()
	if err != nil {
		ps.add(origin{}, "%v", err)
		return nil
	}
	sol.Hash = h
	return sol
}

// stepCheck checks a step against the other definitions.
type stepCheck struct {
	ps         *problems
	at         origin
	s          *pipeline.Step
	m          *model
	tables     map[string]*item[TableDef]
	tableNames map[string]bool
	apis       map[string]*customapi.API
	folded     map[string]string
}

func (c *stepCheck) add(at origin, format string, args ...any) {
	c.ps.add(at, "step %s: "+format, append([]any{c.s.Name}, args...)...)
}

func (c *stepCheck) run() {
	s := c.s
	if s.Message == "" {
		return // Validate said so
	}
	if pipeline.IsTableMessage(s.Message) {
		switch {
		case s.Table == "":
			c.add(c.at.at("message"), "a %s step needs a table", s.Message)
		case !c.tableNames[s.Table]:
			c.add(c.at.at("table"), "table %s is not a table of the solution", s.Table)
		case c.tables[s.Table] != nil:
			t := c.tables[s.Table].def.Table()
			if pipeline.OwnerMessage(s.Message) && t.Ownership != tables.UserOwned {
				c.add(c.at.at("table"), "table %s is organization-owned: its rows have no owner and are not shared, so a step on %s never runs", t.LogicalName, s.Message)
			}
			c.columns(t)
		}
		return
	}
	a := c.apis[s.Message]
	if a == nil {
		if c.m.broken["customApis"][s.Message] {
			return
		}
		hint := ""
		if name, ok := c.folded[strings.ToLower(s.Message)]; ok {
			hint = "; did you mean " + name + "?"
		}
		c.add(c.at.at("message"), "unknown message %s: neither a table message (%s) nor a custom API of the solution%s",
			s.Message, strings.Join(pipeline.TableMessages, ", "), hint)
		return
	}
	switch {
	case a.AllowedStepType == customapi.StepsNone:
		c.add(c.at.at("message"), "custom API %s takes no steps (its allowedStepType is None)", a.UniqueName)
	case a.AllowedStepType == customapi.StepsAsyncOnly && s.Mode == pipeline.Sync:
		c.add(c.at.at("mode"), "custom API %s allows async steps only (its allowedStepType is AsyncOnly), and this step is sync: make it async, on stage 40 (PostOperation)", a.UniqueName)
	case a.IsFunction && s.Mode == pipeline.Async:
		c.add(c.at.at("mode"), "custom API %s is a function, which has no side effects, so it takes sync steps only", a.UniqueName)
	}
	if s.Table != "" {
		switch {
		case a.Binding == customapi.Global:
			c.add(c.at.at("table"), "custom API %s is Global, bound to no table: leave the step's table out", a.UniqueName)
		case s.Table != a.BoundTable:
			c.add(c.at.at("table"), "custom API %s is bound to table %s, not %s", a.UniqueName, a.BoundTable, s.Table)
		}
	}
	if len(s.PreImages)+len(s.PostImages) > 0 {
		if a.Binding != customapi.TableBound {
			images := "preImages"
			if len(s.PreImages) == 0 {
				images = "postImages"
			}
			c.add(c.at.at(images), "custom API %s is bound to no row (binding %s), so a step on it has no images", a.UniqueName, a.Binding)
			return
		}
		if t := c.tables[a.BoundTable]; t != nil {
			c.images(t.def.Table())
		}
	}
}

// columns checks the filtering and image columns of a step on a table.
func (c *stepCheck) columns(t tables.Table) {
	for i, col := range c.s.FilteringColumns {
		if _, ok := t.Column(col); !ok {
			c.add(c.at.at("filteringColumns", strconv.Itoa(i)), "filtering column %s is not a column of table %s", col, t.LogicalName)
		}
	}
	c.images(t)
}

// images checks the names and columns of a step's images of a row of t.
func (c *stepCheck) images(t tables.Table) {
	known := func(col string) bool {
		if _, ok := t.Column(col); ok {
			return true
		}
		return slices.Contains([]string{t.PrimaryKey, tables.ColumnCreatedOn, tables.ColumnModifiedOn, tables.ColumnOwnerID, tables.ColumnVersion}, col)
	}
	for _, list := range []struct {
		key, what string
		images    []pipeline.Image
	}{{"preImages", "pre image", c.s.PreImages}, {"postImages", "post image", c.s.PostImages}} {
		seen := map[string]bool{}
		for i, im := range list.images {
			at := c.at.at(list.key, strconv.Itoa(i))
			if seen[im.Name] {
				c.add(at.at("name"), "%s %s is defined twice", list.what, im.Name)
			}
			seen[im.Name] = true
			for j, col := range im.Columns {
				if !known(col) {
					c.add(at.at("columns", strconv.Itoa(j)), "%s %s: column %s is not a column of table %s", list.what, im.Name, col, t.LogicalName)
				}
			}
		}
	}
}

// split returns the errors of an errors.Join, or err alone.
func split(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// A rule points a Validate message at the field it is about: the first rule
// whose prefix starts the message (after the definition's name) wins.
type rule struct {
	prefix string
	path   []string
}

func locate(at origin, msg string, rules []rule) origin {
	for _, r := range rules {
		if strings.HasPrefix(msg, r.prefix) {
			return at.at(r.path...)
		}
	}
	return at
}

var (
	tableRules = []rule{
		{"logical name", []string{"logicalName"}},
		{"plural name", []string{"pluralName"}},
		{"ownership", []string{"ownership"}},
		{"primary name", []string{"primaryName"}},
	}
	columnRules = []rule{
		{"logical name", []string{"logicalName"}},
		{"defined twice", []string{"logicalName"}},
		{"max length", []string{"maxLength"}},
		{"precision", []string{"precision"}},
		{"a choice needs options", []string{"type"}},
		{"option value", []string{"options"}},
		{"a lookup needs a target", []string{"type"}},
		{"lookup target", []string{"target"}},
		{"unknown type", []string{"type"}},
		{"min value", []string{"minValue"}},
	}
	apiRules = []rule{
		{"unique name", []string{"uniqueName"}},
		{"a Global API has no bound table", []string{"boundTable"}},
		{"bound table", []string{"boundTable"}},
		{"a Table binding", []string{"binding"}},
		{"a TableCollection binding", []string{"binding"}},
		{"binding", []string{"binding"}},
		{"allowed step type", []string{"allowedStepType"}},
		{"a function has no side effects", []string{"isFunction"}},
	}
	parameterRules = []rule{
		{"is defined twice", []string{"uniqueName"}},
		{"name must", []string{"uniqueName"}},
		{"unknown type", []string{"type"}},
		{"table", []string{"table"}},
	}
	stepRules = []rule{
		{"a step needs a name", nil},
		{"stage", []string{"stage"}},
		{"an async step must be on stage", []string{"stage"}},
		{"an endpoint step must be async", []string{"mode"}},
		{"mode", []string{"mode"}},
		{"set exactly one of handler and endpoint", nil},
		{"filtering columns", []string{"filteringColumns"}},
		{"post images", []string{"postImages"}},
		{"an image needs a name", nil},
	}
)

// tableProblem reports a message of tables.Table.Validate where it points,
// one problem for each of a column's problems.
func tableProblem(ps *problems, at origin, t tables.Table, msg string) {
	rest, ok := strings.CutPrefix(msg, "table "+t.LogicalName+": ")
	if !ok {
		ps.add(at, "%s", msg)
		return
	}
	colRest, ok := strings.CutPrefix(rest, "column ")
	name, detail, found := strings.Cut(colRest, ": ")
	if !ok || !found {
		ps.add(locate(at, rest, tableRules), "%s", msg)
		return
	}
	nth := 0
	if detail == "defined twice or reserved" {
		n := 0
		for _, c := range t.Columns {
			if c.LogicalName == name {
				n++
			}
		}
		if n > 1 {
			nth = 1
		}
	}
	col := at.item([]string{"columns"}, "logicalName", name, nth)
	for part := range strings.SplitSeq(detail, "; ") {
		ps.add(locate(col, part, columnRules), "table %s: column %s: %s", t.LogicalName, name, part)
	}
}

// apiProblem reports a message of customapi.API.Validate where it points.
func apiProblem(ps *problems, at origin, a customapi.API, msg string) {
	rest, ok := strings.CutPrefix(msg, "custom API "+a.UniqueName+": ")
	if !ok {
		ps.add(at, "%s", msg)
		return
	}
	if strings.HasPrefix(rest, "a bound API gets its Target") {
		ps.add(at.item([]string{"requestParameters"}, "uniqueName", "Target", 0).at("uniqueName"), "%s", msg)
		return
	}
	for _, list := range []struct{ what, key string }{{"request parameter ", "requestParameters"}, {"response property ", "responseProperties"}} {
		prest, ok := strings.CutPrefix(rest, list.what)
		if !ok {
			continue
		}
		// "<name> is defined twice", "<name>: ...", or `"<name>": ...`.
		name, detail := prest, ""
		if i := strings.IndexAny(prest, " :"); i >= 0 {
			name, detail = prest[:i], strings.TrimLeft(prest[i:], " :")
		}
		if unq, err := strconv.Unquote(name); err == nil {
			name = unq
		}
		nth := 0
		if detail == "is defined twice" {
			nth = 1
		}
		p := at.item([]string{list.key}, "uniqueName", name, nth)
		ps.add(locate(p, detail, parameterRules), "%s", msg)
		return
	}
	ps.add(locate(at, rest, apiRules), "%s", msg)
}

// stepProblem reports a message of pipeline.Step.Validate where it points.
func stepProblem(ps *problems, at origin, s pipeline.Step, msg string) {
	rest, ok := strings.CutPrefix(msg, "step "+s.Name+": ")
	if !ok {
		ps.add(at, "%s", msg)
		return
	}
	switch {
	case strings.Contains(rest, "no pre image"):
		ps.add(at.at("preImages"), "%s", msg)
	case strings.Contains(rest, "no post image"):
		ps.add(at.at("postImages"), "%s", msg)
	default:
		ps.add(locate(at, rest, stepRules), "%s", msg)
	}
}

// hashPattern is a module's content hash: hex SHA-256.
var hashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkPlugins checks the plugin modules and returns them by name.
func (m *model) checkPlugins(ps *problems) map[string]*item[PluginDef] {
	byName := map[string]*item[PluginDef]{}
	for i := range m.plugins {
		it := &m.plugins[i]
		d := it.def
		if first, ok := byName[d.Name]; ok {
			ps.add(it.at.at("name"), "plugin %s: defined twice (first at %s)", d.Name, first.at.at("name"))
			continue
		}
		byName[d.Name] = it
		if !tables.ValidName(d.Name) {
			ps.add(it.at.at("name"), "plugin %q: a name is lower case letters, digits and underscores, starting with a letter", d.Name)
		}
		// A folder's plugin has its hash from its file, or a problem
		// already; a decoded Definition must carry it.
		if it.at.file == "" && m.wasm[d.Name] == nil && !hashPattern.MatchString(d.Hash) {
			ps.add(it.at, "plugin %s: module hash %q is not a hex SHA-256", d.Name, d.Hash)
		}
	}
	return byName
}

// moduleHash is a module's content hash, as package plugins computes it.
func moduleHash(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return hex.EncodeToString(sum[:])
}

// checkCatalogs checks the root catalog against the other definitions: one
// root, unique names, one level of categories, each assignment naming one
// table or custom API of the solution that can be catalogued, once per
// category.
func (m *model) checkCatalogs(ps *problems, tableNames map[string]bool, apis map[string]*customapi.API, folded map[string]string) {
	type named struct {
		name string
		at   origin
	}
	names := map[string]named{} // lower case → first use; names are case-insensitive
	claim := func(what, name string, at origin) {
		if !customapi.ValidName(name) {
			ps.add(at, "%s %q: a unique name is letters, digits and underscores, starting with a letter", what, name)
		}
		lower := strings.ToLower(name)
		switch first, ok := names[lower]; {
		case ok && first.name == name:
			ps.add(at, "%s %s: unique name defined twice%s", what, name, paren("first at ", first.at))
		case ok:
			ps.add(at, "%s %s: unique names are case-insensitive, and %s is defined too%s", what, name, first.name, paren("at ", first.at))
		default:
			names[lower] = named{name, at}
		}
	}
	m.resolveFlowAssignments()
	var root *item[CatalogDef]
	for i := range m.catalogs {
		it := &m.catalogs[i]
		c := it.def
		nameAt := it.at.at("uniqueName")
		if root != nil {
			ps.add(nameAt, "catalog %s: a second root catalog: a solution has one, %s%s; make %s a category of it",
				c.UniqueName, root.def.UniqueName, paren("", root.at.at("uniqueName")), c.UniqueName)
		} else {
			root = it
		}
		claim("catalog", c.UniqueName, nameAt)
		if strings.TrimSpace(c.DisplayName) == "" {
			ps.add(it.at, "catalog %s: a display name is needed: discovery shows it", c.UniqueName)
		}
		for j, cat := range c.Categories {
			catAt := it.at.at("categories", strconv.Itoa(j))
			what := "catalog " + c.UniqueName + ": category"
			claim(what, cat.UniqueName, catAt.at("uniqueName"))
			where := fmt.Sprintf("catalog %s: category %s: ", c.UniqueName, cat.UniqueName)
			if strings.TrimSpace(cat.DisplayName) == "" {
				ps.add(catAt, "%sa display name is needed: discovery shows it", where)
			}
			for k, sub := range cat.Categories {
				ps.add(catAt.at("categories", strconv.Itoa(k)), "%scategories are one level deep: category %s cannot be in a category; move it up to catalog %s's categories",
					where, sub.UniqueName, c.UniqueName)
			}
			seen := map[catalog.Assignment]origin{}
			for k, as := range cat.Assignments {
				at := catAt.at("assignments", strconv.Itoa(k))
				m.checkAssignment(ps, where, k, as, at, seen, tableNames, apis, folded)
			}
		}
	}
}

// checkAssignment checks one assignment of a category; where prefixes the
// messages ("catalog c: category x: ").
func (m *model) checkAssignment(ps *problems, where string, k int, as AssignmentDef, at origin, seen map[catalog.Assignment]origin,
	tableNames map[string]bool, apis map[string]*customapi.API, folded map[string]string) {
	var set []string
	if as.Table != "" {
		set = append(set, "table "+as.Table)
	}
	if as.CustomAPI != "" {
		set = append(set, "custom API "+as.CustomAPI)
	}
	if as.Flow != "" {
		// resolveFlowAssignments replaced the flows it found.
		ps.add(at.at("flow"), "%sassignment #%d: flow %s is not a flow-defined action of the solution (a flow with a request trigger)", where, k+1, as.Flow)
		return
	}
	switch len(set) {
	case 0:
		ps.add(at, "%sassignment #%d names nothing: set table (a table of the solution) or customApi (one of its custom APIs)", where, k+1)
		return
	case 2:
		ps.add(at, "%sassignment #%d names %s and %s: an assignment puts one item in the category; write one assignment for each", where, k+1, set[0], set[1])
		return
	}
	key := catalog.Assignment{Table: as.Table, CustomAPI: as.CustomAPI}
	itemAt := at.at("table")
	if as.CustomAPI != "" {
		itemAt = at.at("customApi")
	}
	if first, ok := seen[key]; ok {
		ps.add(itemAt, "%s%s is assigned twice%s", where, key, paren("first at ", first))
		return
	}
	seen[key] = itemAt
	if as.Table != "" {
		if !tableNames[as.Table] {
			ps.add(itemAt, "%stable %s is not a table of the solution", where, as.Table)
		}
		return
	}
	a := apis[as.CustomAPI]
	if a == nil {
		if m.broken["customApis"][as.CustomAPI] {
			return
		}
		hint := ""
		if name, ok := folded[strings.ToLower(as.CustomAPI)]; ok {
			hint = "; did you mean " + name + "?"
		}
		ps.add(itemAt, "%scustom API %s is not a custom API of the solution%s", where, as.CustomAPI, hint)
		return
	}
	if err := catalog.Catalogable(a); err != nil {
		ps.add(itemAt, "%scustom API %s %v", where, a.UniqueName, err)
	}
}

// paren words a second place a message points at, " (first at
// file:line:column)"; nothing for a decoded definition, which has no
// places.
func paren(words string, o origin) string {
	if o.node == nil {
		return ""
	}
	return " (" + words + o.String() + ")"
}

// resolveFlowAssignments replaces each catalog assignment of a flow-defined
// action (flow: name) by one of its custom API, as the normalized
// definition holds it.
func (m *model) resolveFlowAssignments() {
	apiOf := map[string]string{}
	for _, f := range m.flows {
		if a, ok := flows.RequestAPI(f.def); ok {
			apiOf[f.def.Name] = a.UniqueName
		}
	}
	for i := range m.catalogs {
		cats := m.catalogs[i].def.Categories
		for j := range cats {
			for k, as := range cats[j].Assignments {
				if api, ok := apiOf[as.Flow]; ok && as.Table == "" && as.CustomAPI == "" {
					cats[j].Assignments[k] = AssignmentDef{CustomAPI: api}
				}
			}
		}
	}
}
