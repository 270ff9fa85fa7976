// Package customapi holds custom API definitions (the custom events of
// bizevents) and the checking of an invocation's request parameters against
// them.
//
// A custom API is a message a solution defines: bound to nothing (Global), to
// one row of a table (Table) or to a table (TableCollection); a function
// (GET, no side effects) or an action (POST); with typed request parameters
// and response properties. An external event is an action with no main
// handler, AsyncOnly steps and no response properties: a business fact that
// another system reports and bizevents records and tells its subscribers.
package customapi

import (
	"errors"
	"fmt"
	"regexp"
)

// Binding says what a custom API is bound to.
type Binding string

// The bindings.
const (
	Global          Binding = "Global"
	TableBound      Binding = "Table"
	TableCollection Binding = "TableCollection"
)

// StepType says which steps may be registered on a custom API.
type StepType string

// The allowed step types.
const (
	StepsNone         StepType = "None"
	StepsAsyncOnly    StepType = "AsyncOnly"
	StepsSyncAndAsync StepType = "SyncAndAsync"
)

// ParamType is the type of a request parameter or response property.
type ParamType string

// The parameter types, as Dataverse names them.
const (
	Boolean          ParamType = "Boolean"
	DateTime         ParamType = "DateTime"
	Decimal          ParamType = "Decimal"
	Entity           ParamType = "Entity"
	EntityCollection ParamType = "EntityCollection"
	EntityReference  ParamType = "EntityReference"
	Float            ParamType = "Float"
	Integer          ParamType = "Integer"
	Money            ParamType = "Money"
	Picklist         ParamType = "Picklist"
	String           ParamType = "String"
	StringArray      ParamType = "StringArray"
	GUID             ParamType = "Guid"
)

// ParamTypes lists every parameter type.
var ParamTypes = []ParamType{Boolean, DateTime, Decimal, Entity, EntityCollection, EntityReference, Float, Integer, Money, Picklist, String, StringArray, GUID}

// API is a custom API's definition.
type API struct {
	// UniqueName is the message name, e.g. "contoso_CustomerPurchase".
	UniqueName  string
	DisplayName string
	Description string
	Binding     Binding
	// BoundTable is the table of a Table or TableCollection binding.
	BoundTable string
	// IsFunction makes the API a function: invoked with GET, no side effects.
	IsFunction bool
	// IsPrivate hides the API from discovery (the catalog, $metadata).
	IsPrivate       bool
	AllowedStepType StepType
	// ExecutePrivilege is the privilege a caller needs; empty for none.
	ExecutePrivilege string
	// Handler names the main-operation handler (stage 30); empty for none.
	Handler            string
	RequestParameters  []Parameter
	ResponseProperties []Parameter
}

// Parameter is a request parameter or a response property.
type Parameter struct {
	UniqueName  string
	DisplayName string
	Description string
	Type        ParamType
	// Optional parameters may be left out; response properties are always
	// optional.
	Optional bool
	// Table is the logical table of an Entity, EntityCollection or
	// EntityReference, when fixed.
	Table string
}

var namePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,127}$`)

// ValidName reports whether s can be a custom API or parameter name.
func ValidName(s string) bool { return namePattern.MatchString(s) }

// WithDefaults returns a copy of a with defaulted fields filled.
func (a API) WithDefaults() API {
	if a.Binding == "" {
		a.Binding = Global
	}
	if a.AllowedStepType == "" {
		a.AllowedStepType = StepsNone
	}
	return a
}

// IsExternalEvent reports whether the API only records a fact: an action
// without a main handler or response properties, open to async steps only.
func (a *API) IsExternalEvent() bool {
	return !a.IsFunction && a.Handler == "" && len(a.ResponseProperties) == 0 && a.AllowedStepType == StepsAsyncOnly
}

// Parameter returns the request parameter with the given name.
func (a *API) Parameter(name string) (*Parameter, bool) {
	for i := range a.RequestParameters {
		if a.RequestParameters[i].UniqueName == name {
			return &a.RequestParameters[i], true
		}
	}
	return nil, false
}

// Validate reports every problem of a defaulted definition at once; tables
// names the known tables (nil skips that check).
func (a *API) Validate(tables map[string]bool) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("custom API %s: "+format, append([]any{a.UniqueName}, args...)...))
	}
	if !ValidName(a.UniqueName) {
		bad("unique name must be letters, digits and underscores, starting with a letter")
	}
	switch a.Binding {
	case Global:
		if a.BoundTable != "" {
			bad("a Global API has no bound table")
		}
	case TableBound, TableCollection:
		if a.BoundTable == "" {
			bad("a %s binding needs a bound table", a.Binding)
		} else if tables != nil && !tables[a.BoundTable] {
			bad("bound table %s is not a table", a.BoundTable)
		}
	default:
		bad("binding %q must be Global, Table or TableCollection", a.Binding)
	}
	switch a.AllowedStepType {
	case StepsNone, StepsAsyncOnly, StepsSyncAndAsync:
	default:
		bad("allowed step type %q must be None, AsyncOnly or SyncAndAsync", a.AllowedStepType)
	}
	if a.IsFunction && a.AllowedStepType == StepsAsyncOnly {
		bad("a function has no side effects, so it cannot have async steps")
	}
	check := func(kind string, ps []Parameter) {
		seen := map[string]bool{}
		for _, p := range ps {
			if seen[p.UniqueName] {
				bad("%s %s is defined twice", kind, p.UniqueName)
			}
			seen[p.UniqueName] = true
			if !ValidName(p.UniqueName) {
				bad("%s %q: name must be letters, digits and underscores, starting with a letter", kind, p.UniqueName)
			}
			if !knownType(p.Type) {
				bad("%s %s: unknown type %q", kind, p.UniqueName, p.Type)
			}
			if p.Table != "" && tables != nil && !tables[p.Table] {
				bad("%s %s: table %s is not a table", kind, p.UniqueName, p.Table)
			}
		}
	}
	check("request parameter", a.RequestParameters)
	check("response property", a.ResponseProperties)
	if a.Binding != Global {
		if _, ok := a.Parameter("Target"); ok {
			bad("a bound API gets its Target from the binding; remove the Target parameter")
		}
	}
	return errors.Join(errs...)
}

func knownType(t ParamType) bool {
	for _, k := range ParamTypes {
		if k == t {
			return true
		}
	}
	return false
}
