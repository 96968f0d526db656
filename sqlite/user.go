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
// creates both, in one transaction. The writer connection runs one
// transaction at a time, so the email rule's check and the insert it
// allows cannot interleave with another login's.
func (s *Store) UpsertIdentity(ctx context.Context, ident *gatehouse.Identity, now time.Time, onEmailMatch gatehouse.EmailMatch) (*gatehouse.User, error) {
	if err := gatehouse.CheckIdentity(ident); err != nil {
		return nil, err
	}
	p := ident.Profile
	at := toDB(now)
	var u *gatehouse.User
	err := s.tx(ctx, func(ctx context.Context, tx *wtx) error {
		var userID string
		var disabled sql.NullInt64
		err := tx.QueryRow(ctx, `SELECT i.user_id, u.disabled_at FROM identities i JOIN users u ON u.id = i.user_id
			WHERE i.provider = ? AND i.subject = ?`, ident.Provider, ident.Subject).Scan(&userID, &disabled)
		switch {
		case err == nil && disabled.Valid:
			return gatehouse.ErrDisabled
		case errors.Is(err, sql.ErrNoRows):
			if onEmailMatch != gatehouse.EmailMatchNewAccount {
				if err := checkEmailMatch(ctx, tx, p.VerifiedEmailKey()); err != nil {
					return err
				}
			}
			userID = gatehouse.NewID(now)
			// The user's write returns the user, which the answer needs.
			if u, err = scanUser(tx.QueryRow(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				RETURNING `+userReadColumns,
				userID, p.Login, p.Name, p.Company, p.Location, p.Email, p.Picture, p.EmailVerified, at, at)); err != nil {
				return err
			}
			if err := insertIdentity(ctx, tx, userID, ident, at); err != nil {
				return err
			}
		case err != nil:
			return wrap(err)
		default:
			if err := updateIdentity(ctx, tx, ident, at); err != nil {
				return err
			}
			if u, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET login = ?, name = ?, company = ?, location = ?, email = ?, picture = ?,
				email_verified = ?, updated_at = ? WHERE id = ? RETURNING `+userReadColumns,
				p.Login, p.Name, p.Company, p.Location, p.Email, p.Picture, p.EmailVerified, at, userID)); err != nil {
				return err
			}
		}
		return writeAudit(ctx, tx, userID, "")
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// checkEmailMatch returns an *AccountExistsError if an identity has the
// verified email key, naming the providers of every user that has it.
func checkEmailMatch(ctx context.Context, tx *wtx, key string) error {
	if key == "" {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT provider FROM identities
		WHERE user_id IN (SELECT user_id FROM identities WHERE verified_email = ?) ORDER BY provider`, key)
	if err != nil {
		return wrap(err)
	}
	defer rows.Close()
	var providers []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return wrap(err)
		}
		providers = append(providers, p)
	}
	if err := rows.Err(); err != nil {
		return wrap(err)
	}
	if len(providers) > 0 {
		return &gatehouse.AccountExistsError{Providers: providers}
	}
	return nil
}

func insertIdentity(ctx context.Context, tx *wtx, userID string, ident *gatehouse.Identity, at int64) error {
	p := ident.Profile
	_, err := tx.Exec(ctx, `INSERT INTO identities
		(provider, subject, user_id, login, email, email_verified, verified_email, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ident.Provider, ident.Subject, userID, p.Login, p.Email, p.EmailVerified, nullString(p.VerifiedEmailKey()), at, at)
	return wrap(err)
}

func updateIdentity(ctx context.Context, tx *wtx, ident *gatehouse.Identity, at int64) error {
	p := ident.Profile
	_, err := tx.Exec(ctx, `UPDATE identities SET login = ?, email = ?, email_verified = ?, verified_email = ?, updated_at = ?
		WHERE provider = ? AND subject = ?`,
		p.Login, p.Email, p.EmailVerified, nullString(p.VerifiedEmailKey()), at, ident.Provider, ident.Subject)
	return wrap(err)
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// LinkIdentity attaches the identity to the user, or refreshes it if it is
// already theirs, in one transaction.
func (s *Store) LinkIdentity(ctx context.Context, userID string, ident *gatehouse.Identity, now time.Time) (*gatehouse.User, error) {
	if gatehouse.CheckText(userID) != nil {
		return nil, gatehouse.ErrNotFound // no stored id can hold it
	}
	if err := gatehouse.CheckIdentity(ident); err != nil {
		return nil, err
	}
	at := toDB(now)
	var u *gatehouse.User
	err := s.tx(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		if u, err = scanUser(tx.QueryRow(ctx, userSelect+` WHERE id = ?`, userID)); err != nil {
			return err
		}
		if u.DisabledAt != nil {
			return gatehouse.ErrDisabled
		}
		var owner string
		err = tx.QueryRow(ctx, `SELECT user_id FROM identities WHERE provider = ? AND subject = ?`,
			ident.Provider, ident.Subject).Scan(&owner)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			err = insertIdentity(ctx, tx, userID, ident, at)
		case err != nil:
			return wrap(err)
		case owner != userID:
			return gatehouse.ErrIdentityInUse
		default:
			err = updateIdentity(ctx, tx, ident, at)
		}
		if err != nil {
			return err
		}
		return writeAudit(ctx, tx, userID, "")
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Identities returns the user's identities, oldest first.
func (s *Store) Identities(ctx context.Context, userID string) ([]*gatehouse.Identity, error) {
	if gatehouse.CheckText(userID) != nil {
		return nil, nil
	}
	rows, err := s.read.QueryContext(ctx, `SELECT provider, subject, user_id, login, email, email_verified, created_at, updated_at
		FROM identities WHERE user_id = ? ORDER BY created_at, provider, subject`, userID)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []*gatehouse.Identity
	for rows.Next() {
		var i gatehouse.Identity
		var login, email sql.NullString
		var created, updated int64
		if err := rows.Scan(&i.Provider, &i.Subject, &i.UserID, &login, &email, &i.EmailVerified, &created, &updated); err != nil {
			return nil, wrap(err)
		}
		i.Login, i.Email = ptr(login), ptr(email)
		i.CreatedAt, i.UpdatedAt = fromDB(created), fromDB(updated)
		out = append(out, &i)
	}
	return out, wrap(rows.Err())
}

// UnlinkIdentity deletes the user's identity unless it is their last, in
// one transaction.
func (s *Store) UnlinkIdentity(ctx context.Context, userID, provider, subject string) error {
	if gatehouse.CheckText(userID, provider, subject) != nil {
		return gatehouse.ErrNotFound
	}
	return s.tx(ctx, func(ctx context.Context, tx *wtx) error {
		var n int
		var mine bool
		if err := tx.QueryRow(ctx, `SELECT count(*), coalesce(max(provider = ? AND subject = ?), 0) FROM identities WHERE user_id = ?`,
			provider, subject, userID).Scan(&n, &mine); err != nil {
			return wrap(err)
		}
		switch {
		case !mine:
			return gatehouse.ErrNotFound
		case n == 1:
			return gatehouse.ErrLastIdentity
		}
		if _, err := tx.Exec(ctx, `DELETE FROM identities WHERE provider = ? AND subject = ? AND user_id = ?`, provider, subject, userID); err != nil {
			return wrap(err)
		}
		return writeAudit(ctx, tx, userID, "")
	})
}

// SetUserDisabled disables the user and revokes their sessions, or enables
// them again, in one transaction.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool, at time.Time) error {
	return s.tx(ctx, func(ctx context.Context, tx *wtx) error {
		var when any
		if disabled {
			when = toDB(at)
		}
		res, err := tx.Exec(ctx, `UPDATE users SET disabled_at = ? WHERE id = ?`, when, id)
		if err != nil {
			return wrap(err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return gatehouse.ErrNotFound
		}
		if disabled {
			if _, err = revokeSessions(ctx, tx, id, at, "user disabled"); err != nil {
				return err
			}
		}
		return writeAudit(ctx, tx, id, "")
	})
}
