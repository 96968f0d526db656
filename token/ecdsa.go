package token

import (
	"crypto/elliptic"
	"fmt"
	"math/big"
)

// An ES256 signature is r||s, two 32-byte big-endian integers (RFC 7518
// section 3.4). If (r, s) verifies, so does (r, n−s), where n is the order
// of P-256: anyone could re-spell a token without the key. Gatehouse signs
// with the low s (s ≤ n/2) and accepts nothing else.
const es256SigLen = 64

var (
	p256N     = elliptic.P256().Params().N
	p256HalfN = new(big.Int).Rsh(p256N, 1) // n is odd: s ≤ n/2 is s ≤ ⌊n/2⌋.
)

// lowS rewrites the ES256 signature sig in place to its low-s spelling.
func lowS(sig []byte) error {
	if len(sig) != es256SigLen {
		return fmt.Errorf("token: ES256 signature is %d bytes, want %d", len(sig), es256SigLen)
	}
	s := new(big.Int).SetBytes(sig[es256SigLen/2:])
	if s.Cmp(p256HalfN) > 0 {
		s.Sub(p256N, s).FillBytes(sig[es256SigLen/2:])
	}
	return nil
}

// checkES256Signature refuses an ES256 signature that is not the one
// spelling Gatehouse signs: 64 bytes, 0 < r < n and 0 < s ≤ n/2. It says
// nothing about whether the signature verifies.
func checkES256Signature(sig []byte) error {
	if len(sig) != es256SigLen {
		return invalid("ES256 signature is %d bytes, want %d", len(sig), es256SigLen)
	}
	r := new(big.Int).SetBytes(sig[:es256SigLen/2])
	s := new(big.Int).SetBytes(sig[es256SigLen/2:])
	switch {
	case r.Sign() == 0 || r.Cmp(p256N) >= 0:
		return invalid("ES256 signature r out of range")
	case s.Sign() == 0 || s.Cmp(p256N) >= 0:
		return invalid("ES256 signature s out of range")
	case s.Cmp(p256HalfN) > 0:
		return invalid("ES256 signature s above n/2")
	}
	return nil
}
