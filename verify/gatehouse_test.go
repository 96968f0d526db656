package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testclock"
	"github.com/gatehouse/gatehouse/token"
	"github.com/gatehouse/gatehouse/verify"
)

const (
	audience = "https://app.example.com"
	ttl      = 15 * time.Minute
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// gatehouse is a stand-in for a Gatehouse server: it serves discovery and
// the JWKS of a real token.KeySet, as server/jwks.go does, and mints tokens
// with the set's signing key on the shared fake clock. Tests change what it
// serves between requests.
type gatehouse struct {
	t     testing.TB
	srv   *httptest.Server
	clock *testclock.Clock

	mu           sync.Mutex
	keys         *token.KeySet
	issuer       string        // the discovery document's issuer; the URL by default
	cacheControl string        // the JWKS answer's Cache-Control
	status       int           // the JWKS answer's status
	body         []byte        // if set, served instead of the JWKS
	location     string        // if set, the JWKS answer's Location
	gate         chan struct{} // if set, JWKS requests wait for it to close

	fetches atomic.Int32 // JWKS requests
}

// newGatehouse starts a stand-in Gatehouse with one ES256 signing key.
func newGatehouse(t testing.TB) *gatehouse {
	t.Helper()
	g := &gatehouse{t: t, clock: testclock.New(t0), cacheControl: "public, max-age=300", status: http.StatusOK}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	g.issuer = g.srv.URL
	k, _ := newKey(t)
	g.setKeys(k)
	return g
}

func (g *gatehouse) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	issuer, keys, cc, status, body, gate, location := g.issuer, g.keys, g.cacheControl, g.status, g.body, g.gate, g.location
	g.mu.Unlock()
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"issuer":"`+issuer+`","jwks_uri":"`+g.srv.URL+`/.well-known/jwks.json"}`)
	case "/.well-known/jwks.json":
		g.fetches.Add(1)
		if r.Method != http.MethodGet || r.Header.Get("Authorization") != "" {
			g.t.Errorf("JWKS request %s with Authorization %q", r.Method, r.Header.Get("Authorization"))
		}
		if gate != nil {
			<-gate
		}
		if body == nil {
			body = keys.JWKS()
		}
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		if location != "" && r.URL.RawQuery == "" {
			w.Header().Set("Location", location)
		} else if location != "" {
			status = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		w.Write(body)
	default:
		http.NotFound(w, r)
	}
}

// newKey returns a new ES256 key and its private half.
func newKey(t testing.TB) (*token.Key, *ecdsa.PrivateKey) {
	t.Helper()
	sk, err := token.GenerateKey(token.ES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	k, err := token.ParseKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(sk.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return k, priv.(*ecdsa.PrivateKey)
}

// setKeys makes Gatehouse sign with signing and publish it and others.
func (g *gatehouse) setKeys(signing *token.Key, others ...*token.Key) {
	g.t.Helper()
	set, err := token.NewKeySet(signing, others...)
	if err != nil {
		g.t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.keys = set
}

func (g *gatehouse) set(f func(g *gatehouse)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f(g)
}

// mint returns a token from the current signing key.
func (g *gatehouse) mint() string {
	g.t.Helper()
	g.mu.Lock()
	keys := g.keys
	g.mu.Unlock()
	iss := &token.Issuer{Issuer: g.srv.URL, Audience: audience, TTL: ttl, Keys: keys, Now: g.clock.Now}
	raw, _, err := iss.Mint("user-1", "session-1")
	if err != nil {
		g.t.Fatal(err)
	}
	return raw
}

// verifier returns a Verifier of this Gatehouse's tokens on its clock.
func (g *gatehouse) verifier(opts ...verify.Option) *verify.Verifier {
	g.t.Helper()
	opts = append([]verify.Option{
		verify.WithClock(g.clock.Now),
		verify.WithHTTPClient(g.srv.Client()),
		verify.WithLogger(slog.New(slog.DiscardHandler)),
	}, opts...)
	v, err := verify.New(context.Background(), g.srv.URL, audience, opts...)
	if err != nil {
		g.t.Fatalf("New: %v", err)
	}
	return v
}

func mustVerify(t *testing.T, v *verify.Verifier, raw string) *token.Claims {
	t.Helper()
	c, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return c
}

func mustReject(t *testing.T, v *verify.Verifier, raw string) {
	t.Helper()
	if c, err := v.Verify(context.Background(), raw); err == nil {
		t.Fatalf("Verify accepted the token, claims %+v", c)
	}
}

var b64 = base64.RawURLEncoding.EncodeToString

// runtimeGosched yields while a test waits for goroutines to reach a
// point; it waits for no clock.
func runtimeGosched() { runtime.Gosched() }
