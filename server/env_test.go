package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/devlogin"
	"github.com/gatehouse/gatehouse/devlogin/devlogintest"
	"github.com/gatehouse/gatehouse/github"
	"github.com/gatehouse/gatehouse/github/githubtest"
	"github.com/gatehouse/gatehouse/internal/jwstest"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
	"github.com/gatehouse/gatehouse/internal/testclock"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/sqlite"
	"github.com/gatehouse/gatehouse/token"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for looking behind the store
)

// backend is the store the HTTP tests run on: "sqlite", then "postgres"
// (see TestMain).
var backend = "sqlite"

// TestMain runs every test of the package on SQLite and then, when
// GATEHOUSE_TEST_POSTGRES names a database, all of them again on
// PostgreSQL: the same tests, the other store. With CI=true the
// PostgreSQL run is required.
func TestMain(m *testing.M) {
	code := m.Run()
	if code != 0 || flagSet("test.fuzz") || flagSet("test.list") {
		os.Exit(code)
	}
	if os.Getenv(pgtest.EnvVar) == "" {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "FAIL: %s is not set; with CI=true the HTTP tests must also run on PostgreSQL\n", pgtest.EnvVar)
			os.Exit(1)
		}
		fmt.Printf("server: %s is not set; the HTTP tests ran on SQLite only\n", pgtest.EnvVar)
		os.Exit(0)
	}
	backend = "postgres"
	fmt.Println("server: running the HTTP tests again on PostgreSQL")
	os.Exit(m.Run())
}

// TestBackends reads GATEHOUSE_TEST_POSTGRES during the first run, where
// go test's cache records the variables a test reads: without it, setting
// the variable after a cached SQLite-only pass would print that pass again
// instead of running the PostgreSQL one (TestMain reads it only after).
func TestBackends(t *testing.T) {
	if backend == "sqlite" {
		t.Logf("backends: sqlite, then postgres if %s is set (it is %v)", pgtest.EnvVar, os.Getenv(pgtest.EnvVar) != "")
	}
}

// flagSet reports whether the go test flag name was given, for flags
// (-fuzz, -list) that make a second run pointless.
func flagSet(name string) bool {
	f := flag.Lookup(name)
	return f != nil && f.Value.String() != ""
}

