package solution

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/inputs"
	"github.com/bizevents/bizevents/engine/pipeline"
)

// InputDef is a broker input as written in a solution file: a RabbitMQ
// queue (kind queue), a NATS JetStream subject (kind stream) or a Kafka
// topic (kind kafka: Brokers, Topic, optional ConsumerGroup, SASL, TLS)
// whose messages each invoke the custom API Message, as an HTTP POST of it
// would. Values written env:NAME (the URL, the queue, subject, stream and
// dead letter, the brokers, topic, SASL credentials and TLS PEMs) are
// read from the server's environment when the input starts
// ([InputDef.Input]), so that a broker's credentials stay out of
// the solution and the log.
type InputDef struct {
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description"`
	Kind        string `json:"kind" yaml:"kind"`
	URL         string `json:"url,omitempty" yaml:"url"`
	Queue       string `json:"queue,omitempty" yaml:"queue"`
	Subject     string `json:"subject,omitempty" yaml:"subject"`
	Stream      string `json:"stream,omitempty" yaml:"stream"`
	Message     string `json:"message" yaml:"message"`
	DeadLetter  string `json:"deadLetter,omitempty" yaml:"deadLetter"`
	// User is the GUID of the user the invocations run as; empty for none.
	User string `json:"user,omitempty" yaml:"user"`

	// Brokers, Topic, ConsumerGroup, KeyIsMessageID, SASL and TLS are a
	// kafka input's.
	Brokers        []string      `json:"brokers,omitempty" yaml:"brokers"`
	Topic          string        `json:"topic,omitempty" yaml:"topic"`
	ConsumerGroup  string        `json:"consumerGroup,omitempty" yaml:"consumerGroup"`
	KeyIsMessageID bool          `json:"keyIsMessageId,omitempty" yaml:"keyIsMessageId"`
	SASL           *KafkaSASLDef `json:"sasl,omitempty" yaml:"sasl"`
	TLS            *KafkaTLSDef  `json:"tls,omitempty" yaml:"tls"`
}

// Input returns the input to run, with env:NAME values read through
// getenv; a variable that is not set is an error naming it. Table is left
// empty: [Inputs] fills it from the custom API.
func (d InputDef) Input(getenv func(string) string) (inputs.Input, error) {
	var missing []string
	val := func(s string) string {
		name, ok := strings.CutPrefix(s, EnvPrefix)
		if !ok {
			return s
		}
		v := getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	in := inputs.Input{Name: d.Name, Kind: inputs.Kind(d.Kind), URL: val(d.URL), Queue: val(d.Queue), Subject: val(d.Subject),
		Stream: val(d.Stream), Message: d.Message, DeadLetter: val(d.DeadLetter)}
	ks := kafkaSettings(d.Brokers, d.SASL, d.TLS, val)
	in.Brokers, in.Topic, in.SASL, in.TLS = ks.Brokers, val(d.Topic), ks.SASL, ks.TLS
	in.ConsumerGroup, in.KeyIsMessageID = d.ConsumerGroup, d.KeyIsMessageID
	var errs []error
	if d.User != "" {
		u, err := uuid.Parse(d.User)
		if err != nil || u == uuid.Nil {
			errs = append(errs, &inputs.FieldError{Input: d.Name, Field: "user", Problem: fmt.Sprintf("%q is not a user id (a GUID)", d.User)})
		}
		in.User = u
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("input %s: environment variable %s is not set", d.Name, strings.Join(missing, ", ")))
	}
	return in, errors.Join(errs...)
}

// standIns returns a getenv that gives each env:NAME a well-formed value
// for the field it stands in, distinct for the queue and its dead letter.
func (d InputDef) standIns() func(string) string {
	url := "amqp://stand-in.invalid/"
	if inputs.Kind(d.Kind) == inputs.KindStream {
		url = "nats://stand-in.invalid:4222"
	}
	m := map[string]string{}
	add := func(v, standIn string) {
		if name, ok := strings.CutPrefix(v, EnvPrefix); ok {
			if _, seen := m[name]; !seen {
				m[name] = standIn
			}
		}
	}
	add(d.URL, url)
	add(d.Queue, "stand_in")
	add(d.Subject, "stand_in.subject")
	add(d.Stream, "stand_in")
	add(d.DeadLetter, "stand_in.deadletter.stand_in")
	kafkaStandIns(add, d.Brokers, d.Topic, d.SASL, d.TLS)
	return func(name string) string { return m[name] }
}

