package devlogin_test

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/devlogin"
)

func TestNewRefusesNonLoopbackListener(t *testing.T) {
	cases := []struct {
		name     string
		listener net.Addr
		ok       bool
	}{
		{"IPv4 loopback", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, true},
		{"IPv6 loopback", &net.TCPAddr{IP: net.IPv6loopback}, true},
		{"other IPv4 loopback", &net.TCPAddr{IP: net.IPv4(127, 1, 2, 3), Port: 8080}, true},
		{"IPv4 wildcard", &net.TCPAddr{IP: net.IPv4zero, Port: 8080}, false},
		{"IPv6 wildcard", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, false},
		{"no IP", &net.TCPAddr{Port: 8080}, false},
		{"public IP", &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 8080}, false},
		{"private IP", &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 8080}, false},
		{"nil", nil, false},
		{"nil TCP address", (*net.TCPAddr)(nil), false},
		{"unix socket", &net.UnixAddr{Name: "/run/gatehouse.sock", Net: "unix"}, false},
		{"UDP loopback", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := devlogin.New(devlogin.Config{PublicURL: publicURL, RedirectURI: redirect, Listener: c.listener})
			if got := err == nil; got != c.ok {
				t.Fatalf("New accepted %v: got %v, want %v (error %v)", c.listener, got, c.ok, err)
			}
			if err != nil && !strings.Contains(err.Error(), "Listener") {
				t.Errorf("error %q does not name the Listener", err)
			}
		})
	}
}

// TestNewAcceptsRealLoopbackListeners checks the addresses that net.Listen
// actually returns on loopback.
func TestNewAcceptsRealLoopbackListeners(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(addr, func(t *testing.T) {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Skipf("cannot listen on %s: %v", addr, err)
			}
			defer ln.Close()
			if _, err := devlogin.New(devlogin.Config{PublicURL: publicURL, RedirectURI: redirect, Listener: ln.Addr()}); err != nil {
				t.Errorf("New with listener %s: got %v, want no error", ln.Addr(), err)
			}
		})
	}
}

func TestLoopbackAddr(t *testing.T) {
	cases := []struct {
		addr string
		want bool
	}{
		{"localhost:8080", true},
		{"127.0.0.1:8080", true},
		{"127.8.9.10:8080", true},
		{"[::1]:8080", true},
		{"[::ffff:127.0.0.1]:8080", true},
		{"0.0.0.0:8080", false},
		{"[::]:8080", false},
		{":8080", false},
		{"192.0.2.1:8080", false},
		{"[2001:db8::1]:8080", false},
		{"example.com:8080", false},
		{"localhost.example.com:8080", false},
		{"localhost", false},
		{"127.0.0.1", false},
		{"", false},
	}
	for _, c := range cases {
		if got := devlogin.LoopbackAddr(c.addr); got != c.want {
			t.Errorf("LoopbackAddr(%q): got %v, want %v", c.addr, got, c.want)
		}
	}
}

// TestNonLoopbackClientsAreRefused: the authorize page and form answer 403
// and keep nothing to any client that is not on this machine, whatever
// proxies say; loopback clients, direct or forwarded by a trusted proxy,
// get through.
func TestNonLoopbackClientsAreRefused(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	loopbackProxy := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	cases := []struct {
		name         string
		trusted      []netip.Prefix
		remoteAddr   string
		forwardedFor string
		ok           bool
	}{
		{"remote client", nil, "192.0.2.1:1234", "", false},
		{"remote IPv6 client", nil, "[2001:db8::1]:1234", "", false},
		{"private network client", proxies, "10.0.0.1:1234", "", false},
		{"trusted proxy forwarding a remote client", proxies, "10.0.0.1:1234", "192.0.2.1", false},
		{"trusted loopback proxy forwarding a remote client", loopbackProxy, "127.0.0.1:1234", "192.0.2.1", false},
		{"remote client claiming to be loopback", nil, "192.0.2.1:1234", "127.0.0.1", false},
		{"untrusted loopback proxy forwarding a remote client", nil, "127.0.0.1:1234", "192.0.2.1", false},
		{"unparsable peer", nil, "somewhere", "", false},
		{"loopback client", nil, "127.0.0.1:1234", "", true},
		{"IPv6 loopback client", nil, "[::1]:1234", "", true},
		{"trusted proxy forwarding a loopback client", proxies, "10.0.0.1:1234", "127.0.0.1", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.trusted...)
			pending := startLogin(t, f, f.client) // by a loopback browser
			client := f.browser(c.remoteAddr, c.forwardedFor)

			resp, page := get(t, client, f.provider.AuthCodeURL(params))
			if c.ok {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("authorize page: got %d, want 200", resp.StatusCode)
				}
			} else {
				if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
					t.Errorf("authorize page: got %d, Location %q; want 403, no redirect", resp.StatusCode, resp.Header.Get("Location"))
				}
				if !strings.Contains(page, "Development login") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
					t.Errorf("the 403 is not the styled page: %v\n%s", resp.Header, page)
				}
				if got := f.dev.Sizes().Requests; got != 1 {
					t.Errorf("pending requests after a refused page: got %d, want 1", got)
				}
			}

			resp = submit(t, client, pending, "allow")
			want := http.StatusForbidden
			if c.ok {
				want = http.StatusFound
			}
			if resp.StatusCode != want {
				t.Errorf("authorize form: got %d, want %d", resp.StatusCode, want)
			}
			if !c.ok {
				if got := f.dev.Sizes(); got.Requests != 1 || got.Codes != 0 {
					t.Errorf("after a refused form: got %d requests and %d codes, want 1 and 0", got.Requests, got.Codes)
				}
			}
		})
	}
}

func TestProviderIsLoopbackOnly(t *testing.T) {
	f := newFixture(t)
	lo, ok := f.provider.(gatehouse.LoopbackOnly)
	if !ok || !lo.LoopbackOnly() {
		t.Errorf("Provider() LoopbackOnly: got %v (implemented %v), want true", ok && lo.LoopbackOnly(), ok)
	}
}
