package keys

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/testclock"
	"github.com/gatehouse/gatehouse/internal/teststore"
	"github.com/gatehouse/gatehouse/token"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	retain = time.Hour + 30*time.Second
	ttl    = 15 * time.Minute
)

func newManager(t *testing.T, s gatehouse.Store, clock *testclock.Clock, mod ...func(*Config)) *Manager {
	t.Helper()
	cfg := Config{Store: s, Retain: retain, Now: clock.Now}
	for _, f := range mod {
		f(&cfg)
	}
	m, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// node is one Gatehouse node's token machinery over a Manager.
type node struct {
	m *Manager
	i *token.Issuer
	v *token.Verifier
}

func newNode(m *Manager, clock *testclock.Clock) *node {
	return &node{
		m: m,
		i: &token.Issuer{Issuer: "https://gh.example", Audience: "app", TTL: ttl, Keys: m, Now: clock.Now},
		v: &token.Verifier{Issuer: "https://gh.example", Audience: "app", Keys: m, Leeway: 30 * time.Second, MaxTTL: ttl, Now: clock.Now},
	}
}

func (n *node) mint(t *testing.T) string {
	t.Helper()
	raw, _, err := n.i.Mint("user", "sid")
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func kid(t *testing.T, raw string) string {
	t.Helper()
	h, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Kid string }
	json.Unmarshal(b, &v)
	return v.Kid
}

func published(t *testing.T, m *Manager) []string {
	t.Helper()
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(m.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range set.Keys {
		ids = append(ids, k.Kid)
	}
	slices.Sort(ids)
	return ids
}

func stored(t *testing.T, s gatehouse.Store) []*gatehouse.SigningKey {
	t.Helper()
	keys, err := s.SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func sorted(ids ...string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

// TestLifecycle follows one key from its creation to its deletion, and
// its successor from publication to signing, at the edges of each step.
func TestLifecycle(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		ctx := context.Background()
		clock := testclock.New(t0)
		m := newManager(t, s, clock)
		n := newNode(m, clock)
		keys := stored(t, s)
		if len(keys) != 1 || State(keys[0], t0) != "active" || keys[0].Algorithm != token.ES256 {
			t.Fatalf("a new store's keys = %+v, want one active ES256 key", keys)
		}
		a := keys[0].ID
		if got := m.Signing().ID; got != a {
			t.Fatalf("signing key %s, want %s", got, a)
		}

		// One second before the successor is due, nothing changes.
		clock.Advance(DefaultRotation - PublishLead - time.Second)
		if err := m.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(stored(t, s)); n != 1 {
			t.Fatalf("%d keys before the successor is due, want 1", n)
		}

		// On time, the successor is published, to sign when the rotation
		// period ends.
		clock.Advance(time.Second)
		if err := m.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		keys = stored(t, s)
		if len(keys) != 2 {
			t.Fatalf("%d keys once the successor is due, want 2", len(keys))
		}
		b := keys[1].ID
		end := t0.Add(DefaultRotation)
		if !keys[1].ActivatesAt.Equal(end) || !keys[0].RetiresAt.Equal(end) {
			t.Fatalf("successor activates %v and the key retires %v, want both %v", keys[1].ActivatesAt, keys[0].RetiresAt, end)
		}
		if got, want := published(t, m), sorted(a, b); !slices.Equal(got, want) {
			t.Fatalf("JWKS has %v, want %v", got, want)
		}
		if got := m.Signing().ID; got != a {
			t.Fatalf("signing key %s before the successor activates, want %s", got, a)
		}
		if st := State(keys[1], clock.Now()); st != "next" {
			t.Errorf("successor is %q, want next", st)
		}

		// The successor signs from the end of the period, without a
		// reload.
		clock.Advance(PublishLead - time.Second)
		if got := m.Signing().ID; got != a {
			t.Fatalf("signing key %s a second before the end, want %s", got, a)
		}
		if got := m.SigningSince(); !got.Equal(keys[0].ActivatesAt) {
			t.Errorf("signing since %v a second before the end, want %v", got, keys[0].ActivatesAt)
		}
		lastOfA := n.mint(t)
		clock.Advance(time.Second)
		if got := m.Signing().ID; got != b {
			t.Fatalf("signing key %s at the end of the period, want %s", got, b)
		}
		if got := m.SigningSince(); !got.Equal(end) {
			t.Errorf("signing since %v at the end of the period, want %v", got, end)
		}
		if st := State(keys[0], clock.Now()); st != "retired" {
			t.Errorf("old key is %q, want retired", st)
		}

		// The retired key stays published for Retain, then goes.
		clock.Advance(retain - time.Second)
		m.Reload(ctx)
		if got, want := published(t, m), sorted(a, b); !slices.Equal(got, want) {
			t.Fatalf("JWKS just before the retired key goes = %v, want %v", got, want)
		}
		clock.Advance(time.Second)
		m.Reload(ctx)
		if got := published(t, m); !slices.Equal(got, []string{b}) {
			t.Fatalf("JWKS once the retired key is past Retain = %v, want [%s]", got, b)
		}
		if keys := stored(t, s); len(keys) != 1 || keys[0].ID != b {
			t.Fatalf("stored keys = %+v, want only %s", keys, b)
		}
		// Its tokens are refused for their key, not only their age.
		if _, err := n.v.Verify(lastOfA); err == nil || !strings.Contains(err.Error(), "unknown key") {
			t.Fatalf("the retired key's last token after its removal: %v, want unknown key", err)
		}
	})
}

// TestTwoNodesNoFailedRequest runs two nodes on one store through three
// rotations, minute by minute, one of them reloading only every other
// minute: every token either node minted verifies on both until it
// expires.
func TestTwoNodesNoFailedRequest(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		ctx := context.Background()
		clock := testclock.New(t0)
		short := func(c *Config) { c.Rotation = MinRotation }
		a := newNode(newManager(t, s, clock, short), clock)
		b := newNode(newManager(t, s, clock, short), clock)
		type minted struct {
			raw string
			exp time.Time
		}
		var live []minted
		kids := map[string]bool{}
		for step := range 3 * 60 {
			clock.Advance(time.Minute)
			if err := a.m.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			if step%2 == 0 {
				if err := b.m.Reload(ctx); err != nil {
					t.Fatal(err)
				}
			}
			for _, n := range []*node{a, b} {
				raw := n.mint(t)
				kids[kid(t, raw)] = true
				live = append(live, minted{raw, clock.Now().Add(ttl)})
			}
			live = slices.DeleteFunc(live, func(m minted) bool { return !clock.Now().Before(m.exp) })
			for _, tok := range live {
				for name, n := range map[string]*node{"A": a, "B": b} {
					if _, err := n.v.Verify(tok.raw); err != nil {
						t.Fatalf("minute %d: node %s refused a live token signed by %s: %v", step+1, name, kid(t, tok.raw), err)
					}
				}
			}
		}
		if len(kids) < 3 {
			t.Errorf("tokens were signed by %d keys over three rotation periods, want at least 3", len(kids))
		}
		if n := len(stored(t, s)); n > 3 {
			t.Errorf("%d keys stored, want at most 3 (retired keys are deleted)", n)
		}
	})
}

