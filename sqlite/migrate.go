package sqlite

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations are this binary's schema changes, applied in order, each once.
var migrations = migrate.MustLoad(migrationFiles, "migrations")

// SchemaVersion is the schema version this binary's migrations produce.
var SchemaVersion = len(migrations)

// Migrate applies the migrations the database lacks and returns them. It
// runs in one write transaction, which SQLite lets only one process hold at
// a time, so two processes starting on one file apply each migration once.
// A database at a newer version than this binary knows is refused with an
// error wrapping migrate.ErrNewerSchema.
func (s *Store) Migrate(ctx context.Context) ([]migrate.Migration, error) {
	var pending []migrate.Migration
	err := s.tx(ctx, func(ctx context.Context, tx *wtx) error {
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
		var err error
		if pending, err = migrate.Pending(migrations, current); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
		for _, m := range pending {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("sqlite: migration %s: %w", m.Name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
				m.Version, toDB(time.Now())); err != nil {
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
	var exists int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&exists); err != nil {
		return nil, wrap(err)
	}
	current := 0
	if exists > 0 {
		if err := s.read.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return nil, wrap(err)
		}
	}
	pending, err := migrate.Pending(migrations, current)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return pending, nil
}
