package solution

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/jobs"
)

// EndpointDef is a service endpoint as written in a solution file: where
// the async steps that name it deliver. Kind is webhook, queue (RabbitMQ:
// Queue and/or Exchange), stream (NATS JetStream: Subject, and Stream
// when it must be that stream, created when missing) or kafka (Brokers
// and Topic, optional SASL and TLS). Values written env:NAME (the URL,
// the queue, exchange, subject and stream, the brokers, topic, SASL
// credentials and TLS PEMs, the auth value, the secrets) are read from
// the server's environment when a
// delivery is made ([EndpointDef.Endpoint]), so that secrets, such as the
// credentials in a broker's URL, stay out of the solution and the log.
type EndpointDef struct {
	Name        string    `json:"name" yaml:"name"`
	Description string    `json:"description,omitempty" yaml:"description"`
	Kind        string    `json:"kind" yaml:"kind"`
	URL         string    `json:"url,omitempty" yaml:"url"`
	Queue       string    `json:"queue,omitempty" yaml:"queue"`
	Exchange    string    `json:"exchange,omitempty" yaml:"exchange"`
	Subject     string    `json:"subject,omitempty" yaml:"subject"`
	Stream      string    `json:"stream,omitempty" yaml:"stream"`
	Format      string    `json:"format,omitempty" yaml:"format"`
	Auth        *AuthDef  `json:"auth,omitempty" yaml:"auth"`
	Secrets     []string  `json:"secrets,omitempty" yaml:"secrets"`
	Timeout     string    `json:"timeout,omitempty" yaml:"timeout"`
	Retry       *RetryDef `json:"retry,omitempty" yaml:"retry"`
	// Ordered delivers the events of one row (stream) one at a time, in
	// log order, to each step that names the endpoint.
	Ordered bool `json:"ordered,omitempty" yaml:"ordered"`

	// Brokers, Topic, SASL and TLS are a kafka endpoint's.
	Brokers []string      `json:"brokers,omitempty" yaml:"brokers"`
	Topic   string        `json:"topic,omitempty" yaml:"topic"`
	SASL    *KafkaSASLDef `json:"sasl,omitempty" yaml:"sasl"`
	TLS     *KafkaTLSDef  `json:"tls,omitempty" yaml:"tls"`
}

// AuthDef is how a receiver authenticates deliveries.
type AuthDef struct {
	Type  string `json:"type" yaml:"type"`
	Name  string `json:"name,omitempty" yaml:"name"`
	Value string `json:"value,omitempty" yaml:"value"`
}

// RetryDef is an endpoint's retry policy; durations are Go durations.
type RetryDef = jobs.RetryDef

// EnvPrefix marks a value read from the environment.
const EnvPrefix = "env:"

// Endpoint returns the endpoint for deliveries, with env:NAME values read
// through getenv; a variable that is not set is an error naming it.
func (d EndpointDef) Endpoint(getenv func(string) string) (endpoints.Endpoint, error) {
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
	e := endpoints.Endpoint{Name: d.Name, Kind: endpoints.Kind(d.Kind), URL: val(d.URL), Format: endpoints.Format(d.Format),
		Queue: val(d.Queue), Exchange: val(d.Exchange), Subject: val(d.Subject), Stream: val(d.Stream)}
	ks := kafkaSettings(d.Brokers, d.SASL, d.TLS, val)
	e.Brokers, e.Topic, e.SASL, e.TLS = ks.Brokers, val(d.Topic), ks.SASL, ks.TLS
	if d.Auth != nil {
		e.Auth = endpoints.Auth{Type: endpoints.AuthType(d.Auth.Type), Name: d.Auth.Name, Value: val(d.Auth.Value)}
	}
	for _, s := range d.Secrets {
		e.Secrets = append(e.Secrets, val(s))
	}
	if d.Timeout != "" {
		t, err := time.ParseDuration(d.Timeout)
		if err != nil {
			return e, fmt.Errorf("endpoint %s: timeout %q: %w", d.Name, d.Timeout, err)
		}
		e.Timeout = t
	}
	if len(missing) > 0 {
		return e, fmt.Errorf("endpoint %s: environment variable %s is not set", d.Name, strings.Join(missing, ", "))
	}
	return e.WithDefaults(), nil
}

// Policy returns the endpoint's retry policy, defaulted.
func (d EndpointDef) Policy() (jobs.Policy, error) { return d.Retry.Policy(jobs.Policy{}) }

// check reports an endpoint definition's problems: what Validate of the
// endpoints package says, with env:NAME values standing in for what the
// server will read.
func (d EndpointDef) check() []error {
	e, err := d.Endpoint(d.standIns())
	var errs []error
	if err != nil && !strings.Contains(err.Error(), "is not set") {
		errs = append(errs, err)
	}
	if err := e.Validate(); err != nil {
		errs = append(errs, split(err)...)
	}
	if _, err := d.Policy(); err != nil {
		errs = append(errs, split(err)...)
	}
	return errs
}

// standIns returns a getenv that gives each env:NAME a well-formed value
// for the field it stands in: the URL of the endpoint's kind, a secret, a
// name.
func (d EndpointDef) standIns() func(string) string {
	url := "https://stand-in.invalid/"
	switch endpoints.Kind(d.Kind) {
	case endpoints.KindQueue:
		url = "amqp://stand-in.invalid/"
	case endpoints.KindStream:
		url = "nats://stand-in.invalid:4222"
	}
	const secret = "whsec_" + "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
	m := map[string]string{}
	add := func(v, standIn string) {
		if name, ok := strings.CutPrefix(v, EnvPrefix); ok {
			if _, seen := m[name]; !seen {
				m[name] = standIn
			}
		}
	}
	add(d.URL, url)
	for _, s := range d.Secrets {
		add(s, secret)
	}
	if d.Auth != nil {
		add(d.Auth.Value, "stand-in")
	}
	add(d.Queue, "stand_in")
	add(d.Exchange, "stand_in")
	add(d.Subject, "stand_in.subject")
	add(d.Stream, "stand_in")
	kafkaStandIns(add, d.Brokers, d.Topic, d.SASL, d.TLS)
	return func(name string) string { return m[name] }
}

// checkEndpoints checks the endpoints and the steps that name one, and
// returns the endpoints sorted by name.
func (m *model) checkEndpoints(ps *problems) []EndpointDef {
	seen := map[string]origin{}
	var out []EndpointDef
	for _, it := range m.endpoints {
		d := it.def
		if first, ok := seen[d.Name]; ok {
			ps.add(it.at.at("name"), "endpoint %s: defined twice (first at %s)", d.Name, first.at("name"))
			continue
		}
		seen[d.Name] = it.at
		for _, err := range d.check() {
			msg := err.Error()
			if !strings.HasPrefix(msg, "endpoint "+d.Name+": ") {
				msg = "endpoint " + d.Name + ": " + msg
			}
			ps.add(it.at, "%s", msg)
		}
		out = append(out, d)
	}
	for _, it := range m.steps {
		if ep := it.def.Endpoint; ep != "" {
			if _, ok := seen[ep]; !ok && !m.broken["endpoints"][ep] {
				ps.add(it.at.at("endpoint"), "step %s: endpoint %s is not an endpoint of the solution (add it under endpoints:)", it.def.Name, ep)
			}
		}
	}
	slices.SortFunc(out, func(a, b EndpointDef) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Endpoints returns the endpoints of several solutions by name.
func Endpoints(sols []*Solution) map[string]EndpointDef {
	out := map[string]EndpointDef{}
	for _, s := range sols {
		for _, e := range s.Endpoints {
			out[e.Name] = e
		}
	}
	return out
}
