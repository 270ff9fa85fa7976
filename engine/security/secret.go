package security

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Parameters of [HashSecret].
const (
	// HashIterations is the PBKDF2 iteration count HashSecret uses: OWASP's
	// 2023 recommendation for PBKDF2-HMAC-SHA256. A hash records its own
	// count, so raising it later keeps old hashes valid.
	HashIterations = 600_000
	hashScheme     = "pbkdf2-sha256"
	saltBytes      = 16
	hashBytes      = 32
	// maxIterations keeps a hash from a config file from pinning a CPU.
	maxIterations = 10_000_000
)

// HashSecret returns the hash of a client secret to put in a [Client]'s
// SecretHash: "pbkdf2-sha256$<iterations>$<salt>$<hash>", salt and hash in
// unpadded URL-safe base64. Each call uses a new random salt.
//
// Why PBKDF2 and not argon2id or bcrypt: it is in the standard library
// (crypto/pbkdf2), so there is no dependency to keep current, and client
// secrets made by [NewClientSecret] are random enough that the memory
// hardness of argon2id buys little.
func HashSecret(secret string) string {
	return hashSecret(secret, HashIterations)
}

func hashSecret(secret string, iterations int) string {
	salt := make([]byte, saltBytes)
	_, _ = rand.Read(salt) // never fails
	sum, err := pbkdf2.Key(sha256.New, secret, salt, iterations, hashBytes)
	if err != nil {
		panic(fmt.Sprintf("pbkdf2 with fixed parameters failed: %v", err)) // unreachable: the key length is fixed and valid
	}
	enc := base64.RawURLEncoding
	return hashScheme + "$" + strconv.Itoa(iterations) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(sum)
}

// secretHash is a parsed SecretHash.
type secretHash struct {
	iterations int
	salt, sum  []byte
}

func parseHash(s string) (secretHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 4 || parts[0] != hashScheme {
		return secretHash{}, errors.New(`want "pbkdf2-sha256$<iterations>$<salt>$<hash>", as security.HashSecret makes`)
	}
	var h secretHash
	var err error
	if h.iterations, err = strconv.Atoi(parts[1]); err != nil || h.iterations < 1 || h.iterations > maxIterations {
		return secretHash{}, fmt.Errorf("iterations %q must be a number from 1 to %d", parts[1], maxIterations)
	}
	enc := base64.RawURLEncoding
	if h.salt, err = enc.DecodeString(parts[2]); err != nil || len(h.salt) < 8 {
		return secretHash{}, errors.New("the salt must be at least 8 bytes of unpadded URL-safe base64")
	}
	if h.sum, err = enc.DecodeString(parts[3]); err != nil || len(h.sum) != hashBytes {
		return secretHash{}, fmt.Errorf("the hash must be %d bytes of unpadded URL-safe base64", hashBytes)
	}
	return h, nil
}

// matches reports in constant time whether secret hashes to h.
func (h secretHash) matches(secret string) bool {
	sum, err := pbkdf2.Key(sha256.New, secret, h.salt, h.iterations, len(h.sum))
	return err == nil && hmac.Equal(sum, h.sum)
}

// NewAPIKey returns a new random API key for a configuration: "bze_" and 32
// random bytes in URL-safe base64.
func NewAPIKey() string { return "bze_" + randomString(32) }

// NewClientSecret returns a new random client secret: 32 random bytes in
// URL-safe base64. Store its [HashSecret] and hand the secret to the client.
func NewClientSecret() string { return randomString(32) }

// NewTokenKey returns a new random token key of MinTokenKeyBytes.
func NewTokenKey() []byte {
	k := make([]byte, MinTokenKeyBytes)
	_, _ = rand.Read(k) // never fails
	return k
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}
