package sqlite

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse"
)

// CreateLoginState stores a new login state.
func (s *Store) CreateLoginState(ctx context.Context, ls *gatehouse.LoginState) error {
	if err := gatehouse.CheckLoginState(ls); err != nil {
		return err
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO login_states
		(state_hash, binding_hash, provider, redirect_uri, code_verifier, nonce, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		ls.StateHash, ls.BindingHash, ls.Provider, ls.RedirectURI, ls.CodeVerifier, ls.Nonce,
		toDB(ls.CreatedAt), toDB(ls.ExpiresAt))
	return wrap(err)
}

// ConsumeLoginState deletes and returns the login state matching both
// hashes, in one statement.
func (s *Store) ConsumeLoginState(ctx context.Context, stateHash, bindingHash string) (*gatehouse.LoginState, error) {
	if gatehouse.CheckText(stateHash, bindingHash) != nil {
		return nil, gatehouse.ErrNotFound // no stored state can hold it
	}
	ls := gatehouse.LoginState{StateHash: stateHash, BindingHash: bindingHash}
	var created, expires int64
	err := s.write.QueryRowContext(ctx, `DELETE FROM login_states WHERE state_hash = ? AND binding_hash = ?
		RETURNING provider, redirect_uri, code_verifier, nonce, created_at, expires_at`,
		stateHash, bindingHash).Scan(&ls.Provider, &ls.RedirectURI, &ls.CodeVerifier, &ls.Nonce, &created, &expires)
	if err != nil {
		return nil, wrap(err)
	}
	ls.CreatedAt, ls.ExpiresAt = fromDB(created), fromDB(expires)
	return &ls, nil
}

// DeleteExpiredLoginStates deletes login states that expired before t.
func (s *Store) DeleteExpiredLoginStates(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM login_states WHERE expires_at < ?`, toDB(t))
	if err != nil {
		return 0, wrap(err)
	}
	n, err := res.RowsAffected()
	return n, wrap(err)
}
