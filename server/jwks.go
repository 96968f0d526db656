package server

import (
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse/keys"
)

// jwksCacheControl lets verifiers cache the JWKS and the discovery
// document for keys.JWKSMaxAge, which a new key's publication lead is
// longer than.
var jwksCacheControl = "public, max-age=" + strconv.Itoa(int(keys.JWKSMaxAge.Seconds()))

// handleJWKS serves the public signing keys: the next, the active and the
// retired ones (package keys). They may be cached for keys.JWKSMaxAge; a
// key is listed for longer than that before it signs, and for longer than
// any token it signed lives after it retires.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", jwksCacheControl)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(s.keys.JWKS())
}

// handleDiscovery serves enough OpenID Connect discovery metadata for JWT
// libraries to find the keys from the issuer alone.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", jwksCacheControl)
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":   s.publicURL,
		"jwks_uri": s.publicURL + "/.well-known/jwks.json",
	})
}
