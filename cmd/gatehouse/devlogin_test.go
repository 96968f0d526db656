package main

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
)

// TestDevLoginNeedsLoopbackAddr: the development login is on by default
// only on a loopback listen address, and turning it on explicitly on any
// other is a startup error that names GATEHOUSE_ADDR.
func TestDevLoginNeedsLoopbackAddr(t *testing.T) {
	gh := []string{"GATEHOUSE_GITHUB_CLIENT_ID", "id", "GATEHOUSE_GITHUB_CLIENT_SECRET", "s"}
	cases := []struct {
		name     string
		env      []string
		devLogin bool
		err      []string // what the error must mention; nil for no error
	}{
		{"default address", nil, true, nil},
		{"loopback IPv4", []string{"GATEHOUSE_ADDR", "127.0.0.1:8080"}, true, nil},
		{"loopback IPv6, explicit", []string{"GATEHOUSE_ADDR", "[::1]:8080", "GATEHOUSE_DEV_LOGIN", "true"}, true, nil},
		{"all interfaces, no other provider", []string{"GATEHOUSE_ADDR", "0.0.0.0:8080"}, false,
			[]string{"no login provider", "GATEHOUSE_ADDR", "loopback"}},
		{"all interfaces with GitHub", append([]string{"GATEHOUSE_ADDR", "0.0.0.0:8080"}, gh...), false, nil},
		{"all interfaces, explicit", []string{"GATEHOUSE_ADDR", "0.0.0.0:8080", "GATEHOUSE_DEV_LOGIN", "true"}, false,
			[]string{"GATEHOUSE_ADDR", "0.0.0.0:8080", "loopback"}},
		{"all IPv6 interfaces, explicit", []string{"GATEHOUSE_ADDR", "[::]:8080", "GATEHOUSE_DEV_LOGIN", "true"}, false,
			[]string{"GATEHOUSE_ADDR", "loopback"}},
		{"empty host, explicit", []string{"GATEHOUSE_ADDR", ":8080", "GATEHOUSE_DEV_LOGIN", "true"}, false,
			[]string{"GATEHOUSE_ADDR", "loopback"}},
		{"public address with GitHub, explicit", append([]string{"GATEHOUSE_ADDR", "192.0.2.1:8080", "GATEHOUSE_DEV_LOGIN", "true"}, gh...), false,
			[]string{"GATEHOUSE_ADDR", "loopback"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := loadConfig(nil, env(c.env...), io.Discard)
			if c.err == nil {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				if cfg.devLogin != c.devLogin {
					t.Errorf("devLogin: got %v, want %v", cfg.devLogin, c.devLogin)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error (devLogin %v), want one mentioning %q", cfg.devLogin, c.err)
			}
			for _, s := range c.err {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

// TestServeRefusesDevLoginOnNonLoopbackListener: whatever the
// configuration said, serve does not start the development login on a
// listener that is not loopback.
func TestServeRefusesDevLoginOnNonLoopbackListener(t *testing.T) {
	cfg, err := loadConfig(nil, env("GATEHOUSE_DATA_DIR", t.TempDir()), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ln := addrOnlyListener{&net.TCPAddr{IP: net.IPv4zero, Port: 8080}}
	err = serve(context.Background(), cfg, ln, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("serve on 0.0.0.0:8080 with the dev login: got %v, want an error about loopback", err)
	}
}

// addrOnlyListener is a net.Listener that only has an address: serve must
// refuse it before accepting anything.
type addrOnlyListener struct{ addr net.Addr }

func (l addrOnlyListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (l addrOnlyListener) Close() error              { return nil }
func (l addrOnlyListener) Addr() net.Addr            { return l.addr }
