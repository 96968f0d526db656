package server

import (
	"net/http"

	"github.com/gatehouse/gatehouse"
)

// securityHeaders sets the headers every API response carries. Responses
// are JSON that no browser should render, frame, cache or leak a referrer
// from; handlers that serve public, cacheable documents (the JWKS) override
// Cache-Control.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	headers := securityHeaders
	if s.https {
		headers = append(headers, [2]string{"Strict-Transport-Security", "max-age=63072000"})
	}
	// Each value is one shared slice, set as it is: Header.Set and Add
	// replace or grow a value (its capacity is its length), never write
	// into it, and this saves an allocation per header per request.
	values := make([][]string, len(headers))
	for i, kv := range headers {
		values[i] = []string{kv[1]}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for i, kv := range headers {
			h[kv[0]] = values[i]
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders are the headers, in canonical form, of every answer.
var securityHeaders = [][2]string{
	{"Cache-Control", "no-store"},
	{"Pragma", "no-cache"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Content-Type-Options", "nosniff"},
	{"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
	{"X-Frame-Options", "DENY"},
}

// varyOrigin is the Vary header of every answer (see securityHeaders for
// why it is shared).
var varyOrigin = []string{"Origin"}

// allowedOrigin reports whether a browser page at origin may call the API
// with credentials: Gatehouse's own origin and the configured CORS origins
// (by default the app's). "null" and every other origin are refused.
func (s *Server) allowedOrigin(origin string) bool {
	return origin == s.publicOrig || s.corsOrigins[origin]
}

// cors answers preflight requests and adds CORS headers for allowed
// origins, echoing the exact origin, never "*". A state-changing request
// whose Origin is not allowed is refused before it reaches a handler.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if _, ok := h["Vary"]; ok {
			h.Add("Vary", "Origin")
		} else {
			h["Vary"] = varyOrigin
		}
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		allowed := s.allowedOrigin(origin)
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if !allowed {
				s.renderError(w, r, gatehouse.Errorf(gatehouse.EAccessDenied, "origin not allowed"))
				return
			}
			h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Requested-With")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if !allowed && r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.renderError(w, r, gatehouse.Errorf(gatehouse.EAccessDenied, "origin not allowed"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
