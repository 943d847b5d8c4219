package http_test

import (
	"maps"
	"net/http"
	"os"
	"testing"

	"github.com/seed8104ecd5/gizmo/pubsub"
	pubsubhttp "github.com/seed8104ecd5/gizmo/pubsub/http"
)

// TestRoundTrip publishes messages whose key, attributes and payload need
// every kind of escaping, with a deduplication ID and without, in both
// formats, and checks what the push subscriber delivers.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	attrs := map[string]string{
		"plain":             "value",
		"UPPER-lower":       "case must survive headers",
		"ünïcødé 名前":        "値 ✓",
		"empty":             "",
		"spaces":            "  at both ends  ",
		"control":           "nul\x00 bell\x07 newline\n",
		"gizmo-dead-letter": `{"error":"boom"}`,
	}
	for _, f := range []pubsubhttp.Format{pubsubhttp.FormatRaw, pubsubhttp.FormatPubSub} {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			_, ch, srv := startSub(t, pubsubhttp.Config{})
			p := newPub(t, pubsubhttp.Config{URL: srv.URL, Format: f, Subscription: "projects/p/subscriptions/s"})
			for _, tc := range []struct {
				name    string
				key     string
				payload []byte
				dedupID string
			}{
				{name: "text", key: "clé 🔑\tend", payload: []byte("payload ✓"), dedupID: "order-7"},
				{name: "binary", key: "k", payload: []byte{0, 0xff, 0xfe, '\n'}},
				{name: "empty", payload: []byte{}},
			} {
				opts := []pubsub.PublishOption{pubsub.WithAttributes(attrs)}
				if tc.dedupID != "" {
					opts = append(opts, pubsub.WithDeduplicationID(tc.dedupID))
				}
				res := goPublish(t, p, tc.key, tc.payload, opts...)
				m := recv(t, ch).(*pubsubhttp.Message)
				if string(m.Message()) != string(tc.payload) || m.Key() != tc.key || !maps.Equal(m.Attributes(), attrs) {
					t.Errorf("%s: got payload %q key %q attributes %q; want %q %q %q", tc.name, m.Message(), m.Key(), m.Attributes(), tc.payload, tc.key, attrs)
				}
				if tc.dedupID != "" && m.ID() != tc.dedupID {
					t.Errorf("%s: ID %q, want the deduplication ID %q", tc.name, m.ID(), tc.dedupID)
				}
				if m.ID() == "" || m.Format() != f || m.DeliveryAttempt() != 1 {
					t.Errorf("%s: ID %q format %q attempt %d; want an ID, %q, 1", tc.name, m.ID(), m.Format(), m.DeliveryAttempt(), f)
				}
				switch f {
				case pubsubhttp.FormatPubSub:
					if ps := m.PubSub(); ps == nil || ps.Message.MessageID != m.ID() || ps.Message.OrderingKey != tc.key || ps.Subscription != "projects/p/subscriptions/s" {
						t.Errorf("%s: envelope %+v", tc.name, ps)
					}
				case pubsubhttp.FormatRaw:
					if got := m.Request().Header.Get(pubsubhttp.HeaderID); got != m.ID() {
						t.Errorf("%s: %s header %q, ID %q", tc.name, pubsubhttp.HeaderID, got, m.ID())
					}
				}
				if err := m.Done(); err != nil {
					t.Fatal(err)
				}
				if err := result(t, res); err != nil {
					t.Fatalf("%s: PublishRaw: %v", tc.name, err)
				}
			}
		})
	}
}

// TestPubSubPushFixture posts the push request Google documents.
func TestPubSubPushFixture(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("testdata/pubsub-push.json")
	if err != nil {
		t.Fatal(err)
	}
	_, ch, srv := startSub(t, pubsubhttp.Config{})
	res := make(chan response, 1)
	go func() {
		res <- post(t, srv.URL, http.Header{"Content-Type": {"application/json"}, "User-Agent": {"APIs-Google"}}, string(body))
	}()
	m := recv(t, ch).(*pubsubhttp.Message)
	if string(m.Message()) != "Hello Cloud Pub/Sub! Here is my message!" || m.ID() != "2070443601311540" ||
		!maps.Equal(m.Attributes(), map[string]string{"key": "value"}) || m.Key() != "" || m.DeliveryAttempt() != 0 {
		t.Errorf("got payload %q ID %q attributes %q key %q attempt %d", m.Message(), m.ID(), m.Attributes(), m.Key(), m.DeliveryAttempt())
	}
	if ps := m.PubSub(); ps == nil || ps.Subscription != "projects/myproject/subscriptions/mysubscription" || ps.Message.PublishTime != "2021-02-26T19:13:55.749Z" {
		t.Errorf("envelope %+v", ps)
	}
	_ = m.Done()
	if got := <-res; got.status/100 != 2 {
		t.Errorf("status %d, want 2xx, which Pub/Sub takes as an ack", got.status)
	}
}

// TestSNSNotificationFixture posts the notification AWS documents, with
// message attributes; its example signature cannot be checked, so
// verification is off here (TestSNSSignatures checks signatures).
func TestSNSNotificationFixture(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("testdata/sns-notification.json")
	if err != nil {
		t.Fatal(err)
	}
	_, ch, srv := startSub(t, pubsubhttp.Config{Formats: []pubsubhttp.Format{pubsubhttp.FormatSNS}, SNSSkipVerify: true,
		SNSTopicARNs: []string{"arn:aws:sns:us-west-2:123456789012:MyTopic"}})
	res := make(chan response, 1)
	go func() { res <- post(t, srv.URL, snsHeaders("Notification"), string(body)) }()
	m := recv(t, ch).(*pubsubhttp.Message)
	want := map[string]string{"AttributeName": "AttributeValue", "blob": "binary text"}
	if string(m.Message()) != "Hello world!" || m.ID() != "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324" || m.Key() != "customer-7" || !maps.Equal(m.Attributes(), want) {
		t.Errorf("got payload %q ID %q key %q attributes %q", m.Message(), m.ID(), m.Key(), m.Attributes())
	}
	if n := m.SNS(); n == nil || n.Subject != "My First Message" || n.TopicArn != "arn:aws:sns:us-west-2:123456789012:MyTopic" {
		t.Errorf("notification %+v", n)
	}
	_ = m.Done()
	if got := <-res; got.status/100 != 2 {
		t.Errorf("status %d, want 2xx", got.status)
	}
}

// snsHeaders returns the headers SNS sends with a message of type typ.
func snsHeaders(typ string) http.Header {
	return http.Header{
		"X-Amz-Sns-Message-Type": {typ},
		"X-Amz-Sns-Topic-Arn":    {"arn:aws:sns:us-west-2:123456789012:MyTopic"},
		"Content-Type":           {"text/plain; charset=UTF-8"},
		"User-Agent":             {"Amazon Simple Notification Service Agent"},
	}
}
