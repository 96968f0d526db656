package metrics

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Store returns s with its failures counted by operation
// (gatehouse_store_errors_total). It is a gatehouse.Counter if s is one.
func (m *Metrics) Store(s gatehouse.Store) gatehouse.Store {
	st := &store{Store: s, m: m}
	if c, ok := s.(gatehouse.Counter); ok {
		return &counterStore{st, c}
	}
	return st
}

type store struct {
	gatehouse.Store
	m *Metrics
}

type counterStore struct {
	*store
	c gatehouse.Counter
}

func (s *counterStore) Count(ctx context.Context, now time.Time) (gatehouse.Counts, error) {
	n, err := s.c.Count(ctx, now)
	s.m.storeError(ctx, "Count", err)
	return n, err
}

func (s *store) User(ctx context.Context, id string) (*gatehouse.User, error) {
	u, err := s.Store.User(ctx, id)
	s.m.storeError(ctx, "User", err)
	return u, err
}

func (s *store) UpsertIdentity(ctx context.Context, ident *gatehouse.Identity, now time.Time, onEmailMatch gatehouse.EmailMatch) (*gatehouse.User, error) {
	u, err := s.Store.UpsertIdentity(ctx, ident, now, onEmailMatch)
	s.m.storeError(ctx, "UpsertIdentity", err)
	return u, err
}

func (s *store) LinkIdentity(ctx context.Context, userID string, ident *gatehouse.Identity, now time.Time) (*gatehouse.User, error) {
	u, err := s.Store.LinkIdentity(ctx, userID, ident, now)
	s.m.storeError(ctx, "LinkIdentity", err)
	return u, err
}

func (s *store) Identities(ctx context.Context, userID string) ([]*gatehouse.Identity, error) {
	ids, err := s.Store.Identities(ctx, userID)
	s.m.storeError(ctx, "Identities", err)
	return ids, err
}

func (s *store) UnlinkIdentity(ctx context.Context, userID, provider, subject string) error {
	err := s.Store.UnlinkIdentity(ctx, userID, provider, subject)
	s.m.storeError(ctx, "UnlinkIdentity", err)
	return err
}

func (s *store) CreateLoginState(ctx context.Context, ls *gatehouse.LoginState, replaces string, maxPerClient int) error {
	err := s.Store.CreateLoginState(ctx, ls, replaces, maxPerClient)
	s.m.storeError(ctx, "CreateLoginState", err)
	return err
}

func (s *store) ConsumeLoginState(ctx context.Context, stateHash, bindingHash string) (*gatehouse.LoginState, error) {
	ls, err := s.Store.ConsumeLoginState(ctx, stateHash, bindingHash)
	s.m.storeError(ctx, "ConsumeLoginState", err)
	return ls, err
}

func (s *store) DeleteExpiredLoginStates(ctx context.Context, t time.Time, limit int) (int64, error) {
	n, err := s.Store.DeleteExpiredLoginStates(ctx, t, limit)
	s.m.storeError(ctx, "DeleteExpiredLoginStates", err)
	return n, err
}

func (s *store) SigningKeys(ctx context.Context) ([]*gatehouse.SigningKey, error) {
	k, err := s.Store.SigningKeys(ctx)
	s.m.storeError(ctx, "SigningKeys", err)
	return k, err
}

func (s *store) UpdateSigningKeys(ctx context.Context, update func([]*gatehouse.SigningKey) ([]*gatehouse.SigningKey, error)) ([]*gatehouse.SigningKey, error) {
	k, err := s.Store.UpdateSigningKeys(ctx, update)
	s.m.storeError(ctx, "UpdateSigningKeys", err)
	return k, err
}

func (s *store) CreateSession(ctx context.Context, sess *gatehouse.Session) error {
	err := s.Store.CreateSession(ctx, sess)
	s.m.storeError(ctx, "CreateSession", err)
	return err
}

func (s *store) SessionUser(ctx context.Context, id string) (*gatehouse.Session, *gatehouse.User, error) {
	sess, u, err := s.Store.SessionUser(ctx, id)
	s.m.storeError(ctx, "SessionUser", err)
	return sess, u, err
}

func (s *store) SessionStatus(ctx context.Context, id string) (*gatehouse.SessionStatus, *gatehouse.User, error) {
	sess, u, err := s.Store.SessionStatus(ctx, id)
	s.m.storeError(ctx, "SessionStatus", err)
	return sess, u, err
}

func (s *store) UpdateSessionByToken(ctx context.Context, tokenHash string, now time.Time,
	update func(*gatehouse.Session, *gatehouse.User, *time.Time) (*gatehouse.Session, error)) (*gatehouse.Session, *gatehouse.User, error) {
	sess, u, err := s.Store.UpdateSessionByToken(ctx, tokenHash, now, update)
	s.m.storeError(ctx, "UpdateSessionByToken", err)
	return sess, u, err
}

func (s *store) Sessions(ctx context.Context, userID string) ([]*gatehouse.Session, error) {
	l, err := s.Store.Sessions(ctx, userID)
	s.m.storeError(ctx, "Sessions", err)
	return l, err
}

func (s *store) RevokeSession(ctx context.Context, userID, id string, at time.Time, reason string) error {
	err := s.Store.RevokeSession(ctx, userID, id, at, reason)
	s.m.storeError(ctx, "RevokeSession", err)
	return err
}

func (s *store) RevokeSessions(ctx context.Context, userID string, at time.Time, reason string) (int64, error) {
	n, err := s.Store.RevokeSessions(ctx, userID, at, reason)
	s.m.storeError(ctx, "RevokeSessions", err)
	return n, err
}

func (s *store) DeleteEndedSessions(ctx context.Context, t time.Time, limit int) (int64, error) {
	n, err := s.Store.DeleteEndedSessions(ctx, t, limit)
	s.m.storeError(ctx, "DeleteEndedSessions", err)
	return n, err
}

func (s *store) SetUserDisabled(ctx context.Context, id string, disabled bool, at time.Time) error {
	err := s.Store.SetUserDisabled(ctx, id, disabled, at)
	s.m.storeError(ctx, "SetUserDisabled", err)
	return err
}

func (s *store) Ping(ctx context.Context) error {
	err := s.Store.Ping(ctx)
	s.m.storeError(ctx, "Ping", err)
	return err
}
