// Package kafkaconf holds what Kafka endpoints (engine/endpoints) and Kafka
// inputs (engine/inputs) share: the connection settings (bootstrap
// brokers, SASL, TLS), their checks, the sarama configuration they make,
// the mapping of watermill messages to Kafka records, and how sarama's
// errors are told apart.
//
// Both sides talk to Kafka through watermill-kafka, which runs on
// github.com/IBM/sarama. Tests run against sarama's MockBroker, an
// in-process server of the Kafka wire protocol: no real Kafka is needed.
package kafkaconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/IBM/sarama"
)

// The SASL mechanisms a [SASL] may name, spelled as Kafka's
// sasl.mechanism setting spells them.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// SASL authenticates a client to the brokers. The zero SASL is none.
type SASL struct {
	// Mechanism is [MechanismPlain], [MechanismSCRAMSHA256] or
	// [MechanismSCRAMSHA512]; empty for no SASL.
	Mechanism string
	// User and Password are the credentials; both are required with a
	// Mechanism. The password is never shown in errors.
	User     string
	Password string
}

// TLS secures the connections to the brokers. The zero TLS is plaintext.
type TLS struct {
	// Enabled turns TLS on; the other fields need it.
	Enabled bool
	// CA is the PEM of the certificates that sign the brokers'. Empty:
	// the system's roots.
	CA string
	// Cert and Key are the PEM client certificate and its private key, for
	// brokers that authenticate clients by certificate (mTLS): both or
	// neither.
	Cert string
	Key  string
	// ServerName is the name the brokers' certificates must hold. Empty:
	// each broker's host.
	ServerName string
	// InsecureSkipVerify accepts any certificate: for tests only.
	InsecureSkipVerify bool
}

// Settings are how to reach a Kafka cluster.
type Settings struct {
	// Brokers are the bootstrap brokers, host:port each.
	Brokers []string
	SASL    SASL
	TLS     TLS
}

// Key identifies the settings, for a pool of connections: settings with
// the same Key share a connection. It holds the credentials: never log
// it.
func (s Settings) Key() string {
	var b strings.Builder
	for _, br := range s.Brokers {
		b.WriteString(strconv.Quote(br))
	}
	fmt.Fprintf(&b, "|%q|%q|%q|%v|%q|%q|%q|%q|%v",
		s.SASL.Mechanism, s.SASL.User, s.SASL.Password,
		s.TLS.Enabled, s.TLS.CA, s.TLS.Cert, s.TLS.Key, s.TLS.ServerName, s.TLS.InsecureSkipVerify)
	return b.String()
}

// Bad reports one problem of a field, named as a solution file spells it.
type Bad func(field, format string, args ...any)

// Check calls bad for every problem of s: no brokers, a broker that is not
// host:port, an unknown SASL mechanism or missing credentials, TLS fields
// without TLS, a CA, certificate or key that is not PEM.
func Check(s Settings, bad Bad) {
	if len(s.Brokers) == 0 {
		bad("brokers", "is required: the bootstrap brokers, host:port each, such as kafka-1:9092")
	}
	for i, br := range s.Brokers {
		if problem := brokerProblem(br); problem != "" {
			bad(fmt.Sprintf("brokers[%d]", i), "%s", problem)
		}
	}
	switch s.SASL.Mechanism {
	case "":
		if s.SASL.User != "" || s.SASL.Password != "" {
			bad("sasl.mechanism", "is required with a user or password: %s, %s or %s", MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512)
		}
	case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
		if s.SASL.User == "" {
			bad("sasl.user", "is required with SASL %s", s.SASL.Mechanism)
		}
		if s.SASL.Password == "" {
			bad("sasl.password", "is required with SASL %s", s.SASL.Mechanism)
		}
	default:
		bad("sasl.mechanism", "%q is not supported: %s, %s or %s", s.SASL.Mechanism, MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512)
	}
	t := s.TLS
	if !t.Enabled {
		if t.CA != "" || t.Cert != "" || t.Key != "" || t.ServerName != "" || t.InsecureSkipVerify {
			bad("tls", "its settings need TLS enabled")
		}
		return
	}
	for _, f := range []struct{ field, pem string }{{"tls.ca", t.CA}, {"tls.cert", t.Cert}, {"tls.key", t.Key}} {
		if f.pem == "" {
			continue
		}
		if block, _ := pem.Decode([]byte(f.pem)); block == nil {
			bad(f.field, "is not PEM (-----BEGIN ...-----)")
		}
	}
	if (t.Cert == "") != (t.Key == "") {
		bad("tls", "cert and key go together: both or neither")
	}
}

// brokerProblem says what is wrong with a bootstrap broker address, or "".
func brokerProblem(br string) string {
	if strings.Contains(br, "://") {
		return "must be host:port, without a scheme, such as kafka-1:9092"
	}
	host, port, err := net.SplitHostPort(br)
	if err != nil || host == "" {
		return "must be host:port, such as kafka-1:9092"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "has no valid port (1 to 65535)"
	}
	if strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '/' }) {
		return "has an invalid host"
	}
	return ""
}

// MaxTopic is the longest Kafka topic name.
const MaxTopic = 249

