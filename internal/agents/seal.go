package agents

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// SecretPrefix starts every tool signing secret, so a leaked one is
// recognisable.
const SecretPrefix = "whsec_"

// newSecret returns a signing secret: "whsec_" + 32 random bytes in
// unpadded base64url. The HMAC key is the whole string, as shown.
func newSecret() string { return NewSecret() }

// NewSecret returns a signing secret by the tool-secret rules (webhook
// subscriptions use the same): "whsec_" + 32 random bytes in unpadded
// base64url.
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("agents: crypto/rand failed: " + err.Error())
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Sealer encrypts tool secrets at rest with AES-256-GCM under a key
// derived by HKDF-SHA256 from a server secret (PRIVACY_HASH_KEY) that
// never enters the database, so a database dump alone cannot sign
// requests. The tool name is the additional data: a sealed secret copied
// to another tool's row does not open.
type Sealer struct {
	aead cipher.AEAD
	ad   string // prefix of the additional data: "tool:" + name
}

// sealVersion is the first byte of a sealed secret.
const sealVersion = 1

// NewSealer derives the key for tool secrets from serverKey.
func NewSealer(serverKey string) (*Sealer, error) { return NewSealerFor(serverKey, "tool") }

// NewSealerFor derives a key for the secrets of one kind of owner
// ("tool", "webhook") from serverKey: each kind has its own key (HKDF info
// "voiceagent <kind> signing secrets v1") and binds the owner's name as
// additional data ("<kind>:<name>"), so a secret sealed for one owner
// opens for no other.
func NewSealerFor(serverKey, kind string) (*Sealer, error) {
	if len(serverKey) < 16 {
		return nil, errors.New("agents: the server key for " + kind + " secrets is too short")
	}
	key, err := hkdf.Key(sha256.New, []byte(serverKey), nil, "voiceagent "+kind+" signing secrets v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead, ad: kind + ":"}, nil
}

// Seal encrypts secret for the tool name.
func (s *Sealer) Seal(name, secret string) []byte {
	nonce := make([]byte, s.aead.NonceSize(), 1+s.aead.NonceSize()+len(secret)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("agents: crypto/rand failed: " + err.Error())
	}
	out := append([]byte{sealVersion}, nonce...)
	return s.aead.Seal(out, nonce, []byte(secret), []byte(s.ad+name))
}

// ErrUnseal is a sealed secret that does not open with this server's key
// (PRIVACY_HASH_KEY changed, or the row was tampered with). Rotating the
// tool's secret gives it a new one.
var ErrUnseal = errors.New("agents: the tool's secret does not open with this server's key; rotate it")

// Open decrypts a sealed secret of the tool name.
func (s *Sealer) Open(name string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != sealVersion {
		return "", ErrUnseal
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(s.ad+name))
	if err != nil {
		return "", ErrUnseal
	}
	return string(plain), nil
}
