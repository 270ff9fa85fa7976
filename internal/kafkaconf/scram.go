package kafkaconf

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

func sha256Hash() hash.Hash { return sha256.New() }
func sha512Hash() hash.Hash { return sha512.New() }

// maxSCRAMIterations bounds the iteration count a server may ask for, so
// that a hostile broker cannot make a connection spin.
const maxSCRAMIterations = 1 << 20

// scram is a SCRAM client (RFC 5802, SHA-256 and SHA-512 as RFC 7677 and
// Kafka's KIP-84 use them) for sarama: client-first, client-final with
// the proof, then the server's signature checked. The user name is
// escaped as the RFC says (= and ,); it and the password are not SASLprep
// normalized, which changes nothing for ASCII credentials.
type scram struct {
	h     func() hash.Hash
	nonce func() (string, error)

	user, password  string
	step            int
	clientNonce     string
	clientFirstBare string
	serverSignature []byte
	done            bool
}

var errSCRAMState = errors.New("SCRAM: unexpected step")

func newSCRAM(h func() hash.Hash) *scram { return &scram{h: h, nonce: randomNonce} }

func randomNonce() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawStdEncoding.EncodeToString(b), nil
}

// Begin starts an exchange for user and password; authzID must be empty.
func (s *scram) Begin(user, password, authzID string) error {
	if authzID != "" {
		return errors.New("SCRAM: an authorization id is not supported")
	}
	nonce, err := s.nonce()
	if err != nil {
		return err
	}
	*s = scram{h: s.h, nonce: s.nonce, user: user, password: password, clientNonce: nonce}
	return nil
}

// Step answers the server's challenge: the first call (an empty
// challenge) returns client-first, the second client-final, the third
// checks the server's signature and returns "".
func (s *scram) Step(challenge string) (string, error) {
	s.step++
	switch s.step {
	case 1:
		name := strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s.user)
		s.clientFirstBare = "n=" + name + ",r=" + s.clientNonce
		return "n,," + s.clientFirstBare, nil
	case 2:
		return s.clientFinal(challenge)
	case 3:
		attrs := scramAttrs(challenge)
		if e, ok := attrs["e"]; ok {
			return "", fmt.Errorf("SCRAM: the server refused: %s", e)
		}
		v, err := base64.StdEncoding.DecodeString(attrs["v"])
		if err != nil || subtle.ConstantTimeCompare(v, s.serverSignature) != 1 {
			return "", errors.New("SCRAM: the server's signature does not match: it does not know the password")
		}
		s.done = true
		return "", nil
	}
	return "", errSCRAMState
}

func (s *scram) clientFinal(serverFirst string) (string, error) {
	attrs := scramAttrs(serverFirst)
	nonce, saltB64, iterS := attrs["r"], attrs["s"], attrs["i"]
	if !strings.HasPrefix(nonce, s.clientNonce) || len(nonce) == len(s.clientNonce) {
		return "", errors.New("SCRAM: the server's nonce does not extend the client's")
	}
	salt, err := base64.StdEncoding.DecodeString(saltB64)
	if err != nil || len(salt) == 0 {
		return "", errors.New("SCRAM: the server sent no valid salt")
	}
	iter, err := strconv.Atoi(iterS)
	if err != nil || iter < 1 || iter > maxSCRAMIterations {
		return "", fmt.Errorf("SCRAM: iteration count %q is not between 1 and %d", iterS, maxSCRAMIterations)
	}
	salted, err := pbkdf2.Key(s.h, s.password, salt, iter, s.h().Size())
	if err != nil {
		return "", err
	}
	clientKey := s.mac(salted, "Client Key")
	sum := s.h()
	sum.Write(clientKey)
	storedKey := sum.Sum(nil)
	withoutProof := "c=biws,r=" + nonce
	authMessage := s.clientFirstBare + "," + serverFirst + "," + withoutProof
	proof := s.mac(storedKey, authMessage)
	for i := range proof {
		proof[i] ^= clientKey[i]
	}
	s.serverSignature = s.mac(s.mac(salted, "Server Key"), authMessage)
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof), nil
}

func (s *scram) mac(key []byte, msg string) []byte {
	m := hmac.New(s.h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Done reports whether the server's signature was checked.
func (s *scram) Done() bool { return s.done }

// scramAttrs splits a SCRAM message into its attributes.
func scramAttrs(msg string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(msg, ",") {
		if k, v, ok := strings.Cut(part, "="); ok && len(k) == 1 {
			out[k] = v
		}
	}
	return out
}