// TestRevoke: a revoked key fails at once on the node that revokes it, and
// on the other node at its next reload; the next key, or a new one, signs
// in its place.
func TestRevoke(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		ctx := context.Background()
		clock := testclock.New(t0)
		a := newNode(newManager(t, s, clock), clock)
		b := newNode(newManager(t, s, clock), clock)
		old := a.mint(t)
		oldKid := kid(t, old)

		if _, err := a.m.Revoke(ctx, oldKid); err != nil {
			t.Fatal(err)
		}
		if _, err := a.v.Verify(old); err == nil {
			t.Fatal("the revoking node still accepts a token of the revoked key")
		}
		fresh := a.mint(t)
		if kid(t, fresh) == oldKid {
			t.Fatal("the revoking node still signs with the revoked key")
		}
		if slices.Contains(published(t, a.m), oldKid) {
			t.Fatal("the revoked key is still in the JWKS")
		}
		// The other node learns the new key from the token that names it
		// (once MinReloadInterval has passed since its last reload), and
		// drops the revoked one at its next reload.
		clock.Advance(MinReloadInterval)
		if _, err := b.v.Verify(fresh); err != nil {
			t.Fatalf("the other node refuses the replacement key's token: %v", err)
		}
		if err := b.m.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := b.v.Verify(old); err == nil {
			t.Fatal("the other node still accepts the revoked key after a reload")
		}
		if kid(t, b.mint(t)) == oldKid {
			t.Fatal("the other node still signs with the revoked key")
		}

		// Revoking an active key with a next one planned activates that
		// one at once.
		if _, err := a.m.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		keys := stored(t, s)
		var active, next *gatehouse.SigningKey
		for _, k := range keys {
			switch State(k, clock.Now()) {
			case "active":
				active = k
			case "next":
				next = k
			}
		}
		if active == nil || next == nil {
			t.Fatalf("after a rotation the keys are %+v, want an active and a next one", keys)
		}
		if !next.ActivatesAt.Equal(clock.Now().Add(PublishLead)) {
			t.Errorf("a rotation's key activates %v, want %v", next.ActivatesAt, clock.Now().Add(PublishLead))
		}
		if _, err := a.m.Revoke(ctx, active.ID); err != nil {
			t.Fatal(err)
		}
		if got := a.m.Signing().ID; got != next.ID {
			t.Fatalf("after revoking the active key, %s signs; want the planned %s", got, next.ID)
		}

		for _, id := range []string{oldKid, "no-such-key"} {
			if _, err := a.m.Revoke(ctx, id); !errors.Is(err, gatehouse.ErrNotFound) {
				t.Errorf("Revoke(%q) = %v, want ErrNotFound", id, err)
			}
		}

		// A revoked key is listed until Retain has passed, then deleted.
		clock.Advance(retain)
		a.m.Reload(ctx)
		for _, k := range stored(t, s) {
			if !k.RevokedAt.IsZero() {
				t.Errorf("revoked key %s still stored after Retain", k.ID)
			}
		}
	})
}

