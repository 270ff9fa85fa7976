package endpoints

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/eventlog"
)

// Dataverse's constants in an execution context.
const (
	// StagePostOperation is the stage of every delivery: after commit.
	StagePostOperation = 40
	// ModeAsync is the mode of every delivery.
	ModeAsync = 1
	// NoEntity is PrimaryEntityName of a message on no table (a global
	// custom API), as Dataverse writes it.
	NoEntity = "none"
	// EntityType and EntityReferenceType are the "__type" of an entity and
	// of an entity reference in Dataverse's JSON.
	EntityType          = "Entity:http://schemas.microsoft.com/xrm/2011/Contracts"
	EntityReferenceType = "EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts"
)

// DefaultEnvironment is OrganizationName when [StepInfo] names no
// environment.
const DefaultEnvironment = "default"

// nilGUID is what Dataverse writes for an id that is not there.
const nilGUID = "00000000-0000-0000-0000-000000000000"

// ExecutionContext is what a subscriber receives: Dataverse's
// RemoteExecutionContext shape, with its JSON names, plus bizevents'
// additions (EventId and after). The package doc lists where it differs
// from Dataverse. schemas/execution-context.schema.json describes the
// JSON.
type ExecutionContext struct {
	// MessageName is the message: Create, Update, ... or a custom API's
	// unique name.
	MessageName string `json:"MessageName"`
	// PrimaryEntityName is the table, or [NoEntity] for a global custom
	// API.
	PrimaryEntityName string `json:"PrimaryEntityName"`
	// PrimaryEntityID is the row, or the nil GUID.
	PrimaryEntityID string `json:"PrimaryEntityId"`
	// Stage is always 40 ([StagePostOperation]) and Mode always 1
	// ([ModeAsync]): a delivery happens after commit.
	Stage int `json:"Stage"`
	Mode  int `json:"Mode"`
	// Depth is 1 for a caller's message, one more for each message a
	// plugin or flow ran.
	Depth            int    `json:"Depth"`
	UserID           string `json:"UserId"`
	InitiatingUserID string `json:"InitiatingUserId"`
	CorrelationID    string `json:"CorrelationId"`
	RequestID        string `json:"RequestId"`
	// OperationID is the job's id, the same as the delivery's ([Delivery.ID])
	// when Deliver fills it.
	OperationID string `json:"OperationId"`
	// OperationCreatedOn is when the log recorded the event.
	OperationCreatedOn time.Time `json:"OperationCreatedOn"`
	// OrganizationName is the environment.
	OrganizationName string `json:"OrganizationName"`
	// InputParameters holds the request: "Target" (an [Entity] for Create
	// and Update, an [EntityReference] for Delete, Assign and a row-bound
	// custom API) and a custom API's parameters.
	InputParameters Parameters `json:"InputParameters"`
	// OutputParameters holds the response: "id" after Create, a custom
	// API's response properties.
	OutputParameters Parameters `json:"OutputParameters"`
	// SharedVariables is always empty: variables steps share inside the
	// transaction are not recorded in the event.
	SharedVariables Parameters `json:"SharedVariables"`
	// PreEntityImages and PostEntityImages are the step's images, each an
	// [Entity] under the image's name.
	PreEntityImages  Parameters `json:"PreEntityImages"`
	PostEntityImages Parameters `json:"PostEntityImages"`

	// EventID is the event's id in the log.
	EventID string `json:"EventId"`
	// Position is the event's position in the log.
	Position int64 `json:"Position"`
	// StreamID and StreamVersion place the event in its stream, e.g.
	// "account/<id>" version 3.
	StreamID      string `json:"StreamId"`
	StreamVersion int64  `json:"StreamVersion"`
	// Solution is the solution that defined the message, if any.
	Solution string `json:"Solution"`
	// StepName is the step that delivers the event.
	StepName string `json:"StepName"`
}

// KeyValue is one entry of a Dataverse collection in JSON: parameters,
// shared variables, images, an entity's attributes.
type KeyValue struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// Parameters is a Dataverse collection, in JSON an array of {"key",
// "value"}. The Value of each entry is exact JSON: numbers keep every
// digit. Deliver sends a nil collection of an ExecutionContext as [], as
// Dataverse does.
type Parameters []KeyValue

