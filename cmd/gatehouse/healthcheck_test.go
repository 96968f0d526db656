package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHealthzURL(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"localhost:8080", "http://localhost:8080/healthz"},
		{":8080", "http://127.0.0.1:8080/healthz"},
		{"0.0.0.0:9000", "http://127.0.0.1:9000/healthz"},
		{"[::]:8080", "http://[::1]:8080/healthz"},
		{"10.0.0.5:8080", "http://10.0.0.5:8080/healthz"},
	}
	for _, tt := range tests {
		got, err := healthzURL(tt.addr)
		if err != nil || got != tt.want {
			t.Errorf("healthzURL(%q) = %q, %v, want %q", tt.addr, got, err, tt.want)
		}
	}
	if _, err := healthzURL("8080"); err == nil {
		t.Error("healthzURL(\"8080\"): no error")
	}
}

func TestHealthcheck(t *testing.T) {
	var (
		mu     sync.Mutex
		status = http.StatusOK
		paths  []string
	)
	setStatus := func(code int) { mu.Lock(); status = code; mu.Unlock() }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		code := status
		mu.Unlock()
		if r.URL.Path == "/slow" {
			// Longer than the client's timeout below; no clock to fake here.
			time.Sleep(300 * time.Millisecond)
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	check := func(args []string, kv ...string) error {
		return runHealthcheck(context.Background(), args, env(kv...), io.Discard)
	}
	if err := check(nil, "GATEHOUSE_ADDR", addr); err != nil {
		t.Errorf("200 from GATEHOUSE_ADDR: %v", err)
	}
	if err := check([]string{"--url", srv.URL + "/readyz"}); err != nil {
		t.Errorf("200 from --url: %v", err)
	}
	mu.Lock()
	if got, want := strings.Join(paths, ","), "GET /healthz,GET /readyz"; got != want {
		t.Errorf("requests = %q, want %q", got, want)
	}
	mu.Unlock()
	setStatus(http.StatusServiceUnavailable)
	if err := check(nil, "GATEHOUSE_ADDR", addr); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("503: got %v, want an error naming 503", err)
	}
	setStatus(http.StatusFound)
	if err := check(nil, "GATEHOUSE_ADDR", addr); err == nil {
		t.Error("302: no error")
	}
	setStatus(http.StatusOK)
	if err := check([]string{"--url", srv.URL + "/slow", "--timeout", "50ms"}); err == nil {
		t.Error("an answer slower than --timeout: no error")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if err := check(nil, "GATEHOUSE_ADDR", closed); err == nil {
		t.Error("nothing listening: no error")
	}
	if err := check([]string{"extra"}); err == nil {
		t.Error("an extra argument: no error")
	}
}
