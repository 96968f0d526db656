package token

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// Type is the "typ" header of every Gatehouse access token (RFC 9068).
const Type = "at+jwt"

// Claims are the verified claims of an access token.
type Claims struct {
	Issuer  string
	Subject string
	// SessionID is the "sid" claim: the session the token was issued in.
	SessionID string
	Audience  []string
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
	ID        string
}

// Signer gives the key that signs new tokens.
type Signer interface {
	Signing() *Key
}

// Issuer mints access tokens. An ES256 token's signature always has the
// low s (s ≤ n/2) that Verifier requires.
type Issuer struct {
	// Issuer is the "iss" claim: Gatehouse's public URL.
	Issuer string
	// Audience is the "aud" claim.
	Audience string
	// TTL is how long a token is valid.
	TTL time.Duration
	// Keys gives the key that signs now: a fixed KeySet, or a rotating
	// set (package keys).
	Keys Signer
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

type wireClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	SessionID string `json:"sid"`
	Audience  string `json:"aud"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expiry    int64  `json:"exp"`
	ID        string `json:"jti"`
}

// Mint returns a signed access token for the user with id subject in the
// session sid, and its claims.
func (i *Issuer) Mint(subject, sid string) (string, *Claims, error) {
	return i.MintBefore(subject, sid, time.Time{})
}

// MintBefore is Mint for a token that must expire by notAfter (the end of
// its session) even if that is sooner than the TTL; a zero notAfter sets
// no limit. It fails if less than a second is left.
func (i *Issuer) MintBefore(subject, sid string, notAfter time.Time) (string, *Claims, error) {
	if subject == "" || sid == "" {
		return "", nil, fmt.Errorf("token: empty subject or session id")
	}
	now := time.Now
	if i.Now != nil {
		now = i.Now
	}
	iat := now().Truncate(time.Second)
	exp := iat.Add(i.TTL)
	if !notAfter.IsZero() && notAfter.Before(exp) {
		exp = notAfter.Truncate(time.Second)
	}
	if !exp.After(iat) {
		return "", nil, fmt.Errorf("token: less than a second left before %v", notAfter)
	}
	var jti [16]byte
	rand.Read(jti[:])
	c := &Claims{
		Issuer:    i.Issuer,
		Subject:   subject,
		SessionID: sid,
		Audience:  []string{i.Audience},
		IssuedAt:  iat,
		NotBefore: iat,
		Expiry:    exp,
		ID:        base64.RawURLEncoding.EncodeToString(jti[:]),
	}
	payload, err := json.Marshal(wireClaims{
		Issuer:    c.Issuer,
		Subject:   c.Subject,
		SessionID: c.SessionID,
		Audience:  i.Audience,
		IssuedAt:  c.IssuedAt.Unix(),
		NotBefore: c.NotBefore.Unix(),
		Expiry:    c.Expiry.Unix(),
		ID:        c.ID,
	})
	if err != nil {
		return "", nil, fmt.Errorf("token: encoding claims: %w", err)
	}
	key := i.Keys.Signing()
	obj, err := key.signer.Sign(payload)
	if err != nil {
		return "", nil, fmt.Errorf("token: signing: %w", err)
	}
	if key.Algorithm == ES256 {
		// go-jose signs with whichever s ecdsa.Sign returns; Verify accepts
		// only the low one.
		if err := lowS(obj.Signatures[0].Signature); err != nil {
			return "", nil, fmt.Errorf("token: signing: %w", err)
		}
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		return "", nil, fmt.Errorf("token: serializing: %w", err)
	}
	return raw, c, nil
}
