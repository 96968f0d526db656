package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/verify"
)

// serve answers req from s in-process, and checks the answer against
// openapi.json.
func serve(t testing.TB, s *Server, method, path string, headers ...string) *response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if err := checkAPI(req, nil, w.Code, w.Header(), w.Body.Bytes()); err != nil {
		t.Errorf("%s %s: the answer does not match openapi.json: %v", method, path, err)
	}
	return &response{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// jwksKids returns the key ids s publishes, and checks the JWKS's caching.
func jwksKids(t *testing.T, s *Server) []string {
	t.Helper()
	r := serve(t, s, http.MethodGet, "/.well-known/jwks.json")
	if r.status != http.StatusOK {
		t.Fatalf("JWKS = %d %s", r.status, r.body)
	}
	if got, want := r.header.Get("Cache-Control"), "public, max-age=300"; got != want || keys.JWKSMaxAge != 300*time.Second {
		t.Fatalf("JWKS Cache-Control = %q, want %q (keys.JWKSMaxAge)", got, want)
	}
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(r.body, &set); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range set.Keys {
		ids = append(ids, k.Kid)
	}
	return ids
}

func reloadKeys(t *testing.T, s *Server) {
	t.Helper()
	if err := s.keys.(*keys.Manager).Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestKeyRotationAcrossNodes runs two nodes on one store through three
// short rotation periods, minute by minute, the second node reloading its
// keys only every other minute. At every minute: the tokens either node
// issued and that have not expired are accepted by /me on both; every key
// that signs was in both nodes' JWKS at least one JWKS cache lifetime
// before it signed. Then the signing key is revoked: its tokens fail on the
// revoking node at once and on the other at its next reload.
func TestKeyRotationAcrossNodes(t *testing.T) {
	e := newEnv(t, func(o *envOptions) {
		o.config = func(c *Config) { c.KeyRotation = keys.MinRotation }
	})
	a := e.srv
	cfg := e.cfg
	b, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	_, userID := e.loginUser("rotation@example.com")
	sid := e.sids[userID]

	type issued struct {
		raw string
		exp time.Time
	}
	var live []issued
	published := map[string]time.Time{} // kid → first seen in both JWKS
	firstSigned := map[string]time.Time{}
	for minute := 1; minute <= 180; minute++ {
		e.clock.Advance(time.Minute)
		reloadKeys(t, a)
		if minute%2 == 0 {
			reloadKeys(t, b)
		}
		inA, inB := jwksKids(t, a), jwksKids(t, b)
		for _, kid := range inA {
			if _, seen := published[kid]; !seen && slices.Contains(inB, kid) {
				published[kid] = e.clock.Now()
			}
		}
		for _, n := range []*Server{a, b} {
			raw, c, err := n.Issuer().Mint(userID, sid)
			if err != nil {
				t.Fatal(err)
			}
			kid := tokenHeader(t, raw)["kid"].(string)
			if _, ok := firstSigned[kid]; !ok {
				firstSigned[kid] = e.clock.Now()
			}
			live = append(live, issued{raw, c.Expiry})
		}
		live = slices.DeleteFunc(live, func(i issued) bool { return !e.clock.Now().Before(i.exp) })
		// The oldest live tokens and the newest: the ends of the window.
		check := live
		if len(check) > 4 {
			check = append(slices.Clone(live[:2]), live[len(live)-2:]...)
		}
		for _, tok := range check {
			for name, n := range map[string]*Server{"A": a, "B": b} {
				if r := serve(t, n, http.MethodGet, "/me", "Authorization", "Bearer "+tok.raw); r.status != http.StatusOK {
					t.Fatalf("minute %d: node %s answered %d %s for a live token of key %v", minute, name, r.status, r.body, tokenHeader(t, tok.raw)["kid"])
				}
			}
		}
	}
	if len(firstSigned) < 3 {
		t.Fatalf("%d keys signed in three rotation periods, want at least 3", len(firstSigned))
	}
	for kid, signed := range firstSigned {
		pub, ok := published[kid]
		if kid == e.kid {
			continue // the first key: nothing was cached before it
		}
		if !ok || signed.Sub(pub) < keys.JWKSMaxAge {
			t.Errorf("key %s signed at %v but was in both JWKS only from %v; want at least %s before", kid, signed, pub, keys.JWKSMaxAge)
		}
	}

	// Revocation.
	raw, _, err := a.Issuer().Mint(userID, sid)
	if err != nil {
		t.Fatal(err)
	}
	kid := tokenHeader(t, raw)["kid"].(string)
	if _, err := a.keys.(*keys.Manager).Revoke(context.Background(), kid); err != nil {
		t.Fatal(err)
	}
	if r := serve(t, a, http.MethodGet, "/me", "Authorization", "Bearer "+raw); r.status != http.StatusUnauthorized {
		t.Fatalf("/me on the revoking node with a revoked key's token = %d, want 401", r.status)
	}
	if slices.Contains(jwksKids(t, a), kid) {
		t.Fatal("the revoked key is still in the revoking node's JWKS")
	}
	reloadKeys(t, b)
	if r := serve(t, b, http.MethodGet, "/me", "Authorization", "Bearer "+raw); r.status != http.StatusUnauthorized {
		t.Fatalf("/me on the other node after its reload = %d, want 401", r.status)
	}
	fresh, _, err := a.Issuer().Mint(userID, sid)
	if err != nil {
		t.Fatal(err)
	}
	if r := serve(t, b, http.MethodGet, "/me", "Authorization", "Bearer "+fresh); r.status != http.StatusOK {
		t.Fatalf("/me on the other node with the replacement key's token = %d %s, want 200", r.status, r.body)
	}
}

// TestVerifyFollowsRotation: a service checking tokens with package verify
// against a real Gatehouse, through its discovery document and JWKS over
// HTTP, follows three key rotations minute by minute without refusing one
// live token, and refuses a revoked key's tokens once its cached JWKS has
// expired.
func TestVerifyFollowsRotation(t *testing.T) {
	e := newEnv(t, func(o *envOptions) {
		o.config = func(c *Config) { c.KeyRotation = keys.MinRotation }
	})
	ctx := context.Background()
	// verify refreshes its keys in the background. The fake clock runs a
	// minute a step while no real time passes, so a fetch could read the
	// JWKS one fake minute and finish ten later: each step first waits
	// for the fetches in flight, as real time would.
	fetches := &idleTransport{rt: e.ts.Client().Transport}
	v, err := verify.New(ctx, e.ts.URL, e.cfg.AppURL, verify.WithHTTPClient(&http.Client{Transport: fetches, Timeout: 10 * time.Second}), verify.WithClock(e.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	// No fetch may outlive the test (and its server).
	defer v.Close()
	_, userID := e.loginUser("verify@example.com")
	sid := e.sids[userID]
	type issued struct {
		raw string
		exp time.Time
	}
	var live []issued
	kids := map[string]bool{}
	for minute := 1; minute <= 180; minute++ {
		fetches.wait()
		e.clock.Advance(time.Minute)
		reloadKeys(t, e.srv)
		raw, c, err := e.srv.Issuer().Mint(userID, sid)
		if err != nil {
			t.Fatal(err)
		}
		kids[tokenHeader(t, raw)["kid"].(string)] = true
		live = append(live, issued{raw, c.Expiry})
		live = slices.DeleteFunc(live, func(i issued) bool { return !e.clock.Now().Before(i.exp) })
		for _, tok := range live {
			if _, err := v.Verify(ctx, tok.raw); err != nil {
				t.Fatalf("minute %d: verify refused a live token of key %v: %v", minute, tokenHeader(t, tok.raw)["kid"], err)
			}
		}
	}
	if len(kids) < 3 {
		t.Fatalf("%d keys signed in three rotation periods, want at least 3", len(kids))
	}

	raw, _, err := e.srv.Issuer().Mint(userID, sid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.keys.(*keys.Manager).Revoke(ctx, tokenHeader(t, raw)["kid"].(string)); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(keys.JWKSMaxAge)
	// A token naming a key verify does not know makes it fetch the JWKS
	// now, rather than in the background at its next use.
	_, rest, _ := strings.Cut(raw, ".")
	unknown := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"unknown","typ":"at+jwt"}`)) + "." + rest
	// The first may join a fetch that started before the revocation; the
	// second, past the refetch interval, starts one after it.
	for range 2 {
		if _, err := v.Verify(ctx, unknown); err == nil {
			t.Fatal("verify accepted a token of an unknown key")
		}
		e.clock.Advance(verify.MinRefetchInterval)
	}
	if _, err := v.Verify(ctx, raw); err == nil {
		t.Fatal("verify still accepts a revoked key's token after its JWKS cache expired")
	}
}

// idleTransport counts the requests in flight, until their bodies are
// closed, and lets a test wait until there are none. (A sync.WaitGroup
// would not do: a fetch may start while the test waits.)
type idleTransport struct {
	rt   http.RoundTripper
	mu   sync.Mutex
	n    int
	idle *sync.Cond
}

func (t *idleTransport) add(d int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n += d
	if t.n == 0 && t.idle != nil {
		t.idle.Broadcast()
	}
}

func (t *idleTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.add(1)
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		t.add(-1)
		return nil, err
	}
	resp.Body = &doneBody{ReadCloser: resp.Body, done: sync.OnceFunc(func() { t.add(-1) })}
	return resp, nil
}

func (t *idleTransport) wait() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.idle == nil {
		t.idle = sync.NewCond(&t.mu)
	}
	for t.n > 0 {
		t.idle.Wait()
	}
}

type doneBody struct {
	io.ReadCloser
	done func()
}

func (b *doneBody) Close() error {
	defer b.done()
	return b.ReadCloser.Close()
}
