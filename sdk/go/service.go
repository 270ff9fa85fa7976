package sdk

import (
	"strconv"

	"github.com/bizevents/bizevents/sdk/go/abi"
)

// Service is the organization service: it executes messages through the
// engine, in the transaction of the running message, one level deeper. A
// message that fails returns an *Error with the engine's code; returned
// unchanged from the handler, it fails this message with the same code.
type Service struct{}

// Request is a message to execute; Send takes it. Message is a table
// message (Create, Retrieve, RetrieveMultiple, Update, Delete, Assign,
// GrantAccess, ModifyAccess, RevokeAccess) or a custom API's unique name.
type Request struct {
	Message string
	Table   string
	// ID is the row of Retrieve, Update, Delete, Assign and a table-bound
	// custom API; on Create, an id the caller chose (optional).
	ID string
	// Target holds the column values of Create and Update.
	Target Fields
	// Parameters are a custom API's request parameters.
	Parameters Fields
	// Columns limits the columns Retrieve and RetrieveMultiple return.
	Columns []string
	// Filter and OrderBy are RetrieveMultiple's OData $filter and
	// $orderby; Top, PageSize and PageToken page it.
	Filter, OrderBy string
	Top, PageSize   int
	PageToken       string
	// Owner is Assign's new owner.
	Owner string
	// Principal is the user (a systemuser's id) GrantAccess and
	// ModifyAccess share the row with and RevokeAccess takes the share
	// from; AccessRights are the rights GrantAccess adds to the
	// principal's and ModifyAccess makes it hold (RevokeAccess takes none).
	Principal    string
	AccessRights AccessRights
	// ExpectedVersion, when positive, makes Update, Delete, Assign and the
	// share messages fail with version_conflict unless the row is at that
	// version.
	ExpectedVersion int64
}

// Response is what a message gave back.
type Response struct {
	// ID is the row the message was about (Create's new row).
	ID string
	// Row is Retrieve's row, and Create's and Update's row after the write.
	Row *Row
	// Rows, More and PageToken are RetrieveMultiple's page.
	Rows      []*Row
	More      bool
	PageToken string
	// Output holds a custom API's response properties.
	Output *Row
	// Version is the row's version after a write.
	Version int64
	// EventID identifies the event the message appended.
	EventID string
}

// Query is a RetrieveMultiple.
type Query struct {
	Table   string
	Columns []string
	// Filter is an OData $filter ("revenue gt 1000 and city eq 'Oslo'"),
	// OrderBy an OData $orderby ("name desc").
	Filter, OrderBy string
	Top, PageSize   int
	PageToken       string
}

// Collection is a page of rows.
type Collection struct {
	Rows      []*Row
	More      bool
	PageToken string
}

