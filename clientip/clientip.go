// Package clientip decides which address a request comes from, for audit
// logs, the session list, rate limits and the development login's loopback
// rule. It is written once here so that every part of Gatehouse agrees on
// the answer.
//
// The peer's address is the answer unless the peer is a trusted reverse
// proxy. Then X-Forwarded-For is read from the right, skipping trusted
// proxies, and the first address that is not one is the client. Every other
// forwarding header (X-Real-IP, Forwarded, …) is ignored, and so is
// X-Forwarded-For from anyone else: a client cannot choose the address it is
// logged, listed and rate-limited under.
package clientip

import (
	"net"
	"net/netip"
	"strings"
)

// Resolver finds client addresses. Its zero value trusts no proxy.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver that believes X-Forwarded-For from peers in the
// trusted networks.
func New(trusted []netip.Prefix) *Resolver {
	r := &Resolver{}
	for _, p := range trusted {
		r.trusted = append(r.trusted, p.Masked())
	}
	return r
}

// Resolve returns the client address of a request whose peer is remoteAddr
// (host:port, as in http.Request.RemoteAddr) and whose X-Forwarded-For
// header values are forwardedFor. It returns the zero Addr if the peer's
// address cannot be parsed.
func (r *Resolver) Resolve(remoteAddr string, forwardedFor []string) netip.Addr {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap().WithZone("")
	if !r.Trusted(peer) {
		return peer
	}
	var hops []string
	for _, v := range forwardedFor {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: believe nothing to its left
		}
		client = a.Unmap().WithZone("")
		if !r.Trusted(client) {
			break
		}
	}
	return client
}

// Trusted reports whether a is the address of a trusted proxy.
func (r *Resolver) Trusted(a netip.Addr) bool {
	if r == nil {
		return false
	}
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// IsLoopback reports whether a is a loopback address (127.0.0.0/8 or ::1).
// The zero Addr is not.
func IsLoopback(a netip.Addr) bool {
	return a.IsValid() && a.Unmap().IsLoopback()
}
