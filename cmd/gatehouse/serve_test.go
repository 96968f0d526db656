package main

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"fmt"
	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/devlogin/devlogintest"
	"github.com/gatehouse/gatehouse/internal/rawhttp"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
	"net/url"
)

func TestConnectionSettings(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		env      []string
		max      int
		shutdown time.Duration
	}{
		{"defaults", nil, nil, 1024, 10 * time.Second},
		{"environment", nil, []string{"GATEHOUSE_MAX_CONNECTIONS", "16", "GATEHOUSE_SHUTDOWN_TIMEOUT", "0"}, 16, 0},
		{"flags", []string{"--max-connections", "1048576", "--shutdown-timeout", "10m"},
			[]string{"GATEHOUSE_MAX_CONNECTIONS", "16", "GATEHOUSE_SHUTDOWN_TIMEOUT", "1s"}, 1 << 20, 10 * time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := loadConfig(c.args, env(c.env...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.maxConnections != c.max || cfg.ShutdownTimeout != c.shutdown {
				t.Errorf("got %d, %s, want %d, %s", cfg.maxConnections, cfg.ShutdownTimeout, c.max, c.shutdown)
			}
		})
	}
}

func TestBadConnectionSettingsNameTheSetting(t *testing.T) {
	cases := []struct {
		name, setting, value string
	}{
		{"max connections too few", "GATEHOUSE_MAX_CONNECTIONS", "15"},
		{"max connections too many", "GATEHOUSE_MAX_CONNECTIONS", "1048577"},
		{"max connections not a number", "GATEHOUSE_MAX_CONNECTIONS", "lots"},
		{"max connections negative", "GATEHOUSE_MAX_CONNECTIONS", "-1"},
		{"shutdown timeout negative", "GATEHOUSE_SHUTDOWN_TIMEOUT", "-1s"},
		{"shutdown timeout too long", "GATEHOUSE_SHUTDOWN_TIMEOUT", "11m"},
		{"shutdown timeout not a duration", "GATEHOUSE_SHUTDOWN_TIMEOUT", "10"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadConfig(nil, env(c.setting, c.value), io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.setting) {
				t.Errorf("got %v, want an error naming %s", err, c.setting)
			}
		})
	}
}

// TestServeAnswersUnreadableRequestsInJSON: the answers net/http writes
// itself come out as the API's JSON errors.
func TestServeAnswersUnreadableRequestsInJSON(t *testing.T) {
	base, _, stop := startServe(t, "GATEHOUSE_DATA_DIR", t.TempDir())
	defer stop()

	cases := []struct {
		name    string
		request string
		status  int
		code    string
	}{
		{"header too large", "GET /me HTTP/1.1\r\nHost: localhost\r\nCookie: " + strings.Repeat("a", 20<<10) + "\r\n\r\n",
			http.StatusRequestHeaderFieldsTooLarge, gatehouse.EHeaderTooLarge},
		{"malformed request line", "GET /me HTTP/1.1 extra\r\nHost: localhost\r\n\r\n", http.StatusBadRequest, gatehouse.EInvalidRequest},
		{"malformed header", "GET /me HTTP/1.1\r\nHost: localhost\r\nX-A: <evil>\x00\r\n\r\n", http.StatusBadRequest, gatehouse.EInvalidRequest},
		{"unsupported Transfer-Encoding", "POST /auth/refresh HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: x-evil\r\n\r\n",
			http.StatusNotImplemented, gatehouse.EInvalidRequest},
		{"HTTP/2 request line", "GET /me HTTP/2.0\r\nHost: localhost\r\n\r\n", http.StatusHTTPVersionNotSupported, gatehouse.EInvalidRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := rawhttp.Do(t, strings.TrimPrefix(base, "http://"), c.request)
			var e struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if resp.StatusCode != c.status || e.Error != c.code || e.Description == "" {
				t.Errorf("got %d %+v, want %d %s", resp.StatusCode, e, c.status, c.code)
			}
			if got, want := resp.Header.Get("Content-Type"), "application/json; charset=utf-8"; got != want {
				t.Errorf("Content-Type: got %q, want %q", got, want)
			}
			if strings.Contains(string(body), "evil") {
				t.Errorf("body repeats the request: %q", body)
			}
		})
	}
}

// TestServeShedsIdleKeepAlives: idle keep-alive connections filling
// GATEHOUSE_MAX_CONNECTIONS do not keep a new client out.
func TestServeShedsIdleKeepAlives(t *testing.T) {
	const max = 16
	base, logs, stop := startServe(t, "GATEHOUSE_DATA_DIR", t.TempDir(), "GATEHOUSE_MAX_CONNECTIONS", "16")
	defer stop()
	http.DefaultClient.CloseIdleConnections()

	for range max {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("filling the connections: %v\n%s", err, logs)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("new client: %v\n%s", err, logs)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("new client: got %d, want %d", resp.StatusCode, http.StatusOK)
	}
	if !strings.Contains(logs.String(), "near the connection limit") {
		t.Errorf("the log does not say the server was crowded:\n%s", logs)
	}
}

// TestServeShutdownCutsSlowRequest: a request still running when
// GATEHOUSE_SHUTDOWN_TIMEOUT runs out is cut, logged, and serve returns nil.
func TestServeShutdownCutsSlowRequest(t *testing.T) {
	base, logs, stop := startServe(t, "GATEHOUSE_DATA_DIR", t.TempDir(), "GATEHOUSE_SHUTDOWN_TIMEOUT", "200ms")
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The server says 100 Continue when the handler starts reading the
	// body, which never comes.
	_, err = io.WriteString(c, "POST /auth/dev/authorize HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"+
		"Content-Length: 100\r\nExpect: 100-continue\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("got %v, %v, want 100 Continue\n%s", resp, err, logs)
	}

	if err := stop(); err != nil {
		t.Errorf("serve: got %v, want nil", err)
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"shutdown drain timed out; cut the requests in flight\" requests=1 ") {
		t.Errorf("the log does not name 1 cut request:\n%s", logs)
	}
}

