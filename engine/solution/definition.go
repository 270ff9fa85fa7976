package solution

import (
	"github.com/bizevents/bizevents/engine/flows"

	"github.com/bizevents/bizevents/engine/catalog"
	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
)

// Definition is a solution as one JSON document: the manifest and every
// definition, in the shape and with the keys of the solution's YAML files.
// A solution import stores it as the data of an event, and the engine
// rebuilds its metadata from it with [Decode].
//
// The Definition of a loaded [Solution] is normalized: defaults are filled
// in (WithDefaults), stages are numbers, and tables, custom APIs and steps
// are sorted by name, so that two folders that define the same things have
// the same Definition and the same [Solution.Hash]. A catalog's categories
// and assignments keep the order they are written in: discovery shows them
// so.
type Definition struct {
	Name        string         `json:"name" yaml:"name"`
	DisplayName string         `json:"displayName,omitempty" yaml:"displayName"`
	Version     string         `json:"version" yaml:"version"`
	Publisher   string         `json:"publisher,omitempty" yaml:"publisher"`
	Description string         `json:"description,omitempty" yaml:"description"`
	Tables      []TableDef     `json:"tables,omitempty" yaml:"tables"`
	CustomAPIs  []CustomAPIDef `json:"customApis,omitempty" yaml:"customApis"`
	Steps       []StepDef      `json:"steps,omitempty" yaml:"steps"`
	Plugins     []PluginDef    `json:"plugins,omitempty" yaml:"plugins"`
	Catalogs    []CatalogDef   `json:"catalogs,omitempty" yaml:"catalogs"`
	Endpoints   []EndpointDef  `json:"endpoints,omitempty" yaml:"endpoints"`
	Inputs      []InputDef     `json:"inputs,omitempty" yaml:"inputs"`
	Flows       []flows.Def    `json:"flows,omitempty" yaml:"flows"`
}

// CatalogDef is a [catalog.Catalog] as written in a solution file: the
// solution's root catalog.
type CatalogDef struct {
	UniqueName  string        `json:"uniqueName" yaml:"uniqueName"`
	DisplayName string        `json:"displayName" yaml:"displayName"`
	Description string        `json:"description,omitempty" yaml:"description"`
	Categories  []CategoryDef `json:"categories,omitempty" yaml:"categories"`
}

// CategoryDef is a [catalog.Category] as written in a solution file.
// Categories is there to be refused: categories are one level deep.
type CategoryDef struct {
	UniqueName  string          `json:"uniqueName" yaml:"uniqueName"`
	DisplayName string          `json:"displayName" yaml:"displayName"`
	Description string          `json:"description,omitempty" yaml:"description"`
	Assignments []AssignmentDef `json:"assignments,omitempty" yaml:"assignments"`
	Categories  []CategoryDef   `json:"categories,omitempty" yaml:"categories"`
}

// AssignmentDef is a [catalog.Assignment] as written in a solution file.
// Flow names a flow-defined action by its flow; it stands for the flow's
// custom API, which the normalized definition names.
type AssignmentDef struct {
	Table     string `json:"table,omitempty" yaml:"table"`
	CustomAPI string `json:"customApi,omitempty" yaml:"customApi"`
	Flow      string `json:"flow,omitempty" yaml:"flow"`
}

// Catalog returns the catalog defined.
func (d CatalogDef) Catalog() catalog.Catalog {
	c := catalog.Catalog{UniqueName: d.UniqueName, DisplayName: d.DisplayName, Description: d.Description}
	for _, cat := range d.Categories {
		cc := catalog.Category{UniqueName: cat.UniqueName, DisplayName: cat.DisplayName, Description: cat.Description}
		for _, a := range cat.Assignments {
			cc.Assignments = append(cc.Assignments, catalog.Assignment{Table: a.Table, CustomAPI: a.CustomAPI})
		}
		c.Categories = append(c.Categories, cc)
	}
	return c
}

