package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse/gatehouse"
)

// CreateLoginState stores a new login state, replacing the browser's
// earlier one and refusing a client over its cap, in one write
// transaction.
func (s *Store) CreateLoginState(ctx context.Context, ls *gatehouse.LoginState, replaces string, maxPerClient int) error {
	if err := gatehouse.CheckLoginState(ls); err != nil {
		return err
	}
	if err := gatehouse.CheckText(replaces); err != nil {
		return err
	}
	return s.tx(ctx, func(ctx context.Context, tx *wtx) error {
		// The replaced login is deleted first, so that it does not count
		// against the cap its successor is checked by.
		if replaces != "" {
			if _, err := tx.Exec(ctx, `DELETE FROM login_states WHERE binding_hash = ?`, replaces); err != nil {
				return wrap(err)
			}
		}
		if maxPerClient > 0 {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM login_states WHERE client = ? AND expires_at > ?`,
				ls.Client, toDB(ls.CreatedAt)).Scan(&n); err != nil {
				return wrap(err)
			}
			if n >= maxPerClient {
				return gatehouse.ErrTooMany
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO login_states
			(state_hash, binding_hash, provider, redirect_uri, code_verifier, nonce, client, link_user_id, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ls.StateHash, ls.BindingHash, ls.Provider, ls.RedirectURI, ls.CodeVerifier, ls.Nonce, ls.Client,
			nullString(ls.LinkUserID), toDB(ls.CreatedAt), toDB(ls.ExpiresAt))
		return wrap(err)
	})
}

// ConsumeLoginState deletes and returns the login state matching both
// hashes, in one statement (committed with the writes of other requests,
// see tx).
func (s *Store) ConsumeLoginState(ctx context.Context, stateHash, bindingHash string) (*gatehouse.LoginState, error) {
	if gatehouse.CheckText(stateHash, bindingHash) != nil {
		return nil, gatehouse.ErrNotFound // no stored state can hold it
	}
	ls := gatehouse.LoginState{StateHash: stateHash, BindingHash: bindingHash}
	var created, expires int64
	var link sql.NullString
	err := s.tx(ctx, func(ctx context.Context, tx *wtx) error {
		return wrap(tx.QueryRow(ctx, `DELETE FROM login_states WHERE state_hash = ? AND binding_hash = ?
		RETURNING provider, redirect_uri, code_verifier, nonce, client, link_user_id, created_at, expires_at`,
			stateHash, bindingHash).Scan(&ls.Provider, &ls.RedirectURI, &ls.CodeVerifier, &ls.Nonce, &ls.Client, &link, &created, &expires))
	})
	if err != nil {
		return nil, err
	}
	ls.LinkUserID = link.String
	ls.CreatedAt, ls.ExpiresAt = fromDB(created), fromDB(expires)
	return &ls, nil
}

// DeleteExpiredLoginStates deletes at most limit login states that expired
// before t.
func (s *Store) DeleteExpiredLoginStates(ctx context.Context, t time.Time, limit int) (int64, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM login_states WHERE state_hash IN
		(SELECT state_hash FROM login_states WHERE expires_at < ? LIMIT ?)`, toDB(t), limit)
	if err != nil {
		return 0, wrap(err)
	}
	n, err := res.RowsAffected()
	return n, wrap(err)
}
