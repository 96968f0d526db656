package postgres

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
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO login_states
		(state_hash, binding_hash, provider, redirect_uri, code_verifier, nonce, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		ls.StateHash, ls.BindingHash, ls.Provider, ls.RedirectURI, ls.CodeVerifier, ls.Nonce,
		toDB(ls.CreatedAt), toDB(ls.ExpiresAt))
	return wrap(err)
}

// ConsumeLoginState deletes and returns the login state matching both
// hashes, in one statement: of two concurrent calls, the second waits for
// the first and then finds nothing.
func (s *Store) ConsumeLoginState(ctx context.Context, stateHash, bindingHash string) (*gatehouse.LoginState, error) {
	if gatehouse.CheckText(stateHash, bindingHash) != nil {
		return nil, gatehouse.ErrNotFound // no stored state can hold it
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	ls := gatehouse.LoginState{StateHash: stateHash, BindingHash: bindingHash}
	err := s.pool.QueryRow(ctx, `DELETE FROM login_states WHERE state_hash = $1 AND binding_hash = $2
		RETURNING provider, redirect_uri, code_verifier, nonce, created_at, expires_at`,
		stateHash, bindingHash).Scan(&ls.Provider, &ls.RedirectURI, &ls.CodeVerifier, &ls.Nonce, &ls.CreatedAt, &ls.ExpiresAt)
	if err != nil {
		return nil, wrap(err)
	}
	ls.CreatedAt, ls.ExpiresAt = fromDB(ls.CreatedAt), fromDB(ls.ExpiresAt)
	return &ls, nil
}

// DeleteExpiredLoginStates deletes login states that expired before t.
func (s *Store) DeleteExpiredLoginStates(ctx context.Context, t time.Time) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM login_states WHERE expires_at < $1`, toDB(t))
	if err != nil {
		return 0, wrap(err)
	}
	return tag.RowsAffected(), nil
}
