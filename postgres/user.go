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
// the one user. A login whose profile has a verified email first takes a
// transaction-scoped advisory lock on it, so that the email rule's check
// and the insert it allows are atomic across nodes.
//
// It is a pipeline of two round trips: the lock and the reads, then the
// writes, the user's row and COMMIT.
func (s *Store) UpsertIdentity(ctx context.Context, ident *gatehouse.Identity, now time.Time, onEmailMatch gatehouse.EmailMatch) (*gatehouse.User, error) {
	if err := gatehouse.CheckIdentity(ident); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	var u *gatehouse.User
	err := retryConflicts(func() error {
		return s.pipelineTx(ctx, func(p *pipeline) error {
			var err error
			u, err = upsertIdentity(p, ident, toDB(now), onEmailMatch)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// retryConflicts runs a transaction, and again when it collided with a
// concurrent insert (ErrConflict), which the next attempt sees.
func retryConflicts(run func() error) error {
	var err error
	for range conflictRetries {
		err = run()
		if !errors.Is(err, gatehouse.ErrConflict) {
			return err
		}
	}
	// Still colliding after every retry: busy, not broken.
	return fmt.Errorf("%w: %w", gatehouse.ErrUnavailable, err)
}

// identityAndUserLock reads an identity's user and whether it is disabled,
// locking the identity and sharing the user's row.
const identityAndUserLock = `SELECT i.user_id, u.disabled_at FROM identities i JOIN users u ON u.id = i.user_id
	WHERE i.provider = $1 AND i.subject = $2 FOR UPDATE OF i FOR SHARE OF u`

func upsertIdentity(p *pipeline, ident *gatehouse.Identity, at time.Time, onEmailMatch gatehouse.EmailMatch) (*gatehouse.User, error) {
	pr := ident.Profile
	key := pr.VerifiedEmailKey()
	// The email rule's check is read with the identity: it is needed only
	// if the identity is new, and costs less than a round trip.
	checkEmail := key != "" && onEmailMatch != gatehouse.EmailMatchNewAccount
	reads := &pgx.Batch{}
	if key != "" {
		reads.Queue(lockEmailQuery, key)
	}
	reads.Queue(identityAndUserLock, ident.Provider, ident.Subject)
	if checkEmail {
		reads.Queue(emailMatchQuery, key)
	}
	var userID string
	var disabled *time.Time
	var found bool
	var matchErr error
	err := p.send(reads, false, func(br pgx.BatchResults) error {
		if key != "" {
			if _, err := br.Exec(); err != nil {
				return wrap(err)
			}
		}
		err := br.QueryRow().Scan(&userID, &disabled)
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, pgx.ErrNoRows):
			return wrap(err)
		}
		if checkEmail {
			matchErr = readEmailMatch(br)
			if matchErr != nil && !errors.As(matchErr, new(*gatehouse.AccountExistsError)) {
				return matchErr
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case found && disabled != nil:
		return nil, gatehouse.ErrDisabled
	case !found && matchErr != nil:
		return nil, matchErr
	}

	// The user's write returns the user, which the answer needs: no read
	// after it.
	writes := &pgx.Batch{}
	if found {
		q, args := identityUpdate(ident, at)
		writes.Queue(q, args...)
		writes.Queue(`UPDATE users SET login = $1, name = $2, company = $3, location = $4, email = $5, picture = $6,
			email_verified = $7, updated_at = $8 WHERE id = $9 RETURNING `+userReadColumns,
			pr.Login, pr.Name, pr.Company, pr.Location, pr.Email, pr.Picture, pr.EmailVerified, at, userID)
	} else {
		userID = gatehouse.NewID(at)
		writes.Queue(`INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING `+userReadColumns,
			userID, pr.Login, pr.Name, pr.Company, pr.Location, pr.Email, pr.Picture, pr.EmailVerified, at)
		q, args := identityInsert(userID, ident, at)
		writes.Queue(q, args...)
	}
	audits, err := queueAudit(p.ctx, writes, userID, "")
	if err != nil {
		return nil, err
	}
	var u *gatehouse.User
	err = p.send(writes, true, func(br pgx.BatchResults) error {
		if found {
			if err := execAll(br, 1); err != nil {
				return err
			}
		}
		var err error
		if u, err = scanUser(br.QueryRow()); err != nil {
			return err
		}
		if !found {
			if err := execAll(br, 1); err != nil {
				return err
			}
		}
		return execAll(br, audits)
	})
	return u, err
}

// lockEmailQuery takes a transaction-scoped advisory lock on a verified
// email key. Every write of an identity with a verified email takes it
// before it reads anything, so that no two of them check and write one
// address at once.
const lockEmailQuery = `SELECT pg_advisory_xact_lock(hashtext('gatehouse verified email'), hashtext($1))`

// lockEmail takes the lock of lockEmailQuery on key ("" takes none).
func lockEmail(ctx context.Context, tx pgx.Tx, key string) error {
	if key == "" {
		return nil
	}
	_, err := tx.Exec(ctx, lockEmailQuery, key)
	return wrap(err)
}

// emailMatchQuery reads the providers of every user with an identity that
// has the verified email key $1.
const emailMatchQuery = `SELECT DISTINCT provider FROM identities
	WHERE user_id IN (SELECT user_id FROM identities WHERE verified_email = $1) ORDER BY provider`

// readEmailMatch reads emailMatchQuery's result: an *AccountExistsError
// naming the providers if there are any.
func readEmailMatch(q interface{ Query() (pgx.Rows, error) }) error {
	rows, err := q.Query()
	if err != nil {
		return wrap(err)
	}
	providers, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return wrap(err)
	}
	if len(providers) > 0 {
		return &gatehouse.AccountExistsError{Providers: providers}
	}
	return nil
}

// identityInsert is the statement that stores a new identity of userID.
func identityInsert(userID string, ident *gatehouse.Identity, at time.Time) (string, []any) {
	p := ident.Profile
	return `INSERT INTO identities
		(provider, subject, user_id, login, email, email_verified, verified_email, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`,
		[]any{ident.Provider, ident.Subject, userID, p.Login, p.Email, p.EmailVerified, nullString(p.VerifiedEmailKey()), at}
}

// identityUpdate is the statement that refreshes an identity's profile.
func identityUpdate(ident *gatehouse.Identity, at time.Time) (string, []any) {
	p := ident.Profile
	return `UPDATE identities SET login = $1, email = $2, email_verified = $3, verified_email = $4, updated_at = $5
		WHERE provider = $6 AND subject = $7`,
		[]any{p.Login, p.Email, p.EmailVerified, nullString(p.VerifiedEmailKey()), at, ident.Provider, ident.Subject}
}

func insertIdentity(ctx context.Context, tx pgx.Tx, userID string, ident *gatehouse.Identity, at time.Time) error {
	q, args := identityInsert(userID, ident, at)
	_, err := tx.Exec(ctx, q, args...)
	return wrap(err)
}

func updateIdentity(ctx context.Context, tx pgx.Tx, ident *gatehouse.Identity, at time.Time) error {
	q, args := identityUpdate(ident, at)
	_, err := tx.Exec(ctx, q, args...)
	return wrap(err)
}

// nullString is s, or NULL for "".
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// LinkIdentity attaches the identity to the user, or refreshes it if it is
// already theirs, in one transaction. It takes the email lock first, as
// UpsertIdentity does, then locks the user's row FOR SHARE, so that an
// unlink of theirs (which locks it FOR UPDATE) waits. Two links of one
// identity racing both try to insert it; the loser's insert fails as a
// duplicate once the winner commits, and its second attempt finds the
// identity taken.
func (s *Store) LinkIdentity(ctx context.Context, userID string, ident *gatehouse.Identity, now time.Time) (*gatehouse.User, error) {
	if gatehouse.CheckText(userID) != nil {
		return nil, gatehouse.ErrNotFound // no stored id can hold it
	}
	if err := gatehouse.CheckIdentity(ident); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	at := toDB(now)
	var u *gatehouse.User
	err := retryConflicts(func() error {
		return s.tx(ctx, func(tx pgx.Tx) error {
			if err := lockEmail(ctx, tx, ident.Profile.VerifiedEmailKey()); err != nil {
				return err
			}
			var err error
			if u, err = scanUser(tx.QueryRow(ctx, userSelect+` WHERE id = $1 FOR SHARE`, userID)); err != nil {
				return err
			}
			if u.DisabledAt != nil {
				return gatehouse.ErrDisabled
			}
			var owner string
			err = tx.QueryRow(ctx, `SELECT user_id FROM identities WHERE provider = $1 AND subject = $2 FOR UPDATE`,
				ident.Provider, ident.Subject).Scan(&owner)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
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
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Identities returns the user's identities, oldest first.
func (s *Store) Identities(ctx context.Context, userID string) ([]*gatehouse.Identity, error) {
	if gatehouse.CheckText(userID) != nil {
		return nil, nil // no stored id can hold it
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT provider, subject, user_id, login, email, email_verified, created_at, updated_at
		FROM identities WHERE user_id = $1 ORDER BY created_at, provider, subject`, userID)
	if err != nil {
		return nil, wrap(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*gatehouse.Identity, error) {
		var i gatehouse.Identity
		err := row.Scan(&i.Provider, &i.Subject, &i.UserID, &i.Login, &i.Email, &i.EmailVerified, &i.CreatedAt, &i.UpdatedAt)
		i.CreatedAt, i.UpdatedAt = fromDB(i.CreatedAt), fromDB(i.UpdatedAt)
		return &i, err
	})
	if err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

// UnlinkIdentity deletes the user's identity unless it is their last, in
// one transaction that locks the user's row FOR UPDATE first, so that
// concurrent unlinks of their identities count one after the other.
func (s *Store) UnlinkIdentity(ctx context.Context, userID, provider, subject string) error {
	if gatehouse.CheckText(userID, provider, subject) != nil {
		return gatehouse.ErrNotFound // no stored identity can hold it
	}
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	return s.tx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, userID).Scan(&one); err != nil {
			return wrap(err)
		}
		var n int
		var mine bool
		if err := tx.QueryRow(ctx, `SELECT count(*), coalesce(bool_or(provider = $1 AND subject = $2), false)
			FROM identities WHERE user_id = $3`, provider, subject, userID).Scan(&n, &mine); err != nil {
			return wrap(err)
		}
		switch {
		case !mine:
			return gatehouse.ErrNotFound
		case n == 1:
			return gatehouse.ErrLastIdentity
		}
		if _, err := tx.Exec(ctx, `DELETE FROM identities WHERE provider = $1 AND subject = $2 AND user_id = $3`, provider, subject, userID); err != nil {
			return wrap(err)
		}
		return writeAudit(ctx, tx, userID, "")
	})
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
			if _, err = revokeSessions(ctx, tx, id, at, "user disabled"); err != nil {
				return err
			}
		}
		return writeAudit(ctx, tx, id, "")
	})
}
