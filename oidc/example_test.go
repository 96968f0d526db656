package oidc_test

import (
	"context"
	"log"

	"github.com/gatehouse/gatehouse/oidc"
	"github.com/gatehouse/gatehouse/server"
)

// A generic issuer and Google restricted to one Workspace domain, each
// registered under its own name.
func ExampleNew() {
	ctx := context.Background()
	corp, err := oidc.New(ctx, oidc.Config{
		Issuer:       "https://sso.example.com/realms/staff",
		ClientID:     "gatehouse",
		ClientSecret: "…",
	})
	if err != nil {
		log.Fatal(err) // a bad Config only; an unreachable issuer is not an error
	}
	if err := corp.Prepare(ctx); err != nil {
		log.Printf("sso.example.com is unreachable for now: %v", err)
	}
	google, err := oidc.New(ctx, oidc.Google(oidc.GoogleConfig{
		ClientID:     "….apps.googleusercontent.com",
		ClientSecret: "…",
		HostedDomain: "example.com",
	}))
	if err != nil {
		log.Fatal(err)
	}
	_ = server.Config{Providers: []server.Provider{
		{Name: "corp", DisplayName: "Example SSO", Provider: corp},
		{Name: "google", DisplayName: "Google", Provider: google},
	}}
}
