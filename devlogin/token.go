package devlogin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]string{"error": code})
}

// handleToken exchanges a code for an access token (RFC 6749 §4.1.3 with
// RFC 7636), and an ID token if the authorization request asked for the
// openid scope (OpenID Connect Core 1.0 §3.1.3.3): the client must
// authenticate (tokenAuthMethods), repeat the redirect_uri and present the
// PKCE verifier. A code works once. It is served only through the
// back-channel.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodySize)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	f := r.PostForm
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	if !equal(id, s.clientID) || !equal(secret, s.clientSecret) {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if f.Get("grant_type") != "authorization_code" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	now := s.now()
	s.mu.Lock()
	// Taken whatever follows: a code presented with a wrong verifier or
	// redirect_uri is spent too.
	g, ok := s.codes.take(now, f.Get("code"))
	s.mu.Unlock()
	if !ok || f.Get("redirect_uri") != s.cfg.RedirectURI || !equal(s256(f.Get("code_verifier")), g.challenge) {
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	resp := map[string]any{
		"token_type": "Bearer",
		"expires_in": int(tokenTTL.Seconds()),
		// Every login gets the profile and email claims, whatever it
		// asked for: the dev login has nothing else to give.
		"scope": "profile email",
	}
	if slices.Contains(strings.Fields(g.scope), "openid") {
		idToken, err := s.idSigner.sign(s.Issuer(), s.clientID, g.nonce, g.user, now)
		if err != nil {
			oauthError(w, http.StatusInternalServerError, "server_error")
			return
		}
		resp["id_token"] = idToken
		resp["scope"] = "openid profile email"
	}
	tok := randomString()
	s.mu.Lock()
	added := s.tokens.add(now, tok, &grant{user: g.user})
	retry := s.tokens.retryAfter(now)
	s.mu.Unlock()
	if !added {
		w.Header().Set("Retry-After", seconds(retry))
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable")
		return
	}
	resp["access_token"] = tok
	writeJSON(w, http.StatusOK, resp)
}

// handleUserinfo answers the profile of the access token's user, once: a
// login reads it right after the code exchange, and a token read is gone,
// so that finished logins hold none of the maxTokens places.
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		oauthError(w, http.StatusUnauthorized, "invalid_token")
		return
	}
	s.mu.Lock()
	g, ok := s.tokens.take(s.now(), tok)
	s.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		oauthError(w, http.StatusUnauthorized, "invalid_token")
		return
	}
	writeJSON(w, http.StatusOK, g.user)
}
