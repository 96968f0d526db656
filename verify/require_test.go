package verify_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/verify"
)

// TestRequire: the route behind Require runs with the token's claims for a
// valid token, and never otherwise; each kind of refusal gets its status,
// challenge and JSON body.
func TestRequire(t *testing.T) {
	g := newGatehouse(t)
	v := g.verifier(verify.WithRealm("notes"))
	calls := 0
	h := v.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		c, ok := verify.ClaimsFromContext(r.Context())
		if !ok {
			t.Error("no claims in the context")
			return
		}
		w.Write([]byte(c.Subject))
	}))
	tok := g.mint()
	serve := func(target string, auth ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		for _, a := range auth {
			req.Header.Add("Authorization", a)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	rec := serve("/notes", "Bearer "+tok)
	if rec.Code != http.StatusOK || rec.Body.String() != "user-1" {
		t.Fatalf("valid token: %d %q", rec.Code, rec.Body)
	}
	if _, ok := verify.ClaimsFromContext(t.Context()); ok {
		t.Error("claims in a context Require never saw")
	}

	const invalidToken = `Bearer realm="notes", error="invalid_token", error_description="the access token is invalid or expired"`
	cases := []struct {
		name      string
		target    string
		auth      []string
		status    int
		challenge string
		code      string
	}{
		{"no token", "/notes", nil, 401, `Bearer realm="notes"`, "unauthorized"},
		{"token in the query only", "/notes?access_token=" + tok, nil, 401, `Bearer realm="notes"`, "unauthorized"},
		{"garbage", "/notes", []string{"Bearer thisisnotajwt"}, 401, invalidToken, "invalid_token"},
		{"tampered", "/notes", []string{"Bearer " + tok[:len(tok)-2] + "AA"}, 401, invalidToken, "invalid_token"},
		{"Basic", "/notes", []string{"Basic dXNlcjpwYXNz"}, 401,
			`Bearer realm="notes", error="invalid_token", error_description="expected a bearer token"`, "invalid_token"},
		{"lower-case scheme", "/notes", []string{"bearer " + tok}, 200, "", ""},
		{"two headers", "/notes", []string{"Bearer " + tok, "Bearer " + tok}, 400,
			`Bearer realm="notes", error="invalid_request", error_description="more than one Authorization header"`, "invalid_request"},
		{"header and query", "/notes?access_token=x", []string{"Bearer " + tok}, 400,
			`Bearer realm="notes", error="invalid_request", error_description="send the access token in the Authorization header only"`, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := calls
			rec := serve(tc.target, tc.auth...)
			if rec.Code != tc.status {
				t.Fatalf("status = %d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.status == http.StatusOK {
				return
			}
			if calls != before {
				t.Error("the route ran")
			}
			if got := rec.Header().Values("WWW-Authenticate"); len(got) != 1 || got[0] != tc.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if got, want := rec.Header().Get("Content-Type"), "application/json; charset=utf-8"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if body["error"] != tc.code || body["error_description"] == "" || len(body) != 2 {
				t.Errorf("body = %v, want error %q and a description", body, tc.code)
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		g.clock.Advance(ttl + verify.DefaultLeeway)
		defer g.clock.Advance(-ttl - verify.DefaultLeeway)
		rec := serve("/notes", "Bearer "+tok)
		if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") != invalidToken {
			t.Fatalf("status = %d, WWW-Authenticate %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	})
}
