// Package demo is the page the gatehouse binary shows at its root: a
// minimal single-page app in plain HTML and ES modules, embedded in the
// binary with no build step and no third-party resources. It runs on
// @gatehouse/client (package client): it lists the providers, signs in
// through the real authorization-code flow, shows the user from GET /me and
// the sessions, and signs out, in every tab at once.
package demo

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"regexp"
	"strings"

	"github.com/gatehouse/gatehouse/client"
)

//go:embed static
var files embed.FS

// Paths where the page is served: the root, the provider redirect route
// {app}/auth/{provider}, and its assets.
const (
	AssetPrefix = "/demo/"
	// ClientPath is where the page loads @gatehouse/client from: the
	// package client's gatehouse.js, byte for byte.
	ClientPath = AssetPrefix + "gatehouse.js"
)

var callbackPath = regexp.MustCompile(`^/auth/[a-z0-9][a-z0-9-]{0,31}$`)

// Handler serves the demo page. Register it for "GET /{$}",
// "GET /auth/{provider}" and "GET /demo/". base is the path a reverse
// proxy serves Gatehouse under (the path of its public URL, "" at the
// root): the page's links carry it, and the page finds the API under it.
func Handler(base string) http.Handler {
	static, _ := fs.Sub(files, "static")
	assets := http.StripPrefix("/demo", http.FileServerFS(static))
	// The client is served from the files its package embeds, as they are.
	lib := http.StripPrefix("/demo", http.FileServerFS(client.Files))
	index, _ := fs.ReadFile(static, "index.html")
	index = bytes.ReplaceAll(index, []byte(`"`+AssetPrefix), []byte(`"`+strings.TrimSuffix(base, "/")+AssetPrefix))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "+
			"img-src 'self' https: data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		switch {
		case r.URL.Path == "/" || callbackPath.MatchString(r.URL.Path):
			// The redirect route carries the code and state in its URL:
			// never cache that page.
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Type", "text/html; charset=utf-8")
			w.Write(index)
		case r.URL.Path == ClientPath:
			h.Set("Cache-Control", "no-cache")
			lib.ServeHTTP(w, r)
		case len(r.URL.Path) > len(AssetPrefix) && r.URL.Path[:len(AssetPrefix)] == AssetPrefix:
			h.Set("Cache-Control", "no-cache")
			assets.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}
