package server

import (
	"net"
	"net/http"
)

// clientIP is the address of the client under the trusted-proxy rule
// (package clientip), as text for logs and the session list.
func (s *Server) clientIP(r *http.Request) string {
	a := s.clients.Resolve(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
	if !a.IsValid() {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr
		}
		return host
	}
	return a.String()
}
