package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/gatehouse/gatehouse/devlogin"
)

// The OpenAPI document is checked three ways: it is valid OpenAPI 3.1
// (TestOpenAPIDocument), it describes exactly the routes the server
// registers (TestOpenAPIRoutes), and every answer the HTTP tests receive
// through env.request matches the operation it came from (checkAPI).

// loadOpenAPI parses the embedded document once for the whole package.
var loadOpenAPI = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPIDocument)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, err
	}
	return doc, nil
})

func openAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := loadOpenAPI()
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

func TestOpenAPIDocument(t *testing.T) {
	doc := openAPI(t)
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi = %q, want 3.1", doc.OpenAPI)
	}
	// Validate again with every finding, for a readable failure.
	if err := doc.Validate(context.Background(), openapi3.EnableMultiError()); err != nil {
		t.Fatal(err)
	}
}

// TestOpenAPIRoutes checks that the document has an operation for every
// route of routeTable, and no other.
func TestOpenAPIRoutes(t *testing.T) {
	doc := openAPI(t)
	served := map[string]bool{}
	for _, rt := range routeTable {
		served[rt.method+" "+rt.pattern] = true
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	for r := range served {
		if !documented[r] {
			t.Errorf("the server serves %s; openapi.json does not describe it", r)
		}
	}
	for r := range documented {
		if !served[r] {
			t.Errorf("openapi.json describes %s; the server does not serve it", r)
		}
	}
}

// TestOpenAPIErrorCodes checks that the document's error codes are the ones
// clients can see: the public codes of the status table.
func TestOpenAPIErrorCodes(t *testing.T) {
	doc := openAPI(t)
	var documented []string
	for _, v := range doc.Components.Schemas["ErrorCode"].Value.Enum {
		documented = append(documented, v.(string))
	}
	var public []string
	for _, c := range errorCodes {
		if !slices.Contains(public, c.public) {
			public = append(public, c.public)
		}
	}
	slices.Sort(documented)
	slices.Sort(public)
	if !slices.Equal(documented, public) {
		t.Errorf("ErrorCode enum = %v, want the public codes of errorCodes %v", documented, public)
	}
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	r := e.get("/openapi.json")
	if r.status != http.StatusOK || !bytes.Equal(r.body, openAPIDocument) {
		t.Fatalf("GET /openapi.json = %d, %d bytes; want 200 and the embedded document", r.status, len(r.body))
	}
	if got := r.header.Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q, want JSON", got)
	}
	if got := r.header.Get("Cache-Control"); !strings.HasPrefix(got, "public, max-age=") {
		t.Errorf("Cache-Control = %q, want public", got)
	}
	etag := r.header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	for _, tc := range []struct {
		name, ifNoneMatch string
		want              int
	}{
		{"same", etag, http.StatusNotModified},
		{"weak", "W/" + etag, http.StatusNotModified},
		{"among others", `"x", ` + etag, http.StatusNotModified},
		{"other", `"x"`, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := e.get("/openapi.json", "If-None-Match", tc.ifNoneMatch); r.status != tc.want {
				t.Errorf("status = %d, want %d", r.status, tc.want)
			}
		})
	}
}

// TestCheckAPIFinds makes sure the validation hooked into env.request
// finds what it should: an answer the document does not allow fails.
func TestCheckAPIFinds(t *testing.T) {
	for _, tc := range []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
	}{
		{"undocumented status", "GET", "/me", http.StatusTeapot, jsonHeader(), `{"error":"server_error","error_description":"x"}`},
		{"wrong shape", "GET", "/auth/providers", http.StatusOK, jsonHeader(), `{"providers":[{"name":"dev"}]}`},
		{"wrong code for the status", "GET", "/me", http.StatusUnauthorized,
			jsonHeader("WWW-Authenticate", "Bearer"), `{"error":"not_found","error_description":"x"}`},
		{"missing header", "GET", "/me", http.StatusUnauthorized, jsonHeader(), `{"error":"unauthorized","error_description":"x"}`},
		{"unknown error code", "GET", "/nowhere", http.StatusNotFound, jsonHeader(), `{"error":"nope","error_description":"x"}`},
		{"error with more members", "GET", "/nowhere", http.StatusNotFound, jsonHeader(), `{"error":"not_found","error_description":"x","y":1}`},
		{"not JSON", "GET", "/nowhere", http.StatusNotFound, http.Header{"Content-Type": {"text/plain"}}, "404 page not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if err := checkAPI(req, nil, tc.status, tc.header, []byte(tc.body)); err == nil {
				t.Errorf("checkAPI accepted %d %s", tc.status, tc.body)
			}
		})
	}
	// A success to a request the document calls invalid: the server
	// accepted what it should not, or the document is wrong.
	req := httptest.NewRequest("POST", "/auth/refresh", nil)
	if err := checkAPI(req, nil, http.StatusOK, jsonHeader(), []byte(`{"access_token":null}`)); err == nil {
		t.Error("checkAPI accepted a refresh without X-Requested-With answered 200")
	}
	req = httptest.NewRequest("GET", "/me", nil)
	if err := checkAPI(req, nil, http.StatusUnauthorized, jsonHeader("WWW-Authenticate", "Bearer"),
		[]byte(`{"error":"unauthorized","error_description":"x"}`)); err != nil {
		t.Errorf("checkAPI refused a good answer: %v", err)
	}
}

