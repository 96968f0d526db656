package devlogin

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"

	"github.com/gatehouse/gatehouse/clientip"
)

// LoopbackAddr reports whether hostport, an address to listen on such as
// GATEHOUSE_ADDR, names only this machine: its host is "localhost" or a
// loopback IP literal (127.0.0.0/8 or ::1). An empty host, which listens on
// every interface, is not loopback. It lets a configuration be checked
// before anything listens; New checks the address actually bound.
func LoopbackAddr(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && clientip.IsLoopback(ip)
}

// checkListener returns an error unless addr is a TCP address on a loopback
// IP.
func checkListener(addr net.Addr) error {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp == nil {
		return fmt.Errorf("devlogin: Listener %v is not a TCP address; the development login runs only on a loopback TCP listener", addr)
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok || !clientip.IsLoopback(ip) {
		return fmt.Errorf("devlogin: Listener %s is not a loopback address (127.0.0.0/8 or ::1): anyone who reaches the development login can sign in as anyone", tcp)
	}
	return nil
}

// loopbackOnly answers 403 to every request whose client, under the
// trusted-proxy rule, is not on this machine, and to every request that
// names a forwarded client without coming from a trusted proxy: it went
// through a proxy Gatehouse was not told about, typically one on this
// machine that makes every client look loopback, so its client is unknown.
func (s *Server) loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !clientip.IsLoopback(s.clientAddr(r)) || s.unknownProxy(r) {
			s.page(w, http.StatusForbidden, pageData{Error: "The development login accepts only browsers on the machine Gatehouse runs on."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) clientAddr(r *http.Request) netip.Addr {
	return s.clients.Resolve(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
}

// forwardingHeaders are the headers proxies name the client in.
var forwardingHeaders = []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"}

// unknownProxy reports whether r names a forwarded client but its peer is
// not a trusted proxy.
func (s *Server) unknownProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err == nil && s.clients.Trusted(peer.Unmap().WithZone("")) {
		return false
	}
	for _, h := range forwardingHeaders {
		if len(r.Header.Values(h)) > 0 {
			return true
		}
	}
	return false
}
