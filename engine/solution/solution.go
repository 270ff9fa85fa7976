package solution

import (
	"github.com/bizevents/bizevents/engine/flows"

	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/bizevents/bizevents/engine/catalog"
	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
)

// Solution is a checked solution: its manifest and its definitions, with
// defaults filled in, each list sorted by name.
type Solution struct {
	// Name is the solution's unique name, e.g. contoso_customers.
	Name        string
	DisplayName string
	// Version is the solution's version, e.g. 1.0.0.
	Version     string
	Publisher   string
	Description string

	// Tables are sorted by logical name.
	Tables []tables.Table
	// CustomAPIs are sorted by unique name.
	CustomAPIs []customapi.API
	// Steps are sorted by name.
	Steps []pipeline.Step
	// Plugins are the plugin modules the solution ships, sorted by name.
	Plugins []Plugin
	// Catalogs holds the solution's root catalog, if it has one: at most
	// one.
	Catalogs []catalog.Catalog
	// Endpoints are the service endpoints, sorted by name.
	Endpoints []EndpointDef
	// Inputs are the broker inputs, sorted by name.
	Inputs []InputDef
	// Flows are the flows, sorted by name; a flow-defined action's custom
	// API is not among CustomAPIs (see flows.RequestAPI).
	Flows []flows.Def

	// Hash is the hex SHA-256 of the solution's normalized [Definition] as
	// JSON: the same for two folders that define the same things, however
	// they are split into files, ordered, named or indented.
	Hash string
	// Files is the number of YAML files the solution was loaded from; 0
	// when it was decoded.
	Files int
}

// Definition returns the solution as one JSON-serializable document.
func (s *Solution) Definition() Definition {
	d := Definition{
		Name:        s.Name,
		DisplayName: s.DisplayName,
		Version:     s.Version,
		Publisher:   s.Publisher,
		Description: s.Description,
	}
	for _, t := range s.Tables {
		d.Tables = append(d.Tables, tableDef(t))
	}
	for _, a := range s.CustomAPIs {
		d.CustomAPIs = append(d.CustomAPIs, customAPIDef(a))
	}
	for _, st := range s.Steps {
		d.Steps = append(d.Steps, stepDef(st))
	}
	for _, p := range s.Plugins {
		d.Plugins = append(d.Plugins, PluginDef{Name: p.Name, Description: p.Description, File: p.File, Source: p.Source, Hash: p.Hash, Size: p.Size})
	}
	for _, c := range s.Catalogs {
		d.Catalogs = append(d.Catalogs, catalogDef(c))
	}
	d.Endpoints = s.Endpoints
	d.Inputs = s.Inputs
	d.Flows = s.Flows
	return d
}

// Plugin is a plugin module a solution ships: a WebAssembly file in its
// folder, identified by its content hash. Steps and custom APIs of the
// solution name its handlers "<name>/<handler>".
type Plugin struct {
	// Name is unique across the imported solutions, e.g. contoso_validation.
	Name        string
	Description string
	// File is the module's path in the solution folder, with slashes;
	// Source its source folder, when the solution says.
	File, Source string
	// Hash is the hex SHA-256 of the module's bytes; Size their length.
	Hash string
	Size int64
	// Wasm holds the module's bytes when the solution was loaded from its
	// folder; nil when it was decoded from a Definition, whose import
	// stored them (see [ModuleBytes]).
	Wasm []byte
}

// Plugin returns the plugin module called name.
func (s *Solution) Plugin(name string) (*Plugin, bool) {
	for i := range s.Plugins {
		if s.Plugins[i].Name == name {
			return &s.Plugins[i], true
		}
	}
	return nil, false
}

// MarshalJSON encodes the solution's [Definition]; [Decode] reads it back.
// Its receiver is a value so that a Solution encodes the same way whether
// or not it is addressable.
func (s Solution) MarshalJSON() ([]byte, error) { return json.Marshal(s.Definition()) }

// UnmarshalJSON decodes and checks a [Definition], as [Decode] does.
func (s *Solution) UnmarshalJSON(data []byte) error {
	d, err := Decode(data)
	if err != nil {
		return err
	}
	*s = *d
	return nil
}

// Encode returns the solution's [Definition] as JSON, the form a solution
// import stores in the log.
func Encode(s *Solution) ([]byte, error) { return s.MarshalJSON() }

// Decode reads a [Definition] written by [Encode] and checks it as [Load]
// checks a folder, except for the JSON Schemas: unknown keys are refused
// and every problem is reported in an *[Error] (without file positions).
// Decode(Encode(s)) equals s but for Files.
func Decode(data []byte) (*Solution, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var d Definition
	if err := dec.Decode(&d); err != nil {
		return nil, &Error{Problems: []Problem{{Message: fmt.Sprintf("decode solution definition: %v", err)}}}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &Error{Problems: []Problem{{Message: "decode solution definition: data after the JSON document"}}}
	}
	m := &model{manifest: d, manifestOK: true}
	for _, t := range d.Tables {
		m.tables = append(m.tables, item[TableDef]{def: t})
	}
	for _, a := range d.CustomAPIs {
		m.apis = append(m.apis, item[CustomAPIDef]{def: a})
	}
	for _, st := range d.Steps {
		m.steps = append(m.steps, item[StepDef]{def: st})
	}
	for _, p := range d.Plugins {
		m.plugins = append(m.plugins, item[PluginDef]{def: p})
	}
	for _, e := range d.Endpoints {
		m.endpoints = append(m.endpoints, item[EndpointDef]{def: e})
	}
	for _, in := range d.Inputs {
		m.inputs = append(m.inputs, item[InputDef]{def: in})
	}
	for _, c := range d.Catalogs {
		m.catalogs = append(m.catalogs, item[CatalogDef]{def: c})
	}
	for _, f := range d.Flows {
		m.flows = append(m.flows, item[flows.Def]{def: f})
	}
	var ps problems
	s := m.check(&ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// hash returns the hex SHA-256 of the solution's Definition as JSON.
func (s *Solution) hash() (string, error) {
	data, err := json.Marshal(s.Definition())
	if err != nil {
		return "", fmt.Errorf("encode definition: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}
