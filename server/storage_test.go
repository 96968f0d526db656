package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/sqlite"
)

// These tests are about the database under the HTTP API; like every test of
// the package they run on SQLite and again on PostgreSQL (see TestMain).

// TestSec37ParallelFirstLogins: 50 browsers finish a first login of the same
// new account at once. Every request succeeds or fails retryably (503),
// none gets a 500, and the database ends with one user and one identity.
func TestSec37ParallelFirstLogins(t *testing.T) {
	e := newEnv(t)
	const n = 50
	type flow struct {
		browser *http.Client
		body    map[string]string
	}
	flows := make([]flow, n)
	for i := range flows {
		b := e.newBrowser()
		q := e.devApprove(e.startLogin(b, "dev"), "allow", "New Person", "new@example.com")
		flows[i] = flow{b, map[string]string{"code": q.Get("code"), "state": q.Get("state")}}
	}
	results := make([]*response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, f := range flows {
		wg.Go(func() {
			<-start
			results[i] = e.authorize(f.browser, "dev", f.body)
		})
	}
	close(start)
	wg.Wait()
	ok, ids := 0, map[string]bool{}
	for _, r := range results {
		switch r.status {
		case http.StatusOK:
			ok++
			ids[r.json(t)["user"].(map[string]any)["id"].(string)] = true
		case http.StatusServiceUnavailable:
			wantError(t, r, http.StatusServiceUnavailable, gatehouse.EUnavailable)
		default:
			t.Errorf("parallel first login = %d %s, want 200 or a retryable 503", r.status, r.body)
		}
	}
	if ok == 0 || len(ids) != 1 {
		t.Fatalf("%d logins succeeded with %d distinct users, want at least one and exactly one user", ok, len(ids))
	}
	if users, idents := e.count("users"), e.count("identities"); users != 1 || idents != 1 {
		t.Fatalf("%d users, %d identities; want 1 and 1", users, idents)
	}
	if logs := e.logs.String(); containsAny(logs, "database is locked", "SQLSTATE", "duplicate key") {
		t.Errorf("a database error reached the log:\n%s", logs)
	}
}

// failingUpsert is a store whose UpsertIdentity fails as if the database
// went away: the fault lands after the provider exchange, during the
// upsert.
type failingUpsert struct {
	gatehouse.Store
	mu    sync.Mutex
	fails int
}

func (f *failingUpsert) UpsertIdentity(ctx context.Context, ident *gatehouse.Identity, now time.Time, onEmailMatch gatehouse.EmailMatch) (*gatehouse.User, error) {
	f.mu.Lock()
	fail := f.fails > 0
	f.fails--
	f.mu.Unlock()
	if fail {
		return nil, fmt.Errorf("%w: injected: connection reset by peer", gatehouse.ErrUnavailable)
	}
	return f.Store.UpsertIdentity(ctx, ident, now, onEmailMatch)
}

// TestSec79FailedUpsert: the database fails after the code exchange, during
// the upsert. The client gets 503 temporarily_unavailable with Retry-After;
// no user, identity or login state is left behind; the spent state cannot
// be replayed; and a fresh login succeeds.
func TestSec79FailedUpsert(t *testing.T) {
	f := &failingUpsert{fails: 1}
	e := newEnv(t, func(o *envOptions) {
		o.wrapStore = func(s gatehouse.Store) gatehouse.Store { f.Store = s; return f }
	})
	q := e.devApprove(e.startLogin(e.browser, "dev"), "allow", "A", "a@example.com")
	body := map[string]string{"code": q.Get("code"), "state": q.Get("state")}
	r := e.authorize(e.browser, "dev", body)
	wantError(t, r, http.StatusServiceUnavailable, gatehouse.EUnavailable)
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	wantNoPartialState(t, e)

	wantError(t, e.authorize(e.browser, "dev", body), http.StatusBadRequest, gatehouse.EInvalidState)
	e.loginDev(e.browser, "a@example.com")
	if users, idents := e.count("users"), e.count("identities"); users != 1 || idents != 1 {
		t.Fatalf("after a fresh login: %d users, %d identities; want 1 and 1", users, idents)
	}
}

// TestSec79KilledConnection is TestSec79FailedUpsert with a real fault on
// PostgreSQL: the server's connection is terminated in the middle of the
// upsert transaction, after the user row is written and while the identity
// insert waits. (On SQLite, where there is no connection to lose, the store
// tests abort the same transaction at the same point.)
func TestSec79KilledConnection(t *testing.T) {
	if backend != "postgres" {
		t.Skip("PostgreSQL only: an embedded SQLite file has no connection to kill; see storetest KilledUpsertLeavesNothing")
	}
	e := newEnv(t)
	q := e.devApprove(e.startLogin(e.browser, "dev"), "allow", "A", "a@example.com")
	wait := pgtest.KillWaiting(t, e.dbURL, `LOCK TABLE identities IN SHARE MODE`)
	r := e.authorize(e.browser, "dev", map[string]string{"code": q.Get("code"), "state": q.Get("state")})
	wait()
	wantError(t, r, http.StatusServiceUnavailable, gatehouse.EUnavailable)
	wantNoPartialState(t, e)
	e.loginDev(e.browser, "a@example.com")
	if users, idents := e.count("users"), e.count("identities"); users != 1 || idents != 1 {
		t.Fatalf("after a fresh login: %d users, %d identities; want 1 and 1", users, idents)
	}
}

func wantNoPartialState(t *testing.T, e *env) {
	t.Helper()
	if users, idents, states := e.count("users"), e.count("identities"), e.count("login_states"); users+idents+states != 0 {
		t.Fatalf("after the failed login: %d users, %d identities, %d login states; want none", users, idents, states)
	}
}

// TestDatabaseOutage: with the database unreachable, requests that need it
// answer 503 temporarily_unavailable with Retry-After, /readyz answers 503
// and /healthz 200. On PostgreSQL the connection is cut and restored, and
// service resumes by itself; on SQLite the store is closed under the server,
// which is as unreachable as an embedded file gets.
func TestDatabaseOutage(t *testing.T) {
	e := newEnv(t, func(o *envOptions) { o.proxy = true })
	tok, userID := e.loginUser("a@example.com")

	if backend == "postgres" {
		e.proxy.Down()
	} else {
		e.store.Close()
	}
	for _, r := range []*response{
		e.me(tok),
		e.get("/readyz"),
		e.request(e.browser, http.MethodGet, "/auth/dev/login", nil),
	} {
		wantError(t, r, http.StatusServiceUnavailable, gatehouse.EUnavailable)
		if r.header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	}
	h := serveRecorded(e.srv.Require(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the private handler ran during the outage")
	})), tok)
	wantError(t, h, http.StatusServiceUnavailable, gatehouse.EUnavailable)
	if r := e.get("/healthz"); r.status != http.StatusOK {
		t.Fatalf("/healthz during the outage = %d, want 200", r.status)
	}
	if logs := e.logs.String(); containsAny(logs, tok) {
		t.Error("the access token reached the log")
	}
	if backend != "postgres" {
		return
	}

	e.proxy.Up()
	if r := e.get("/readyz"); r.status != http.StatusOK {
		t.Fatalf("/readyz after the outage = %d %s", r.status, r.body)
	}
	wantMe(t, e.me(tok), userID)
	e.loginDev(e.newBrowser(), "b@example.com")
}

