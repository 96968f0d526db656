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
	insert := &pgx.Batch{}
	insert.Queue(`INSERT INTO login_states
		(state_hash, binding_hash, provider, redirect_uri, code_verifier, nonce, client, link_user_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		ls.StateHash, ls.BindingHash, ls.Provider, ls.RedirectURI, ls.CodeVerifier, ls.Nonce, ls.Client,
		nullString(ls.LinkUserID), toDB(ls.CreatedAt), toDB(ls.ExpiresAt))
	// A pipeline: the delete, the lock and the count in one round trip,
	// then the insert and COMMIT.
	return s.pipelineTx(ctx, func(p *pipeline) error {
		first := &pgx.Batch{}
		// The replaced login is deleted first, so that it does not count
		// against the cap its successor is checked by.
		if replaces != "" {
			first.Queue(`DELETE FROM login_states WHERE binding_hash = $1`, replaces)
		}
		if maxPerClient > 0 {
			first.Queue(`SELECT pg_advisory_xact_lock(hashtext('gatehouse login client'), hashtext($1))`, ls.Client)
			first.Queue(`SELECT count(*) FROM login_states WHERE client = $1 AND expires_at > $2`, ls.Client, toDB(ls.CreatedAt))
		}
		if first.Len() > 0 {
			err := p.send(first, false, func(br pgx.BatchResults) error {
				if replaces != "" {
					if err := execAll(br, 1); err != nil {
						return err
					}
				}
				if maxPerClient <= 0 {
					return nil
				}
				if err := execAll(br, 1); err != nil {
					return err
				}
				var n int
				if err := br.QueryRow().Scan(&n); err != nil {
					return wrap(err)
				}
				if n >= maxPerClient {
					return gatehouse.ErrTooMany
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return p.send(insert, true, func(br pgx.BatchResults) error { return execAll(br, 1) })
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
