package verify_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/token"
	"github.com/gatehouse/gatehouse/verify"
)

// This example guards a route of a service that is not Gatehouse with
// Gatehouse's access tokens. A stand-in for Gatehouse serves the discovery
// document and the key set; in real code the issuer is Gatehouse's public
// URL.
func Example() {
	gatehouse, mint := standInGatehouse()
	defer gatehouse.Close()

	ctx := context.Background()
	v, err := verify.New(ctx, gatehouse.URL, "https://app.example.com")
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /notes", v.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verify.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "notes of %s\n", claims.Subject)
	})))

	get := func(bearer string) {
		req := httptest.NewRequest(http.MethodGet, "/notes", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"), strings.TrimSpace(rec.Body.String()))
	}
	get("")
	get("not-a-token")
	get(mint("user-42"))

	// Output:
	// 401 Bearer realm="https://app.example.com" {"error":"unauthorized","error_description":"an access token is required"}
	// 401 Bearer realm="https://app.example.com", error="invalid_token", error_description="the access token is invalid or expired" {"error":"invalid_token","error_description":"the access token is invalid or expired"}
	// 200  notes of user-42
}

// standInGatehouse serves what Gatehouse serves at /.well-known/ and
// returns a function that mints its access tokens.
func standInGatehouse() (*httptest.Server, func(sub string) string) {
	sk, err := token.GenerateKey(token.ES256, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	k, err := token.ParseKey(sk)
	if err != nil {
		log.Fatal(err)
	}
	keys, err := token.NewKeySet(k)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, srv.URL, srv.URL+"/.well-known/jwks.json")
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(keys.JWKS())
	})
	iss := &token.Issuer{Issuer: srv.URL, Audience: "https://app.example.com", TTL: 15 * time.Minute, Keys: keys}
	return srv, func(sub string) string {
		raw, _, err := iss.Mint(sub, "session-1")
		if err != nil {
			log.Fatal(err)
		}
		return raw
	}
}
