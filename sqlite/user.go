package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse"
)

const userColumns = `id, login, name, company, location, email, picture, email_verified, created_at, updated_at`

// userReadColumns are the columns userRow reads.
const userReadColumns = userColumns + `, disabled_at`

// userSelect selects users for scanUser.
const userSelect = `SELECT ` + userReadColumns + ` FROM users`

type scanner interface{ Scan(dest ...any) error }

// userRow receives a row of userReadColumns.
type userRow struct {
	u                                              gatehouse.User
	login, name, company, location, email, picture sql.NullString
	created, updated                               int64
	disabled                                       sql.NullInt64
}

func (r *userRow) dest() []any {
	return []any{&r.u.ID, &r.login, &r.name, &r.company, &r.location, &r.email, &r.picture, &r.u.EmailVerified,
		&r.created, &r.updated, &r.disabled}
}

func (r *userRow) user() *gatehouse.User {
	u := r.u
	u.Login, u.Name, u.Company = ptr(r.login), ptr(r.name), ptr(r.company)
	u.Location, u.Email, u.Picture = ptr(r.location), ptr(r.email), ptr(r.picture)
	u.CreatedAt, u.UpdatedAt = fromDB(r.created), fromDB(r.updated)
	u.DisabledAt = fromNullDB(r.disabled)
	return &u
}

func scanUser(row scanner) (*gatehouse.User, error) {
	var r userRow
	if err := row.Scan(r.dest()...); err != nil {
		return nil, wrap(err)
	}
	return r.user(), nil
}

func ptr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

// User returns the user with the given id.
func (s *Store) User(ctx context.Context, id string) (*gatehouse.User, error) {
	if gatehouse.CheckText(id) != nil {
		return nil, gatehouse.ErrNotFound // no stored id can hold it
	}
	return scanUser(s.read.QueryRowContext(ctx, userSelect+` WHERE id = ?`, id))
}

// UpsertIdentity records a login: it updates the identity and its user, or
// creates both, in one transaction.
func (s *Store) UpsertIdentity(ctx context.Context, ident *gatehouse.Identity, now time.Time) (*gatehouse.User, error) {
	if err := gatehouse.CheckIdentity(ident); err != nil {
		return nil, err
	}
	p := ident.Profile
	at := toDB(now)
	var u *gatehouse.User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var userID string
		var disabled sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT i.user_id, u.disabled_at FROM identities i JOIN users u ON u.id = i.user_id
			WHERE i.provider = ? AND i.subject = ?`, ident.Provider, ident.Subject).Scan(&userID, &disabled)
		switch {
		case err == nil && disabled.Valid:
			return gatehouse.ErrDisabled
		case errors.Is(err, sql.ErrNoRows):
			userID = gatehouse.NewID(now)
			if _, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				userID, p.Login, p.Name, p.Company, p.Location, p.Email, p.Picture, p.EmailVerified, at, at); err != nil {
				return wrap(err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO identities (provider, subject, user_id, login, email, email_verified, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				ident.Provider, ident.Subject, userID, p.Login, p.Email, p.EmailVerified, at, at); err != nil {
				return wrap(err)
			}
		case err != nil:
			return wrap(err)
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE identities SET login = ?, email = ?, email_verified = ?, updated_at = ?
				WHERE provider = ? AND subject = ?`,
				p.Login, p.Email, p.EmailVerified, at, ident.Provider, ident.Subject); err != nil {
				return wrap(err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE users SET login = ?, name = ?, company = ?, location = ?, email = ?, picture = ?,
				email_verified = ?, updated_at = ? WHERE id = ?`,
				p.Login, p.Name, p.Company, p.Location, p.Email, p.Picture, p.EmailVerified, at, userID); err != nil {
				return wrap(err)
			}
		}
		u, err = scanUser(tx.QueryRowContext(ctx, userSelect+` WHERE id = ?`, userID))
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// SetUserDisabled disables the user and revokes their sessions, or enables
// them again, in one transaction.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool, at time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var when any
		if disabled {
			when = toDB(at)
		}
		res, err := tx.ExecContext(ctx, `UPDATE users SET disabled_at = ? WHERE id = ?`, when, id)
		if err != nil {
			return wrap(err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return gatehouse.ErrNotFound
		}
		if disabled {
			_, err = revokeSessions(ctx, tx, id, at, "user disabled")
		}
		return err
	})
}