func catalogDef(c catalog.Catalog) CatalogDef {
	d := CatalogDef{UniqueName: c.UniqueName, DisplayName: c.DisplayName, Description: c.Description}
	for _, cat := range c.Categories {
		cd := CategoryDef{UniqueName: cat.UniqueName, DisplayName: cat.DisplayName, Description: cat.Description}
		for _, a := range cat.Assignments {
			cd.Assignments = append(cd.Assignments, AssignmentDef{Table: a.Table, CustomAPI: a.CustomAPI})
		}
		d.Categories = append(d.Categories, cd)
	}
	return d
}

// PluginDef is a [Plugin] as written in a solution file. Hash and Size are
// not written in YAML: Load reads them off the file, and a Definition
// keeps them, since it does not hold the module's bytes.
type PluginDef struct {
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description"`
	File        string `json:"file" yaml:"file"`
	Source      string `json:"source,omitempty" yaml:"source"`
	Hash        string `json:"hash,omitempty" yaml:"-"`
	Size        int64  `json:"size,omitempty" yaml:"-"`
}

// TableDef is a [tables.Table] as written in a solution file.
type TableDef struct {
	LogicalName string           `json:"logicalName" yaml:"logicalName"`
	PluralName  string           `json:"pluralName" yaml:"pluralName"`
	DisplayName string           `json:"displayName,omitempty" yaml:"displayName"`
	Description string           `json:"description,omitempty" yaml:"description"`
	PrimaryKey  string           `json:"primaryKey,omitempty" yaml:"primaryKey"`
	PrimaryName string           `json:"primaryName,omitempty" yaml:"primaryName"`
	Ownership   tables.Ownership `json:"ownership,omitempty" yaml:"ownership"`
	Columns     []ColumnDef      `json:"columns,omitempty" yaml:"columns"`
}

// ColumnDef is a [tables.Column] as written in a solution file.
type ColumnDef struct {
	LogicalName string            `json:"logicalName" yaml:"logicalName"`
	DisplayName string            `json:"displayName,omitempty" yaml:"displayName"`
	Description string            `json:"description,omitempty" yaml:"description"`
	Type        tables.ColumnType `json:"type" yaml:"type"`
	Required    bool              `json:"required,omitempty" yaml:"required"`
	MaxLength   int               `json:"maxLength,omitempty" yaml:"maxLength"`
	Precision   int               `json:"precision,omitempty" yaml:"precision"`
	MinValue    *float64          `json:"minValue,omitempty" yaml:"minValue"`
	MaxValue    *float64          `json:"maxValue,omitempty" yaml:"maxValue"`
	Options     []OptionDef       `json:"options,omitempty" yaml:"options"`
	Target      string            `json:"target,omitempty" yaml:"target"`
}

// OptionDef is a [tables.Option] as written in a solution file.
type OptionDef struct {
	Value int    `json:"value" yaml:"value"`
	Label string `json:"label" yaml:"label"`
}

// CustomAPIDef is a [customapi.API] as written in a solution file.
type CustomAPIDef struct {
	UniqueName         string             `json:"uniqueName" yaml:"uniqueName"`
	DisplayName        string             `json:"displayName,omitempty" yaml:"displayName"`
	Description        string             `json:"description,omitempty" yaml:"description"`
	Binding            customapi.Binding  `json:"binding,omitempty" yaml:"binding"`
	BoundTable         string             `json:"boundTable,omitempty" yaml:"boundTable"`
	IsFunction         bool               `json:"isFunction,omitempty" yaml:"isFunction"`
	IsPrivate          bool               `json:"isPrivate,omitempty" yaml:"isPrivate"`
	AllowedStepType    customapi.StepType `json:"allowedStepType,omitempty" yaml:"allowedStepType"`
	ExecutePrivilege   string             `json:"executePrivilege,omitempty" yaml:"executePrivilege"`
	Handler            string             `json:"handler,omitempty" yaml:"handler"`
	RequestParameters  []ParameterDef     `json:"requestParameters,omitempty" yaml:"requestParameters"`
	ResponseProperties []ParameterDef     `json:"responseProperties,omitempty" yaml:"responseProperties"`
}

