package server

import (
	"net/http"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/token"
)

// bearerToken returns the access token from the Authorization header, as
// token.FromHeader reads it.
func bearerToken(r *http.Request) (string, error) {
	return token.FromHeader(r.Header.Values("Authorization"), r.URL.RawQuery)
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
func (s *Server) session(r *http.Request) (*gatehouse.SessionStatus, *gatehouse.User, error) {
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
	writeUser(w, u)
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
