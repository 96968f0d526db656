package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/gatehouse/gatehouse/migrate"
	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations are this binary's schema changes, applied in order, each once.
var migrations = migrate.MustLoad(migrationFiles, "migrations")

// SchemaVersion is the schema version this binary's migrations produce.
var SchemaVersion = len(migrations)

// migrationLock is the first key of the advisory lock that serializes
// migrations; the second is a hash of the schema, so Gatehouse deployments
// in different schemas of one database do not wait for each other.
const migrationLock = 0x6761_7465 // "gate"

// Migrate applies the migrations the database lacks and returns them. It
// runs in one transaction holding an advisory lock, so several nodes that
// start at once against one database apply each migration exactly once:
// the first applies them and the others, once it commits, find nothing left
// to do. A database at a newer version than this binary knows is refused
// with an error wrapping migrate.ErrNewerSchema.
func (s *Store) Migrate(ctx context.Context) ([]migrate.Migration, error) {
	var pending []migrate.Migration
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, migrationLock); err != nil {
			return wrap(err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return wrap(err)
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return wrap(err)
		}
		var err error
		if pending, err = migrate.Pending(migrations, current); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		for _, m := range pending {
			// Without arguments pgx uses the simple protocol, which
			// runs a file of several statements.
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("postgres: migration %s: %w", m.Name, wrap(err))
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version); err != nil {
				return wrap(err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pending, nil
}

// PendingMigrations returns the migrations Migrate would apply, changing
// nothing.
func (s *Store) PendingMigrations(ctx context.Context) ([]migrate.Migration, error) {
	current := 0
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, wrap(err)
	}
	if exists {
		if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return nil, wrap(err)
		}
	}
	pending, err := migrate.Pending(migrations, current)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return pending, nil
}
