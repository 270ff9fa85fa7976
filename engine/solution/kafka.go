package solution

import (
	"strings"

	"github.com/bizevents/bizevents/internal/kafkaconf"
)

// KafkaSASLDef is how a kafka endpoint or input authenticates to its
// brokers: mechanism PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, a user and a
// password (env:NAME for either).
type KafkaSASLDef struct {
	Mechanism string `json:"mechanism" yaml:"mechanism"`
	User      string `json:"user" yaml:"user"`
	Password  string `json:"password" yaml:"password"`
}

// KafkaTLSDef turns TLS on for a kafka endpoint or input; the CA, the
// client certificate and key are PEM text (or env:NAME).
type KafkaTLSDef struct {
	CA                 string `json:"ca,omitempty" yaml:"ca"`
	Cert               string `json:"cert,omitempty" yaml:"cert"`
	Key                string `json:"key,omitempty" yaml:"key"`
	ServerName         string `json:"serverName,omitempty" yaml:"serverName"`
	InsecureSkipVerify bool   `json:"insecureSkipVerify,omitempty" yaml:"insecureSkipVerify"`
}

// kafkaSettings reads a definition's brokers, SASL and TLS through val
// (which resolves env:NAME). A broker value may hold several brokers
// separated by commas, so that one variable can name them all.
func kafkaSettings(brokers []string, sasl *KafkaSASLDef, tls *KafkaTLSDef, val func(string) string) kafkaconf.Settings {
	var s kafkaconf.Settings
	for _, b := range brokers {
		for _, part := range strings.Split(val(b), ",") {
			if part = strings.TrimSpace(part); part != "" {
				s.Brokers = append(s.Brokers, part)
			}
		}
	}
	if len(brokers) > 0 && len(s.Brokers) == 0 {
		s.Brokers = []string{""} // reported as not host:port, not as missing
	}
	if sasl != nil {
		s.SASL = kafkaconf.SASL{Mechanism: sasl.Mechanism, User: val(sasl.User), Password: val(sasl.Password)}
	}
	if tls != nil {
		s.TLS = kafkaconf.TLS{Enabled: true, CA: val(tls.CA), Cert: val(tls.Cert), Key: val(tls.Key), ServerName: tls.ServerName,
			InsecureSkipVerify: tls.InsecureSkipVerify}
	}
	return s
}

// kafkaStandIns adds to add the stand-ins of a kafka definition's env:NAME
// values: a broker, a topic, credentials, a PEM block.
func kafkaStandIns(add func(v, standIn string), brokers []string, topic string, sasl *KafkaSASLDef, tls *KafkaTLSDef) {
	const pemStandIn = "-----BEGIN STAND IN-----\nAAAA\n-----END STAND IN-----\n"
	for _, b := range brokers {
		add(b, "stand-in.invalid:9092")
	}
	add(topic, "stand_in")
	if sasl != nil {
		add(sasl.User, "stand-in")
		add(sasl.Password, "stand-in")
	}
	if tls != nil {
		add(tls.CA, pemStandIn)
		add(tls.Cert, pemStandIn)
		add(tls.Key, pemStandIn)
	}
}
