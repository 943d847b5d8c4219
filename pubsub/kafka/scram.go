package kafka

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// scramClient is a SCRAM client (RFC 5802) for sarama's SASL/SCRAM
// handshake, without channel binding. The password is used as given, with
// no SASLprep normalisation, which is exact for ASCII passwords.
type scramClient struct {
	h        func() hash.Hash
	user     string
	password string
	nonce    string // the client's nonce
	step     int
	bare     string // client-first-message-bare
	serverSg []byte // the expected server signature
	done     bool
}

var (
	scramSHA256 = sha256.New
	scramSHA512 = sha512.New
)

func newSCRAMClient(h func() hash.Hash) *scramClient { return &scramClient{h: h} }

// Begin starts a conversation for user and password.
func (s *scramClient) Begin(user, password, authzID string) error {
	if authzID != "" {
		return errors.New("kafka: SCRAM: authorization IDs are not supported")
	}
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("kafka: SCRAM nonce: %w", err)
	}
	return s.begin(user, password, base64.RawStdEncoding.EncodeToString(b[:]))
}

func (s *scramClient) begin(user, password, nonce string) error {
	*s = scramClient{h: s.h, user: user, password: password, nonce: nonce}
	return nil
}

// Step answers the server's challenge.
func (s *scramClient) Step(challenge string) (string, error) {
	s.step++
	switch s.step {
	case 1:
		name := strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s.user)
		s.bare = "n=" + name + ",r=" + s.nonce
		return "n,," + s.bare, nil
	case 2:
		return s.final(challenge)
	case 3:
		return "", s.verify(challenge)
	}
	return "", errors.New("kafka: SCRAM: unexpected extra challenge")
}

// Done reports whether the conversation is over.
func (s *scramClient) Done() bool { return s.done }

// scramAttrs parses "k=v,k=v" into a map of the one-letter keys.
func scramAttrs(msg string) (map[byte]string, error) {
	out := make(map[byte]string)
	for part := range strings.SplitSeq(msg, ",") {
		if len(part) < 2 || part[1] != '=' {
			return nil, fmt.Errorf("kafka: SCRAM: malformed attribute %q", part)
		}
		out[part[0]] = part[2:]
	}
	return out, nil
}

func (s *scramClient) final(serverFirst string) (string, error) {
	a, err := scramAttrs(serverFirst)
	if err != nil {
		return "", err
	}
	if e, ok := a['e']; ok {
		return "", fmt.Errorf("kafka: SCRAM: server error %q", e)
	}
	nonce, salt64, iter := a['r'], a['s'], a['i']
	if !strings.HasPrefix(nonce, s.nonce) || len(nonce) == len(s.nonce) {
		return "", errors.New("kafka: SCRAM: the server's nonce does not extend the client's")
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil || len(salt) == 0 {
		return "", fmt.Errorf("kafka: SCRAM: malformed salt %q", salt64)
	}
	n, err := strconv.Atoi(iter)
	if err != nil || n < 1 || n > 1<<20 {
		return "", fmt.Errorf("kafka: SCRAM: bad iteration count %q", iter)
	}
	salted, err := pbkdf2.Key(s.h, s.password, salt, n, s.h().Size())
	if err != nil {
		return "", fmt.Errorf("kafka: SCRAM: %w", err)
	}
	clientKey := s.hmac(salted, "Client Key")
	stored := s.h()
	stored.Write(clientKey)
	withoutProof := "c=biws,r=" + nonce
	auth := s.bare + "," + serverFirst + "," + withoutProof
	sig := s.hmac(stored.Sum(nil), auth)
	proof := make([]byte, len(clientKey))
	subtle.XORBytes(proof, clientKey, sig)
	s.serverSg = s.hmac(s.hmac(salted, "Server Key"), auth)
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof), nil
}

func (s *scramClient) verify(serverFinal string) error {
	a, err := scramAttrs(serverFinal)
	if err != nil {
		return err
	}
	if e, ok := a['e']; ok {
		return fmt.Errorf("kafka: SCRAM: authentication failed: %s", e)
	}
	got, err := base64.StdEncoding.DecodeString(a['v'])
	if err != nil || !hmac.Equal(got, s.serverSg) {
		return errors.New("kafka: SCRAM: the server's signature does not match: not the broker we meant to talk to")
	}
	s.done = true
	return nil
}

func (s *scramClient) hmac(key []byte, msg string) []byte {
	m := hmac.New(s.h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
