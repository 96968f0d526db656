package server

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/token"
)

// bearerToken returns the access token from the Authorization header. The
// token is read from the header only (RFC 6750 §2.1): a token in the query
// string or a form body is ignored, and sending one in the query as well as
// the header is a bad request.
func bearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	// The raw query, not the parsed one: url.ParseQuery drops a pair that
	// contains a semicolon, which would hide "?access_token=…;".
	if strings.Contains(r.URL.RawQuery, "access_token") && len(values) > 0 {
		return "", gatehouse.Errorf(gatehouse.EInvalidRequest, "send the access token in the Authorization header only")
	}
	switch len(values) {
	case 0:
		return "", gatehouse.Errorf(gatehouse.EUnauthorized, "an access token is required")
	case 1:
	default:
		return "", gatehouse.Errorf(gatehouse.EInvalidRequest, "more than one Authorization header")
	}
	scheme, tok, _ := strings.Cut(values[0], " ")
	tok = strings.Trim(tok, " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", gatehouse.Errorf(gatehouse.EInvalidToken, "expected a bearer token")
	}
	return tok, nil
}

// authenticate verifies the request's access token and returns its claims.
func (s *Server) authenticate(r *http.Request) (*token.Claims, error) {
	raw, err := bearerToken(r)
	if err != nil {
		return nil, err
	}
	claims, err := s.verifier.Verify(raw)
	if err != nil {
		return nil, &gatehouse.Error{Code: gatehouse.EInvalidToken, Message: "the access token is invalid or expired", Err: err}
	}
	return claims, nil
}

// session returns the session and user of the request's access token, as
// stored now. The token must name a session that is still active, of a
// user who still exists and is not disabled: revocation takes effect on the
// next request, with no cache in between.
func (s *Server) session(r *http.Request) (*gatehouse.Session, *gatehouse.User, error) {
	claims, err := s.authenticate(r)
	if err != nil {
		return nil, nil, err
	}
	return s.sessions.Authenticate(r.Context(), claims.SessionID, claims.Subject)
}

// handleMe returns the token's user as stored now.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	_, u, err := s.session(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// Require returns middleware that lets a request through to next only with
// a valid access token of an active session whose user still exists and is
// not disabled, and stores that user in the request context for
// gatehouse.UserFromContext. Other requests get a 401 with the standard
// JSON error body and WWW-Authenticate header (a 503 if the database is
// unavailable).
func (s *Server) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, u, err := s.session(r)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(gatehouse.NewContext(r.Context(), u)))
	})
}
