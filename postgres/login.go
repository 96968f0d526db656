package postgres

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/jackc/pgx/v5"
)

// CreateLoginState stores a new login state, replacing the browser's
// earlier one and refusing a client over its cap, in one transaction. A
// transaction-scoped advisory lock on the client serializes the count and
// the insert of concurrent logins from one client across nodes.
func (s *Store) CreateLoginState(ctx context.Context, ls *gatehouse.LoginState, replaces string, maxPerClient int) error {
	if err := gatehouse.CheckLoginState(ls); err != nil {
		return err
	}
	if err := gatehouse.CheckText(replaces); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	return s.tx(ctx, func(tx pgx.Tx) error {
		// The replaced login is deleted first, so that it does not count
		// against the cap its successor is checked by.
		if replaces != "" {
			if _, err := tx.Exec(ctx, `DELETE FROM login_states WHERE binding_hash = $1`, replaces); err != nil {
				return wrap(err)
			}
		}
		if maxPerClient > 0 {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('gatehouse login client'), hashtext($1))`, ls.Client); err != nil {
				return wrap(err)
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM login_states WHERE client = $1 AND expires_at > $2`,
				ls.Client, toDB(ls.CreatedAt)).Scan(&n); err != nil {
				return wrap(err)
			}
			if n >= maxPerClient {
				return gatehouse.ErrTooMany
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO login_states
			(state_hash, binding_hash, provider, redirect_uri, code_verifier, nonce, client, link_user_id, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			ls.StateHash, ls.BindingHash, ls.Provider, ls.RedirectURI, ls.CodeVerifier, ls.Nonce, ls.Client,
			nullString(ls.LinkUserID), toDB(ls.CreatedAt), toDB(ls.ExpiresAt))
		return wrap(err)
	})
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
	var link *string
	err := s.pool.QueryRow(ctx, `DELETE FROM login_states WHERE state_hash = $1 AND binding_hash = $2
		RETURNING provider, redirect_uri, code_verifier, nonce, client, link_user_id, created_at, expires_at`,
		stateHash, bindingHash).Scan(&ls.Provider, &ls.RedirectURI, &ls.CodeVerifier, &ls.Nonce, &ls.Client, &link, &ls.CreatedAt, &ls.ExpiresAt)
	if err != nil {
		return nil, wrap(err)
	}
	if link != nil {
		ls.LinkUserID = *link
	}
	ls.CreatedAt, ls.ExpiresAt = fromDB(ls.CreatedAt), fromDB(ls.ExpiresAt)
	return &ls, nil
}

// DeleteExpiredLoginStates deletes at most limit login states that expired
// before t.
func (s *Store) DeleteExpiredLoginStates(ctx context.Context, t time.Time, limit int) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM login_states WHERE state_hash IN
		(SELECT state_hash FROM login_states WHERE expires_at < $1 LIMIT $2)`, toDB(t), limit)
	if err != nil {
		return 0, wrap(err)
	}
	return tag.RowsAffected(), nil
}
