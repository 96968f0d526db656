// Package github logs users in with GitHub or GitHub Enterprise Server
// through an OAuth app.
//
// The identity is keyed on GitHub's numeric account id, kept as a decimal
// string, so a user who renames their account stays the same Gatehouse user.
// The email counts as verified only when GitHub lists it as the primary,
// verified address; the public profile email is shown but never trusted.
package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/oauth"
	"golang.org/x/oauth2"
)

// Default URLs of github.com.
const (
	DefaultURL    = "https://github.com"
	DefaultAPIURL = "https://api.github.com"
)

// DefaultScopes read the profile and the email addresses.
var DefaultScopes = []string{"read:user", "user:email"}

// Config configures a GitHub OAuth app.
type Config struct {
	ClientID     string
	ClientSecret string
	// URL is GitHub's web address: DefaultURL, or the address of a GitHub
	// Enterprise Server.
	URL string
	// APIURL is the REST API's address: DefaultAPIURL, or
	// https://HOST/api/v3 for GitHub Enterprise Server.
	APIURL string
	// Scopes default to DefaultScopes.
	Scopes []string
	// HTTPClient, if set, makes every call to GitHub; it must have a
	// timeout.
	HTTPClient *http.Client
}

// New returns a provider for the GitHub OAuth app c describes.
func New(c Config) (*oauth.Provider, error) {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if c.Scopes == nil {
		c.Scopes = DefaultScopes
	}
	web, err := baseURL(c.URL)
	if err != nil {
		return nil, fmt.Errorf("github: URL: %w", err)
	}
	api, err := baseURL(c.APIURL)
	if err != nil {
		return nil, fmt.Errorf("github: API URL: %w", err)
	}
	p, err := oauth.New(oauth.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   web + "/login/oauth/authorize",
			TokenURL:  web + "/login/oauth/access_token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
		Scopes:     c.Scopes,
		HTTPClient: c.HTTPClient,
		Identity: func(ctx context.Context, client *http.Client, tok *oauth2.Token, _ gatehouse.AuthParams) (*gatehouse.Identity, error) {
			return identity(ctx, client, api, tok)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("github: %w", err)
	}
	return p, nil
}

func baseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q is not an http(s) base URL", s)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// user is the part of GET /user that Gatehouse reads. Every field but id and
// login can be null.
type user struct {
	ID        json.RawMessage `json:"id"`
	Login     *string         `json:"login"`
	Name      *string         `json:"name"`
	Email     *string         `json:"email"`
	Company   *string         `json:"company"`
	Location  *string         `json:"location"`
	AvatarURL *string         `json:"avatar_url"`
}

type email struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

func get(ctx context.Context, client *http.Client, url, accessToken string, v any) error {
	req, err := oauth.NewRequest(ctx, url, accessToken)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	return oauth.GetJSON(client, req, v)
}

func identity(ctx context.Context, client *http.Client, api string, tok *oauth2.Token) (*gatehouse.Identity, error) {
	var u user
	if err := get(ctx, client, api+"/user", tok.AccessToken, &u); err != nil {
		return nil, oauth.APIError(err)
	}
	id, err := accountID(u.ID)
	if err != nil {
		return nil, &gatehouse.Error{Code: gatehouse.EUpstream, Message: "GitHub answered with an unusable profile", Err: err}
	}
	ident := &gatehouse.Identity{
		Subject: id,
		Profile: gatehouse.Profile{
			Login:    u.Login,
			Name:     u.Name,
			Company:  u.Company,
			Location: u.Location,
			Email:    u.Email,
			Picture:  u.AvatarURL,
		},
	}
	if !hasScope(tok, "user:email") && !hasScope(tok, "user") {
		// Without the scope GitHub refuses /user/emails: keep the public
		// email, unverified.
		return ident, nil
	}
	var emails []email
	if err := get(ctx, client, api+"/user/emails?per_page=100", tok.AccessToken, &emails); err != nil {
		apiErr := oauth.APIError(err)
		var se *oauth.StatusError
		if gatehouse.ErrorCode(apiErr) == gatehouse.EUpstream && errors.As(err, &se) &&
			se.StatusCode >= 400 && se.StatusCode < 500 {
			// 401/403/404 that are not rate limits: no access to the
			// addresses. The user can still log in, with no verified
			// email.
			return ident, nil
		}
		return nil, apiErr
	}
	for _, e := range emails {
		if e.Primary && e.Verified && e.Email != "" {
			ident.Email = &e.Email
			ident.EmailVerified = true
			break
		}
	}
	return ident, nil
}

// accountID returns GitHub's numeric account id as a canonical decimal
// string. It takes the JSON number's text as is, without a float64 round
// trip, so ids above 2^53 survive exactly; anything but a positive integer
// (a string, a fraction, an exponent) is refused.
func accountID(raw json.RawMessage) (string, error) {
	s := string(raw)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != s {
		return "", fmt.Errorf("GitHub user id %q is not a positive integer", oauth.Printable(s))
	}
	return s, nil
}

// hasScope reports whether the token response's comma- or space-separated
// scope list grants scope.
func hasScope(tok *oauth2.Token, scope string) bool {
	granted, _ := tok.Extra("scope").(string)
	for _, s := range strings.FieldsFunc(granted, func(r rune) bool { return r == ',' || r == ' ' }) {
		if s == scope {
			return true
		}
	}
	return false
}