// ParameterDef is a [customapi.Parameter] as written in a solution file.
type ParameterDef struct {
	UniqueName  string              `json:"uniqueName" yaml:"uniqueName"`
	DisplayName string              `json:"displayName,omitempty" yaml:"displayName"`
	Description string              `json:"description,omitempty" yaml:"description"`
	Type        customapi.ParamType `json:"type" yaml:"type"`
	Optional    bool                `json:"optional,omitempty" yaml:"optional"`
	Table       string              `json:"table,omitempty" yaml:"table"`
}

// StepDef is a [pipeline.Step] as written in a solution file. In YAML the
// stage may also be named (PreValidation, PreOperation, PostOperation); in
// a Definition it is always the number.
type StepDef struct {
	Name             string         `json:"name" yaml:"name"`
	Description      string         `json:"description,omitempty" yaml:"description"`
	Message          string         `json:"message" yaml:"message"`
	Table            string         `json:"table,omitempty" yaml:"table"`
	Stage            pipeline.Stage `json:"stage" yaml:"stage"`
	Mode             pipeline.Mode  `json:"mode" yaml:"mode"`
	Rank             int            `json:"rank,omitempty" yaml:"rank"`
	FilteringColumns []string       `json:"filteringColumns,omitempty" yaml:"filteringColumns"`
	PreImages        []ImageDef     `json:"preImages,omitempty" yaml:"preImages"`
	PostImages       []ImageDef     `json:"postImages,omitempty" yaml:"postImages"`
	Handler          string         `json:"handler,omitempty" yaml:"handler"`
	Endpoint         string         `json:"endpoint,omitempty" yaml:"endpoint"`
	Config           string         `json:"config,omitempty" yaml:"config"`
	SecureConfig     string         `json:"secureConfig,omitempty" yaml:"secureConfig"`
	Disabled         bool           `json:"disabled,omitempty" yaml:"disabled"`
}

// ImageDef is a [pipeline.Image] as written in a solution file.
type ImageDef struct {
	Name    string   `json:"name" yaml:"name"`
	Columns []string `json:"columns,omitempty" yaml:"columns"`
}

// Table returns the table defined, with defaults filled in.
func (d TableDef) Table() tables.Table {
	t := tables.Table{
		LogicalName: d.LogicalName,
		PluralName:  d.PluralName,
		DisplayName: d.DisplayName,
		Description: d.Description,
		PrimaryKey:  d.PrimaryKey,
		PrimaryName: d.PrimaryName,
		Ownership:   d.Ownership,
	}
	for _, c := range d.Columns {
		col := tables.Column{
			LogicalName: c.LogicalName,
			DisplayName: c.DisplayName,
			Description: c.Description,
			Type:        c.Type,
			Required:    c.Required,
			MaxLength:   c.MaxLength,
			Precision:   c.Precision,
			MinValue:    clonePtr(c.MinValue),
			MaxValue:    clonePtr(c.MaxValue),
			Target:      c.Target,
		}
		for _, o := range c.Options {
			col.Options = append(col.Options, tables.Option{Value: o.Value, Label: o.Label})
		}
		t.Columns = append(t.Columns, col)
	}
	return t.WithDefaults()
}

func tableDef(t tables.Table) TableDef {
	d := TableDef{
		LogicalName: t.LogicalName,
		PluralName:  t.PluralName,
		DisplayName: t.DisplayName,
		Description: t.Description,
		PrimaryKey:  t.PrimaryKey,
		PrimaryName: t.PrimaryName,
		Ownership:   t.Ownership,
	}
	for _, c := range t.Columns {
		col := ColumnDef{
			LogicalName: c.LogicalName,
			DisplayName: c.DisplayName,
			Description: c.Description,
			Type:        c.Type,
			Required:    c.Required,
			MaxLength:   c.MaxLength,
			Precision:   c.Precision,
			MinValue:    clonePtr(c.MinValue),
			MaxValue:    clonePtr(c.MaxValue),
			Target:      c.Target,
		}
		for _, o := range c.Options {
			col.Options = append(col.Options, OptionDef{Value: o.Value, Label: o.Label})
		}
		d.Columns = append(d.Columns, col)
	}
	return d
}

