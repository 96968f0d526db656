package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/syncbuf"
	"github.com/gatehouse/gatehouse/oidc/oidctest"
)

// TestProviderSettings: each provider's settings are checked at startup,
// and a bad one stops it with a message naming the variable.
func TestProviderSettings(t *testing.T) {
	const https = "https://auth.example.com"
	corp := func(kv ...string) []string {
		return append([]string{"GATEHOUSE_PUBLIC_URL", https, "GATEHOUSE_OIDC_PROVIDERS", "corp",
			"GATEHOUSE_OIDC_CORP_ISSUER", "https://idp.example.com", "GATEHOUSE_OIDC_CORP_CLIENT_ID", "id",
			"GATEHOUSE_OIDC_CORP_CLIENT_SECRET", "secret"}, kv...)
	}
	bad := []struct {
		name    string
		env     []string
		setting string
	}{
		{"Google id without secret", []string{"GATEHOUSE_GOOGLE_CLIENT_ID", "id"}, "GATEHOUSE_GOOGLE_CLIENT_SECRET"},
		{"Google secret without id", []string{"GATEHOUSE_GOOGLE_CLIENT_SECRET", "s"}, "GATEHOUSE_GOOGLE_CLIENT_ID"},
		{"Google hosted domain", []string{"GATEHOUSE_GOOGLE_CLIENT_ID", "id", "GATEHOUSE_GOOGLE_CLIENT_SECRET", "s", "GATEHOUSE_GOOGLE_HOSTED_DOMAIN", "not a domain"}, "GATEHOUSE_GOOGLE_HOSTED_DOMAIN"},
		{"GitLab plain http", []string{"GATEHOUSE_GITLAB_CLIENT_ID", "id", "GATEHOUSE_GITLAB_CLIENT_SECRET", "s", "GATEHOUSE_GITLAB_URL", "http://gitlab.example.com"}, "GATEHOUSE_GITLAB_URL"},
		{"Microsoft without tenant", []string{"GATEHOUSE_MICROSOFT_CLIENT_ID", "id", "GATEHOUSE_MICROSOFT_CLIENT_SECRET", "s"}, "GATEHOUSE_MICROSOFT_TENANT"},
		{"Microsoft bad tenant", []string{"GATEHOUSE_MICROSOFT_CLIENT_ID", "id", "GATEHOUSE_MICROSOFT_CLIENT_SECRET", "s", "GATEHOUSE_MICROSOFT_TENANT", "contoso"}, "GATEHOUSE_MICROSOFT_TENANT"},
		{"Microsoft bad allowed tenant", []string{"GATEHOUSE_MICROSOFT_CLIENT_ID", "id", "GATEHOUSE_MICROSOFT_CLIENT_SECRET", "s", "GATEHOUSE_MICROSOFT_TENANT", "common", "GATEHOUSE_MICROSOFT_ALLOWED_TENANTS", "x"}, "GATEHOUSE_MICROSOFT_ALLOWED_TENANTS"},
		{"generic name", []string{"GATEHOUSE_OIDC_PROVIDERS", "Corp"}, "GATEHOUSE_OIDC_PROVIDERS"},
		{"generic built-in name", []string{"GATEHOUSE_OIDC_PROVIDERS", "google"}, "GATEHOUSE_OIDC_PROVIDERS"},
		{"generic reserved name", []string{"GATEHOUSE_OIDC_PROVIDERS", "refresh"}, "GATEHOUSE_OIDC_PROVIDERS"},
		{"generic twice", []string{"GATEHOUSE_OIDC_PROVIDERS", "corp,corp"}, "GATEHOUSE_OIDC_PROVIDERS"},
		{"generic without issuer", []string{"GATEHOUSE_OIDC_PROVIDERS", "corp"}, "GATEHOUSE_OIDC_CORP_ISSUER"},
		{"generic without credentials", []string{"GATEHOUSE_OIDC_PROVIDERS", "corp", "GATEHOUSE_OIDC_CORP_ISSUER", "https://idp.example.com"}, "GATEHOUSE_OIDC_CORP_CLIENT_ID"},
		{"generic without secret", corp("GATEHOUSE_OIDC_CORP_CLIENT_SECRET", ""), "GATEHOUSE_OIDC_CORP_CLIENT_SECRET"},
		{"generic plain http issuer", corp("GATEHOUSE_OIDC_CORP_ISSUER", "http://idp.example.com"), "GATEHOUSE_OIDC_CORP_ISSUER"},
		{"generic scopes without openid", corp("GATEHOUSE_OIDC_CORP_SCOPES", "profile email"), "GATEHOUSE_OIDC_CORP_SCOPES"},
		{"generic bad redirect URL", corp("GATEHOUSE_OIDC_CORP_REDIRECT_URL", "http://evil.example/cb"), "GATEHOUSE_OIDC_CORP_REDIRECT_URL"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			env := append([]string{"GATEHOUSE_PUBLIC_URL", https}, tc.env...)
			_, err := loadConfig(nil, envOf(env...), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.setting) {
				t.Fatalf("loadConfig = %v, want an error naming %s", err, tc.setting)
			}
		})
	}

	t.Run("good", func(t *testing.T) {
		cfg, err := loadConfig(nil, envOf(corp(
			"GATEHOUSE_GOOGLE_CLIENT_ID", "g", "GATEHOUSE_GOOGLE_CLIENT_SECRET", "gs",
			"GATEHOUSE_MICROSOFT_CLIENT_ID", "m", "GATEHOUSE_MICROSOFT_CLIENT_SECRET", "ms", "GATEHOUSE_MICROSOFT_TENANT", "organizations",
			"GATEHOUSE_OIDC_CORP_SCOPES", "openid,email", "GATEHOUSE_OIDC_CORP_DISPLAY_NAME", "Corp SSO")...), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range cfg.oidc {
			names = append(names, p.name)
		}
		if got := strings.Join(names, ","); got != "google,microsoft,corp" {
			t.Errorf("providers = %s, want google,microsoft,corp", got)
		}
		if cfg.devLogin {
			t.Error("the development login is on beside other providers")
		}
		if c := cfg.oidc[2]; c.displayName != "Corp SSO" || strings.Join(c.cfg.Scopes, " ") != "openid email" {
			t.Errorf("corp = %q %v, want its display name and scopes", c.displayName, c.cfg.Scopes)
		}
	})

	t.Run("flags", func(t *testing.T) {
		args := []string{"--oidc-providers", "corp", "--oidc-corp-issuer=https://idp.example.com",
			"--oidc-corp-client-id", "id", "--oidc-corp-client-secret", "s", "--public-url", https}
		cfg, err := loadConfig(args, envOf(), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.oidc) != 1 || cfg.oidc[0].cfg.Issuer != "https://idp.example.com" {
			t.Fatalf("providers from flags = %+v", cfg.oidc)
		}
	})
}