// testStore opens a fresh store of the current backend, and a plain
// database/sql handle on the same data for tests to look behind it, and
// returns the database's URL (for SQLite, its path).
// Through proxy (if not nil), the PostgreSQL store's connections pass a
// relay the test can cut.
func testStore(tb testing.TB, proxy **pgtest.Proxy, pgParams ...string) (store gatehouse.Store, db *sql.DB, url string) {
	tb.Helper()
	ctx := context.Background()
	var err error
	switch backend {
	case "sqlite":
		url = filepath.Join(tb.TempDir(), "gatehouse.db")
		if store, err = sqlite.Open(ctx, url); err != nil {
			tb.Fatal(err)
		}
		db, err = sql.Open("sqlite", "file:"+url+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
	case "postgres":
		url = pgtest.Schema(tb)
		storeURL := url
		if proxy != nil {
			*proxy = pgtest.NewProxy(tb, pgtest.Host(tb, url))
			storeURL = pgtest.WithHost(tb, url, (*proxy).Addr())
		}
		for i := 0; i+1 < len(pgParams); i += 2 {
			storeURL = pgtest.WithParam(tb, storeURL, pgParams[i], pgParams[i+1])
		}
		if store, err = postgres.Open(ctx, storeURL); err != nil {
			tb.Fatal(err)
		}
		db, err = sql.Open("pgx", url)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		db.Close()
		store.Close()
	})
	return store, db, url
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, … when needed.
func rebind(q string) string {
	if backend != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// env is a whole Gatehouse for one test: a real database (SQLite or
// PostgreSQL, see backend), the dev login provider over real HTTP on the
// same test server, a fake clock shared by both, captured logs, and a
// browser-like client with a cookie jar.
type env struct {
	t     *testing.T
	srv   *Server
	ts    *httptest.Server
	store gatehouse.Store
	db    *sql.DB // the same data, behind the store's back
	dbURL string  // the database's URL, or SQLite's file
	cfg   Config  // the server's configuration
	// sids is the session of each user logged in with loginUser, for
	// tokens the tests sign themselves.
	sids    map[string]string
	proxy   *pgtest.Proxy
	clock   *testclock.Clock
	logs    *syncbuf.Buffer
	browser *http.Client
	// exchanges counts code exchanges per provider name.
	exchanges map[string]*atomic.Int32

	kid  string
	priv *ecdsa.PrivateKey

	// gh is the fake GitHub, when the env has the github provider.
	gh *githubtest.Server
}

type envOptions struct {
	tls bool
	// github adds the github provider, talking to a fake GitHub whose
	// calls time out after githubTimeout (default 2 s).
	github        bool
	githubTimeout time.Duration
	appURL        string // default: the test server's URL
	providers     func(e *env) []Provider
	config        func(c *Config)
	// wrapStore, if set, stands between the server and the real store.
	wrapStore func(gatehouse.Store) gatehouse.Store
	// proxy puts a relay the test can cut between a PostgreSQL store and
	// its database (e.proxy).
	proxy bool
	// pgLockTimeout, if set, is the PostgreSQL store's lock_timeout: a
	// statement waiting longer for a lock fails (as unavailable).
	pgLockTimeout string
}

// counting wraps a provider to count its code exchanges.
type counting struct {
	gatehouse.Provider
	n *atomic.Int32
}

func (c counting) Exchange(ctx context.Context, code string, p gatehouse.AuthParams) (*gatehouse.Identity, error) {
	c.n.Add(1)
	return c.Provider.Exchange(ctx, code, p)
}

// LoopbackOnly passes the wrapped provider's ability on.
func (c counting) LoopbackOnly() bool {
	lo, ok := c.Provider.(gatehouse.LoopbackOnly)
	return ok && lo.LoopbackOnly()
}

// Prepare passes the wrapped provider's ability on: a provider without it
// is always ready.
func (c counting) Prepare(ctx context.Context) error {
	if pr, ok := c.Provider.(gatehouse.Preparer); ok {
		return pr.Prepare(ctx)
	}
	return nil
}

func newEnv(t *testing.T, opts ...func(*envOptions)) *env {
	t.Helper()
	var o envOptions
	for _, f := range opts {
		f(&o)
	}
	e := &env{
		t:         t,
		clock:     testclock.New(time.Now().UTC().Truncate(time.Second)),
		logs:      &syncbuf.Buffer{},
		exchanges: map[string]*atomic.Int32{},
		sids:      map[string]string{},
	}
	var handler http.Handler = http.NotFoundHandler()
	mux := http.NewServeMux()
	serve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) })
	if o.tls {
		e.ts = httptest.NewTLSServer(serve)
	} else {
		e.ts = httptest.NewServer(serve)
	}
	t.Cleanup(e.ts.Close)

	var proxy **pgtest.Proxy
	if o.proxy {
		proxy = &e.proxy
	}
	var pgParams []string
	if o.pgLockTimeout != "" {
		pgParams = append(pgParams, "lock_timeout", o.pgLockTimeout)
	}
	store, db, url := testStore(t, proxy, pgParams...)
	e.store, e.db, e.dbURL = store, db, url
	t.Logf("store: %s", backend)

	// A signing key made here, so tests can forge tokens with our own key.
	sk, err := token.GenerateKey(token.ES256, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	sk.ActivatesAt = sk.CreatedAt
	if _, err := store.UpdateSigningKeys(context.Background(), func([]*gatehouse.SigningKey) ([]*gatehouse.SigningKey, error) {
		return []*gatehouse.SigningKey{sk}, nil
	}); err != nil {
		t.Fatal(err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(sk.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	e.kid, e.priv = sk.ID, priv.(*ecdsa.PrivateKey)

	appURL := o.appURL
	if appURL == "" {
		appURL = e.ts.URL
	}
	var providers []Provider
	if o.providers != nil {
		providers = o.providers(e)
	} else {
		providers = []Provider{e.devProvider(appURL, mux)}
	}
	if o.github {
		providers = append(providers, e.githubProvider(appURL, o.githubTimeout))
	}
	for i, p := range providers {
		n := &atomic.Int32{}
		e.exchanges[p.Name] = n
		providers[i].Provider = counting{p.Provider, n}
	}
	var served gatehouse.Store = store
	if o.wrapStore != nil {
		served = o.wrapStore(store)
	}
	cfg := Config{
		PublicURL: e.ts.URL,
		AppURL:    appURL,
		Store:     served,
		Providers: providers,
		Logger:    slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:       e.clock.Now,
	}
	if o.config != nil {
		o.config(&cfg)
	}
	e.cfg = cfg
	e.srv, err = New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.srv.Close() })
	mux.Handle("/", e.srv)
	// As in the gatehouse binary: an unclean path goes to the API, which
	// answers it in JSON, not to the mux, which would redirect.
	handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsCleanPath(r.URL.EscapedPath()) {
			e.srv.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	e.browser = e.newBrowser()
	return e
}

// devProvider registers the dev login server on mux and returns it as a
// provider named "dev" redirecting to {appURL}/auth/dev.
func (e *env) devProvider(appURL string, mux *http.ServeMux) Provider {
	dev, err := devlogin.New(devlogin.Config{
		PublicURL:   e.ts.URL,
		RedirectURI: appURL + "/auth/dev",
		Listener:    e.ts.Listener.Addr(),
		Now:         e.clock.Now,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	mux.Handle(devlogin.Prefix+"/", dev)
	p, err := dev.Provider()
	if err != nil {
		e.t.Fatal(err)
	}
	return Provider{Name: "dev", DisplayName: "Development login", Provider: p}
}

// Credentials of the fake GitHub OAuth app.
const (
	ghClientID     = "Ov23liGatehouseTest"
	ghClientSecret = "gh-secret-5e1f0c7d9a2b4e6f8a0c"
)

// githubProvider starts a fake GitHub and returns the github provider
// talking to it.
func (e *env) githubProvider(appURL string, timeout time.Duration) Provider {
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	e.gh = githubtest.NewServer(e.t, ghClientID, ghClientSecret, appURL+"/auth/github")
	p, err := github.New(github.Config{
		ClientID:     ghClientID,
		ClientSecret: ghClientSecret,
		URL:          e.gh.WebURL(),
		APIURL:       e.gh.APIURL(),
		HTTPClient:   oauth.NewHTTPClient(timeout),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return Provider{Name: "github", DisplayName: "GitHub", Provider: p}
}

// newBrowser returns a client with its own cookie jar that does not follow
// redirects, like a separate browser.
func (e *env) newBrowser() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	c := *e.ts.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a map.
func (r *response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// request sends a request through client. body may be nil, a string (sent
// as is) or any other value (sent as JSON); headers are name, value pairs.
func (e *env) request(client *http.Client, method, path string, body any, headers ...string) *response {
	e.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		raw = j
		headers = append([]string{"Content-Type", "application/json"}, headers...)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	// Every answer checks openapi.json too (resp.Request carries the
	// cookies the jar added).
	if err := checkAPI(resp.Request, raw, resp.StatusCode, resp.Header, b); err != nil {
		e.t.Errorf("%s %s: the answer does not match openapi.json: %v", method, path, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (e *env) get(path string, headers ...string) *response {
	e.t.Helper()
	return e.request(e.browser, http.MethodGet, path, nil, headers...)
}

// startLogin asks for a login URL as browser does and returns it.
func (e *env) startLogin(browser *http.Client, provider string) *url.URL {
	e.t.Helper()
	r := e.request(browser, http.MethodGet, "/auth/"+provider+"/login", nil)
	if r.status != http.StatusOK {
		e.t.Fatalf("GET /auth/%s/login = %d %s", provider, r.status, r.body)
	}
	u, err := url.Parse(r.json(e.t)["url"].(string))
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// devApprove plays the person on the dev login page: it opens authURL,
// submits the form with action ("allow" or "deny"), and returns the query
// of the redirect back to the app.
func (e *env) devApprove(authURL *url.URL, action, name, email string) url.Values {
	e.t.Helper()
	q, err := devlogintest.Approve(e.newBrowser(), authURL.String(), action, name, email)
	if err != nil {
		e.t.Fatal(err)
	}
	return q
}

// authorize posts code and state as the app would, from browser.
func (e *env) authorize(browser *http.Client, provider string, body any, headers ...string) *response {
	e.t.Helper()
	return e.request(browser, http.MethodPost, "/auth/"+provider+"/authorize", body, headers...)
}

// loginDev runs the whole dev login for email in browser and returns the
// authorize response, which must be a 200.
func (e *env) loginDev(browser *http.Client, email string) map[string]any {
	e.t.Helper()
	q := e.devApprove(e.startLogin(browser, "dev"), "allow", "Test User", email)
	r := e.authorize(browser, "dev", map[string]string{"code": q.Get("code"), "state": q.Get("state")})
	if r.status != http.StatusOK {
		e.t.Fatalf("authorize = %d %s", r.status, r.body)
	}
	return r.json(e.t)
}

// count returns the number of rows in table, read straight from the
// database.
func (e *env) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// query returns the one value q selects, read straight from the database;
// q uses ? placeholders on every backend.
func (e *env) query(q string, args ...any) string {
	e.t.Helper()
	var s string
	if err := e.db.QueryRow(rebind(q), args...).Scan(&s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// exec runs q straight on the database and returns the rows it affected.
func (e *env) exec(q string, args ...any) int64 {
	e.t.Helper()
	res, err := e.db.Exec(rebind(q), args...)
	if err != nil {
		e.t.Fatal(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// sign makes a token signed with the server's real key.
func (e *env) sign(header, claims any) string {
	return jwstest.Sign(token.ES256, e.priv, header, claims)
}

func (e *env) header() map[string]any {
	return map[string]any{"alg": token.ES256, "kid": e.kid, "typ": token.Type}
}

func (e *env) claims(sub string) map[string]any {
	now := e.clock.Now().Unix()
	sid, ok := e.sids[sub]
	if !ok {
		sid = "no-such-session"
	}
	return map[string]any{"iss": e.ts.URL, "aud": e.ts.URL, "sub": sub, "sid": sid, "iat": now, "nbf": now,
		"exp": now + 600, "jti": fmt.Sprint("jti-", now)}
}

// wantError checks an error response: status, error code, the standard
// two-member body and the JSON content type.
func wantError(t *testing.T, r *response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	m := r.json(t)
	if m["error"] != code {
		t.Fatalf("error = %v, want %q (body %s)", m["error"], code, r.body)
	}
	if _, ok := m["error_description"].(string); !ok || len(m) != 2 {
		t.Fatalf("error body %s is not exactly {error, error_description}", r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// randomToken returns 256 random bits, base64url-encoded: the shape of a
// state, a login cookie, or the secret half of a refresh token.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hash is how the stores keep tokens: SHA-256, base64url-encoded.
func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
