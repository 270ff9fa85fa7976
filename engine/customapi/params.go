package customapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/tables"
)

// TableFinder finds a table definition by logical name.
type TableFinder func(name string) (*tables.Table, bool)

// EntityValue is the value of an Entity parameter: a row of a table, checked
// against it (partially: an Entity need not hold every required column).
type EntityValue struct {
	Table *tables.Table
	Row   tables.Row
}

// MarshalJSON renders the entity's columns, with "@odata.type".
func (e EntityValue) MarshalJSON() ([]byte, error) {
	out := e.Table.Output(e.Row, nil)
	out["@odata.type"] = "Microsoft.Dynamics.CRM." + e.Table.LogicalName
	return json.Marshal(out)
}

// Problem is one parameter that does not fit.
type Problem struct {
	Parameter string
	Reason    string
}

// ParametersError reports every parameter of a request that does not fit
// its definition.
type ParametersError struct {
	API      string
	Problems []Problem
}

func (e *ParametersError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", e.API)
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "parameter %q: %s", p.Parameter, p.Reason)
	}
	return b.String()
}

// ErrorCode is invalid_value.
func (e *ParametersError) ErrorCode() errcode.Code { return errcode.InvalidValue }

// CheckParameters checks a request's parameters (JSON-decoded values, or Go
// values of the parameter types) and returns them typed: Boolean bool,
// DateTime time.Time, Decimal and Money tables.Number, Float float64,
// Integer and Picklist int64, String string, StringArray []string, Guid
// uuid.UUID, EntityReference tables.Reference, Entity EntityValue,
// EntityCollection []EntityValue. Every problem is reported at once.
func (a *API) CheckParameters(in map[string]any, find TableFinder) (map[string]any, error) {
	return check(a.UniqueName, a.RequestParameters, in, find, true)
}

// CheckOutput checks what a main handler answered against the response
// properties.
func (a *API) CheckOutput(in map[string]any, find TableFinder) (map[string]any, error) {
	return check(a.UniqueName, a.ResponseProperties, in, find, false)
}

func check(api string, defs []Parameter, in map[string]any, find TableFinder, required bool) (map[string]any, error) {
	out := make(map[string]any, len(in))
	var problems []Problem
	for _, p := range defs {
		v, ok := in[p.UniqueName]
		if !ok || v == nil {
			if required && !p.Optional {
				problems = append(problems, Problem{p.UniqueName, fmt.Sprintf("required %s parameter is missing", p.Type)})
			}
			continue
		}
		typed, err := checkValue(&p, v, find)
		if err != nil {
			problems = append(problems, Problem{p.UniqueName, err.Error()})
			continue
		}
		out[p.UniqueName] = typed
	}
	var unknown []string
	for name := range in {
		if !slices.ContainsFunc(defs, func(p Parameter) bool { return p.UniqueName == name }) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		problems = append(problems, Problem{name, "is not a parameter of this API"})
	}
	if len(problems) > 0 {
		return nil, &ParametersError{API: api, Problems: problems}
	}
	return out, nil
}

// scalarColumns checks scalar parameters as columns of the same type.
var scalarColumns = map[ParamType]tables.Column{
	Boolean:  {Type: tables.Boolean},
	DateTime: {Type: tables.DateTime},
	Decimal:  {Type: tables.Decimal, Precision: tables.MaxDecimalPrecision},
	Money:    {Type: tables.Money, Precision: tables.MoneyPrecision},
	Float:    {Type: tables.Float},
	Integer:  {Type: tables.Integer},
	Picklist: {Type: tables.Integer},
	String:   {Type: tables.String, MaxLength: tables.MaxMaxLength},
	GUID:     {Type: tables.GUID},
}

