package server

import (
	"net/http"
)

// handleJWKS serves the public signing keys. They are public and may be
// cached for a while; a key stays listed for longer than any token it
// signed lives.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(s.keys.JWKS())
}

// handleDiscovery serves enough OpenID Connect discovery metadata for JWT
// libraries to find the keys from the issuer alone.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":   s.publicURL,
		"jwks_uri": s.publicURL + "/.well-known/jwks.json",
	})
}
