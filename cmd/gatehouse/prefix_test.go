package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/devlogin/devlogintest"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
	"github.com/gatehouse/gatehouse/verify"
)

// TestServeBehindPathPrefix: Gatehouse behind a reverse proxy that serves
// it under /gatehouse and strips the prefix (Caddy's handle_path, nginx's
// proxy_pass with a trailing slash), with GATEHOUSE_PUBLIC_URL carrying the
// path. A whole login goes through the proxy, the issuer and the JWKS URL
// carry the path, and package verify finds the keys from the issuer alone.
func TestServeBehindPathPrefix(t *testing.T) {
	public, logs := serveBehindProxy(t, "/gatehouse")
	c := browser(t)
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, c, mustRequest(t, "GET", public+"/.well-known/openid-configuration", ""), &doc)
	if doc.Issuer != public || doc.JWKSURI != public+"/.well-known/jwks.json" {
		t.Fatalf("discovery = %+v, want the issuer and JWKS under %s", doc, public)
	}

	var login struct{ URL string }
	getJSON(t, c, mustRequest(t, "GET", public+"/auth/dev/login", ""), &login)
	if !strings.HasPrefix(login.URL, public+"/dev-login/authorize?") || !strings.Contains(login.URL, url.QueryEscape(public+"/auth/dev")) {
		t.Fatalf("login URL %s is not under %s, or does not come back to it", login.URL, public)
	}
	q, err := devlogintest.Approve(c, login.URL, "allow", "Ada Lovelace", "ada@example.com")
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	var auth struct {
		AccessToken string `json:"access_token"`
	}
	body := `{"code":"` + q.Get("code") + `","state":"` + q.Get("state") + `"}`
	if resp := getJSON(t, c, mustRequest(t, "POST", public+"/auth/dev/authorize", body), &auth); resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize through the proxy = %d\n%s", resp.StatusCode, logs)
	}
	req := mustRequest(t, "GET", public+"/me", "")
	req.Header.Set("Authorization", "Bearer "+auth.AccessToken)
	if resp := getJSON(t, c, req, &map[string]any{}); resp.StatusCode != http.StatusOK {
		t.Fatalf("/me through the proxy = %d", resp.StatusCode)
	}
	req = mustRequest(t, "POST", public+"/auth/refresh", "")
	req.Header.Set("X-Requested-With", "gatehouse")
	if resp := getJSON(t, c, req, &auth); resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh through the proxy = %d: the refresh cookie did not come back", resp.StatusCode)
	}

	// Another service finds the keys from the issuer alone.
	v, err := verify.New(context.Background(), public, public)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := v.Verify(context.Background(), auth.AccessToken)
	if err != nil {
		t.Fatalf("verify through the proxy: %v", err)
	}
	if b, _ := json.Marshal(claims.Issuer); string(b) != `"`+public+`"` {
		t.Errorf("iss = %s, want %s", b, public)
	}
}

// serveBehindProxy runs gatehouse serve behind a reverse proxy that serves
// it under prefix and strips it, with GATEHOUSE_PUBLIC_URL carrying the
// prefix, and returns that public URL and the server's log.
func serveBehindProxy(t *testing.T, prefix string) (string, *syncbuf.Buffer) {
	t.Helper()
	var backend *url.URL
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, prefix+"/") {
			http.NotFound(w, r) // the app's own routes
			return
		}
		rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(backend)
			pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, prefix)
			pr.Out.URL.RawPath = ""
			pr.Out.Host = pr.In.Host
		}}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	public := proxy.URL + prefix
	base, logs, stop := startServe(t, "GATEHOUSE_DATA_DIR", t.TempDir(), "GATEHOUSE_PUBLIC_URL", public)
	t.Cleanup(func() { stop() })
	backend, _ = url.Parse(base)
	return public, logs
}
