// Package rawhttp sends a request written out by hand, byte for byte, on
// a new TCP connection, for tests of what net/http clients never send
// (fragments, malformed lines, huge headers) and of answers servers write
// outside any handler.
package rawhttp

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// Do writes request to a new connection to addr (host:port), reads one
// answer, and returns it with its body, failing the test on any error.
func Do(t testing.TB, addr, request string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return Send(t, c, request)
}

// Send writes request to c and reads one answer and its body.
func Send(t testing.TB, c net.Conn, request string) (*http.Response, []byte) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}
