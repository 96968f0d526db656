package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/jackc/pgx/v5"
)

const userColumns = `id, login, name, company, location, email, picture, email_verified, created_at, updated_at`

// userReadColumns are the columns userRow reads.
const userReadColumns = userColumns + `, disabled_at`

// userSelect selects users for scanUser.
const userSelect = `SELECT ` + userReadColumns + ` FROM users`

// userRow receives a row of userReadColumns.
type userRow struct{ u gatehouse.User }

func (r *userRow) dest() []any {
	u := &r.u
	return []any{&u.ID, &u.Login, &u.Name, &u.Company, &u.Location, &u.Email, &u.Picture, &u.EmailVerified,
		&u.CreatedAt, &u.UpdatedAt, &u.DisabledAt}
}

func (r *userRow) user() *gatehouse.User {
	u := r.u
	u.CreatedAt, u.UpdatedAt = fromDB(u.CreatedAt), fromDB(u.UpdatedAt)
	u.DisabledAt = nullTime(u.DisabledAt)
	return &u
}

func scanUser(row pgx.Row) (*gatehouse.User, error) {
	var r userRow
	if err := row.Scan(r.dest()...); err != nil {
		return nil, wrap(err)
	}
	return r.user(), nil
}

// User returns the user with the given id.
func (s *Store) User(ctx context.Context, id string) (*gatehouse.User, error) {
	if gatehouse.CheckText(id) != nil {
		return nil, gatehouse.ErrNotFound // no stored id can hold it
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	return scanUser(s.pool.QueryRow(ctx, userSelect+` WHERE id = $1`, id))
}

// UpsertIdentity records a login: it updates the identity and its user, or
// creates both, in one transaction. Two first logins of one account racing
// on two connections both try to insert the identity; the loser's insert
// waits for the winner's commit and then fails as a duplicate, and its
// second attempt finds the identity and updates it, so both calls return
// the one user.
func (s *Store) UpsertIdentity(ctx context.Context, ident *gatehouse.Identity, now time.Time) (*gatehouse.User, error) {
	if err := gatehouse.CheckIdentity(ident); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	var u *gatehouse.User
	var err error
	for range conflictRetries {
		err = s.tx(ctx, func(tx pgx.Tx) error {
			var txErr error
			u, txErr = upsertIdentity(ctx, tx, ident, toDB(now))
			return txErr
		})
		if !errors.Is(err, gatehouse.ErrConflict) {
			break
		}
	}
	if errors.Is(err, gatehouse.ErrConflict) {
		// Still colliding after every retry: busy, not broken.
		return nil, fmt.Errorf("%w: %w", gatehouse.ErrUnavailable, err)
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

func upsertIdentity(ctx context.Context, tx pgx.Tx, ident *gatehouse.Identity, at time.Time) (*gatehouse.User, error) {
	p := ident.Profile
	var userID string
	var disabled *time.Time
	err := tx.QueryRow(ctx, `SELECT i.user_id, u.disabled_at FROM identities i JOIN users u ON u.id = i.user_id
		WHERE i.provider = $1 AND i.subject = $2 FOR UPDATE OF i FOR SHARE OF u`,
		ident.Provider, ident.Subject).Scan(&userID, &disabled)
	switch {
	case err == nil && disabled != nil:
		return nil, gatehouse.ErrDisabled
	case errors.Is(err, pgx.ErrNoRows):
		userID = gatehouse.NewID(at)
		if _, err := tx.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
			userID, p.Login, p.Name, p.Company, p.Location, p.Email, p.Picture, p.EmailVerified, at); err != nil {
			return nil, wrap(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO identities (provider, subject, user_id, login, email, email_verified, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
			ident.Provider, ident.Subject, userID, p.Login, p.Email, p.EmailVerified, at); err != nil {
			return nil, wrap(err)
		}
	case err != nil:
		return nil, wrap(err)
	default:
		if _, err := tx.Exec(ctx, `UPDATE identities SET login = $1, email = $2, email_verified = $3, updated_at = $4
			WHERE provider = $5 AND subject = $6`,
			p.Login, p.Email, p.EmailVerified, at, ident.Provider, ident.Subject); err != nil {
			return nil, wrap(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET login = $1, name = $2, company = $3, location = $4, email = $5, picture = $6,
			email_verified = $7, updated_at = $8 WHERE id = $9`,
			p.Login, p.Name, p.Company, p.Location, p.Email, p.Picture, p.EmailVerified, at, userID); err != nil {
			return nil, wrap(err)
		}
	}
	return scanUser(tx.QueryRow(ctx, userSelect+` WHERE id = $1`, userID))
}

// SetUserDisabled disables the user and revokes their sessions, or enables
// them again, in one transaction.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool, at time.Time) error {
	if gatehouse.CheckText(id) != nil {
		return gatehouse.ErrNotFound
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	return s.tx(ctx, func(tx pgx.Tx) error {
		var when *time.Time
		if disabled {
			t := toDB(at)
			when = &t
		}
		tag, err := tx.Exec(ctx, `UPDATE users SET disabled_at = $1 WHERE id = $2`, when, id)
		if err != nil {
			return wrap(err)
		}
		if tag.RowsAffected() == 0 {
			return gatehouse.ErrNotFound
		}
		if disabled {
			_, err = revokeSessions(ctx, tx, id, at, "user disabled")
		}
		return err
	})
}
