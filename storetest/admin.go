package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// testListUsers: pages in id order cover every user once, and the search
// keeps the users whose email or login starts with it, whatever the ASCII
// case.
func testListUsers(t *testing.T, s *Harness) {
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		ident := identity("github", fmt.Sprint(i), fmt.Sprintf("Person%d", i))
		if i == 3 {
			ident.Profile.Email = str("Boss@Corp.example")
		}
		ids = append(ids, mustUpsert(t, s, ident, gatehouse.EmailMatchNewAccount).ID)
	}
	slices.Sort(ids)
	var got []string
	after := ""
	for range 10 {
		page, err := s.ListUsers(ctx, gatehouse.UserQuery{After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 2 {
			t.Fatalf("page of %d users, want at most 2", len(page))
		}
		for _, u := range page {
			got = append(got, u.ID)
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("pages = %v, want %v", got, ids)
	}
	for _, tc := range []struct {
		search string
		want   int
	}{
		{"", 5},
		{"person", 5},
		{"PERSON2", 1},
		{"boss@corp.EXAMPLE", 1},
		{"boss", 1},
		{"person3@", 0}, // user 3's email is Boss@…
		{"nobody", 0},
		{"%", 0},
		{"_", 0},
		{"bad\x00", 0},
	} {
		page, err := s.ListUsers(ctx, gatehouse.UserQuery{Search: tc.search, Limit: 10})
		if err != nil || len(page) != tc.want {
			t.Errorf("search %q: %d users, %v; want %d", tc.search, len(page), err, tc.want)
		}
	}
}

// testDeleteUser: deleting a user removes them with their identities,
// sessions and retired refresh token hashes, and leaves other users alone.
func testDeleteUser(t *testing.T, s *Harness) {
	ctx := context.Background()
	u, sess := newSession(t, s, "1", "s1")
	other, _ := newSession(t, s, "2", "s2")
	if _, err := s.LinkIdentity(ctx, u.ID, identity("gitlab", "9", "linked"), t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.UpdateSessionByToken(ctx, sess.CurrentHash, t0, rotate("rt-next", t0, nil)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.User(ctx, u.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("User after delete: %v, want ErrNotFound", err)
	}
	wantRows(t, s, 1, 1)
	if n, r := s.Count(t, "sessions"), s.Count(t, "retired_refresh_tokens"); n != 1 || r != 0 {
		t.Fatalf("%d sessions, %d retired tokens left; want 1 and 0", n, r)
	}
	if _, err := s.User(ctx, other.ID); err != nil {
		t.Fatalf("the other user: %v", err)
	}
	for _, id := range []string{u.ID, "no-such-user", "bad\x00"} {
		if err := s.DeleteUser(ctx, id); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("DeleteUser(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

// testAdminKeys: a key is found by its hash until it is revoked, each use
// is recorded, and names and hashes are unique.
func testAdminKeys(t *testing.T, s *Harness) {
	ctx := context.Background()
	if keys, err := s.AdminKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("AdminKeys on an empty store = %v, %v", keys, err)
	}
	a := &gatehouse.AdminKey{Name: "ops", Hash: "hash-a", CreatedAt: t0}
	b := &gatehouse.AdminKey{Name: "ci", Hash: "hash-b", CreatedAt: t0.Add(time.Second)}
	for _, k := range []*gatehouse.AdminKey{a, b} {
		if err := s.CreateAdminKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []*gatehouse.AdminKey{{Name: "ops", Hash: "hash-c", CreatedAt: t0}, {Name: "new", Hash: "hash-b", CreatedAt: t0}} {
		if err := s.CreateAdminKey(ctx, k); !errors.Is(err, gatehouse.ErrConflict) {
			t.Errorf("CreateAdminKey(%s, %s) = %v, want ErrConflict", k.Name, k.Hash, err)
		}
	}
	if err := s.CreateAdminKey(ctx, &gatehouse.AdminKey{Name: "bad\xff", Hash: "h", CreatedAt: t0}); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Errorf("CreateAdminKey with a bad name = %v, want ErrInvalid", err)
	}
	used := t0.Add(time.Minute)
	k, err := s.UseAdminKey(ctx, "hash-a", used)
	if err != nil || k.Name != "ops" || k.LastUsedAt == nil || !k.LastUsedAt.Equal(used) || !k.CreatedAt.Equal(t0) {
		t.Fatalf("UseAdminKey = %+v, %v", k, err)
	}
	for _, h := range []string{"hash-x", "", "bad\x00"} {
		if _, err := s.UseAdminKey(ctx, h, used); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("UseAdminKey(%q) = %v, want ErrNotFound", h, err)
		}
	}
	revoked := t0.Add(time.Hour)
	if err := s.RevokeAdminKey(ctx, "ops", revoked); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAdminKey(ctx, "ops", revoked); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("revoking twice = %v, want ErrNotFound", err)
	}
	if err := s.RevokeAdminKey(ctx, "nobody", revoked); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("revoking an unknown key = %v, want ErrNotFound", err)
	}
	if _, err := s.UseAdminKey(ctx, "hash-a", revoked); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("UseAdminKey of a revoked key = %v, want ErrNotFound", err)
	}
	keys, err := s.AdminKeys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("AdminKeys = %v, %v", keys, err)
	}
	if keys[0].Name != "ops" || keys[0].RevokedAt == nil || !keys[0].RevokedAt.Equal(revoked) || !keys[0].LastUsedAt.Equal(used) {
		t.Errorf("ops = %+v", keys[0])
	}
	if keys[1].Name != "ci" || keys[1].RevokedAt != nil || keys[1].LastUsedAt != nil || keys[1].Hash != "hash-b" {
		t.Errorf("ci = %+v", keys[1])
	}
}
