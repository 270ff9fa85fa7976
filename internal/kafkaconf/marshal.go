package kafkaconf

import (
	"slices"

	"github.com/IBM/sarama"
	wkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
)

// KeyMetadata is the metadata entry of a watermill message that
// [Marshaler] sends as the record's key rather than as a header.
const KeyMetadata = "_bizevents_kafka_key"

// Marshaler makes a watermill message into a Kafka record: the payload as
// the value, the UUID as watermill's message id header
// (_watermill_message_uuid, so that a watermill subscriber, and a
// bizevents Kafka input, read it as the message's id), the
// [KeyMetadata] entry as the key (none: no key, and the producer spreads
// the records over the partitions), every other entry as a header, in name
// order.
type Marshaler struct{}

var _ wkafka.Marshaler = Marshaler{}

// Marshal makes msg a record of topic.
func (Marshaler) Marshal(topic string, msg *message.Message) (*sarama.ProducerMessage, error) {
	names := make([]string, 0, len(msg.Metadata))
	for k := range msg.Metadata {
		if k != KeyMetadata && k != wkafka.UUIDHeaderKey {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	headers := make([]sarama.RecordHeader, 0, len(names)+1)
	if msg.UUID != "" {
		headers = append(headers, sarama.RecordHeader{Key: []byte(wkafka.UUIDHeaderKey), Value: []byte(msg.UUID)})
	}
	for _, k := range names {
		headers = append(headers, sarama.RecordHeader{Key: []byte(k), Value: []byte(msg.Metadata[k])})
	}
	pm := &sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(msg.Payload), Headers: headers}
	if key, ok := msg.Metadata[KeyMetadata]; ok {
		pm.Key = sarama.ByteEncoder(key)
	}
	return pm, nil
}