// TestDrain runs the server's shutdown on a handler that finishes only
// when its client goes.
func TestDrain(t *testing.T) {
	cases := []struct {
		name    string
		timeout time.Duration
		blocked bool // a request is running
		idle    bool // a keep-alive connection is open between requests
		log     string
	}{
		{"nothing running", time.Second, false, false, "level=INFO msg=\"shutdown drained\""},
		{"an idle connection", time.Second, false, true, "level=INFO msg=\"shutdown drained\""},
		{"an idle connection, no wait", 0, false, true, "level=INFO msg=\"shutdown drained\""},
		{"a request running", 200 * time.Millisecond, true, false,
			"level=WARN msg=\"shutdown drain timed out; cut the requests in flight\" requests=1 connections=1 timeout=200ms"},
		{"a request running, no wait", 0, true, true,
			"level=WARN msg=\"shutdown drain timed out; cut the requests in flight\" requests=1 connections=1 timeout=0s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			logs := &syncbuf.Buffer{}
			log := slog.New(slog.NewTextHandler(logs, nil))
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			started := make(chan struct{}, 1)
			var requests inFlight
			srv := newHTTPServer(requests.count(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/block" {
					started <- struct{}{}
					<-r.Context().Done()
				}
			})), log.Handler())
			idle := make(chan struct{}, 1)
			srv.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateIdle {
					idle <- struct{}{}
				}
			}
			guarded, err := guard(ln, srv, 16, log)
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(guarded) }()

			if c.idle {
				resp, err := http.Get("http://" + ln.Addr().String() + "/")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				defer http.DefaultClient.CloseIdleConnections()
				<-idle
			}
			if c.blocked {
				conn, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				io.WriteString(conn, "GET /block HTTP/1.1\r\nHost: localhost\r\n\r\n")
				<-started
			}

			if err := drain(srv, guarded, &requests, c.timeout, log); err != nil {
				t.Errorf("drain: got %v, want nil", err)
			}
			if err := <-served; err != http.ErrServerClosed {
				t.Errorf("Serve: got %v, want %v", err, http.ErrServerClosed)
			}
			if !strings.Contains(logs.String(), c.log) {
				t.Errorf("got log\n%s\nwant a line with %s", logs, c.log)
			}
		})
	}
}

// TestServeDevLoginSurvivesShutdown: a development login in flight when
// shutdown begins completes during the drain, although the listener is
// closed: the provider's back-channel does not go through it.
func TestServeDevLoginSurvivesShutdown(t *testing.T) {
	base, logs, stop := startServe(t, "GATEHOUSE_DATA_DIR", t.TempDir(), "GATEHOUSE_SHUTDOWN_TIMEOUT", "10s")
	c := browser(t)
	var login struct{ URL string }
	getJSON(t, c, mustRequest(t, "GET", base+"/auth/dev/login", ""), &login)
	q, err := devlogintest.Approve(browser(t), login.URL, "allow", "Grace Hopper", "grace@example.com")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(base)
	var cookie string
	for _, ck := range c.Jar.Cookies(u) {
		cookie += ck.Name + "=" + ck.Value + "; "
	}
	body := `{"code":"` + q.Get("code") + `","state":"` + q.Get("state") + `"}`

	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /auth/dev/authorize HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nCookie: %s\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", u.Host, cookie, len(body))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(conn)
	if resp, err := http.ReadResponse(rd, nil); err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("got %v, %v, want 100 Continue", resp, err)
	}

	// Shut down while the handler waits for the body; wait until the
	// listener is closed.
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	for deadline := time.Now().Add(5 * time.Second); ; {
		probe, err := net.Dial("tcp", u.Host)
		if err != nil {
			break
		}
		probe.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener stayed open after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}

	io.WriteString(conn, body)
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(answer), "access_token") {
		t.Fatalf("authorize during the drain = %d %s, want 200 with a token\n%s", resp.StatusCode, answer, logs)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("serve: got %v, want nil", err)
	}
	if !strings.Contains(logs.String(), "shutdown drained") {
		t.Errorf("no clean drain in the log:\n%s", logs)
	}
}

// TestServeCutsSlowHeaders: clients that trickle their headers
// (Slowloris) are cut off once the header timeout passes, and meanwhile a
// legitimate request is answered at once.
func TestServeCutsSlowHeaders(t *testing.T) {
	base, logs, stop := startServe(t, "GATEHOUSE_DATA_DIR", t.TempDir())
	defer stop()
	host := strings.TrimPrefix(base, "http://")
	var slow []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /me HTTP/1.1\r\nHost: localhost\r\nX-Slow: a")
		slow = append(slow, c)
	}
	start := time.Now()
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz during the attack: %v, %v\n%s", resp, err, logs)
	}
	resp.Body.Close()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("/healthz took %v during the attack", d)
	}
	// Each slow client keeps sending a byte now and then; the server
	// closes it once the header timeout has passed.
	deadline := time.Now().Add(readHeaderTimeout + 5*time.Second)
	for _, c := range slow {
		for {
			c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			_, err := c.Read(make([]byte, 512))
			if err == io.EOF || (err != nil && !isTimeout(err)) {
				break // closed by the server, or answered and closed
			}
			if time.Now().After(deadline) {
				t.Fatalf("a slow client was still connected %v after it started", time.Since(start))
			}
			c.Write([]byte("a"))
		}
	}
	if took := time.Since(start); took < readHeaderTimeout-time.Second {
		t.Fatalf("slow clients were cut after %v, before the header timeout", took)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
