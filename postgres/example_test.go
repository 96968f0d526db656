package postgres_test

import (
	"context"
	"log"
	"os"

	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/server"
)

// Open connects, applies the migrations the database lacks (once, however
// many nodes start together), and returns a store for server.Config.
func ExampleOpen() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, os.Getenv("GATEHOUSE_DATABASE_URL"))
	if err != nil {
		log.Fatal(err) // unreachable, or a schema newer than this binary
	}
	defer store.Close()
	auth, err := server.New(ctx, server.Config{
		PublicURL: "https://auth.example.com",
		AppURL:    "https://app.example.com",
		Store:     store,
		// Providers: …
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = auth // mount it: mux.Handle("/auth/", auth), …
}
