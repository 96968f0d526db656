package clientip

import (
	"net/netip"
	"testing"
)

func TestResolve(t *testing.T) {
	trusted := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")})
	tests := []struct {
		name   string
		r      *Resolver
		remote string
		xff    []string
		want   string
	}{
		{"no proxy trusted", New(nil), "203.0.113.9:4000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"zero resolver", &Resolver{}, "203.0.113.9:4000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"untrusted peer ignores XFF", trusted, "203.0.113.9:4000", []string{"127.0.0.1"}, "203.0.113.9"},
		{"trusted peer, one hop", trusted, "10.1.2.3:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"rightmost untrusted wins", trusted, "10.1.2.3:4000", []string{"1.1.1.1, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several header lines", trusted, "10.1.2.3:4000", []string{"1.1.1.1", "198.51.100.1"}, "198.51.100.1"},
		{"garbled hop stops", trusted, "10.1.2.3:4000", []string{"198.51.100.1, junk"}, "10.1.2.3"},
		{"garbled hop left of a trusted one", trusted, "10.1.2.3:4000", []string{"garbage, 10.9.9.9"}, "10.9.9.9"},
		{"all trusted", trusted, "10.1.2.3:4000", []string{"10.0.0.1"}, "10.0.0.1"},
		{"trusted peer, no header", trusted, "10.1.2.3:4000", nil, "10.1.2.3"},
		{"mapped IPv4 peer", New(nil), "[::ffff:192.0.2.7]:80", nil, "192.0.2.7"},
		{"IPv6 loopback trusted", trusted, "[::1]:80", []string{"2001:db8::5"}, "2001:db8::5"},
		{"zone dropped", New(nil), "[fe80::1%eth0]:80", nil, "fe80::1"},
		{"bare address", New(nil), "192.0.2.8", nil, "192.0.2.8"},
		{"unparseable peer", New(nil), "in-process", nil, "invalid IP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Resolve(tc.remote, tc.xff).String(); got != tc.want {
				t.Fatalf("Resolve(%q, %q) = %s, want %s", tc.remote, tc.xff, got, tc.want)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true}, {"127.9.9.9", true}, {"::1", true}, {"::ffff:127.0.0.1", true},
		{"0.0.0.0", false}, {"10.0.0.1", false}, {"::", false}, {"192.0.2.1", false},
	} {
		if got := IsLoopback(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("IsLoopback(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	if IsLoopback(netip.Addr{}) {
		t.Error("IsLoopback(zero) = true, want false")
	}
}
