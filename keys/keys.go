// Package keys keeps Gatehouse's signing keys rotating, on every node at
// once, through the store.
//
// A key goes through four states. It is created as the next key: published
// in the JWKS but not yet signing, for PublishLead, so that every verifier
// holding a cached JWKS has it before the first token it signs reaches
// them. It then signs (the active key) for the rotation period. When its
// successor activates it retires: still published and still verifying
// until every token it signed has expired (Config.Retain), and then it is
// deleted. An operator can revoke a key at any point: it stops verifying
// and leaves the JWKS at once on the node that revokes it, and within
// ReloadInterval on every other node.
//
// The state lives in the store and every change goes through
// Store.UpdateSigningKeys, so nodes that rotate at the same moment agree
// on one successor. Each node reloads the keys every ReloadInterval, and
// at once (at most every MinReloadInterval) when a token names a key it
// does not know.
package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/token"
)

const (
	// DefaultAlgorithm signs when Config.Algorithm is empty.
	DefaultAlgorithm = token.ES256
	// DefaultRotation is how long a key signs before its successor takes
	// over.
	DefaultRotation = 30 * 24 * time.Hour
	// MinRotation is the shortest rotation period allowed: a key must sign
	// for longer than its successor is published beforehand.
	MinRotation = time.Hour
	// JWKSMaxAge is how long verifiers may cache the JWKS (its
	// Cache-Control max-age).
	JWKSMaxAge = 5 * time.Minute
	// ReloadInterval is how often a node reads the keys from the store: a
	// rotation or revocation made elsewhere reaches every node within it.
	ReloadInterval = 5 * time.Second
	// PublishLead is how long a new key is published before it signs: a
	// JWKS cached just before the key appeared has expired by then, with
	// room to spare for the nodes' reload interval.
	PublishLead = 2 * JWKSMaxAge
	// MinReloadInterval spaces the reloads that unknown key ids cause, so
	// that tokens with made-up key ids cannot keep the store busy.
	MinReloadInterval = time.Second
	// reloadTimeout bounds a reload caused by an unknown key id, which
	// holds up the request that caused it.
	reloadTimeout = 2 * time.Second
)

// Config configures a Manager and the package's functions.
type Config struct {
	Store gatehouse.Store
	// Algorithm is what new keys sign with: ES256 (default), EdDSA or
	// RS256. Changing it rolls over through a rotation: the current key
	// signs until a key of the new algorithm has been published for
	// PublishLead.
	Algorithm string
	// Rotation is how long a key signs; it defaults to DefaultRotation and
	// must be at least MinRotation.
	Rotation time.Duration
	// Retain is how long a retired key still verifies: the longest an
	// access token can live, plus the clock skew allowed. Required.
	Retain time.Duration
	// EncryptionKey, if set, is the EncryptionKeyLen-byte key that seals
	// private keys at rest (AES-256-GCM). Keys stored unsealed are sealed
	// on the next change. Without it the store holds the private keys in
	// the clear.
	EncryptionKey []byte
	// Background, if set, makes New start reloading the keys every
	// ReloadInterval until Close. A server sets it; a command that runs
	// once does not.
	Background bool
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives reload failures; nil means slog.Default().
	Logger *slog.Logger
	// Actor names who acts in the audit log's key events: "cli" for the
	// command line; "" for a server's own rotations.
	Actor string
}

// Check reports the first bad field of c as a *gatehouse.ConfigError,
// leaving aside the Store, which New requires. A command line calls it to
// refuse bad settings before it opens the database.
func (c Config) Check() error {
	if c.Algorithm != "" {
		if err := checkAlgorithm(c.Algorithm); err != nil {
			return &gatehouse.ConfigError{Field: "Algorithm", Err: err}
		}
	}
	if c.Rotation != 0 && c.Rotation < MinRotation {
		return gatehouse.ConfigErrorf("Rotation", "must be at least %s, got %s", MinRotation, c.Rotation)
	}
	if c.Retain <= 0 {
		return gatehouse.ConfigErrorf("Retain", "is required")
	}
	if c.EncryptionKey != nil && len(c.EncryptionKey) != EncryptionKeyLen {
		return gatehouse.ConfigErrorf("EncryptionKey", "must be %d bytes, got %d", EncryptionKeyLen, len(c.EncryptionKey))
	}
	return nil
}

