package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// fuzzServer returns a Server on a fresh store with a fixed clock,
// the id of a real user, and an access token minted for that user.
// authenticate needs neither a listener nor the providers, so this is
// lighter than newEnv, and works with the *testing.F that fuzz setup has.
func fuzzServer(tb testing.TB) (s *Server, userID, tok string) {
	tb.Helper()
	ctx := context.Background()
	store, _, _ := testStore(tb, nil)
	now := time.Now().UTC().Truncate(time.Second)
	s, err := New(ctx, Config{
		PublicURL: "http://localhost:8080",
		Store:     store,
		Logger:    slog.New(slog.DiscardHandler),
		Now:       func() time.Time { return now },
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	u, err := store.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "dev", Subject: "fuzz-1"}, now, gatehouse.EmailMatchNewAccount)
	if err != nil {
		tb.Fatal(err)
	}
	sess := &gatehouse.Session{ID: "fuzz-session", UserID: u.ID, Secret: []byte("secret"), CurrentHash: "hash",
		CreatedAt: now, LastUsedAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}
	if err := store.CreateSession(ctx, sess); err != nil {
		tb.Fatal(err)
	}
	if tok, _, err = s.Issuer().Mint(u.ID, sess.ID); err != nil {
		tb.Fatal(err)
	}
	return s, u.ID, tok
}

// isBearerFor reports whether h is "Bearer" in any ASCII case, one space,
// then tok with only spaces around it: the one shape allowed to
// authenticate.
func isBearerFor(h, tok string) bool {
	h = strings.Trim(h, " ")
	if len(h) < 7 || h[6] != ' ' {
		return false
	}
	for i, c := range []byte("bearer") {
		if h[i]|0x20 != c {
			return false
		}
	}
	return strings.Trim(h[7:], " ") == tok
}

// FuzzBearerHeader feeds arbitrary Authorization values to the server's
// authentication. It must never panic, must authenticate the minted token's
// user and nothing else, and must fail with a client error code only.
func FuzzBearerHeader(f *testing.F) {
	s, userID, tok := fuzzServer(f)
	p := strings.Split(tok, ".")
	for _, seed := range []string{
		"Bearer " + tok,
		"bearer " + tok,
		"BEARER   " + tok + "  ",
		"Bearer",
		"Bearer ",
		"Bearer    ",
		"",
		"Basic dXNlcjpwYXNz",
		"Basic " + tok,
		"Bearer thisisnotajwt",
		"Bearer " + p[0] + "." + p[1],
		"Bearer " + tok + ".",
		"Bearer " + tok + "=",
		"Bearer " + p[0] + "." + p[1] + ".",
		"Bearer " + tok[:len(tok)-1],
		"Bearer\t" + tok,
		"Bearer  Bearer " + tok,
		"Bearer " + tok + " " + tok,
		"Bearer " + tok + "\x00",
		"Bearer " + tok + "\r\n",
		"Bearer %E0%A4%A",
		"Bearer \xff\xfe\xfd",
		"Bearer eyJhbGciOiJub25lIn0.e30.",
		"Bearer eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d",
		`Bearer {"payload":"e30","signatures":[]}`,
		"Bearer " + strings.Repeat(".", 5000),
		"Bearer " + strings.Repeat("A", 5000),
	} {
		f.Add(seed)
	}
	for _, h := range []string{"Bearer " + tok, "bEaReR " + tok, "Bearer  " + tok + " "} {
		if c, err := s.authenticate(fuzzRequest(h)); err != nil || c.Subject != userID {
			f.Fatalf("%q: claims %+v, err %v; want the user %s", h, c, err, userID)
		}
	}
	f.Fuzz(func(t *testing.T, h string) {
		c, err := s.authenticate(fuzzRequest(h))
		if err == nil {
			if !isBearerFor(h, tok) {
				t.Fatalf("authenticated %q, which is not the minted token", h)
			}
			if c == nil || c.Subject != userID {
				t.Fatalf("authenticated %q as %+v, want user %s", h, c, userID)
			}
			return
		}
		if c != nil {
			t.Fatalf("claims %+v returned with error %v", c, err)
		}
		e, ok := errors.AsType[*gatehouse.Error](err)
		if !ok {
			t.Fatalf("error %v is not a *gatehouse.Error", err)
		}
		switch e.Code {
		case gatehouse.EInvalidToken, gatehouse.EInvalidRequest:
		default:
			t.Fatalf("%q: error code %s", h, e.Code)
		}
		if len(tok) > 20 && strings.Contains(err.Error(), tok) {
			t.Fatal("the error contains the token")
		}
	})
}