// TestAlgorithmChange: a new algorithm rolls over through a rotation, and
// tokens of the old algorithm verify throughout.
func TestAlgorithmChange(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		clock := testclock.New(t0)
		es := newNode(newManager(t, s, clock), clock)
		clock.Advance(time.Hour)
		ed := newNode(newManager(t, s, clock, func(c *Config) { c.Algorithm = token.EdDSA }), clock)
		before := ed.mint(t)
		if got := ed.m.Signing().Algorithm; got != token.ES256 {
			t.Fatalf("right after the change the node signs with %s, want ES256 until the new key is published long enough", got)
		}
		keys := stored(t, s)
		if len(keys) != 2 || keys[1].Algorithm != token.EdDSA || !keys[1].ActivatesAt.Equal(clock.Now().Add(PublishLead)) {
			t.Fatalf("keys after the change = %+v, want an EdDSA key activating in %s", keys, PublishLead)
		}
		clock.Advance(PublishLead)
		after := ed.mint(t)
		if kid(t, after) != keys[1].ID {
			t.Fatal("the EdDSA key does not sign once published long enough")
		}
		for _, raw := range []string{before, after} {
			for name, n := range map[string]*node{"ES256": es, "EdDSA": ed} {
				if _, err := n.v.Verify(raw); err != nil {
					t.Errorf("the %s node refuses the token signed by %s: %v", name, kid(t, raw), err)
				}
			}
		}
	})
}

// countingStore counts reads of the signing keys of a real store.
type countingStore struct {
	gatehouse.Store
	reads atomic.Int64
}

func (c *countingStore) SigningKeys(ctx context.Context) ([]*gatehouse.SigningKey, error) {
	c.reads.Add(1)
	return c.Store.SigningKeys(ctx)
}

// TestUnknownKeyIDReloadsSparingly: a made-up key id causes at most one
// reload per MinReloadInterval, however many requests carry one.
func TestUnknownKeyIDReloadsSparingly(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		cs := &countingStore{Store: s}
		clock := testclock.New(t0)
		m := newManager(t, cs, clock)
		start := cs.reads.Load()
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				if _, ok := m.Key("made-up-" + string(rune('a'+i%26))); ok {
					t.Error("a made-up key id was found")
				}
			})
		}
		wg.Wait()
		if got := cs.reads.Load() - start; got != 0 {
			t.Fatalf("%d reloads within MinReloadInterval of the last, want 0", got)
		}
		clock.Advance(MinReloadInterval)
		for range 50 {
			m.Key("made-up")
		}
		if got := cs.reads.Load() - start; got != 1 {
			t.Fatalf("%d reloads for 50 unknown ids after MinReloadInterval, want 1", got)
		}
	})
}

