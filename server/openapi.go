package server

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"
	"strings"
)

// openAPIDocument is the OpenAPI 3.1 description of the HTTP API, written
// by hand beside the handlers. The tests check that it lists exactly the
// routes of routeTable and that every answer of the test suite matches it.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPIETag identifies this build's document, so that clients can
// revalidate their copy cheaply.
var openAPIETag = func() string {
	sum := sha256.Sum256(openAPIDocument)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
}()

// handleOpenAPI serves the OpenAPI document. It changes only with the
// binary, so it may be cached; If-None-Match gets a 304.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("ETag", openAPIETag)
	for _, tag := range strings.Split(r.Header.Get("If-None-Match"), ",") {
		if t := strings.TrimPrefix(strings.TrimSpace(tag), "W/"); t == openAPIETag || t == "*" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.Write(openAPIDocument)
}
