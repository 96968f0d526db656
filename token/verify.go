package token

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// ErrInvalid is wrapped by every error Verify returns.
var ErrInvalid = errors.New("token: invalid access token")

// Limits applied before any parsing, so that a hostile token costs little.
const (
	// MaxTokenLen caps the whole compact serialization.
	MaxTokenLen = 4096
	// MaxHeaderLen caps the encoded protected header.
	MaxHeaderLen = 512
	// MaxLeeway is the most clock skew a Verifier may allow.
	MaxLeeway = 60 * time.Second
)

// KeySource finds the key a token names in its "kid" header.
type KeySource interface {
	Key(kid string) (*Key, bool)
}

// Verifier checks access tokens. It accepts a token only if all of these
// hold: it is a three-part compact JWS within the size limits, in canonical
// unpadded base64url; its protected header has exactly "alg", "kid" and
// "typ" (so "crit", "jku", "x5u", "x5c", "jwk" and anything else are
// refused); "typ" is at+jwt; "kid" names a known key and "alg" is that key's
// one algorithm; an ES256 signature is 64 bytes of r||s with 0 < r < n and
// 0 < s ≤ n/2, n being the order of P-256 (of the two valid values of s,
// the low one, which is what Issuer signs with); the signature verifies;
// and the claims iss, sub, aud, iat, nbf, exp and jti are all present, of
// the right JSON types, and valid now within Leeway.
type Verifier struct {
	Issuer   string
	Audience string
	Keys     KeySource
	// Leeway is the clock skew allowed on exp, nbf and iat; at most
	// MaxLeeway.
	Leeway time.Duration
	// MaxTTL, if positive, refuses tokens whose exp is more than MaxTTL
	// after their iat.
	MaxTTL time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Cache, if set, remembers accepted tokens until they expire (see
	// Cache). It must serve this Verifier only.
	Cache *Cache
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

var b64 = base64.RawURLEncoding.Strict()

// Verify checks raw and returns its claims. Its errors wrap ErrInvalid and
// never contain the token.
func (v *Verifier) Verify(raw string) (*Claims, error) {
	if len(raw) == 0 || len(raw) > MaxTokenLen {
		return nil, invalid("length %d out of range", len(raw))
	}
	var sum [sha256.Size]byte
	if v.Cache != nil {
		sum = sha256.Sum256([]byte(raw))
		if c, ok := v.Cache.get(sum, v.now(), v.Keys); ok {
			return c, nil
		}
	}
	header, rest, ok := strings.Cut(raw, ".")
	if !ok {
		return nil, invalid("not a compact JWS")
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return nil, invalid("not a compact JWS")
	}
	if header == "" || payload == "" || sig == "" {
		return nil, invalid("empty segment")
	}
	if len(header) > MaxHeaderLen {
		return nil, invalid("header too large")
	}
	for _, seg := range []string{header, payload, sig} {
		if !isBase64URL(seg) {
			return nil, invalid("segment is not unpadded base64url")
		}
	}
	// Strict decoding refuses non-canonical encodings, so that a token has
	// exactly one spelling.
	hdrJSON, err := b64.DecodeString(header)
	if err != nil {
		return nil, invalid("header encoding")
	}
	if _, err := b64.DecodeString(payload); err != nil {
		return nil, invalid("payload encoding")
	}
	sigBytes, err := b64.DecodeString(sig)
	if err != nil {
		return nil, invalid("signature encoding")
	}
	h, err := parseHeader(hdrJSON)
	if err != nil {
		return nil, err
	}
	key, ok := v.Keys.Key(h.kid)
	if !ok {
		return nil, invalid("unknown key")
	}
	if h.alg != key.Algorithm {
		return nil, invalid("algorithm does not match the key")
	}
	if key.Algorithm == ES256 {
		if err := checkES256Signature(sigBytes); err != nil {
			return nil, err
		}
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(key.Algorithm)})
	if err != nil {
		return nil, invalid("malformed JWS")
	}
	body, err := jws.Verify(key.verify)
	if err != nil {
		return nil, invalid("bad signature")
	}
	now := v.now()
	c, err := v.checkClaims(body, now)
	if err != nil {
		return nil, err
	}
	if v.Cache != nil {
		v.Cache.put(sum, c, key.ID, now)
	}
	return c, nil
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

type header struct{ alg, kid, typ string }

func parseHeader(b []byte) (*header, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, invalid("header is not a JSON object")
	}
	var h header
	for name, val := range m {
		var dst *string
		switch name {
		case "alg":
			dst = &h.alg
		case "kid":
			dst = &h.kid
		case "typ":
			dst = &h.typ
		default:
			// crit, jku, x5u, x5c, jwk, b64 and the rest: we never set
			// them, so a token carrying one was not made by us.
			return nil, invalid("header parameter %q not allowed", name)
		}
		if err := json.Unmarshal(val, dst); err != nil {
			return nil, invalid("header parameter %q is not a string", name)
		}
	}
	if h.alg == "" || h.kid == "" {
		return nil, invalid("header lacks alg or kid")
	}
	if !strings.EqualFold(h.typ, Type) && !strings.EqualFold(h.typ, "application/"+Type) {
		return nil, invalid("typ is not %s", Type)
	}
	return &h, nil
}

func (v *Verifier) checkClaims(body []byte, t time.Time) (*Claims, error) {
	var m map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return nil, invalid("claims are not a JSON object")
	}
	var c Claims
	var err error
	str := func(name string) string {
		if err != nil {
			return ""
		}
		var s string
		raw, ok := m[name]
		if !ok {
			err = invalid("claim %q missing", name)
		} else if json.Unmarshal(raw, &s) != nil || s == "" {
			err = invalid("claim %q is not a non-empty string", name)
		}
		return s
	}
	num := func(name string) time.Time {
		if err != nil {
			return time.Time{}
		}
		raw, ok := m[name]
		if !ok {
			err = invalid("claim %q missing", name)
			return time.Time{}
		}
		n, e := numericDate(raw)
		if e != nil {
			err = invalid("claim %q: %v", name, e)
		}
		return n
	}
	c.Issuer = str("iss")
	c.Subject = str("sub")
	c.SessionID = str("sid")
	c.ID = str("jti")
	c.IssuedAt = num("iat")
	c.NotBefore = num("nbf")
	c.Expiry = num("exp")
	if err != nil {
		return nil, err
	}
	if c.Audience, err = audience(m["aud"]); err != nil {
		return nil, err
	}
	if c.Issuer != v.Issuer {
		return nil, invalid("wrong issuer")
	}
	found := false
	for _, a := range c.Audience {
		found = found || a == v.Audience
	}
	if !found {
		return nil, invalid("wrong audience")
	}

	leeway := min(v.Leeway, MaxLeeway)
	switch {
	case !t.Before(c.Expiry.Add(leeway)):
		return nil, invalid("expired")
	case c.NotBefore.After(t.Add(leeway)):
		return nil, invalid("not valid yet")
	case c.IssuedAt.After(t.Add(leeway)):
		return nil, invalid("issued in the future")
	case !c.Expiry.After(c.IssuedAt):
		return nil, invalid("expires before it was issued")
	case v.MaxTTL > 0 && c.Expiry.Sub(c.IssuedAt) > v.MaxTTL:
		return nil, invalid("lifetime longer than allowed")
	}
	return &c, nil
}

// numericDate parses a JWT NumericDate, accepting only a plain non-negative
// integer of seconds below year 10000: no fraction, exponent, sign or
// string.
func numericDate(raw json.RawMessage) (time.Time, error) {
	s := string(raw)
	if s == "" || len(s) > 12 {
		return time.Time{}, errors.New("not an integer date")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, errors.New("not an integer date")
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > 253402300799 {
		return time.Time{}, errors.New("date out of range")
	}
	return time.Unix(n, 0), nil
}

// audience accepts a string, or an array of strings with at least one
// element, as RFC 7519 allows; anything else is invalid.
func audience(raw json.RawMessage) ([]string, error) {
	if raw == nil {
		return nil, invalid("claim \"aud\" missing")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, invalid("claim \"aud\" is empty")
		}
		return []string{s}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil || len(list) == 0 {
		return nil, invalid("claim \"aud\" is neither a string nor an array of strings")
	}
	for _, a := range list {
		if a == "" {
			return nil, invalid("claim \"aud\" has an empty member")
		}
	}
	return list, nil
}