// TopicProblem says what is wrong with a topic name, or "": Kafka allows
// ASCII letters, digits, '.', '_' and '-', at most [MaxTopic] characters,
// and not "." or "..".
func TopicProblem(topic string) string {
	switch {
	case topic == "":
		return "is required"
	case len(topic) > MaxTopic:
		return fmt.Sprintf("must be at most %d characters", MaxTopic)
	case topic == "." || topic == "..":
		return "must not be . or .."
	}
	for i := 0; i < len(topic); i++ {
		c := topic[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '.' && c != '_' && c != '-' {
			return fmt.Sprintf("%q is not a Kafka topic name: ASCII letters, digits, '.', '_' and '-'", topic)
		}
	}
	return ""
}

// ClientID is the client.id bizevents sends to the brokers.
const ClientID = "bizevents"

// Sarama returns the sarama configuration of s: client id [ClientID],
// sarama's default protocol version, a dial timeout of dialTimeout (0:
// sarama's), SASL and TLS as s says, metadata for the topics in use only.
// A CA, certificate or key that does not parse is an error.
func Sarama(s Settings, dialTimeout time.Duration) (*sarama.Config, error) {
	c := sarama.NewConfig()
	c.ClientID = ClientID
	if dialTimeout > 0 {
		c.Net.DialTimeout = dialTimeout
	}
	c.Metadata.Full = false
	c.Metadata.Retry.Max = 2
	c.Metadata.Retry.Backoff = 200 * time.Millisecond
	if m := s.SASL.Mechanism; m != "" {
		c.Net.SASL.Enable = true
		c.Net.SASL.Handshake = true
		c.Net.SASL.User = s.SASL.User
		c.Net.SASL.Password = s.SASL.Password
		c.Net.SASL.Mechanism = sarama.SASLMechanism(m)
		switch m {
		case MechanismSCRAMSHA256:
			c.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return newSCRAM(sha256Hash) }
		case MechanismSCRAMSHA512:
			c.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return newSCRAM(sha512Hash) }
		}
	}
	if s.TLS.Enabled {
		tc, err := tlsConfig(s.TLS)
		if err != nil {
			return nil, err
		}
		c.Net.TLS.Enable = true
		c.Net.TLS.Config = tc
	}
	return c, nil
}

func tlsConfig(t TLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // documented as for tests
	if t.CA != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(t.CA)) {
			return nil, errors.New("tls.ca: no certificate in the PEM")
		}
		tc.RootCAs = pool
	}
	if t.Cert != "" || t.Key != "" {
		pair, err := tls.X509KeyPair([]byte(t.Cert), []byte(t.Key))
		if err != nil {
			return nil, fmt.Errorf("tls.cert and tls.key: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// apiKeyInitProducerID is the Kafka API an idempotent producer needs
// (InitProducerId, Kafka 0.11 and later).
const apiKeyInitProducerID = 22

// SupportsIdempotence asks the first broker of brokers that answers for
// its API versions and reports whether it has InitProducerId, which an
// idempotent producer needs. No broker answering is an error.
func SupportsIdempotence(cfg *sarama.Config, brokers []string) (bool, error) {
	var errs []error
	for _, addr := range brokers {
		b := sarama.NewBroker(addr)
		if err := b.Open(cfg); err != nil {
			errs = append(errs, err)
			continue
		}
		res, err := b.ApiVersions(&sarama.ApiVersionsRequest{})
		_ = b.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		if res.ErrorCode != int16(sarama.ErrNoError) {
			// A broker older than ApiVersions (0.10) has no idempotence.
			return false, nil
		}
		for _, k := range res.ApiKeys {
			if k.ApiKey == apiKeyInitProducerID {
				return true, nil
			}
		}
		return false, nil
	}
	return false, errors.Join(errs...)
}

// Class is what kind of failure a sarama error is.
type Class int

// The classes.
const (
	// Transient: the broker or the cluster may take it on a retry (a
	// leader election, too few in-sync replicas, a timeout).
	Transient Class = iota
	// Network: no broker could be reached, or a connection broke.
	Network
	// Refused: the broker will not take it however often it is tried (no
	// authorization, a message too large, an invalid topic, failed
	// authentication), or the configuration is wrong.
	Refused
)

// Classify says what kind of failure err is.
func Classify(err error) Class {
	var kerr sarama.KError
	if errors.As(err, &kerr) {
		switch kerr {
		case sarama.ErrMessageSizeTooLarge, sarama.ErrInvalidTopic, sarama.ErrTopicAuthorizationFailed,
			sarama.ErrClusterAuthorizationFailed, sarama.ErrGroupAuthorizationFailed, sarama.ErrSASLAuthenticationFailed,
			sarama.ErrUnsupportedSASLMechanism, sarama.ErrIllegalSASLState, sarama.ErrInvalidRecord,
			sarama.ErrInvalidRequiredAcks, sarama.ErrUnsupportedVersion, sarama.ErrPolicyViolation,
			sarama.ErrUnsupportedForMessageFormat, sarama.ErrInvalidConfig,
			sarama.ErrTransactionalIDAuthorizationFailed:
			return Refused
		}
		return Transient
	}
	var cerr sarama.ConfigurationError
	if errors.As(err, &cerr) {
		return Refused
	}
	var ne net.Error
	switch {
	case errors.Is(err, sarama.ErrOutOfBrokers), errors.Is(err, sarama.ErrNotConnected), errors.Is(err, sarama.ErrClosedClient),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.As(err, &ne):
		return Network
	}
	return Transient
}
