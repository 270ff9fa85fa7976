package pipeline

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/tables"
)

// Definitions is what the engine knows: tables, custom APIs and steps, as
// imported from solutions. It is immutable once built; a solution import
// builds a new one and swaps it in, so a message runs on one consistent set.
type Definitions struct {
	tables   map[string]*tables.Table
	byPlural map[string]*tables.Table
	apis     map[string]*customapi.API
	steps    map[stepKey][]*Step
}

type stepKey struct {
	message, table string
	stage          Stage
	mode           Mode
}

// NewDefinitions checks and indexes definitions. The inputs are defaulted
// (WithDefaults) here.
func NewDefinitions(ts []tables.Table, apis []customapi.API, steps []Step) (*Definitions, error) {
	d := &Definitions{
		tables:   make(map[string]*tables.Table, len(ts)),
		byPlural: make(map[string]*tables.Table, len(ts)),
		apis:     make(map[string]*customapi.API, len(apis)),
		steps:    map[stepKey][]*Step{},
	}
	var errs []error
	names := map[string]bool{}
	for _, t := range ts {
		names[t.LogicalName] = true
	}
	for _, t := range ts {
		t := t.WithDefaults()
		if err := t.Validate(names); err != nil {
			errs = append(errs, err)
		}
		if d.tables[t.LogicalName] != nil || d.byPlural[t.PluralName] != nil {
			errs = append(errs, fmt.Errorf("table %s: defined twice (logical or plural name)", t.LogicalName))
		}
		d.tables[t.LogicalName] = &t
		d.byPlural[t.PluralName] = &t
	}
	for _, a := range apis {
		a := a.WithDefaults()
		if err := a.Validate(names); err != nil {
			errs = append(errs, err)
		}
		if d.apis[a.UniqueName] != nil || IsTableMessage(a.UniqueName) {
			errs = append(errs, fmt.Errorf("custom API %s: name is taken", a.UniqueName))
		}
		d.apis[a.UniqueName] = &a
	}
	for _, s := range steps {
		s := s
		if err := s.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := d.checkStep(&s); err != nil {
			errs = append(errs, err)
			continue
		}
		if s.Disabled {
			continue
		}
		k := stepKey{s.Message, s.Table, s.Stage, s.Mode}
		d.steps[k] = append(d.steps[k], &s)
	}
	for _, list := range d.steps {
		slices.SortFunc(list, func(a, b *Step) int {
			return cmp.Or(cmp.Compare(a.Rank, b.Rank), cmp.Compare(a.Name, b.Name))
		})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Definitions) checkStep(s *Step) error {
	if IsTableMessage(s.Message) {
		t := d.tables[s.Table]
		if t == nil {
			return fmt.Errorf("step %s: table %q is not defined", s.Name, s.Table)
		}
		if OwnerMessage(s.Message) && t.Ownership != tables.UserOwned {
			return fmt.Errorf("step %s: table %s is organization-owned: its rows have no owner and are not shared, so a step on %s never runs", s.Name, t.LogicalName, s.Message)
		}
		for _, c := range s.FilteringColumns {
			if _, ok := t.Column(c); !ok {
				return fmt.Errorf("step %s: filtering column %s is not a column of %s", s.Name, c, t.LogicalName)
			}
		}
		return nil
	}
	a := d.apis[s.Message]
	if a == nil {
		return fmt.Errorf("step %s: message %q is neither a table message nor a custom API", s.Name, s.Message)
	}
	switch {
	case a.AllowedStepType == customapi.StepsNone:
		return fmt.Errorf("step %s: custom API %s allows no steps", s.Name, a.UniqueName)
	case a.AllowedStepType == customapi.StepsAsyncOnly && s.Mode == Sync:
		return fmt.Errorf("step %s: custom API %s allows async steps only, and this step is sync", s.Name, a.UniqueName)
	}
	if s.Table != "" && s.Table != a.BoundTable {
		return fmt.Errorf("step %s: custom API %s is not bound to table %s", s.Name, a.UniqueName, s.Table)
	}
	return nil
}

// Table returns a table by logical name.
func (d *Definitions) Table(name string) (*tables.Table, bool) {
	t, ok := d.tables[name]
	return t, ok
}

// TableByPlural returns a table by plural name, as the HTTP API names it.
func (d *Definitions) TableByPlural(name string) (*tables.Table, bool) {
	t, ok := d.byPlural[name]
	return t, ok
}

// CustomAPI returns a custom API by unique name.
func (d *Definitions) CustomAPI(name string) (*customapi.API, bool) {
	a, ok := d.apis[name]
	return a, ok
}

// Steps returns the enabled steps of a message on a stage, in run order.
func (d *Definitions) Steps(message, table string, stage Stage, mode Mode) []*Step {
	return d.steps[stepKey{message, table, stage, mode}]
}