// Create creates a row and returns its id.
func (s *Service) Create(table string, values Fields) (string, error) {
	r, err := s.Send(Request{Message: "Create", Table: table, Target: values})
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

// Retrieve reads a row, with the given columns or all.
func (s *Service) Retrieve(table, id string, columns ...string) (*Row, error) {
	r, err := s.Send(Request{Message: "Retrieve", Table: table, ID: id, Columns: columns})
	if err != nil {
		return nil, err
	}
	return r.Row, nil
}

// Update changes columns of a row.
func (s *Service) Update(table, id string, values Fields) error {
	_, err := s.Send(Request{Message: "Update", Table: table, ID: id, Target: values})
	return err
}

// Delete deletes a row.
func (s *Service) Delete(table, id string) error {
	_, err := s.Send(Request{Message: "Delete", Table: table, ID: id})
	return err
}

// RetrieveMultiple reads a page of rows.
func (s *Service) RetrieveMultiple(q Query) (*Collection, error) {
	r, err := s.Send(Request{Message: "RetrieveMultiple", Table: q.Table, Columns: q.Columns,
		Filter: q.Filter, OrderBy: q.OrderBy, Top: q.Top, PageSize: q.PageSize, PageToken: q.PageToken})
	if err != nil {
		return nil, err
	}
	return &Collection{Rows: r.Rows, More: r.More, PageToken: r.PageToken}, nil
}

// Execute runs an unbound custom API and returns its response properties.
func (s *Service) Execute(api string, params Fields) (*Row, error) {
	r, err := s.Send(Request{Message: api, Parameters: params})
	if err != nil {
		return nil, err
	}
	return r.Output, nil
}

// Send executes any message.
func (s *Service) Send(req Request) (*Response, error) {
	buf, err := encodeRequest(req)
	if err != nil {
		return nil, &Error{Code: "invalid_value", Message: req.Message + ": " + err.Error()}
	}
	n := hostExecute(buf)
	if n == int32(abi.ErrFailed) {
		e := &Error{Code: "internal", Message: req.Message + " failed"}
		if p := hostResultLength(); p > 0 {
			if b, rerr := readResult(p, true); rerr == nil {
				_ = eachField(b, func(k, v []byte) bool {
					switch {
					case keyIs(k, "code"):
						e.Code, _ = unquote(v)
					case keyIs(k, "message"):
						e.Message, _ = unquote(v)
					}
					return true
				})
			}
		}
		lastExecErr = e
		return nil, e
	}
	if n < 0 {
		return nil, errnoError("execute "+req.Message, n)
	}
	b, err := readResult(n, false)
	if err != nil {
		return nil, err
	}
	return decodeResponse(b)
}

func encodeRequest(req Request) ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, `{"message":`...)
	b = appendQuoted(b, req.Message)
	str := func(name, v string) {
		if v != "" {
			b = append(b, ',', '"')
			b = append(b, name...)
			b = append(b, '"', ':')
			b = appendQuoted(b, v)
		}
	}
	num := func(name string, v int64) {
		if v != 0 {
			b = append(b, ',', '"')
			b = append(b, name...)
			b = append(b, '"', ':')
			b = strconv.AppendInt(b, v, 10)
		}
	}
	str("table", req.Table)
	str("id", req.ID)
	var err error
	if req.Target != nil {
		b = append(b, `,"target":`...)
		if b, err = appendObject(b, req.Target); err != nil {
			return nil, err
		}
	}
	if req.Parameters != nil {
		b = append(b, `,"parameters":`...)
		if b, err = appendObject(b, req.Parameters); err != nil {
			return nil, err
		}
	}
	if len(req.Columns) > 0 {
		b = append(b, `,"columns":`...)
		b, _ = appendJSON(b, req.Columns)
	}
	str("filter", req.Filter)
	str("orderby", req.OrderBy)
	num("top", int64(req.Top))
	num("page_size", int64(req.PageSize))
	str("page_token", req.PageToken)
	str("owner", req.Owner)
	str("principal", req.Principal)
	num("access_rights", int64(req.AccessRights))
	num("expected_version", req.ExpectedVersion)
	return append(b, '}'), nil
}

func decodeResponse(b []byte) (*Response, error) {
	r := &Response{}
	var err error
	ferr := eachField(b, func(k, v []byte) bool {
		val := Value(v)
		switch {
		case keyIs(k, "id"):
			r.ID, err = val.AsString()
		case keyIs(k, "row"):
			r.Row, err = val.AsRow()
		case keyIs(k, "rows"):
			err = eachElement(v, func(e []byte) bool {
				r.Rows = append(r.Rows, &Row{raw: e})
				return true
			})
		case keyIs(k, "more"):
			r.More, err = val.AsBool()
		case keyIs(k, "page_token"):
			r.PageToken, err = val.AsString()
		case keyIs(k, "output"):
			r.Output, err = val.AsRow()
		case keyIs(k, "version"):
			r.Version, err = val.AsInt()
		case keyIs(k, "event_id"):
			r.EventID, err = val.AsString()
		}
		return err == nil
	})
	if ferr != nil {
		return nil, ferr
	}
	if err != nil {
		return nil, err
	}
	if r.Output == nil {
		r.Output = &Row{raw: []byte("{}")}
	}
	return r, nil
}