func (c *Config) policy() (*policy, error) {
	if c.Store == nil {
		return nil, errors.New("keys: Config.Store is required")
	}
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if c.Algorithm == "" {
		c.Algorithm = DefaultAlgorithm
	}
	if c.Rotation == 0 {
		c.Rotation = DefaultRotation
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	p := &policy{alg: c.Algorithm, rotation: c.Rotation, retain: c.Retain, generate: token.GenerateKey, actor: c.Actor}
	if c.EncryptionKey != nil {
		s, err := newSealer(c.EncryptionKey)
		if err != nil {
			return nil, err
		}
		p.sealer = s
	}
	return p, nil
}

// Manager is a node's view of the signing keys: the key that signs now,
// the keys that verify, and the JWKS. It is safe for concurrent use and
// implements token.Signer and token.KeySource.
type Manager struct {
	cfg    Config
	policy *policy

	snap atomic.Pointer[snapshot]

	reloadMu   sync.Mutex // one reload at a time
	lastReload time.Time  // guarded by reloadMu

	stop chan struct{}
	done chan struct{}
}

// snapshot is one reading of the keys.
type snapshot struct {
	// set verifies and publishes every live key; its own signing key is
	// not used.
	set *token.KeySet
	// signers are the live keys by activation, earliest first.
	signers []signer
	// parsed caches parsed keys by id: key material never changes.
	parsed map[string]*token.Key
}

type signer struct {
	key  *token.Key
	from time.Time
}

// New reads the keys, brings them up to date (making the first key on a
// new store) and returns a Manager that signs and verifies with them.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	p, err := cfg.policy()
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, policy: p}
	if err := m.reload(ctx); err != nil {
		return nil, err
	}
	if cfg.Background {
		m.stop, m.done = make(chan struct{}), make(chan struct{})
		go m.loop()
	}
	return m, nil
}

// Close stops the background reloads.
func (m *Manager) Close() error {
	if m.stop != nil {
		close(m.stop)
		<-m.done
		m.stop = nil
	}
	return nil
}

func (m *Manager) loop() {
	defer close(m.done)
	t := time.NewTicker(ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), ReloadInterval)
			if err := m.Reload(ctx); err != nil {
				m.cfg.Logger.Warn("reloading the signing keys; the last ones read stay in use", "err", err)
			}
			cancel()
		}
	}
}

// Reload reads the keys from the store, applies the rotation rule
// (writing through the store's updater if anything is due) and makes the
// result the node's keys. On failure the previous keys stay in use.
func (m *Manager) Reload(ctx context.Context) error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	return m.reload(ctx)
}

func (m *Manager) reload(ctx context.Context) error {
	m.lastReload = m.cfg.Now()
	stored, err := m.cfg.Store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: reading the signing keys: %w", err)
	}
	if _, changed, err := m.policy.plan(stored, m.cfg.Now(), false); err != nil {
		return err
	} else if changed {
		if stored, err = m.update(ctx, false); err != nil {
			return err
		}
	}
	return m.use(stored)
}

// update runs the plan in the store's transaction.
func (m *Manager) update(ctx context.Context, rotate bool) ([]*gatehouse.SigningKey, error) {
	return update(ctx, m.cfg.Store, m.policy, m.cfg.Now, rotate, nil)
}