// TestNodesAgree: nodes starting, and rotating, at the same moment make
// one key and one successor.
func TestNodesAgree(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		clock := testclock.New(t0)
		var wg sync.WaitGroup
		ms := make([]*Manager, 5)
		for i := range ms {
			wg.Go(func() {
				m, err := New(context.Background(), Config{Store: s, Retain: retain, Now: clock.Now})
				if err != nil {
					t.Error(err)
					return
				}
				ms[i] = m
			})
		}
		wg.Wait()
		if n := len(stored(t, s)); n != 1 {
			t.Fatalf("5 nodes starting at once made %d keys, want 1", n)
		}
		clock.Advance(DefaultRotation - PublishLead)
		for _, m := range ms {
			wg.Go(func() {
				if err := m.Reload(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := len(stored(t, s)); n != 2 {
			t.Fatalf("5 nodes rotating at once left %d keys, want 2", n)
		}
	})
}

// TestEncryptionAtRest: with an encryption key the store holds sealed
// private keys only; an existing store is sealed on start; a sealed store
// does not open without the key or with another one.
func TestEncryptionAtRest(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		ctx := context.Background()
		clock := testclock.New(t0)
		plain := newNode(newManager(t, s, clock), clock)
		raw := plain.mint(t)
		clear := stored(t, s)[0]
		if isSealed(clear.PrivateKey) {
			t.Fatal("a key was sealed without an encryption key")
		}

		secret := bytes.Repeat([]byte{7}, EncryptionKeyLen)
		sealed := newNode(newManager(t, s, clock, func(c *Config) { c.EncryptionKey = secret }), clock)
		for _, k := range stored(t, s) {
			if !isSealed(k.PrivateKey) {
				t.Fatalf("key %s still stored in the clear after starting with an encryption key", k.ID)
			}
			if k.ID == clear.ID && bytes.Contains(k.PrivateKey, clear.PrivateKey[len(clear.PrivateKey)-32:]) {
				t.Fatalf("key %s's stored form contains its private key", k.ID)
			}
		}
		if _, err := sealed.v.Verify(raw); err != nil {
			t.Fatalf("a token signed before sealing does not verify: %v", err)
		}
		if _, err := plain.v.Verify(sealed.mint(t)); err != nil {
			t.Fatalf("a token signed with the sealed key does not verify: %v", err)
		}
		// Rotations keep sealing.
		if _, err := sealed.m.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		for _, k := range stored(t, s) {
			if !isSealed(k.PrivateKey) {
				t.Fatalf("rotated key %s stored in the clear", k.ID)
			}
		}

		other := bytes.Repeat([]byte{8}, EncryptionKeyLen)
		for name, key := range map[string][]byte{"no key": nil, "another key": other} {
			_, err := New(ctx, Config{Store: s, Retain: retain, Now: clock.Now, EncryptionKey: key})
			if !errors.Is(err, ErrSealed) {
				t.Errorf("%s: New = %v, want ErrSealed", name, err)
			}
			if _, err := Rotate(ctx, Config{Store: s, Retain: retain, Now: clock.Now, EncryptionKey: key}); !errors.Is(err, ErrSealed) {
				t.Errorf("%s: Rotate = %v, want ErrSealed", name, err)
			}
		}
		if n := len(stored(t, s)); n != 2 {
			t.Errorf("%d keys after refused rotations, want 2", n)
		}

		// A sealed key copied onto another key's id does not open.
		keys := stored(t, s)
		if _, err := s.UpdateSigningKeys(ctx, func(ks []*gatehouse.SigningKey) ([]*gatehouse.SigningKey, error) {
			ks[1].PrivateKey = keys[0].PrivateKey
			return ks, nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := New(ctx, Config{Store: s, Retain: retain, Now: clock.Now, EncryptionKey: secret}); !errors.Is(err, ErrSealed) {
			t.Errorf("New with a sealed key moved to another id = %v, want ErrSealed", err)
		}
	})
}

// TestKeysStoredBeforeRotation: keys left by a Gatehouse without rotation
// (each activated when it was made, none retired) keep verifying; the
// newest signs, and the others retire from now.
func TestKeysStoredBeforeRotation(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		ctx := context.Background()
		clock := testclock.New(t0)
		var legacy []*gatehouse.SigningKey
		for i, alg := range []string{token.ES256, token.EdDSA} {
			k, err := token.GenerateKey(alg, t0.Add(-time.Duration(48-i)*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			k.ActivatesAt = k.CreatedAt // what migration 0004 does
			legacy = append(legacy, k)
		}
		if _, err := s.UpdateSigningKeys(ctx, func([]*gatehouse.SigningKey) ([]*gatehouse.SigningKey, error) { return legacy, nil }); err != nil {
			t.Fatal(err)
		}
		m := newManager(t, s, clock, func(c *Config) { c.Algorithm = token.EdDSA })
		if got := m.Signing().ID; got != legacy[1].ID {
			t.Fatalf("signing with %s, want the newest key %s", got, legacy[1].ID)
		}
		if got, want := published(t, m), sorted(legacy[0].ID, legacy[1].ID); !slices.Equal(got, want) {
			t.Fatalf("JWKS = %v, want %v", got, want)
		}
		keys := stored(t, s)
		if !keys[0].RetiresAt.Equal(t0) {
			t.Fatalf("the older key retires %v, want now (%v)", keys[0].RetiresAt, t0)
		}
		clock.Advance(retain)
		m.Reload(ctx)
		if got := published(t, m); !slices.Equal(got, []string{legacy[1].ID}) {
			t.Fatalf("JWKS after Retain = %v, want only the newest key", got)
		}
	})
}

func TestConfigChecked(t *testing.T) {
	s := teststore.Open(t, "sqlite")
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"no store":       {Config{Retain: retain}, "Config.Store"},
		"bad algorithm":  {Config{Store: s, Retain: retain, Algorithm: "HS256"}, "Config.Algorithm"},
		"short rotation": {Config{Store: s, Retain: retain, Rotation: time.Minute}, "Config.Rotation"},
		"no retain":      {Config{Store: s}, "Config.Retain"},
		"short key":      {Config{Store: s, Retain: retain, EncryptionKey: []byte("short")}, "Config.EncryptionKey"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestParseEncryptionKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xfb}, 32)
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(key),
		base64.RawStdEncoding.EncodeToString(key),
		base64.URLEncoding.EncodeToString(key),
		" " + base64.RawURLEncoding.EncodeToString(key) + "\n",
	} {
		got, err := ParseEncryptionKey(s)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("ParseEncryptionKey(%q) = %x, %v; want %x", s, got, err, key)
		}
	}
	for _, s := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(key[:31]), base64.StdEncoding.EncodeToString(append(key, 1))} {
		if _, err := ParseEncryptionKey(s); err == nil {
			t.Errorf("ParseEncryptionKey(%q) succeeded", s)
		}
	}
}

