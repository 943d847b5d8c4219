package pubsub

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"
)

// RawPublishFunc has the signature of [Publisher.PublishRaw].
type RawPublishFunc func(ctx context.Context, key string, payload []byte, opts ...PublishOption) error

// PublishProto marshals msg and hands it to publishRaw. Backends use it to
// implement [Publisher.Publish] in terms of PublishRaw.
func PublishProto(ctx context.Context, publishRaw RawPublishFunc, key string, msg proto.Message, opts ...PublishOption) error {
	b, err := MarshalProto(msg)
	if err != nil {
		return err
	}
	return publishRaw(ctx, key, b, opts...)
}

// MarshalProto marshals msg in the wire format, naming the message type in
// any error. A nil message is an error.
func MarshalProto(msg proto.Message) ([]byte, error) {
	if msg == nil {
		return nil, fmt.Errorf("pubsub: cannot publish a nil proto.Message")
	}
	b, err := proto.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("pubsub: marshal %s: %w", msg.ProtoReflect().Descriptor().FullName(), err)
	}
	return b, nil
}

// UnmarshalProto decodes the payload of m into into, naming the message ID
// and type in any error.
func UnmarshalProto(m SubscriberMessage, into proto.Message) error {
	if err := proto.Unmarshal(m.Message(), into); err != nil {
		return fmt.Errorf("pubsub: message %q: unmarshal %s: %w", m.ID(), into.ProtoReflect().Descriptor().FullName(), err)
	}
	return nil
}