func update(ctx context.Context, store gatehouse.Store, p *policy, now func() time.Time, rotate bool,
	change func([]*gatehouse.SigningKey, time.Time) error) ([]*gatehouse.SigningKey, error) {
	// The audit log records each key the plan adds (a rotation, or the
	// first key) and each key change revokes, in the keys' transaction.
	var events []gatehouse.AuditEvent
	ctx = gatehouse.WithAuditFunc(ctx, func() []gatehouse.AuditEvent { return events })
	keys, err := store.UpdateSigningKeys(ctx, func(stored []*gatehouse.SigningKey) ([]*gatehouse.SigningKey, error) {
		t := now()
		events = nil
		was := map[string]*gatehouse.SigningKey{}
		for _, k := range stored {
			was[k.ID] = k
		}
		if change != nil {
			stored = slices.Clone(stored)
			for i, k := range stored {
				c := *k
				stored[i] = &c
			}
			if err := change(stored, t); err != nil {
				return nil, err
			}
		}
		out, _, err := p.plan(stored, t, rotate)
		if err != nil {
			return nil, err
		}
		for _, k := range out {
			switch old := was[k.ID]; {
			case old == nil:
				events = append(events, gatehouse.AuditEvent{Type: gatehouse.AuditKeyRotated, Time: t, Actor: p.actor, Detail: map[string]string{"kid": k.ID}})
			case old.RevokedAt.IsZero() && !k.RevokedAt.IsZero():
				events = append(events, gatehouse.AuditEvent{Type: gatehouse.AuditKeyRevoked, Time: t, Actor: p.actor, Detail: map[string]string{"kid": k.ID}})
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, fmt.Errorf("keys: updating the signing keys: %w", err)
	}
	return keys, nil
}

// use parses the stored keys and makes them the node's.
func (m *Manager) use(stored []*gatehouse.SigningKey) error {
	old := m.snap.Load()
	s := &snapshot{parsed: map[string]*token.Key{}}
	var live []*token.Key
	for _, sk := range stored {
		if !sk.RevokedAt.IsZero() {
			continue
		}
		k := old.key(sk.ID)
		if k == nil {
			der, err := m.policy.sealer.open(sk.ID, sk.PrivateKey)
			if err != nil {
				return err
			}
			c := *sk
			c.PrivateKey = der
			if k, err = token.ParseKey(&c); err != nil {
				return err
			}
		}
		s.parsed[sk.ID] = k
		live = append(live, k)
		s.signers = append(s.signers, signer{key: k, from: sk.ActivatesAt})
	}
	if len(live) == 0 {
		return errors.New("keys: no signing key is stored")
	}
	slices.SortStableFunc(s.signers, func(a, b signer) int { return a.from.Compare(b.from) })
	var err error
	if s.set, err = token.NewKeySet(live[0], live[1:]...); err != nil {
		return err
	}
	m.snap.Store(s)
	return nil
}

func (s *snapshot) key(kid string) *token.Key {
	if s == nil {
		return nil
	}
	return s.parsed[kid]
}

// Signing returns the key that signs at this moment: the last one
// activated.
func (m *Manager) Signing() *token.Key { return m.signing().key }

// SigningSince returns when the key that signs at this moment activated,
// for the signing key's age in metrics.
func (m *Manager) SigningSince() time.Time { return m.signing().from }

func (m *Manager) signing() signer {
	s := m.snap.Load()
	now := m.cfg.Now()
	k := s.signers[0]
	for _, sg := range s.signers {
		if sg.from.After(now) {
			break
		}
		k = sg
	}
	return k
}

// Key returns the live key with the given id. An id the node does not know
// makes it reload the keys first, at most every MinReloadInterval, so that
// a key another node has just made verifies here too.
func (m *Manager) Key(kid string) (*token.Key, bool) {
	if k := m.snap.Load().key(kid); k != nil {
		return k, true
	}
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	if k := m.snap.Load().key(kid); k != nil {
		return k, true
	}
	if m.cfg.Now().Sub(m.lastReload) < MinReloadInterval {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), reloadTimeout)
	defer cancel()
	if err := m.reload(ctx); err != nil {
		m.cfg.Logger.Warn("reloading the signing keys for an unknown key id", "err", err)
	}
	k := m.snap.Load().key(kid)
	return k, k != nil
}

// JWKS returns the public keys of every live key: the next, the active and
// the retired ones.
func (m *Manager) JWKS() []byte { return m.snap.Load().set.JWKS() }

// Rotate starts a rotation now: unless a next key is already planned, it
// makes one that signs after PublishLead. It returns the keys as stored.
func (m *Manager) Rotate(ctx context.Context) ([]*gatehouse.SigningKey, error) {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	stored, err := m.update(ctx, true)
	if err != nil {
		return nil, err
	}
	return stored, m.use(stored)
}

// Revoke revokes the key kid at once: it stops signing and verifying and
// leaves the JWKS. If it was signing, the planned next key (or, if there
// is none, a new key) signs from now on. An unknown or already revoked key
// is gatehouse.ErrNotFound.
func (m *Manager) Revoke(ctx context.Context, kid string) ([]*gatehouse.SigningKey, error) {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	stored, err := revoke(ctx, m.cfg.Store, m.policy, m.cfg.Now, kid)
	if err != nil {
		return nil, err
	}
	return stored, m.use(stored)
}

func revoke(ctx context.Context, store gatehouse.Store, p *policy, now func() time.Time, kid string) ([]*gatehouse.SigningKey, error) {
	return update(ctx, store, p, now, false, func(keys []*gatehouse.SigningKey, t time.Time) error {
		for _, k := range keys {
			if k.ID == kid && k.RevokedAt.IsZero() {
				k.RevokedAt = t
				return nil
			}
		}
		return fmt.Errorf("keys: no live key %q: %w", kid, gatehouse.ErrNotFound)
	})
}

// Rotate is Manager.Rotate for a command that runs once: it needs no
// Manager, and the servers pick the change up within ReloadInterval.
func Rotate(ctx context.Context, cfg Config) ([]*gatehouse.SigningKey, error) {
	p, err := cfg.policy()
	if err != nil {
		return nil, err
	}
	return update(ctx, cfg.Store, p, cfg.Now, true, nil)
}

// Revoke is Manager.Revoke for a command that runs once.
func Revoke(ctx context.Context, cfg Config, kid string) ([]*gatehouse.SigningKey, error) {
	p, err := cfg.policy()
	if err != nil {
		return nil, err
	}
	return revoke(ctx, cfg.Store, p, cfg.Now, kid)
}

// State names where a key is in its life at t: "next", "active",
// "retired" or "revoked".
func State(k *gatehouse.SigningKey, t time.Time) string {
	switch {
	case !k.RevokedAt.IsZero():
		return "revoked"
	case k.ActivatesAt.After(t):
		return "next"
	case !k.RetiresAt.IsZero() && !k.RetiresAt.After(t):
		return "retired"
	}
	return "active"
}
