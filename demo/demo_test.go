package demo

import (
	"bytes"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/client"
)

func TestHandler(t *testing.T) {
	h := Handler("")
	cases := []struct {
		path        string
		status      int
		contentType string
		cache       string
	}{
		{"/", 200, "text/html; charset=utf-8", "no-store"},
		{"/auth/github?code=abc&state=def", 200, "text/html; charset=utf-8", "no-store"},
		{"/auth/dev", 200, "text/html; charset=utf-8", "no-store"},
		{"/demo/app.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"/demo/app.css", 200, "text/css; charset=utf-8", "no-cache"},
		{"/demo/gatehouse.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"/demo/gatehouse.d.ts", 404, "", ""},
		{"/demo/missing.js", 404, "", ""},
		{"/auth/GITHUB", 404, "", ""},
		{"/other", 404, "", ""},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("GET %s = %d, want %d", tc.path, rec.Code, tc.status)
			continue
		}
		hdr := rec.Header()
		if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") ||
			!strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s CSP = %q", tc.path, csp)
		}
		if got := hdr.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("GET %s Referrer-Policy = %q", tc.path, got)
		}
		if tc.status != 200 {
			continue
		}
		if got := hdr.Get("Content-Type"); got != tc.contentType {
			t.Errorf("GET %s Content-Type = %q, want %q", tc.path, got, tc.contentType)
		}
		if got := hdr.Get("Cache-Control"); got != tc.cache {
			t.Errorf("GET %s Cache-Control = %q, want %q", tc.path, got, tc.cache)
		}
	}
}

// TestNoThirdPartyResources: the page loads nothing from another origin.
func TestNoThirdPartyResources(t *testing.T) {
	for _, name := range []string{"static/index.html", "static/app.js", "static/app.css", "gatehouse.js"} {
		b, err := files.ReadFile(name)
		if name == "gatehouse.js" {
			b, err = fs.ReadFile(client.Files, name)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s references %q", name, bad)
			}
		}
	}
}

// TestAppScript checks the page script against the page and the API: every
// element it looks up by id exists, the cookie-authenticated endpoints get
// the CSRF header, and no server data is written as HTML.
func TestAppScript(t *testing.T) {
	js, err := files.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	html, err := files.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	script, page := string(js), string(html)

	ids := regexp.MustCompile(`\$\("([a-z0-9-]+)"\)`).FindAllStringSubmatch(script, -1)
	if len(ids) == 0 {
		t.Fatal("app.js looks up no element by id")
	}
	for _, m := range ids {
		if !strings.Contains(page, `id="`+m[1]+`"`) {
			t.Errorf("app.js uses #%s, which index.html does not have", m[1])
		}
	}
	// The ids the browser test and other tools rely on.
	for _, id := range []string{"busy", "signed-out", "error", "signed-in", "providers", "display-name",
		"sign-out", "sign-out-everywhere", "sessions"} {
		if !strings.Contains(page, `id="`+id+`"`) {
			t.Errorf("index.html has no #%s", id)
		}
	}

	// app.js is at AssetPrefix+"app.js"; a relative import finds the
	// client beside it at the root and under a proxy's path prefix alike.
	if !strings.Contains(script, `from "./gatehouse.js"`) || ClientPath != AssetPrefix+"gatehouse.js" {
		t.Errorf("app.js does not import the client from ./gatehouse.js (%s)", ClientPath)
	}
	lib, err := fs.ReadFile(client.Files, "gatehouse.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"X-Requested-With": "gatehouse"`, // refresh and logout need it
		`"/auth/refresh"`,
		`"/auth/logout?scope=global"`,
		"`/auth/sessions/",
		`"DELETE"`,
		`credentials: "include"`,
	} {
		if !strings.Contains(string(lib), want) {
			t.Errorf("gatehouse.js does not contain %s", want)
		}
	}
	for name, text := range map[string]string{"app.js": script, "gatehouse.js": string(lib)} {
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "localStorage"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
	}
	if strings.Contains(script, "sessionStorage") {
		t.Error("app.js uses sessionStorage")
	}
}

// TestServesTheClient: the page's client is package client's file, as it is.
func TestServesTheClient(t *testing.T) {
	want, err := fs.ReadFile(client.Files, "gatehouse.js")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	Handler("").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, ClientPath, nil))
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), want) {
		t.Errorf("GET %s = %d, %d bytes; want 200 and client/gatehouse.js (%d bytes)", ClientPath, rec.Code, rec.Body.Len(), len(want))
	}
}

// TestHandlerUnderPrefix: behind a proxy that serves Gatehouse under a
// path, the page's links carry the path.
func TestHandlerUnderPrefix(t *testing.T) {
	for base, prefix := range map[string]string{"": "/demo/", "/gatehouse": "/gatehouse/demo/", "/gatehouse/": "/gatehouse/demo/"} {
		rec := httptest.NewRecorder()
		Handler(base).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		body := rec.Body.String()
		for _, want := range []string{`src="` + prefix + `app.js"`, `href="` + prefix + `app.css"`} {
			if !strings.Contains(body, want) {
				t.Errorf("Handler(%q) page lacks %s", base, want)
			}
		}
	}
}
