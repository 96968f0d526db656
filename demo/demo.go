// Package demo is the page the gatehouse binary shows at its root: a
// minimal single-page app in plain HTML and ES modules, embedded in the
// binary with no build step and no third-party resources. It lists the
// providers, signs in through the real authorization-code flow, shows the
// user from GET /me, and signs out.
package demo

import (
	"embed"
	"io/fs"
	"net/http"
	"regexp"
)

//go:embed static
var files embed.FS

// Paths where the page is served: the root, the provider redirect route
// {app}/auth/{provider}, and its assets.
const (
	AssetPrefix = "/demo/"
)

var callbackPath = regexp.MustCompile(`^/auth/[a-z0-9][a-z0-9-]{0,31}$`)

// Handler serves the demo page. Register it for "GET /{$}",
// "GET /auth/{provider}" and "GET /demo/".
func Handler() http.Handler {
	static, _ := fs.Sub(files, "static")
	assets := http.StripPrefix("/demo", http.FileServerFS(static))
	index, _ := fs.ReadFile(static, "index.html")
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
		case len(r.URL.Path) > len(AssetPrefix) && r.URL.Path[:len(AssetPrefix)] == AssetPrefix:
			h.Set("Cache-Control", "no-cache")
			assets.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}