// fuzzRequest returns GET /me with h as its one Authorization value, set
// directly so that no client-side validation filters the input.
func fuzzRequest(h string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/me", nil)
	r.Header["Authorization"] = []string{h}
	return r
}

// FuzzAuthorizeBody feeds arbitrary bodies to the authorize request
// decoder. It must never panic, and what it accepts must have a state and
// either a well-formed provider error or a plausible code.
func FuzzAuthorizeBody(f *testing.F) {
	state := strings.Repeat("S", 43)
	for _, seed := range []string{
		`{"code":"c0de","state":"` + state + `"}`,
		`{"error":"access_denied","state":"` + state + `","error_description":"no"}`,
		`{"code":"c","state":"s","iss":"https://github.com/login/oauth"}`,
		`{"code":"c","state":"s","extra":{"a":[1,2,{"b":null}]}}`,
		`{"code":"c","state":"s","state":"s"}`,
		`{"code":12345,"state":"s"}`,
		`{"code":["a"],"state":"s"}`,
		`{"code":"x","state":null}`,
		`{"code":"x","state":"  \t "}`,
		`{"code":"   ","state":"s"}`,
		`{"code":"a\r\nb","state":"s"}`,
		`{"code":"a\u0000b","state":"s"}`,
		`{"code":"cödé","state":"s"}`,
		`{"code":"` + strings.Repeat("a", 2049) + `","state":"s"}`,
		`{"error":"a b","state":"s"}`,
		`{"error":"\"","state":"s"}`,
		`{"error":"` + strings.Repeat("e", 65) + `","state":"s"}`,
		`{"error":"","code":"c","state":"s"}`,
		`{"code":"c","state":"s"} {}`,
		`{"code":"c","state":"s",}`,
		`{"code" "c"}`,
		`{"a":1]`,
		`["code","state"]`,
		`null`,
		`"str"`,
		``,
		`{`,
		`}`,
		`{"\ud800":"x","state":"s","code":"c"}`,
		strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeAuthorizeRequest(body)
		if err != nil {
			if req != nil {
				t.Fatalf("request %+v returned with error %v", req, err)
			}
			if code := gatehouse.ErrorCode(err); code != gatehouse.EInvalidRequest {
				t.Fatalf("error code %s, want %s (%v)", code, gatehouse.EInvalidRequest, err)
			}
			return
		}
		if strings.TrimSpace(req.State) == "" {
			t.Fatalf("accepted a blank state: %+v", req)
		}
		if req.Error != "" {
			if !isPrintableToken(req.Error) {
				t.Fatalf("accepted error %q", req.Error)
			}
			return
		}
		if strings.TrimSpace(req.Code) == "" || len(req.Code) > 2048 || !isPrintableASCII(req.Code) {
			t.Fatalf("accepted code %q", req.Code)
		}
	})
}

// isPrintableASCII reports whether s has only bytes 0x20-0x7E.
func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// isPrintableToken reports whether s is non-empty visible ASCII with no
// space, quote or backslash: an OAuth error code.
func isPrintableToken(s string) bool {
	return s != "" && isPrintableASCII(s) && !strings.ContainsAny(s, " \"\\")
}