// TestLoginStateGC: logins started and never finished do not pile up: the
// background cleanup deletes them once they have expired. A request never
// does (it would wait for it, and a client that hangs up would cancel it).
func TestLoginStateGC(t *testing.T) {
	e := newEnv(t)
	for range 20 {
		e.startLogin(e.newBrowser(), "dev")
	}
	if n := e.count("login_states"); n != 20 {
		t.Fatalf("login_states = %d, want 20", n)
	}
	e.clock.Advance(LoginTTL + time.Minute + time.Second)
	e.startLogin(e.newBrowser(), "dev")
	if n := e.count("login_states"); n != 21 {
		t.Fatalf("after a login request, login_states = %d, want 21 (no request cleans up)", n)
	}
	if got := e.srv.cleanup.Run(context.Background()); got.LoginStates != 20 {
		t.Fatalf("cleanup deleted %d login states, want 20", got.LoginStates)
	}
	if n := e.count("login_states"); n != 1 {
		t.Fatalf("after cleanup, login_states = %d, want 1", n)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestTwoNodesShareOneDatabase: two Gatehouse nodes on one database, as
// behind a load balancer. A login started on one node finishes on the
// other, both sign with the one key they found in the database, and each
// accepts the other's tokens. (On SQLite the second node opens the same
// file, as a second process would.)
func TestTwoNodesShareOneDatabase(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var store2 gatehouse.Store
	var err error
	if backend == "postgres" {
		store2, err = postgres.Open(ctx, e.dbURL)
	} else {
		store2, err = sqlite.Open(ctx, e.dbURL)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store2.Close() })
	cfg := e.cfg
	cfg.Store = store2
	node2, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node2.Close() })
	ts2 := httptest.NewServer(node2)
	t.Cleanup(ts2.Close)

	// The browser's cookie jar sends the login cookie to either node: they
	// share the host, and cookies ignore ports, as they would the load
	// balancer.
	q := e.devApprove(e.startLogin(e.browser, "dev"), "allow", "Two Nodes", "two@example.com")
	body, _ := json.Marshal(map[string]string{"code": q.Get("code"), "state": q.Get("state")})
	resp, err := e.browser.Post(ts2.URL+"/auth/dev/authorize", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var login struct {
		AccessToken string `json:"access_token"`
		User        struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&login); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize on the second node = %d, %v", resp.StatusCode, err)
	}
	wantMe(t, e.me(login.AccessToken), login.User.ID)

	tok, userID := e.loginUser("one@example.com")
	req, _ := http.NewRequest(http.MethodGet, ts2.URL+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	wantMe(t, &response{status: resp2.StatusCode, header: resp2.Header, body: b}, userID)

	if n := e.count("signing_keys"); n != 1 {
		t.Fatalf("signing_keys = %d, want the one key both nodes share", n)
	}
}