// Get returns the value of key, and whether it is there.
func (p Parameters) Get(key string) (json.RawMessage, bool) {
	for _, kv := range p {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// marshal is json.Marshal without HTML escaping: "<" stays "<", as
// receivers expect.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Entity is a row in Dataverse's JSON: a Target of Create and Update, an
// image.
type Entity struct {
	// Type is always [EntityType].
	Type        string `json:"__type"`
	LogicalName string `json:"LogicalName"`
	ID          string `json:"Id"`
	// Attributes are the row's columns by logical name, values as the
	// event holds them.
	Attributes Parameters `json:"Attributes"`
	// FormattedValues, KeyAttributes and RelatedEntities are always empty.
	FormattedValues Parameters `json:"FormattedValues"`
	KeyAttributes   Parameters `json:"KeyAttributes"`
	RelatedEntities Parameters `json:"RelatedEntities"`
	// RowVersion is the row's versionnumber, when known.
	RowVersion *string `json:"RowVersion"`
}

// EntityReference is a reference to a row in Dataverse's JSON: the Target
// of Delete, Assign and a row-bound custom API.
type EntityReference struct {
	// Type is always [EntityReferenceType].
	Type          string     `json:"__type"`
	ID            string     `json:"Id"`
	LogicalName   string     `json:"LogicalName"`
	KeyAttributes Parameters `json:"KeyAttributes"`
	// Name and RowVersion are always null.
	Name       *string `json:"Name"`
	RowVersion *string `json:"RowVersion"`
}

// StepInfo is what the execution context needs beyond the event: the step
// that delivers it and where it runs.
type StepInfo struct {
	// Name is the step's name (StepName).
	Name string
	// Environment is the environment's name (OrganizationName).
	// Default: [DefaultEnvironment].
	Environment string
	// OperationID is the job's id (OperationId); when empty, Deliver
	// sends the delivery's ID.
	OperationID string
	// PreImages and PostImages are the step's registered images. A post
	// image is taken from the row the event records (Create, Update,
	// Assign); a pre image from PreRow.
	PreImages, PostImages []Image
	// PreRow is the row before the operation in the log's storage form:
	// the row after the stream's previous version (the row an Update,
	// Assign or share changed, the row a Delete deleted, the row a
	// row-bound custom API found), which (*pipeline.Engine).PreRow reads
	// from the log. Nil gives no pre images (a Create has none).
	PreRow json.RawMessage
}

// Image is a snapshot of the row a step registers.
type Image struct {
	Name string
	// Columns lists the columns to include; empty includes all.
	Columns []string
}

// eventData is the part of a message's event data (written by package
// pipeline) that an execution context needs. Values stay raw JSON, so that
// numbers keep every digit.
type eventData struct {
	MessageName       string                     `json:"messageName"`
	PrimaryEntityName string                     `json:"primaryEntityName"`
	PrimaryEntityID   string                     `json:"primaryEntityId"`
	Depth             int                        `json:"depth"`
	InputParameters   map[string]json.RawMessage `json:"inputParameters"`
	OutputParameters  map[string]json.RawMessage `json:"outputParameters"`
	Row               json.RawMessage            `json:"row"`
}

// ContextFromEvent builds the execution context of a message's event for a
// step. It fails with an [*EventError] when the event's data is not a
// message's event data: such an event can never be delivered.
func ContextFromEvent(ev eventlog.Event, step StepInfo) (*ExecutionContext, error) {
	fail := func(err error) (*ExecutionContext, error) { return nil, &EventError{EventID: ev.ID, Err: err} }
	var d eventData
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		return fail(fmt.Errorf("data is not a message's event data: %w", err))
	}
	if d.MessageName == "" {
		return fail(errors.New("data names no messageName"))
	}
	depth := d.Depth
	if depth == 0 {
		depth = ev.Metadata.Depth
	}
	table, id := d.PrimaryEntityName, d.PrimaryEntityID
	if table == "" {
		table = NoEntity
	}
	if id == "" {
		id = nilGUID
	}
	env := step.Environment
	if env == "" {
		env = DefaultEnvironment
	}
	c := &ExecutionContext{
		MessageName:        d.MessageName,
		PrimaryEntityName:  table,
		PrimaryEntityID:    id,
		Stage:              StagePostOperation,
		Mode:               ModeAsync,
		Depth:              depth,
		UserID:             guid(ev.Metadata.UserID),
		InitiatingUserID:   guid(ev.Metadata.InitiatingUserID),
		CorrelationID:      guid(ev.Metadata.CorrelationID),
		RequestID:          guid(ev.Metadata.RequestID),
		OperationID:        step.OperationID,
		OperationCreatedOn: ev.Metadata.Time.UTC(),
		OrganizationName:   env,
		SharedVariables:    Parameters{},
		EventID:            ev.ID.String(),
		Position:           ev.Position,
		StreamID:           ev.StreamID,
		StreamVersion:      ev.StreamVersion,
		Solution:           ev.Metadata.Solution,
		StepName:           step.Name,
	}
	var err error
	if c.InputParameters, err = parameters(d.InputParameters, table, id); err != nil {
		return fail(fmt.Errorf("inputParameters: %w", err))
	}
	if c.OutputParameters, err = parameters(d.OutputParameters, "", ""); err != nil {
		return fail(fmt.Errorf("outputParameters: %w", err))
	}
	if c.PreEntityImages, err = images(step.PreImages, step.PreRow, table, id); err != nil {
		return fail(fmt.Errorf("pre image: %w", err))
	}
	if c.PostEntityImages, err = images(step.PostImages, d.Row, table, id); err != nil {
		return fail(fmt.Errorf("post image: %w", err))
	}
	return c, nil
}

// guid is an id of the metadata, the nil GUID when there is none.
func guid(s string) string {
	if s == "" {
		return nilGUID
	}
	return s
}

// parameters turns the event's parameters into a Dataverse collection,
// sorted by key. A reference {"table", "id"} becomes an [EntityReference];
// on a table message (table set), an object Target becomes an [Entity].
func parameters(m map[string]json.RawMessage, table, id string) (Parameters, error) {
	out := make(Parameters, 0, len(m))
	for _, k := range sortedKeys(m) {
		v := m[k]
		if ref, ok := asReference(v); ok {
			v = ref
		} else if k == "Target" && table != "" && table != NoEntity && isObject(v) {
			e, err := entity(v, table, id, nil)
			if err != nil {
				return nil, fmt.Errorf("Target: %w", err)
			}
			v = e
		}
		out = append(out, KeyValue{Key: k, Value: v})
	}
	return out, nil
}

// asReference returns the EntityReference JSON of a value that is a
// tables.Reference ({"table": name, "id": uuid}).
func asReference(v json.RawMessage) (json.RawMessage, bool) {
	if !isObject(v) {
		return nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(v, &m) != nil || len(m) != 2 {
		return nil, false
	}
	var table, id string
	if json.Unmarshal(m["table"], &table) != nil || json.Unmarshal(m["id"], &id) != nil || table == "" {
		return nil, false
	}
	if _, err := uuid.Parse(id); err != nil {
		return nil, false
	}
	raw, err := marshal(EntityReference{Type: EntityReferenceType, ID: id, LogicalName: table, KeyAttributes: Parameters{}})
	return raw, err == nil
}

// images builds a step's images of one row; no row, no images.
func images(specs []Image, row json.RawMessage, table, id string) (Parameters, error) {
	out := Parameters{}
	if len(row) == 0 || bytes.Equal(row, []byte("null")) {
		return out, nil
	}
	for _, im := range specs {
		e, err := entity(row, table, id, im.Columns)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", im.Name, err)
		}
		out = append(out, KeyValue{Key: im.Name, Value: e})
	}
	return out, nil
}

// entity returns the Entity JSON of a row object, with only columns when
// given.
func entity(row json.RawMessage, table, id string, columns []string) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(row, &m); err != nil {
		return nil, fmt.Errorf("row is not a JSON object: %w", err)
	}
	e := Entity{Type: EntityType, LogicalName: table, ID: id, Attributes: Parameters{},
		FormattedValues: Parameters{}, KeyAttributes: Parameters{}, RelatedEntities: Parameters{}}
	for _, k := range sortedKeys(m) {
		if len(columns) > 0 && !slices.Contains(columns, k) {
			continue
		}
		e.Attributes = append(e.Attributes, KeyValue{Key: k, Value: m[k]})
	}
	if v, ok := m["versionnumber"]; ok {
		if s := string(bytes.Trim(v, `"`)); s != "" && s != "null" {
			e.RowVersion = &s
		}
	}
	return marshal(e)
}

func isObject(v json.RawMessage) bool {
	v = bytes.TrimLeft(v, " \t\r\n")
	return len(v) > 0 && v[0] == '{'
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