// CustomAPI returns the custom API defined, with defaults filled in.
func (d CustomAPIDef) CustomAPI() customapi.API {
	return customapi.API{
		UniqueName:         d.UniqueName,
		DisplayName:        d.DisplayName,
		Description:        d.Description,
		Binding:            d.Binding,
		BoundTable:         d.BoundTable,
		IsFunction:         d.IsFunction,
		IsPrivate:          d.IsPrivate,
		AllowedStepType:    d.AllowedStepType,
		ExecutePrivilege:   d.ExecutePrivilege,
		Handler:            d.Handler,
		RequestParameters:  parameters(d.RequestParameters),
		ResponseProperties: parameters(d.ResponseProperties),
	}.WithDefaults()
}

func parameters(ds []ParameterDef) []customapi.Parameter {
	var ps []customapi.Parameter
	for _, d := range ds {
		ps = append(ps, customapi.Parameter(d))
	}
	return ps
}

func customAPIDef(a customapi.API) CustomAPIDef {
	return CustomAPIDef{
		UniqueName:         a.UniqueName,
		DisplayName:        a.DisplayName,
		Description:        a.Description,
		Binding:            a.Binding,
		BoundTable:         a.BoundTable,
		IsFunction:         a.IsFunction,
		IsPrivate:          a.IsPrivate,
		AllowedStepType:    a.AllowedStepType,
		ExecutePrivilege:   a.ExecutePrivilege,
		Handler:            a.Handler,
		RequestParameters:  parameterDefs(a.RequestParameters),
		ResponseProperties: parameterDefs(a.ResponseProperties),
	}
}

func parameterDefs(ps []customapi.Parameter) []ParameterDef {
	var ds []ParameterDef
	for _, p := range ps {
		ds = append(ds, ParameterDef(p))
	}
	return ds
}

// Step returns the step defined.
func (d StepDef) Step() pipeline.Step {
	s := pipeline.Step{
		Name:             d.Name,
		Description:      d.Description,
		Message:          d.Message,
		Table:            d.Table,
		Stage:            d.Stage,
		Mode:             d.Mode,
		Rank:             d.Rank,
		FilteringColumns: cloneSlice(d.FilteringColumns),
		Handler:          d.Handler,
		Endpoint:         d.Endpoint,
		Config:           d.Config,
		SecureConfig:     d.SecureConfig,
		Disabled:         d.Disabled,
	}
	for _, im := range d.PreImages {
		s.PreImages = append(s.PreImages, pipeline.Image{Name: im.Name, Columns: cloneSlice(im.Columns)})
	}
	for _, im := range d.PostImages {
		s.PostImages = append(s.PostImages, pipeline.Image{Name: im.Name, Columns: cloneSlice(im.Columns)})
	}
	return s
}

func stepDef(s pipeline.Step) StepDef {
	d := StepDef{
		Name:             s.Name,
		Description:      s.Description,
		Message:          s.Message,
		Table:            s.Table,
		Stage:            s.Stage,
		Mode:             s.Mode,
		Rank:             s.Rank,
		FilteringColumns: cloneSlice(s.FilteringColumns),
		Handler:          s.Handler,
		Endpoint:         s.Endpoint,
		Config:           s.Config,
		SecureConfig:     s.SecureConfig,
		Disabled:         s.Disabled,
	}
	for _, im := range s.PreImages {
		d.PreImages = append(d.PreImages, ImageDef{Name: im.Name, Columns: cloneSlice(im.Columns)})
	}
	for _, im := range s.PostImages {
		d.PostImages = append(d.PostImages, ImageDef{Name: im.Name, Columns: cloneSlice(im.Columns)})
	}
	return d
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// cloneSlice copies s; an empty list becomes nil, as it reads back from
// JSON where omitempty left the key out.
func cloneSlice[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append([]T(nil), s...)
}
