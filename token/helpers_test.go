package token

import (
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"
)

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// rsaTestKey returns an RSA key generated once per test binary.
func rsaTestKey(t testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
	})
	return rsaKey
}
