package login

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/testclock"
	"github.com/gatehouse/gatehouse/internal/teststore"
)

// idp is a fake identity provider. Like a real one it remembers each
// authorization request (by state), lets the person approve it, and
// exchanges a code once, and only with the PKCE verifier and redirect URI
// of the request the code was issued for.
type idp struct {
	mu        sync.Mutex
	requests  map[string]gatehouse.AuthParams // by state
	codes     map[string]grant
	exchanged []exchange
	// fail, if set, is what every exchange answers.
	fail error
}

type grant struct {
	params gatehouse.AuthParams
	ident  gatehouse.Identity
}

// exchange is one call of Exchange, as the provider saw it.
type exchange struct {
	code     string
	params   gatehouse.AuthParams
	deadline time.Time
}

func newIDP() *idp {
	return &idp{requests: map[string]gatehouse.AuthParams{}, codes: map[string]grant{}}
}

func (p *idp) AuthCodeURL(a gatehouse.AuthParams) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests[a.State] = a
	sum := sha256.Sum256([]byte(a.CodeVerifier))
	q := url.Values{"state": {a.State}, "redirect_uri": {a.RedirectURI}, "nonce": {a.Nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	return "https://idp.example/authorize?" + q.Encode()
}

func (p *idp) Exchange(ctx context.Context, code string, a gatehouse.AuthParams) (*gatehouse.Identity, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	deadline, _ := ctx.Deadline()
	p.exchanged = append(p.exchanged, exchange{code, a, deadline})
	if p.fail != nil {
		return nil, p.fail
	}
	g, ok := p.codes[code]
	if !ok || g.params.CodeVerifier != a.CodeVerifier || g.params.RedirectURI != a.RedirectURI {
		return nil, gatehouse.Errorf(gatehouse.EInvalidGrant, "the code is unknown, used, or was issued for another request")
	}
	delete(p.codes, code)
	ident := g.ident
	return &ident, nil
}

// approve plays the person at the provider: it approves the request of
// the login whose provider URL is authURL, for the account ident, and
// returns the state and code the provider sends back.
func (p *idp) approve(t *testing.T, authURL string, ident gatehouse.Identity) (state, code string) {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	state = u.Query().Get("state")
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.requests[state]
	if !ok {
		t.Fatalf("the provider never issued %s", authURL)
	}
	code = "code-" + randomToken()
	p.codes[code] = grant{a, ident}
	return state, code
}

// exchanges returns how many code exchanges the provider was asked for.
func (p *idp) exchanges() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.exchanged)
}

// lastExchange returns the provider's view of the last exchange.
func (p *idp) lastExchange(t *testing.T) exchange {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.exchanged) == 0 {
		t.Fatal("no exchange")
	}
	return p.exchanged[len(p.exchanged)-1]
}

// fixture is a Manager on a real store with a fake clock and two fake
// providers, "idp" and "other".
type fixture struct {
	t     *testing.T
	m     *Manager
	store gatehouse.Store
	clock *testclock.Clock
	idp   *idp
	other *idp
	cfg   Config
}

const redirectURL = "https://app.example.com/auth/idp"

func newFixture(t *testing.T, store gatehouse.Store, opts ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, store: store, idp: newIDP(), other: newIDP(),
		clock: testclock.New(time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC))}
	f.cfg = Config{
		Store: store,
		Providers: []Provider{
			{Name: "idp", DisplayName: "The IdP", RedirectURL: redirectURL, Provider: f.idp},
			{Name: "other", RedirectURL: "https://app.example.com/auth/other", Provider: f.other},
		},
		Now: f.clock.Now,
	}
	for _, o := range opts {
		o(&f.cfg)
	}
	m, err := New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	return f
}

// browser is one browser's login in progress: what Start gave it and the
// callback the provider sent it back with.
type browser struct {
	started *Started
	cb      Callback
}

// login starts a login at provider for client in a browser that holds
// previous (a binding, or ""), and has the provider approve it for the
// account subject.
func (f *fixture) login(provider, client, previous, subject string) *browser {
	f.t.Helper()
	st, err := f.m.Start(context.Background(), provider, client, previous)
	if err != nil {
		f.t.Fatalf("Start: %v", err)
	}
	p := f.idp
	if provider == "other" {
		p = f.other
	}
	state, code := p.approve(f.t, st.URL, account(subject))
	return &browser{started: st, cb: Callback{State: state, Binding: st.Binding, Code: code}}
}

// finish finishes b's login and requires success.
func (f *fixture) finish(b *browser) *Result {
	f.t.Helper()
	res, err := f.m.Finish(context.Background(), "idp", b.cb)
	if err != nil {
		f.t.Fatalf("Finish: %v", err)
	}
	return res
}

// account is a provider account with a plain profile.
func account(subject string) gatehouse.Identity {
	name, email := "Person "+subject, subject+"@example.com"
	return gatehouse.Identity{Subject: subject, Profile: gatehouse.Profile{Name: &name, Email: &email, EmailVerified: true}}
}

// count returns the number of rows in table, behind the store's back.
func (f *fixture) count(table string) int {
	f.t.Helper()
	return teststore.Count(f.t, f.store, table)
}

// wantCounts checks the rows the store holds.
func (f *fixture) wantCounts(loginStates, users, identities int) {
	f.t.Helper()
	if l, u, i := f.count("login_states"), f.count("users"), f.count("identities"); l != loginStates || u != users || i != identities {
		f.t.Fatalf("login_states %d, users %d, identities %d; want %d, %d, %d", l, u, i, loginStates, users, identities)
	}
}

// wantCode checks that err is a *gatehouse.Error with the code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := gatehouse.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func each(t *testing.T, fn func(t *testing.T, s gatehouse.Store)) { teststore.Each(t, fn) }
