package http_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/seed8104ecd5/gizmo/pubsub"
	pubsubhttp "github.com/seed8104ecd5/gizmo/pubsub/http"
)

// snsFake plays SNS's part: it serves the signing certificate and the
// SubscribeURLs over https on 127.0.0.1, and signs messages.
type snsFake struct {
	srv       *httptest.Server
	key       *rsa.PrivateKey
	certURL   string
	confirmed atomic.Int32
}

func newSNSFake(t *testing.T) *snsFake {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cert := newCert(t, t.TempDir(), "sns", nil, key)
	f := &snsFake{key: key}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/SimpleNotificationService.pem":
			_ = pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: cert.cert.Raw})
		case "/confirm":
			if r.URL.Query().Get("Token") == "the-token" {
				f.confirmed.Add(1)
			}
			_, _ = w.Write([]byte("<ConfirmSubscriptionResponse/>"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	f.certURL = f.srv.URL + "/SimpleNotificationService.pem"
	return f
}

// options lets a subscriber fetch from the fake; everything else must
// pass the real check.
func (f *snsFake) options() []pubsubhttp.SubscriberOption {
	host := strings.TrimPrefix(f.srv.URL, "https://")
	return []pubsubhttp.SubscriberOption{
		pubsubhttp.WithSNSClient(f.srv.Client()),
		pubsubhttp.WithSNSURLCheck(func(u *url.URL) error {
			if u.Scheme == "https" && u.Host == host {
				return nil
			}
			return pubsubhttp.CheckSNSURL(u)
		}),
	}
}

// sign sets the signature fields of the SNS message m (a JSON object as a
// map), in the way AWS documents: the listed fields' names and values,
// each followed by a newline, in this order.
func (f *snsFake) sign(t *testing.T, m map[string]any, version string) []byte {
	t.Helper()
	m["SignatureVersion"] = version
	m["SigningCertURL"] = f.certURL
	fields := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	if m["Type"] != "Notification" {
		fields = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	var text string
	for _, k := range fields {
		if v, ok := m[k].(string); ok && (k != "Subject" || v != "") {
			text += k + "\n" + v + "\n"
		}
	}
	var digest []byte
	h := crypto.SHA256
	if version == "1" {
		h = crypto.SHA1
		d := sha1.Sum([]byte(text))
		digest = d[:]
	} else {
		d := sha256.Sum256([]byte(text))
		digest = d[:]
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, f.key, h, digest)
	if err != nil {
		t.Fatal(err)
	}
	m["Signature"] = base64.StdEncoding.EncodeToString(sig)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const fixtureTopic = "arn:aws:sns:us-west-2:123456789012:MyTopic"

func TestSNSSignatures(t *testing.T) {
	t.Parallel()
	fake := newSNSFake(t)
	cfg := pubsubhttp.Config{Formats: []pubsubhttp.Format{pubsubhttp.FormatSNS}, SNSTopicARNs: []string{fixtureTopic}}
	_, ch, srv := startSub(t, cfg, fake.options()...)
	for _, version := range []string{"1", "2"} {
		m := fixture(t, "sns-notification.json")
		m["MessageId"] = "message-signed-v" + version // a repeated ID would be deduplicated
		body := fake.sign(t, m, version)
		res := make(chan response, 1)
		go func() { res <- post(t, srv.URL, snsHeaders("Notification"), string(body)) }()
		var got pubsub.SubscriberMessage
		select {
		case got = <-ch:
		case r := <-res:
			t.Fatalf("SignatureVersion %s, signed: status %d %s, want delivery", version, r.status, r.body)
		}
		if string(got.Message()) != "Hello world!" {
			t.Errorf("version %s: payload %q", version, got.Message())
		}
		_ = got.Done()
		if r := <-res; r.status != http.StatusNoContent {
			t.Errorf("SignatureVersion %s, signed: status %d %s, want 204", version, r.status, r.body)
		}
	}

	refused := func(name string, m map[string]any, body []byte, status int, reason string) {
		t.Helper()
		if body == nil {
			var err error
			if body, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
		}
		r := post(t, srv.URL, snsHeaders(m["Type"].(string)), string(body))
		if r.status != status || !strings.Contains(r.body, reason) {
			t.Errorf("%s: status %d %s, want %d naming %q", name, r.status, r.body, status, reason)
		}
	}
	m := fixture(t, "sns-notification.json")
	fake.sign(t, m, "2")
	m["Message"] = "tampered"
	refused("a changed message", m, nil, 403, "bad signature")

	m = fixture(t, "sns-notification.json")
	fake.sign(t, m, "2")
	m["SigningCertURL"] = "https://evil.example.com/cert.pem"
	refused("a certificate from elsewhere", m, nil, 403, "not an SNS host")

	m = fixture(t, "sns-notification.json")
	fake.sign(t, m, "2")
	m["SigningCertURL"] = "http://sns.us-east-1.amazonaws.com/cert.pem"
	refused("a certificate over http", m, nil, 403, "not https")

	m = fixture(t, "sns-notification.json")
	fake.sign(t, m, "3")
	refused("an unknown signature version", m, nil, 403, "SignatureVersion")

	m = fixture(t, "sns-notification.json")
	m["TopicArn"] = "arn:aws:sns:us-west-2:123456789012:Other"
	refused("a topic not allowed", m, fake.sign(t, m, "2"), 403, "Other")

	select {
	case got := <-ch:
		t.Errorf("a refused message was delivered: %q", got.Message())
	default:
	}
}

func TestSNSSubscriptionConfirmation(t *testing.T) {
	t.Parallel()
	fake := newSNSFake(t)
	confirmation := func() (map[string]any, []byte) {
		m := fixture(t, "sns-subscription-confirmation.json")
		m["SubscribeURL"] = fake.srv.URL + "/confirm?Action=ConfirmSubscription&Token=the-token"
		return m, fake.sign(t, m, "1")
	}
	for _, tc := range []struct {
		name    string
		cfg     pubsubhttp.Config
		status  int
		confirm bool
	}{
		{name: "confirmed", cfg: pubsubhttp.Config{SNSTopicARNs: []string{fixtureTopic}, SNSConfirm: true}, status: 204, confirm: true},
		{name: "confirmation off", cfg: pubsubhttp.Config{SNSTopicARNs: []string{fixtureTopic}}, status: 403},
		{name: "topic not allowed", cfg: pubsubhttp.Config{SNSTopicARNs: []string{"arn:aws:sns:us-west-2:123456789012:Other"}, SNSConfirm: true}, status: 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Formats = []pubsubhttp.Format{pubsubhttp.FormatSNS}
			_, ch, srv := startSub(t, tc.cfg, fake.options()...)
			before := fake.confirmed.Load()
			_, body := confirmation()
			r := post(t, srv.URL, snsHeaders("SubscriptionConfirmation"), string(body))
			if r.status != tc.status {
				t.Errorf("status %d %s, want %d", r.status, r.body, tc.status)
			}
			if got := fake.confirmed.Load() - before; (got == 1) != tc.confirm || got > 1 {
				t.Errorf("the SubscribeURL was visited %d times; want a visit: %v", got, tc.confirm)
			}
			select {
			case m := <-ch:
				t.Errorf("a confirmation was delivered as a message: %q", m.Message())
			default:
			}
		})
	}
	t.Run("SubscribeURL elsewhere", func(t *testing.T) {
		_, _, srv := startSub(t, pubsubhttp.Config{Formats: []pubsubhttp.Format{pubsubhttp.FormatSNS},
			SNSTopicARNs: []string{fixtureTopic}, SNSConfirm: true}, fake.options()...)
		m, _ := confirmation()
		m["SubscribeURL"] = "https://169.254.169.254/latest/meta-data/"
		body := fake.sign(t, m, "2")
		r := post(t, srv.URL, snsHeaders("SubscriptionConfirmation"), string(body))
		if r.status != http.StatusBadGateway || !strings.Contains(r.body, "not an SNS host") {
			t.Errorf("a SubscribeURL off SNS: status %d %s, want 502 naming the host check", r.status, r.body)
		}
	})
}

func TestCheckSNSURL(t *testing.T) {
	t.Parallel()
	for raw, ok := range map[string]bool{
		"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem": true,
		"https://sns.cn-north-1.amazonaws.com.cn/x.pem":                         true,
		"https://sns.us-east-1.amazonaws.com:443/x":                             true,
		"http://sns.us-east-1.amazonaws.com/x.pem":                              false,
		"https://sns.us-east-1.amazonaws.com.evil.com/x.pem":                    false,
		"https://evil.com/sns.us-east-1.amazonaws.com/x.pem":                    false,
		"https://user@sns.us-east-1.amazonaws.com/x.pem":                        false,
		"https://sns.us-east-1.amazonaws.com:8443/x.pem":                        false,
		"https://s3.amazonaws.com/x.pem":                                        false,
		"https://127.0.0.1/x.pem":                                               false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := pubsubhttp.CheckSNSURL(u); (err == nil) != ok {
			t.Errorf("CheckSNSURL(%s) = %v, want ok: %v", raw, err, ok)
		}
	}
}
