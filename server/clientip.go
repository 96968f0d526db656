package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the address of the client, as the trusted-proxy rule sees
// it. The peer's address is the answer, unless the peer is a trusted proxy
// (Config.TrustedProxies): then X-Forwarded-For is read from the right,
// skipping trusted proxies, and the first address that is not one is the
// client. Every other forwarding header (X-Real-IP, Forwarded, …) is
// ignored, and so is X-Forwarded-For from anyone else: a client cannot
// choose the address it is logged and listed under.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer.String()
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: believe nothing to its left
		}
		client = a.Unmap()
		if !s.trusted(client) {
			break
		}
	}
	return client.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.trustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
