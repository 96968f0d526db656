package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// EncryptionKeyLen is the length of the key that seals private keys at
// rest: 32 bytes, for AES-256-GCM.
const EncryptionKeyLen = 32

// sealedPrefix starts every sealed private key. A PKCS #8 key in DER starts
// with 0x30 (a SEQUENCE), so the two forms cannot be confused.
var sealedPrefix = []byte("gatehouse-sealed-v1:")

// ErrSealed means a stored private key is encrypted and no encryption key
// (or the wrong one) was given to open it.
var ErrSealed = errors.New("keys: a stored signing key is encrypted; set the encryption key it was sealed with")

// ParseEncryptionKey decodes an encryption key written in standard or
// URL-safe base64, padded or not, and checks that it is EncryptionKeyLen
// bytes.
func ParseEncryptionKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != EncryptionKeyLen {
				return nil, fmt.Errorf("the encryption key must be %d bytes, got %d; generate one with `openssl rand -base64 32`", EncryptionKeyLen, len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("the encryption key is not base64; generate one with `openssl rand -base64 32`")
}

// sealer encrypts private keys with AES-256-GCM. The key id is the
// additional data, so a sealed key copied onto another key's row does not
// open.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != EncryptionKeyLen {
		return nil, fmt.Errorf("keys: the encryption key must be %d bytes, got %d", EncryptionKeyLen, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func isSealed(b []byte) bool { return bytes.HasPrefix(b, sealedPrefix) }

func (s *sealer) seal(kid string, der []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	out := append(append([]byte{}, sealedPrefix...), nonce...)
	return s.aead.Seal(out, nonce, der, []byte(kid))
}

// open returns the DER of a stored private key, sealed or not. A sealed
// key with no sealer, or one that does not open, is ErrSealed.
func (s *sealer) open(kid string, stored []byte) ([]byte, error) {
	if !isSealed(stored) {
		return stored, nil
	}
	if s == nil {
		return nil, fmt.Errorf("%w (key %q)", ErrSealed, kid)
	}
	b := stored[len(sealedPrefix):]
	n := s.aead.NonceSize()
	if len(b) < n {
		return nil, fmt.Errorf("%w (key %q is truncated)", ErrSealed, kid)
	}
	der, err := s.aead.Open(nil, b[:n], b[n:], []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("%w (key %q does not open with this encryption key)", ErrSealed, kid)
	}
	return der, nil
}
