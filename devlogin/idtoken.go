package devlogin

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// idTokenAlg is the algorithm ID tokens are signed with. ES256 rather than
// RS256: a P-256 key is generated in microseconds at every New (an RSA key
// takes tens of milliseconds, in every test too), and go-oidc accepts it
// without configuration, since a Verifier made from a discovered provider
// allows the algorithms of id_token_signing_alg_values_supported.
const idTokenAlg = jose.ES256

// idTokenTTL is how long an ID token is valid. It is used once, right
// after the code exchange.
const idTokenTTL = 5 * time.Minute

// idSigner signs ID tokens with a key that lives only in memory: a restart
// makes a new one, which invalidates nothing that matters, since an ID
// token is checked once, at login, a moment after it was issued.
type idSigner struct {
	signer jose.Signer
	// jwks is the JSON Web Key Set of the public key, encoded once.
	jwks []byte
}

// newIDSigner generates a signing key. Its key id is its RFC 7638
// thumbprint.
func newIDSigner() (*idSigner, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devlogin: generating the ID token key: %w", err)
	}
	pub := jose.JSONWebKey{Key: &priv.PublicKey, Algorithm: string(idTokenAlg), Use: "sig"}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("devlogin: ID token key id: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
	if err != nil {
		return nil, fmt.Errorf("devlogin: encoding the JWKS: %w", err)
	}
	// An ID token is a plain JWT: typ is "JWT", never the "at+jwt" of
	// Gatehouse's access tokens, so that neither can pass for the other.
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: idTokenAlg, Key: jose.JSONWebKey{Key: priv, KeyID: pub.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("devlogin: ID token signer: %w", err)
	}
	return &idSigner{signer: signer, jwks: jwks}, nil
}

// idClaims are the claims of an ID token (OpenID Connect Core 1.0, section
// 2, and the standard claims of section 5.1).
type idClaims struct {
	Issuer            string `json:"iss"`
	Subject           string `json:"sub"`
	Audience          string `json:"aud"`
	AuthorizedParty   string `json:"azp"`
	Expiry            int64  `json:"exp"`
	IssuedAt          int64  `json:"iat"`
	Nonce             string `json:"nonce,omitempty"`
	Name              string `json:"name,omitempty"`
	PreferredUsername string `json:"preferred_username"`
	Email             string `json:"email"`
	EmailVerified     bool   `json:"email_verified"`
}

// sign returns the compact serialization of an ID token for u, issued at
// now by issuer to clientID, carrying nonce if the authorization request
// had one.
func (s *idSigner) sign(issuer, clientID, nonce string, u userinfo, now time.Time) (string, error) {
	c := idClaims{
		Issuer:            issuer,
		Subject:           u.Subject,
		Audience:          clientID,
		AuthorizedParty:   clientID,
		Expiry:            now.Add(idTokenTTL).Unix(),
		IssuedAt:          now.Unix(),
		Nonce:             nonce,
		PreferredUsername: u.PreferredUsername,
		Email:             u.Email,
		EmailVerified:     u.EmailVerified,
	}
	if u.Name != nil {
		c.Name = *u.Name
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	jws, err := s.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("devlogin: signing an ID token: %w", err)
	}
	return jws.CompactSerialize()
}