// checkInputs checks the inputs against the solution's custom APIs and
// returns them sorted by name.
func (m *model) checkInputs(ps *problems, apis map[string]*customapi.API) []InputDef {
	seen := map[string]origin{}
	var out []InputDef
	for _, it := range m.inputs {
		d := it.def
		if first, ok := seen[d.Name]; ok {
			ps.add(it.at.at("name"), "input %s: defined twice (first at %s)", d.Name, first.at("name"))
			continue
		}
		seen[d.Name] = it.at
		in, err := d.Input(d.standIns())
		errs := split(err)
		errs = append(errs, split(in.Validate())...)
		for _, err := range errs {
			var fe *inputs.FieldError
			if errors.As(err, &fe) && fe.Field == "message" && d.Message == "" {
				continue // the schema says so
			}
			at := it.at
			if errors.As(err, &fe) {
				at = it.at.at(fe.Field)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "input "+d.Name+": ") {
				msg = "input " + d.Name + ": " + msg
			}
			ps.add(at, "%s", msg)
		}
		if d.Message != "" {
			if problem := m.inputMessage(d.Message, apis); problem != "" {
				ps.add(it.at.at("message"), "input %s: %s", d.Name, problem)
			}
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b InputDef) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// inputMessage says what is wrong with an input's message, or "".
func (m *model) inputMessage(name string, apis map[string]*customapi.API) string {
	a := apis[name]
	switch {
	case a == nil && m.broken["customApis"][name]:
		return ""
	case a == nil && pipeline.IsTableMessage(name):
		return fmt.Sprintf("message %s is a table message: an input invokes a custom API of the solution", name)
	case a == nil:
		for other := range apis {
			if strings.EqualFold(other, name) {
				return fmt.Sprintf("message %s is not a custom API of the solution; did you mean %s?", name, other)
			}
		}
		return fmt.Sprintf("message %s is not a custom API of the solution (add it under customApis:)", name)
	case a.IsFunction:
		return fmt.Sprintf("custom API %s is a function: an input runs actions (isFunction false)", name)
	case a.Binding == customapi.TableBound:
		return fmt.Sprintf("custom API %s is bound to a row of %s: a message names no row; bind it to nothing or to the table (TableCollection)", name, a.BoundTable)
	}
	return ""
}

// SkippedInput is an input [Inputs] leaves out because it is not
// configured in this environment: its URL is env:NAME and NAME is not set.
// A solution can so ship an input for a broker that only some deployments
// have ("when one is configured"); a server without the variable runs
// without the input, and says so.
type SkippedInput struct {
	Solution, Input string
	// Variable is the environment variable of the input's URL.
	Variable string
}

// String says which input is skipped and why.
func (s SkippedInput) String() string {
	return fmt.Sprintf("solution %s: input %s is not configured (environment variable %s of its url is not set), skipped", s.Solution, s.Input, s.Variable)
}

// Inputs returns the inputs of several solutions, ready to run: env:NAME
// values read through getenv, each TableCollection-bound API's table set.
// An input whose URL is env:NAME with NAME not set is not configured: it
// is left out and listed in skipped, not an error. Any other problem (a
// variable not set while the URL is) is an error; every input's problems
// are reported at once.
func Inputs(sols []*Solution, getenv func(string) string) (ready []inputs.Input, skipped []SkippedInput, err error) {
	var errs []error
	for _, s := range sols {
		for _, d := range s.Inputs {
			if name, ok := strings.CutPrefix(d.URL, EnvPrefix); ok && getenv(name) == "" {
				skipped = append(skipped, SkippedInput{Solution: s.Name, Input: d.Name, Variable: name})
				continue
			}
			in, err := d.Input(getenv)
			if err != nil {
				errs = append(errs, fmt.Errorf("solution %s: %w", s.Name, err))
				continue
			}
			for _, a := range s.CustomAPIs {
				if a.UniqueName == in.Message && a.Binding == customapi.TableCollection {
					in.Table = a.BoundTable
				}
			}
			ready = append(ready, in)
		}
	}
	return ready, skipped, errors.Join(errs...)
}