func jsonHeader(kv ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// apiRoutes matches a request to its route of routeTable, as the server's
// mux does, and returns the route's pattern and path values.
var apiRoutes = sync.OnceValue(func() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range routeTable {
		names := wildcard.FindAllStringSubmatch(rt.pattern, -1)
		mux.HandleFunc(rt.method+" "+rt.pattern, func(w http.ResponseWriter, r *http.Request) {
			m := w.(*matched)
			m.method, m.path, m.params = rt.method, rt.pattern, map[string]string{}
			for _, n := range names {
				m.params[n[1]] = r.PathValue(n[1])
			}
		})
	}
	return mux
})

var wildcard = regexp.MustCompile(`\{([a-z]+)\}`)

// matched is the ResponseWriter apiRoutes' handlers fill in.
type matched struct {
	httptest.ResponseRecorder
	method, path string
	params       map[string]string
}

// checkAPI checks an answer of the server against openapi.json: an answer
// of a route against its operation (status, headers, body; and for a
// success, the request too: the server must not accept what the document
// calls invalid), and any other answer of the API (an unknown path, a
// method a path does not serve, a refused preflight) against the Error
// schema. The dev login's pages are not part of the API and are skipped.
func checkAPI(req *http.Request, reqBody []byte, status int, header http.Header, body []byte) error {
	doc, err := loadOpenAPI()
	if err != nil {
		return err
	}
	p := req.URL.EscapedPath()
	if p == devlogin.Prefix || strings.HasPrefix(p, devlogin.Prefix+"/") {
		return nil
	}
	m := &matched{}
	if IsCleanPath(p) && req.Method != http.MethodOptions {
		apiRoutes().ServeHTTP(m, req.Clone(context.Background()))
	}
	if m.path == "" {
		if len(body) == 0 && status < 400 {
			return nil // a preflight's answer
		}
		return checkError(doc, status, header, body)
	}
	op := doc.Paths.Value(m.path).GetOperation(m.method)
	in := &openapi3filter.RequestValidationInput{
		Request:    req.Clone(context.Background()),
		PathParams: m.params,
		Route:      &routers.Route{Spec: doc, Path: m.path, PathItem: doc.Paths.Value(m.path), Method: m.method, Operation: op},
		Options:    &openapi3filter.Options{AuthenticationFunc: authenticated, IncludeResponseStatus: true},
	}
	if status >= 200 && status < 300 {
		in.Request.Body = io.NopCloser(bytes.NewReader(reqBody))
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			return fmt.Errorf("the server answered %d to a request openapi.json calls invalid: %w", status, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header,
		Options: in.Options}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("%s %s: %w", m.method, m.path, err)
	}
	return nil
}

// checkError checks an answer outside any operation: an Error with a 4xx
// or 5xx status, as JSON.
func checkError(doc *openapi3.T, status int, header http.Header, body []byte) error {
	if status < 400 {
		return fmt.Errorf("status %d outside any operation, want an error", status)
	}
	if ct := header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		return fmt.Errorf("error answer with Content-Type %q", ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("error answer %q: %w", body, err)
	}
	return doc.Components.Schemas["Error"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

// authenticated checks that a request the server accepted carried the
// credentials its operation's security asks for: the Authorization header,
// or a refresh cookie (under its https or its loopback name).
func authenticated(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r := in.RequestValidationInput.Request
	switch in.SecuritySchemeName {
	case "bearer", "adminKey":
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			return nil
		}
	case "refreshCookie":
		for _, c := range r.Cookies() {
			if strings.TrimPrefix(c.Name, "__Host-") == "gatehouse_refresh" || strings.TrimPrefix(c.Name, "__Host-") == "gatehouse_refresh_previous" {
				return nil
			}
		}
	default:
		return fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName)
	}
	return errors.New("no " + in.SecuritySchemeName)
}

// TestOpenAPIRareAnswers sends the requests whose documented errors the
// rest of the suite does not happen to exercise, so that env.request checks
// those answers against openapi.json too.
func TestOpenAPIRareAnswers(t *testing.T) {
	e := newEnv(t)
	tok := e.loginDev(e.browser, "rare@example.com")["access_token"].(string)
	bearer := "Bearer " + tok
	for _, tc := range []struct {
		method, path string
		body         any
		headers      []string
		status       int
		code         string
	}{
		{"POST", "/auth/nope/authorize", map[string]string{"code": "c", "state": "s"}, nil, http.StatusNotFound, "unsupported_provider"},
		{"GET", "/auth/sessions?access_token=x", nil, []string{"Authorization", bearer}, http.StatusBadRequest, "invalid_request"},
		{"DELETE", "/auth/sessions/x", nil, nil, http.StatusUnauthorized, "unauthorized"},
		{"DELETE", "/auth/sessions/x", nil, []string{"Authorization", bearer, "Origin", "https://evil.example"}, http.StatusForbidden, "access_denied"},
		{"GET", "/me/identities?access_token=x", nil, []string{"Authorization", bearer}, http.StatusBadRequest, "invalid_request"},
		{"DELETE", "/me/identities/dev/x", nil, []string{"Authorization", "Bearer x"}, http.StatusUnauthorized, "invalid_token"},
		{"DELETE", "/me/identities/dev/x", nil, []string{"Authorization", bearer, "Origin", "https://evil.example"}, http.StatusForbidden, "access_denied"},
		{"OPTIONS", "/auth/refresh", nil, []string{"Origin", "https://evil.example", "Access-Control-Request-Method", "POST"}, http.StatusForbidden, "access_denied"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			e.t = t
			defer func(outer *testing.T) { e.t = outer }(e.t)
			r := e.request(e.browser, tc.method, tc.path, tc.body, tc.headers...)
			wantError(t, r, tc.status, tc.code)
		})
	}
}
