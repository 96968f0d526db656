// Package testaddr finds free loopback addresses for tests that start a
// server in another process, or must name its address before it listens.
package testaddr

import (
	"net"
	"testing"
)

// Free returns a loopback address (127.0.0.1:port) whose port was free a
// moment ago.
func Free(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