// envOf is env for a list built up in pieces.
func envOf(kv ...string) func(string) string { return env(kv...) }

// TestServeGenericOIDC: a login through a generic OpenID Connect provider
// configured by environment variables, end to end over HTTP against a fake
// issuer, listed in the documented order beside the development login.
func TestServeGenericOIDC(t *testing.T) {
	idp := oidctest.NewServer(t, oidctest.Options{PlainHTTP: true, AuthMethods: []string{"client_secret_post"}})
	other := oidctest.NewServer(t, oidctest.Options{PlainHTTP: true})
	other.SetDown(true)
	base, logs, stop := startServe(t,
		"GATEHOUSE_DATA_DIR", t.TempDir(),
		"GATEHOUSE_DEV_LOGIN", "true",
		"GATEHOUSE_OIDC_PROVIDERS", "corp,partner",
		"GATEHOUSE_OIDC_CORP_ISSUER", idp.Issuer(),
		"GATEHOUSE_OIDC_CORP_CLIENT_ID", idp.ClientID,
		"GATEHOUSE_OIDC_CORP_CLIENT_SECRET", idp.ClientSecret,
		"GATEHOUSE_OIDC_CORP_DISPLAY_NAME", "Corp SSO",
		"GATEHOUSE_OIDC_PARTNER_ISSUER", other.Issuer(),
		"GATEHOUSE_OIDC_PARTNER_CLIENT_ID", other.ClientID,
		"GATEHOUSE_OIDC_PARTNER_CLIENT_SECRET", other.ClientSecret,
	)
	defer stop()
	c := browser(t)
	var providers struct {
		Providers []struct {
			Name        string `json:"name"`
			DisplayName string `json:"display_name"`
		} `json:"providers"`
	}
	getJSON(t, c, mustRequest(t, "GET", base+"/auth/providers", ""), &providers)
	var listed []string
	for _, p := range providers.Providers {
		listed = append(listed, p.Name+"="+p.DisplayName)
	}
	if got, want := strings.Join(listed, ","), "corp=Corp SSO,partner=partner,dev=Development login"; got != want {
		t.Fatalf("providers = %s, want %s", got, want)
	}

	// The unreachable issuer: the server started, said so, and its logins
	// answer 503 until it can be reached.
	if !strings.Contains(logs.String(), "provider=partner") {
		t.Errorf("the log does not name the unreachable provider:\n%s", logs)
	}
	resp := getJSON(t, c, mustRequest(t, "GET", base+"/auth/partner/login", ""), &map[string]any{})
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("login at an unreachable issuer = %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	loginOIDC(t, base, c, idp, "corp", logs)
	if got := idp.Requests(oidctest.TokenPath); len(got) != 1 {
		t.Fatalf("token requests = %d, want 1", len(got))
	}
	if !strings.Contains(logs.String(), "provider=corp") || !strings.Contains(logs.String(), "result=success") {
		t.Errorf("no audit line for the corp login:\n%s", logs)
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// loginOIDC signs in through the OpenID Connect provider name, whose
// issuer is idp, as browser c, and returns the user's id.
func loginOIDC(t *testing.T, base string, c *http.Client, idp *oidctest.Server, name string, logs *syncbuf.Buffer) string {
	t.Helper()
	var login struct{ URL string }
	getJSON(t, c, mustRequest(t, "GET", base+"/auth/"+name+"/login", ""), &login)
	code, err := idp.Authorize(login.URL)
	if err != nil {
		t.Fatalf("the issuer refused the authorization URL %s: %v", login.URL, err)
	}
	var auth struct {
		AccessToken string         `json:"access_token"`
		User        map[string]any `json:"user"`
	}
	body := `{"code":"` + code + `","state":"` + mustQuery(t, login.URL).Get("state") + `"}`
	resp := getJSON(t, c, mustRequest(t, "POST", base+"/auth/"+name+"/authorize", body), &auth)
	if resp.StatusCode != http.StatusOK || auth.AccessToken == "" {
		t.Fatalf("authorize at %s = %d %+v\n%s", name, resp.StatusCode, auth, logs)
	}
	return auth.User["id"].(string)
}

// TestServeSameSubjectTwoIssuers: the same sub at two issuers is two
// accounts: identities are keyed on (provider, sub). Security case 33.
func TestServeSameSubjectTwoIssuers(t *testing.T) {
	a := oidctest.NewServer(t, oidctest.Options{PlainHTTP: true})
	b := oidctest.NewServer(t, oidctest.Options{PlainHTTP: true})
	// The same sub, with another address: the same address, verified at
	// both, would be refused as account_exists.
	u := oidctest.DefaultUser()
	u.Claims["email"] = "someone.else@example.com"
	b.SetUser(u)
	base, logs, stop := startServe(t,
		"GATEHOUSE_DATA_DIR", t.TempDir(),
		"GATEHOUSE_OIDC_PROVIDERS", "one,two",
		"GATEHOUSE_OIDC_ONE_ISSUER", a.Issuer(), "GATEHOUSE_OIDC_ONE_CLIENT_ID", a.ClientID, "GATEHOUSE_OIDC_ONE_CLIENT_SECRET", a.ClientSecret,
		"GATEHOUSE_OIDC_TWO_ISSUER", b.Issuer(), "GATEHOUSE_OIDC_TWO_CLIENT_ID", b.ClientID, "GATEHOUSE_OIDC_TWO_CLIENT_SECRET", b.ClientSecret,
	)
	defer stop()
	one := loginOIDC(t, base, browser(t), a, "one", logs)
	two := loginOIDC(t, base, browser(t), b, "two", logs)
	if one == two {
		t.Fatalf("the same sub at two issuers signed in as one user %s", one)
	}
	if again := loginOIDC(t, base, browser(t), a, "one", logs); again != one {
		t.Fatalf("a second login at the first issuer is user %s, want %s", again, one)
	}
}
