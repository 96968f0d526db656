package netguard

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// listen returns a Listener on a free loopback port.
func listen(t *testing.T, cfg Config) *Listener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewListener(inner, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// serveHTTP serves h on l until the test ends.
func serveHTTP(t *testing.T, l *Listener, srv *http.Server) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
}

func ok(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }

// dial opens a raw TCP connection to l, closed when the test ends.
func dial(t *testing.T, l *Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitOpen waits until l counts n open connections.
func waitOpen(t *testing.T, l *Listener, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.Open() != n {
		if time.Now().After(deadline) {
			t.Fatalf("open connections: got %d, want %d", l.Open(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// get sends a GET for path on c and reads the answer, leaving c open.
func get(t *testing.T, c net.Conn, r *bufio.Reader, path string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: gatehouse.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp, string(body)
}

// TestListenerCapsConnections: past the cap, a new connection is not served
// until an open one closes.
func TestListenerCapsConnections(t *testing.T) {
	const max = 4
	l := listen(t, Config{Max: max})
	serveHTTP(t, l, &http.Server{Handler: http.HandlerFunc(ok)})

	silent := make([]net.Conn, max)
	for i := range silent {
		silent[i] = dial(t, l)
	}
	waitOpen(t, l, max)

	next := dial(t, l)
	if _, err := io.WriteString(next, "GET / HTTP/1.1\r\nHost: gatehouse.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The negative needs a wait: nothing signals an answer that never comes.
	next.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	r := bufio.NewReader(next)
	if _, err := r.Peek(1); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection %d past the cap: got %v, want no answer", max+1, err)
	}
	if got := l.Open(); got != max {
		t.Errorf("open connections: got %d, want %d", got, max)
	}

	silent[0].Close()
	next.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("after a slot was freed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status: got %d, want %d", resp.StatusCode, http.StatusOK)
	}
}

// TestCrowdedShedsIdleKeepAlives: idle keep-alive connections filling the
// cap are closed for a new client when Crowded turns keep-alives off.
func TestCrowdedShedsIdleKeepAlives(t *testing.T) {
	const max = 4
	srv := &http.Server{Handler: http.HandlerFunc(ok)}
	l := listen(t, Config{Max: max, Crowded: func(crowded bool) { srv.SetKeepAlivesEnabled(!crowded) }})
	serveHTTP(t, l, srv)

	for range max {
		c := dial(t, l)
		get(t, c, bufio.NewReader(c), "/")
	}

	c := dial(t, l)
	resp, body := get(t, c, bufio.NewReader(c), "/healthz")
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Errorf("new client: got %d %q, want %d %q", resp.StatusCode, body, http.StatusOK, "ok")
	}
}

// TestCrowdedHysteresis: Crowded turns on above 90% of Max and off again at
// 75%, not in between.
func TestCrowdedHysteresis(t *testing.T) {
	calls := make(chan bool, 10)
	l := listen(t, Config{Max: 20, Crowded: func(crowded bool) { calls <- crowded }})
	steps := []struct {
		name    string
		open    int
		crowded bool
	}{
		{"at 90%", 18, false},
		{"above 90%", 19, true},
		{"full", 20, true},
		{"back to 90%", 18, true},
		{"above 75%", 16, true},
		{"at 75%", 15, false},
		{"back up to 90%", 18, false},
		{"above 90% again", 19, true},
		{"empty", 0, false},
	}
	crowded := false
	for _, s := range steps {
		l.add(s.open - l.Open())
		if got := l.Open(); got != s.open {
			t.Fatalf("%s: open: got %d, want %d", s.name, got, s.open)
		}
		l.mu.Lock()
		got := l.crowded
		l.mu.Unlock()
		if got != s.crowded {
			t.Fatalf("%s: crowded: got %v, want %v", s.name, got, s.crowded)
		}
		if s.crowded == crowded {
			continue
		}
		crowded = s.crowded
		select {
		case got := <-calls:
			if got != s.crowded {
				t.Fatalf("%s: Crowded(%v), want Crowded(%v)", s.name, got, s.crowded)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no call of Crowded, want Crowded(%v)", s.name, s.crowded)
		}
	}
	l.Close()
	select {
	case got := <-calls:
		t.Errorf("extra call Crowded(%v)", got)
	default:
	}
}

// TestCloseEndsWaitingAccept: an Accept waiting for a slot returns when the
// listener closes, so that http.Server.Shutdown does not wait for a slot.
func TestCloseEndsWaitingAccept(t *testing.T) {
	l := listen(t, Config{Max: 1})
	dial(t, l)
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	errc := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Close()
		}
		errc <- err
	}()
	l.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept: got %v, want %v", err, net.ErrClosed)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still waiting after Close")
	}
}

// TestCloseFreesSlotOnce: closing a connection twice frees one slot.
func TestCloseFreesSlotOnce(t *testing.T) {
	l := listen(t, Config{Max: 2})
	dial(t, l)
	dial(t, l)
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	a.Close()
	if got := l.Open(); got != 1 {
		t.Errorf("open connections: got %d, want 1", got)
	}
	if got := len(l.slots); got != 1 {
		t.Fatalf("slots taken: got %d, want 1", got)
	}
	b.Close() // with no slot left to free, this would wait for ever
}

func TestNewListenerRefusesNoConnections(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	if _, err := NewListener(inner, Config{Max: 0}); err == nil {
		t.Error("Max 0: got no error")
	}
}
