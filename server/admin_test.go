package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// adminKey stores a new admin key named name and returns its
// Authorization header value.
func (e *env) adminKey(name string) string {
	e.t.Helper()
	key, hash := gatehouse.NewAdminKey()
	if err := e.store.CreateAdminKey(context.Background(), &gatehouse.AdminKey{Name: name, Hash: hash, CreatedAt: e.clock.Now()}); err != nil {
		e.t.Fatal(err)
	}
	// The server reads whether the API is on at most every adminOnFor.
	e.clock.Advance(adminOnFor)
	return "Bearer " + key
}

func (e *env) admin(auth, method, path string) *response {
	e.t.Helper()
	return e.request(e.browser, method, path, nil, "Authorization", auth)
}

// TestAdminOffWithoutKey: with no live admin key, every admin path is an
// unknown one, whatever the method and the credentials; a server reads the
// state at most every adminOnFor, so that strangers cannot make it query
// the database on every request.
func TestAdminOffWithoutKey(t *testing.T) {
	e := newEnv(t)
	key, _ := gatehouse.NewAdminKey()
	for _, method := range []string{"GET", "POST", "DELETE", "PUT"} {
		for _, path := range []string{"/admin/users", "/admin/users/x", "/admin/users/x/disable", "/admin/nope"} {
			wantError(t, e.admin("Bearer "+key, method, path), http.StatusNotFound, "not_found")
		}
	}
	auth := e.adminKey("ops")
	if r := e.admin(auth, "GET", "/admin/users"); r.status != http.StatusOK {
		t.Fatalf("with a key: %d %s", r.status, r.body)
	}
	if err := e.store.RevokeAdminKey(context.Background(), "ops", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(adminOnFor)
	wantError(t, e.admin(auth, "GET", "/admin/users"), http.StatusNotFound, "not_found")
	wantError(t, e.admin(auth, "PUT", "/admin/users"), http.StatusNotFound, "not_found")
}

// TestAdminUnauthorized: no key, a wrong one, a revoked one and a token of
// another kind get the same 401; failures are limited per address.
func TestAdminUnauthorized(t *testing.T) {
	e := newEnv(t, func(o *envOptions) {
		o.config = func(c *Config) { c.Limits.AdminAuth = ratelimit.Rate{N: 5, Per: 60e9} }
	})
	good := e.adminKey("ops")
	revoked := e.adminKey("old")
	if err := e.store.RevokeAdminKey(context.Background(), "old", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	wrong, _ := gatehouse.NewAdminKey()
	var bodies []string
	for _, auth := range []string{"", "Bearer " + wrong, revoked, "Bearer x", strings.ToUpper(good)} {
		r := e.admin(auth, "GET", "/admin/users")
		wantError(t, r, http.StatusUnauthorized, "unauthorized")
		bodies = append(bodies, string(r.body))
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("401 bodies differ: %s and %s", bodies[0], b)
		}
	}
	wantError(t, e.admin("Bearer "+wrong, "GET", "/admin/users"), http.StatusTooManyRequests, "rate_limited")
	if r := e.admin(good, "GET", "/admin/users"); r.status != http.StatusOK {
		t.Errorf("the right key after failures: %d %s", r.status, r.body)
	}
	if !strings.Contains(e.logs.String(), "admin_key=ops") {
		t.Errorf("no audit line names the key:\n%s", e.logs.String())
	}
}

// TestAdminUsers: list, pages, search, show, disable, enable, delete, and
// 404 for an unknown user.
func TestAdminUsers(t *testing.T) {
	e := newEnv(t)
	auth := e.adminKey("ops")
	for i := range 3 {
		e.loginDev(e.newBrowser(), fmt.Sprintf("user%d@example.com", i))
	}
	var ids []string
	cursor := ""
	for range 5 {
		r := e.admin(auth, "GET", "/admin/users?limit=2&cursor="+cursor)
		if r.status != http.StatusOK {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		m := r.json(t)
		for _, u := range m["users"].([]any) {
			ids = append(ids, u.(map[string]any)["id"].(string))
		}
		next, _ := m["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(ids) != 3 {
		t.Fatalf("pages gave %d users, want 3", len(ids))
	}
	r := e.admin(auth, "GET", "/admin/users?q=USER1@")
	if us := r.json(t)["users"].([]any); len(us) != 1 || us[0].(map[string]any)["email"] != "user1@example.com" {
		t.Errorf("search: %s", r.body)
	}
	wantError(t, e.admin(auth, "GET", "/admin/users?limit=0"), http.StatusBadRequest, "invalid_request")
	wantError(t, e.admin(auth, "GET", "/admin/users?limit=201"), http.StatusBadRequest, "invalid_request")

	id := ids[0]
	r = e.admin(auth, "GET", "/admin/users/"+id)
	m := r.json(t)
	if r.status != http.StatusOK || len(m["identities"].([]any)) != 1 || len(m["sessions"].([]any)) != 1 {
		t.Fatalf("show: %d %s", r.status, r.body)
	}
	r = e.admin(auth, "POST", "/admin/users/"+id+"/disable")
	if r.status != http.StatusOK || r.json(t)["user"].(map[string]any)["disabled"] != true {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	if r := e.admin(auth, "GET", "/admin/users/"+id+"/sessions"); len(r.json(t)["sessions"].([]any)) != 0 {
		t.Errorf("sessions after disable: %s", r.body)
	}
	r = e.admin(auth, "POST", "/admin/users/"+id+"/enable")
	if r.status != http.StatusOK || r.json(t)["user"].(map[string]any)["disabled"] != false {
		t.Fatalf("enable: %d %s", r.status, r.body)
	}

	victim := ids[1]
	users, idents, sessions := e.count("users"), e.count("identities"), e.count("sessions")
	if r := e.admin(auth, "DELETE", "/admin/users/"+victim); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if u, i, s := e.count("users"), e.count("identities"), e.count("sessions"); u != users-1 || i != idents-1 || s != sessions-1 {
		t.Errorf("after delete: %d users, %d identities, %d sessions; want one fewer of each than %d, %d, %d", u, i, s, users, idents, sessions)
	}
	for _, rq := range [][2]string{{"GET", "/admin/users/" + victim}, {"POST", "/admin/users/nope/disable"}, {"POST", "/admin/users/nope/enable"},
		{"DELETE", "/admin/users/" + victim}, {"GET", "/admin/users/nope/sessions"}, {"DELETE", "/admin/users/nope/sessions"},
		{"DELETE", "/admin/users/" + id + "/sessions/nope"}} {
		wantError(t, e.admin(auth, rq[0], rq[1]), http.StatusNotFound, "not_found")
	}
	if !strings.Contains(e.logs.String(), "event=admin_delete_user admin_key=ops target="+victim) {
		t.Errorf("no audit line for the deletion:\n%s", e.logs.String())
	}
}

// TestAdminSessions: list a user's sessions, end one, end all.
func TestAdminSessions(t *testing.T) {
	e := newEnv(t)
	auth := e.adminKey("ops")
	for range 3 {
		e.loginDev(e.newBrowser(), "many@example.com")
	}
	r := e.admin(auth, "GET", "/admin/users")
	id := r.json(t)["users"].([]any)[0].(map[string]any)["id"].(string)
	list := e.admin(auth, "GET", "/admin/users/"+id+"/sessions").json(t)["sessions"].([]any)
	if len(list) != 3 {
		t.Fatalf("%d sessions, want 3", len(list))
	}
	sid := list[0].(map[string]any)["id"].(string)
	if r := e.admin(auth, "DELETE", "/admin/users/"+id+"/sessions/"+sid); r.status != http.StatusNoContent {
		t.Fatalf("end one: %d %s", r.status, r.body)
	}
	r = e.admin(auth, "DELETE", "/admin/users/"+id+"/sessions")
	if r.status != http.StatusOK || r.json(t)["ended"] != float64(2) {
		t.Fatalf("end all: %d %s", r.status, r.body)
	}
	if list := e.admin(auth, "GET", "/admin/users/"+id+"/sessions").json(t)["sessions"].([]any); len(list) != 0 {
		t.Errorf("%d sessions left", len(list))
	}
}

// TestAdminAudited: every admin call leaves an audit event naming its
// key; a change (here disabling a user) writes it in the change's own
// transaction, with the change's type; GET /admin/audit lists them,
// filtered and paginated.
func TestAdminAudited(t *testing.T) {
	e := newEnv(t)
	_, userID := e.loginUser("audited@example.com")
	auth := e.adminKey("ops")
	if r := e.admin(auth, "POST", "/admin/users/"+userID+"/disable"); r.status != http.StatusOK {
		t.Fatalf("disable = %d %s", r.status, r.body)
	}
	if r := e.admin(auth, "GET", "/admin/users/"+userID); r.status != http.StatusOK {
		t.Fatalf("show = %d %s", r.status, r.body)
	}

	r := e.admin(auth, "GET", "/admin/audit?user="+userID+"&type=user_disabled")
	if r.status != http.StatusOK {
		t.Fatalf("audit = %d %s", r.status, r.body)
	}
	var page struct {
		Events []struct {
			Type, UserID, Actor string
			Detail              map[string]string
		} `json:"events"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 1 || page.Events[0].Actor != "admin:ops" || page.Events[0].Detail["action"] != "disable_user" {
		t.Fatalf("user_disabled events = %+v, want one by admin:ops", page.Events)
	}

	r = e.admin(auth, "GET", "/admin/audit?type=admin_action&limit=1")
	var actions struct {
		Events []struct {
			Actor  string
			Detail map[string]string
		} `json:"events"`
		Next *string `json:"next_cursor"`
	}
	if err := json.Unmarshal(r.body, &actions); err != nil {
		t.Fatal(err)
	}
	if len(actions.Events) != 1 || actions.Events[0].Actor != "admin:ops" || actions.Next == nil {
		t.Fatalf("admin_action page = %+v, want one event by admin:ops and a next page", actions)
	}
	r = e.admin(auth, "GET", "/admin/audit?type=admin_action&limit=1&cursor="+url.QueryEscape(*actions.Next))
	if r.status != http.StatusOK {
		t.Fatalf("second page = %d %s", r.status, r.body)
	}
	for _, bad := range []string{"from=yesterday", "limit=0", "limit=1001", "cursor=garbage"} {
		wantError(t, e.admin(auth, "GET", "/admin/audit?"+bad), http.StatusBadRequest, "invalid_request")
	}
}
