package endpoints_test

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/schemas"
)

// The schema files this package's JSON follows.
const (
	contextSchema    = "execution-context.schema.json"
	cloudEventSchema = "cloudevent.schema.json"
)

var compiledSchemas = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	names := []string{contextSchema, cloudEventSchema}
	for _, name := range names {
		data, err := fs.ReadFile(schemas.FS(), name)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		if err := c.AddResource(schemas.BaseURL+name, doc); err != nil {
			return nil, err
		}
	}
	out := map[string]*jsonschema.Schema{}
	for _, name := range names {
		s, err := c.Compile(schemas.BaseURL + name)
		if err != nil {
			return nil, err
		}
		out[name] = s
	}
	return out, nil
})

// requireSchema checks a JSON document against one of the schemas.
func requireSchema(t *testing.T, name string, body []byte) {
	t.Helper()
	all, err := compiledSchemas()
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	require.NoError(t, err, "not JSON: %s", body)
	require.NoError(t, all[name].Validate(doc), "%s does not hold for %s", name, body)
}

// received is a request a receiver got.
type received struct {
	Header http.Header
	Query  map[string][]string
	Body   []byte
}

// receiver starts an HTTP server that records every request and answers
// with answer (nil: 204).
func receiver(t *testing.T, answer http.HandlerFunc) (*httptest.Server, <-chan received) {
	t.Helper()
	got := make(chan received, 256)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		select {
		case got <- received{Header: r.Header.Clone(), Query: r.URL.Query(), Body: body}:
		default:
		}
		if answer == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// next returns the next request a receiver got.
func next(t *testing.T, got <-chan received) received {
	t.Helper()
	select {
	case r := <-got:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver got no request")
		return received{}
	}
}

// newWebhook is a Webhook whose idle connections close with the test.
func newWebhook(t testing.TB, cfg endpoints.WebhookConfig) *endpoints.Webhook {
	w := endpoints.NewWebhook(cfg)
	t.Cleanup(w.CloseIdleConnections)
	return w
}

// hook is a valid webhook endpoint posting to url.
func hook(url string) endpoints.Endpoint {
	return endpoints.Endpoint{Name: "contoso_erp_hook", Kind: endpoints.KindWebhook, URL: url, Timeout: 10 * time.Second}
}

// Test secrets: Standard Webhooks' example and two of our own.
const (
	secretA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	secretB = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	secretC = "whsec_ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
)

var (
	accountID   = uuid.MustParse("0196d7c2-1111-7000-8000-00000000000a")
	eventID     = uuid.MustParse("0196d7c2-2222-7000-8000-00000000000e")
	userID      = "0196d7c2-0000-7000-8000-000000000001"
	otherUserID = "0196d7c2-0000-7000-8000-000000000002"
	correlation = "0196d7c2-3333-7000-8000-00000000000c"
	requestID   = "0196d7c2-4444-7000-8000-00000000000d"
	eventTime   = time.Date(2026, 3, 1, 12, 30, 45, 123456000, time.UTC)
)

// revenue has more digits than a float64 holds: it must arrive exactly.
const revenue = "12345678901234567890.1234"

// createEvent is an account Create event as package pipeline writes it.
func createEvent() eventlog.Event {
	id := accountID.String()
	data := `{"messageName":"Create","primaryEntityName":"account","primaryEntityId":"` + id + `","depth":1,` +
		`"inputParameters":{"Target":{"accountid":null,"city":null,"createdon":null,"modifiedon":null,"name":"Contoso <Ltd> & Co","ownerid":null,"revenue":` + revenue + `,"versionnumber":null}},` +
		`"outputParameters":{"id":"` + id + `"},` +
		`"row":{"accountid":"` + id + `","createdon":"2026-03-01T12:30:45.123456Z","modifiedon":"2026-03-01T12:30:45.123456Z","name":"Contoso <Ltd> & Co","ownerid":"` + userID + `","revenue":` + revenue + `,"versionnumber":1},` +
		`"asyncSteps":["erp"]}`
	return eventlog.Event{
		ID: eventID, Position: 42, StreamID: "account/" + id, StreamVersion: 1, Type: "account.Create",
		Data: json.RawMessage(data),
		Metadata: eventlog.Metadata{
			UserID: userID, InitiatingUserID: otherUserID, CorrelationID: correlation, RequestID: requestID,
			Depth: 1, Solution: "contoso", Time: eventTime,
		},
	}
}

// erpStep is the step the tests deliver for.
var erpStep = endpoints.StepInfo{
	Name: "erp", Environment: "contoso-prod",
	PostImages: []endpoints.Image{{Name: "after"}, {Name: "names", Columns: []string{"name"}}},
}

// sampleContext is the execution context of createEvent for erpStep.
func sampleContext(t testing.TB) *endpoints.ExecutionContext {
	t.Helper()
	c, err := endpoints.ContextFromEvent(createEvent(), erpStep)
	require.NoError(t, err)
	return c
}
