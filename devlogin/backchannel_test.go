package devlogin_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/devlogin"
	"github.com/gatehouse/gatehouse/devlogin/devlogintest"
)

// TestBackchannelIsNotPublic: the token, userinfo, JWKS and discovery
// endpoints are not served to browsers at all, not even loopback ones, while the provider
// reaches them in-process.
func TestBackchannelIsNotPublic(t *testing.T) {
	f := newFixture(t)
	q, err := devlogintest.Approve(f.client, f.provider.AuthCodeURL(params), "allow", "A", "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "client_id": {"gatehouse-dev"},
		"redirect_uri": {redirect}, "code_verifier": {params.CodeVerifier}}
	resp, err := f.client.PostForm(publicURL+devlogin.Prefix+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST %s/token through ServeHTTP: got %d, want 404", devlogin.Prefix, resp.StatusCode)
	}
	for _, path := range []string{"/userinfo", "/jwks", "/.well-known/openid-configuration"} {
		resp, _ = get(t, f.client, publicURL+devlogin.Prefix+path)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s%s through ServeHTTP: got %d, want 404", devlogin.Prefix, path, resp.StatusCode)
		}
	}
	if _, err := f.provider.Exchange(context.Background(), q.Get("code"), params); err != nil {
		t.Errorf("Exchange: got %v, want no error", err)
	}
}

// TestExchangeOutlivesTheListener: a login started through a real
// (loopback) listener completes after the listener has closed, as it does
// when Gatehouse shuts down.
func TestExchangeOutlivesTheListener(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var h http.Handler = http.NotFoundHandler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer ts.Close()
	dev, err := devlogin.New(devlogin.Config{PublicURL: ts.URL, RedirectURI: redirect, Listener: ts.Listener.Addr(),
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	h = dev
	p, err := dev.Provider()
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q, err := devlogintest.Approve(client, p.AuthCodeURL(params), "allow", "Ada", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ts.Close()
	ident, err := p.Exchange(context.Background(), q.Get("code"), params)
	if err != nil {
		t.Fatalf("Exchange after the listener closed: got %v, want no error", err)
	}
	if *ident.Email != "ada@example.com" {
		t.Errorf("email: got %q, want %q", *ident.Email, "ada@example.com")
	}
}

func TestTokenEndpointNeedsTheClientSecret(t *testing.T) {
	f := newFixture(t)
	q, err := devlogintest.Approve(f.client, f.provider.AuthCodeURL(params), "allow", "A", "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.dev.BackchannelClient().PostForm(devlogin.BackchannelURL+devlogin.Prefix+"/token", url.Values{"grant_type": {"authorization_code"},
		"code": {q.Get("code")}, "client_id": {"gatehouse-dev"}, "client_secret": {"guess"},
		"redirect_uri": {redirect}, "code_verifier": {params.CodeVerifier}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status: got %d, want 401", resp.StatusCode)
	}
}

// TestBackchannelHonoursCancellation: a cancelled exchange fails without
// reaching the token endpoint, so the code is still good afterwards.
func TestBackchannelHonoursCancellation(t *testing.T) {
	f := newFixture(t)
	q, err := devlogintest.Approve(f.client, f.provider.AuthCodeURL(params), "allow", "A", "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.provider.Exchange(ctx, q.Get("code"), params); err == nil {
		t.Fatal("Exchange with a cancelled context: got no error")
	}
	if _, err := f.provider.Exchange(context.Background(), q.Get("code"), params); err != nil {
		t.Errorf("Exchange after a cancelled one: got %v, want no error", err)
	}
}

// TestBackchannelGivesUpWithItsCaller: a request cancelled while the
// handler is still reading it returns at once with the context's error,
// and its body is closed.
func TestBackchannelGivesUpWithItsCaller(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	body := &stalledBody{onRead: cancel, closed: make(chan struct{})}
	req, err := http.NewRequestWithContext(ctx, "POST", devlogin.BackchannelURL+devlogin.Prefix+"/token", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	done := make(chan error, 1)
	go func() {
		resp, err := f.dev.BackchannelClient().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// The timers bound a failure; they are not how the test waits.
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error: got %v, want %v", err, context.Canceled)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not return when its context was cancelled")
	}
	select {
	case <-body.closed:
	case <-time.After(5 * time.Second):
		t.Error("the request body was not closed")
	}
}

// stalledBody is a request body that calls onRead and then blocks until
// it is closed.
type stalledBody struct {
	onRead func()
	closed chan struct{}
	once   sync.Once
}

func (b *stalledBody) Read([]byte) (int, error) {
	b.onRead()
	<-b.closed
	return 0, io.ErrClosedPipe
}

func (b *stalledBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// TestBackchannelServesOnlyItself: the back-channel transport never sends
// a request anywhere else.
func TestBackchannelServesOnlyItself(t *testing.T) {
	f := newFixture(t)
	for _, u := range []string{publicURL + devlogin.Prefix + "/userinfo", "https://dev-login.invalid" + devlogin.Prefix + "/userinfo"} {
		resp, err := f.dev.BackchannelClient().Get(u)
		if err == nil {
			resp.Body.Close()
			t.Errorf("GET %s through the back-channel: got HTTP %d, want an error", u, resp.StatusCode)
		} else if !strings.Contains(err.Error(), devlogin.BackchannelURL) {
			t.Errorf("GET %s through the back-channel: got %v, want an error naming %s", u, err, devlogin.BackchannelURL)
		}
	}
}

// TestBackchannelAnswersLikeHTTP: statuses, headers and bodies come back
// as a server would send them.
func TestBackchannelAnswersLikeHTTP(t *testing.T) {
	f := newFixture(t)
	req, _ := http.NewRequest("GET", devlogin.BackchannelURL+devlogin.Prefix+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer nope")
	resp, err := f.dev.BackchannelClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body := string(raw)
	if resp.StatusCode != http.StatusUnauthorized || resp.Status != "401 Unauthorized" ||
		resp.Header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` || resp.Header.Get("Content-Type") != "application/json" ||
		strings.TrimSpace(body) != `{"error":"invalid_token"}` || resp.ContentLength != int64(len(body)) {
		t.Errorf("got %s %v %q (length %d), want 401 with WWW-Authenticate and a JSON error", resp.Status, resp.Header, body, resp.ContentLength)
	}
}
