package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations are applied in order, each once, inside one transaction each.
// Append to this list; never edit an entry that has shipped.
var migrations = []string{
	1: `
CREATE TABLE users (
	id             TEXT PRIMARY KEY,
	login          TEXT,
	name           TEXT,
	company        TEXT,
	location       TEXT,
	email          TEXT,
	picture        TEXT,
	email_verified INTEGER NOT NULL DEFAULT 0,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE identities (
	provider       TEXT NOT NULL,
	subject        TEXT NOT NULL,
	user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	login          TEXT,
	email          TEXT,
	email_verified INTEGER NOT NULL DEFAULT 0,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL,
	PRIMARY KEY (provider, subject)
) STRICT;
CREATE INDEX identities_user_id ON identities (user_id);

CREATE TABLE login_states (
	state_hash    TEXT PRIMARY KEY,
	binding_hash  TEXT NOT NULL,
	provider      TEXT NOT NULL,
	redirect_uri  TEXT NOT NULL,
	code_verifier TEXT NOT NULL,
	nonce         TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX login_states_expires_at ON login_states (expires_at);

CREATE TABLE signing_keys (
	kid         TEXT PRIMARY KEY,
	algorithm   TEXT NOT NULL,
	private_key BLOB NOT NULL,
	created_at  INTEGER NOT NULL
) STRICT;
`,
}

// SchemaVersion is the schema version this binary's migrations produce.
var SchemaVersion = len(migrations) - 1

func (s *Store) migrate(ctx context.Context) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at INTEGER NOT NULL
		) STRICT`); err != nil {
			return wrap(err)
		}
		var current int
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return wrap(err)
		}
		if current > SchemaVersion {
			return fmt.Errorf("sqlite: the database schema is at version %d, newer than this gatehouse binary knows (%d); upgrade gatehouse", current, SchemaVersion)
		}
		for v := current + 1; v <= SchemaVersion; v++ {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("sqlite: migration %d: %w", v, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, toDB(time.Now())); err != nil {
				return wrap(err)
			}
		}
		return nil
	})
}
