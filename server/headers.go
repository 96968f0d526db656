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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		if s.https {
			h.Set("Strict-Transport-Security", "max-age=63072000")
		}
		next.ServeHTTP(w, r)
	})
}

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
		h.Add("Vary", "Origin")
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
