package verify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/token"
)

type claimsKey struct{}

// ClaimsFromContext returns the claims that Require stored in ctx.
func ClaimsFromContext(ctx context.Context) (*token.Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*token.Claims)
	return c, ok
}

// Require returns middleware that lets a request through to next only with
// a valid access token in its Authorization header, read as Gatehouse reads
// it (token.FromHeader), and stores the token's claims in the request
// context for ClaimsFromContext. Other requests get the answers of RFC 6750
// section 3, with Gatehouse's JSON error body:
//
//   - no Authorization header: 401, WWW-Authenticate: Bearer realm="…"
//     and no error attribute; error "unauthorized" in the body;
//   - a bad, expired or foreign token, or a header that is not a bearer
//     token: 401, error="invalid_token";
//   - more than one Authorization header, or a token in the query string as
//     well: 400, error="invalid_request".
//
// Require checks signatures and claims only; see the package doc for what
// that means for revoked sessions.
func (v *Verifier) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := token.FromHeader(r.Header.Values("Authorization"), r.URL.RawQuery)
		if err != nil {
			// FromHeader's errors are *gatehouse.Error with fixed messages.
			e, ok := errors.AsType[*gatehouse.Error](err)
			if !ok {
				e = gatehouse.Errorf(gatehouse.EInvalidRequest, "malformed Authorization header")
			}
			v.refuse(w, e.Code, e.Message)
			return
		}
		claims, err := v.Verify(r.Context(), raw)
		if err != nil {
			v.refuse(w, gatehouse.EInvalidToken, "the access token is invalid or expired")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims)))
	})
}

// refuse writes the challenge and the JSON error body for code, one of
// EUnauthorized, EInvalidToken and EInvalidRequest. The description is one
// of a few fixed, quote-free messages: never a token, never a verification
// detail.
func (v *Verifier) refuse(w http.ResponseWriter, code, description string) {
	status := http.StatusUnauthorized
	challenge := `Bearer realm="` + v.realm + `"`
	switch code {
	case gatehouse.EUnauthorized:
	case gatehouse.EInvalidRequest:
		status = http.StatusBadRequest
		challenge += `, error="` + code + `", error_description="` + description + `"`
	default:
		code = gatehouse.EInvalidToken
		challenge += `, error="` + code + `", error_description="` + description + `"`
	}
	b, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, description})
	h := w.Header()
	h.Set("WWW-Authenticate", challenge)
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