// failingStore is a real store whose signing keys cannot be read while
// down is set, as during a database outage.
type failingStore struct {
	gatehouse.Store
	down atomic.Bool
}

func (f *failingStore) SigningKeys(ctx context.Context) ([]*gatehouse.SigningKey, error) {
	if f.down.Load() {
		return nil, gatehouse.ErrUnavailable
	}
	return f.Store.SigningKeys(ctx)
}

// TestReloadDuringOutage: when the keys cannot be read, the node keeps
// signing and verifying with the last ones it read.
func TestReloadDuringOutage(t *testing.T) {
	teststore.Each(t, func(t *testing.T, s gatehouse.Store) {
		fs := &failingStore{Store: s}
		clock := testclock.New(t0)
		n := newNode(newManager(t, fs, clock), clock)
		before := n.mint(t)
		fs.down.Store(true)
		clock.Advance(time.Minute)
		if err := n.m.Reload(context.Background()); !errors.Is(err, gatehouse.ErrUnavailable) {
			t.Fatalf("Reload during an outage = %v, want ErrUnavailable", err)
		}
		if _, ok := n.m.Key("made-up"); ok {
			t.Fatal("an unknown key id was found during an outage")
		}
		for _, raw := range []string{before, n.mint(t)} {
			if _, err := n.v.Verify(raw); err != nil {
				t.Fatalf("during an outage a token does not verify: %v", err)
			}
		}
		if len(published(t, n.m)) != 1 {
			t.Fatal("the JWKS changed during an outage")
		}
	})
}
