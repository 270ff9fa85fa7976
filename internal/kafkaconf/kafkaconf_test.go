package kafkaconf

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	wkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"
)

// TestSCRAMSHA256 runs the example exchange of RFC 7677, section 3.
func TestSCRAMSHA256(t *testing.T) {
	t.Parallel()
	s := newSCRAM(sha256Hash)
	s.nonce = func() (string, error) { return "rOprNGfwEbeRWgbNEkqO", nil }
	require.NoError(t, s.Begin("user", "pencil", ""))
	first, err := s.Step("")
	require.NoError(t, err)
	require.Equal(t, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", first)
	final, err := s.Step("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
	require.NoError(t, err)
	require.Equal(t, "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", final)
	require.False(t, s.Done())
	_, err = s.Step("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
	require.NoError(t, err)
	require.True(t, s.Done())
}

func TestSCRAMRefusals(t *testing.T) {
	t.Parallel()
	begin := func(t *testing.T) *scram {
		s := newSCRAM(sha512Hash)
		s.nonce = func() (string, error) { return "abc", nil }
		require.NoError(t, s.Begin("a=b,c", "pw", ""))
		first, err := s.Step("")
		require.NoError(t, err)
		require.Equal(t, "n,,n=a=3Db=2Cc,r=abc", first, "= and , escaped")
		return s
	}
	for name, serverFirst := range map[string]string{
		"nonce not extended": "r=xyz123,s=c2FsdA==,i=4096",
		"same nonce":         "r=abc,s=c2FsdA==,i=4096",
		"no salt":            "r=abcdef,i=4096",
		"bad iterations":     "r=abcdef,s=c2FsdA==,i=0",
		"too many":           "r=abcdef,s=c2FsdA==,i=99999999",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := begin(t).Step(serverFirst)
			require.Error(t, err)
		})
	}
	t.Run("wrong server signature", func(t *testing.T) {
		t.Parallel()
		s := begin(t)
		_, err := s.Step("r=abcdef,s=c2FsdA==,i=16")
		require.NoError(t, err)
		_, err = s.Step("v=AAAA")
		require.ErrorContains(t, err, "signature does not match")
		require.False(t, s.Done())
	})
	t.Run("server error", func(t *testing.T) {
		t.Parallel()
		s := begin(t)
		_, err := s.Step("r=abcdef,s=c2FsdA==,i=16")
		require.NoError(t, err)
		_, err = s.Step("e=invalid-proof")
		require.ErrorContains(t, err, "invalid-proof")
	})
}

const pemStandIn = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"

func TestCheck(t *testing.T) {
	t.Parallel()
	ok := Settings{Brokers: []string{"kafka-1:9092", "[::1]:9093"}}
	for _, tc := range []struct {
		name string
		s    Settings
		want []string // field: problem prefix
	}{
		{"ok", ok, nil},
		{"scram ok", Settings{Brokers: ok.Brokers, SASL: SASL{Mechanism: MechanismSCRAMSHA512, User: "u", Password: "p"},
			TLS: TLS{Enabled: true, CA: pemStandIn, Cert: pemStandIn, Key: pemStandIn}}, nil},
		{"no brokers", Settings{}, []string{"brokers: is required"}},
		{"bad brokers", Settings{Brokers: []string{"kafka://k:9092", "k", "k:0", "k:x", ":9092"}}, []string{
			"brokers[0]: must be host:port, without a scheme", "brokers[1]: must be host:port", "brokers[2]: has no valid port",
			"brokers[3]: has no valid port", "brokers[4]: must be host:port"}},
		{"sasl mechanism", Settings{Brokers: ok.Brokers, SASL: SASL{Mechanism: "GSSAPI", User: "u", Password: "p"}}, []string{`sasl.mechanism: "GSSAPI" is not supported`}},
		{"sasl lower case", Settings{Brokers: ok.Brokers, SASL: SASL{Mechanism: "plain", User: "u", Password: "p"}}, []string{`sasl.mechanism: "plain" is not supported`}},
		{"sasl credentials", Settings{Brokers: ok.Brokers, SASL: SASL{Mechanism: MechanismPlain}}, []string{"sasl.user: is required", "sasl.password: is required"}},
		{"sasl no mechanism", Settings{Brokers: ok.Brokers, SASL: SASL{User: "u"}}, []string{"sasl.mechanism: is required with a user"}},
		{"tls off", Settings{Brokers: ok.Brokers, TLS: TLS{CA: pemStandIn}}, []string{"tls: its settings need TLS enabled"}},
		{"tls pem", Settings{Brokers: ok.Brokers, TLS: TLS{Enabled: true, CA: "x", Cert: pemStandIn}}, []string{"tls.ca: is not PEM", "tls: cert and key go together"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			Check(tc.s, func(field, format string, args ...any) { got = append(got, field+": "+fmt.Sprintf(format, args...)) })
			require.Len(t, got, len(tc.want), "%q", got)
			for i, w := range tc.want {
				require.True(t, strings.HasPrefix(got[i], w), "%q does not start with %q", got[i], w)
			}
		})
	}
}

func TestTopicProblem(t *testing.T) {
	t.Parallel()
	for topic, ok := range map[string]bool{
		"orders": true, "erp.Orders_v2-x": true, strings.Repeat("a", 249): true,
		"": false, ".": false, "..": false, "a b": false, "a/b": false, "é": false, strings.Repeat("a", 250): false,
	} {
		require.Equal(t, ok, TopicProblem(topic) == "", "topic %q: %s", topic, TopicProblem(topic))
	}
}

func TestSaramaConfig(t *testing.T) {
	t.Parallel()
	c, err := Sarama(Settings{Brokers: []string{"k:9092"}, SASL: SASL{Mechanism: MechanismSCRAMSHA256, User: "u", Password: "p"}}, 0)
	require.NoError(t, err)
	require.True(t, c.Net.SASL.Enable)
	require.Equal(t, sarama.SASLMechanism("SCRAM-SHA-256"), c.Net.SASL.Mechanism)
	require.NotNil(t, c.Net.SASL.SCRAMClientGeneratorFunc)
	require.False(t, c.Net.TLS.Enable)
	require.NoError(t, c.Validate())

	_, err = Sarama(Settings{TLS: TLS{Enabled: true, CA: pemStandIn}}, 0)
	require.ErrorContains(t, err, "tls.ca", "a CA that does not parse")
}

func TestClassify(t *testing.T) {
	t.Parallel()
	require.Equal(t, Transient, Classify(sarama.ErrNotLeaderForPartition))
	require.Equal(t, Transient, Classify(fmt.Errorf("produce: %w", sarama.ErrNotEnoughReplicas)))
	require.Equal(t, Refused, Classify(sarama.ErrTopicAuthorizationFailed))
	require.Equal(t, Refused, Classify(sarama.ErrMessageSizeTooLarge))
	require.Equal(t, Refused, Classify(sarama.ConfigurationError("bad")))
	require.Equal(t, Network, Classify(fmt.Errorf("dial: %w", sarama.ErrOutOfBrokers)))
	require.Equal(t, Network, Classify(&net.OpError{Op: "dial", Err: errors.New("refused")}))
	require.Equal(t, Transient, Classify(errors.New("something else")))
}

func TestMarshaler(t *testing.T) {
	t.Parallel()
	msg := message.NewMessage("id-1", []byte("body"))
	msg.Metadata = message.Metadata{"b": "2", "a": "1", KeyMetadata: "row-7", wkafka.UUIDHeaderKey: "spoofed"}
	pm, err := Marshaler{}.Marshal("orders", msg)
	require.NoError(t, err)
	require.Equal(t, "orders", pm.Topic)
	key, err := pm.Key.Encode()
	require.NoError(t, err)
	require.Equal(t, "row-7", string(key))
	var headers []string
	for _, h := range pm.Headers {
		headers = append(headers, string(h.Key)+"="+string(h.Value))
	}
	require.Equal(t, []string{wkafka.UUIDHeaderKey + "=id-1", "a=1", "b=2"}, headers)

	pm, err = Marshaler{}.Marshal("orders", message.NewMessage("", nil))
	require.NoError(t, err)
	require.Nil(t, pm.Key, "no key: spread over the partitions")
	require.Empty(t, pm.Headers)
}
