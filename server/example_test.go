package server_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/github"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlite"
)

// This example mounts Gatehouse into an application's existing mux: one
// public route, one private route guarded by Gatehouse's middleware, and
// Gatehouse's own API beside them.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "gatehouse-example")
	defer os.RemoveAll(dir)

	store, err := sqlite.Open(ctx, filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	// Real code reads the client secret from the environment.
	gh, err := github.New(github.Config{ClientID: "Iv1.0123456789abcdef", ClientSecret: "example-secret"})
	if err != nil {
		log.Fatal(err)
	}
	auth, err := server.New(ctx, server.Config{
		PublicURL: "https://api.example.com",
		AppURL:    "https://app.example.com",
		Store:     store,
		Providers: []server.Provider{{Name: "github", DisplayName: "GitHub", Provider: gh}},
		// Logouts the database cannot record wait here until it can.
		PendingLogoutsFile: filepath.Join(dir, "gatehouse-pending-logouts"),
	})
	if err != nil {
		log.Fatal(err)
	}
	// Close stops Gatehouse's background work (cleanup, logout replay,
	// signing-key reloads).
	defer auth.Close()

	// The application's existing mux.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello, world")
	})
	mux.Handle("GET /notes", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := gatehouse.UserFromContext(r.Context())
		fmt.Fprintf(w, "notes of %s\n", *u.Login)
	})))
	// Gatehouse's API: /auth/…, /me and /.well-known/….
	mux.Handle("/auth/", auth)
	mux.Handle("/me", auth)
	mux.Handle("/.well-known/", auth)

	get := func(path, bearer string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(path, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	get("/hello", "")
	get("/auth/providers", "")
	get("/notes", "")

	// A signed-in user, as the login flow would leave one: a user and a
	// session.
	login := "octocat"
	u, err := store.UpsertIdentity(ctx, &gatehouse.Identity{Provider: "github", Subject: "583231",
		Profile: gatehouse.Profile{Login: &login}}, time.Now(), gatehouse.EmailMatchNewAccount)
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now()
	sess := &gatehouse.Session{ID: "session-1", UserID: u.ID, Secret: []byte("secret"), CurrentHash: "hash-1",
		CreatedAt: now, LastUsedAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}
	if err := store.CreateSession(ctx, sess); err != nil {
		log.Fatal(err)
	}
	accessToken, _, err := auth.Issuer().Mint(u.ID, sess.ID)
	if err != nil {
		log.Fatal(err)
	}
	get("/notes", accessToken)

	// Output:
	// /hello 200 hello, world
	// /auth/providers 200 {"providers":[{"name":"github","display_name":"GitHub"}]}
	// /notes 401 {"error":"unauthorized","error_description":"an access token is required"}
	// /notes 200 notes of octocat
}