func checkValue(p *Parameter, v any, find TableFinder) (any, error) {
	if col, ok := scalarColumns[p.Type]; ok {
		col.LogicalName = p.UniqueName
		out, err := col.CheckValue(v)
		var ve *tables.ValuesError
		if errors.As(err, &ve) && len(ve.Problems) == 1 {
			return nil, errors.New(ve.Problems[0].Reason)
		}
		return out, err
	}
	switch p.Type {
	case StringArray:
		switch v := v.(type) {
		case []string:
			return slices.Clone(v), nil
		case []any:
			out := make([]string, len(v))
			for i, e := range v {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("item %d is %s, want a string", i, describe(e))
				}
				out[i] = s
			}
			return out, nil
		}
		return nil, fmt.Errorf("got %s, want an array of strings", describe(v))
	case EntityReference:
		return checkReference(p, v, find)
	case Entity:
		return checkEntity(p, v, find)
	case EntityCollection:
		list, ok := v.([]any)
		if !ok {
			if es, ok := v.([]EntityValue); ok {
				return slices.Clone(es), nil
			}
			return nil, fmt.Errorf("got %s, want an array of entities", describe(v))
		}
		out := make([]EntityValue, len(list))
		for i, e := range list {
			ent, err := checkEntity(p, e, find)
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
			out[i] = ent
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown parameter type %q", p.Type)
}

// checkReference accepts a tables.Reference, {"table": name, "id": uuid},
// or Dataverse's {"@odata.type": "Microsoft.Dynamics.CRM.<table>",
// "<table>id": uuid}.
func checkReference(p *Parameter, v any, find TableFinder) (tables.Reference, error) {
	var ref tables.Reference
	switch v := v.(type) {
	case tables.Reference:
		ref = v
	case map[string]any:
		table, _ := v["table"].(string)
		if t, ok := v["@odata.type"].(string); ok {
			table = strings.TrimPrefix(strings.TrimPrefix(t, "#"), "Microsoft.Dynamics.CRM.")
		}
		if table == "" {
			table = p.Table
		}
		idv, ok := v["id"]
		if !ok {
			idv = v[table+"id"]
		}
		s, _ := idv.(string)
		id, err := uuid.Parse(s)
		if err != nil {
			return ref, fmt.Errorf("want an entity reference with a GUID id, got id %s", describe(idv))
		}
		ref = tables.Reference{Table: table, ID: id}
	default:
		return ref, fmt.Errorf("got %s, want an entity reference {\"table\": ..., \"id\": ...}", describe(v))
	}
	if ref.Table == "" {
		return ref, fmt.Errorf("entity reference names no table")
	}
	if _, ok := find(ref.Table); !ok {
		return ref, fmt.Errorf("table %q is not defined", ref.Table)
	}
	if p.Table != "" && ref.Table != p.Table {
		return ref, fmt.Errorf("refers to table %s, want %s", ref.Table, p.Table)
	}
	return ref, nil
}

func checkEntity(p *Parameter, v any, find TableFinder) (EntityValue, error) {
	if e, ok := v.(EntityValue); ok {
		return e, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return EntityValue{}, fmt.Errorf("got %s, want an entity (a JSON object)", describe(v))
	}
	name := p.Table
	if t, ok := obj["@odata.type"].(string); ok {
		name = strings.TrimPrefix(strings.TrimPrefix(t, "#"), "Microsoft.Dynamics.CRM.")
	}
	if name == "" {
		return EntityValue{}, fmt.Errorf(`entity names no table: add "@odata.type": "Microsoft.Dynamics.CRM.<table>"`)
	}
	if p.Table != "" && name != p.Table {
		return EntityValue{}, fmt.Errorf("is a %s, want %s", name, p.Table)
	}
	t, ok := find(name)
	if !ok {
		return EntityValue{}, fmt.Errorf("table %q is not defined", name)
	}
	values := make(map[string]any, len(obj))
	for k, v := range obj {
		if !strings.HasPrefix(k, "@") {
			values[k] = v
		}
	}
	row, err := t.CheckUpdate(values)
	if err != nil {
		return EntityValue{}, err
	}
	return EntityValue{Table: t, Row: row}, nil
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, int, int64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}
