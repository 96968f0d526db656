package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/migrate"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/sqlite"
)

// migratingStore is a store that can report and apply its own migrations;
// both backends are.
type migratingStore interface {
	gatehouse.Store
	Migrate(ctx context.Context) ([]migrate.Migration, error)
	PendingMigrations(ctx context.Context) ([]migrate.Migration, error)
}

// connect opens the configured database without migrating it.
func connect(ctx context.Context, db database) (migratingStore, error) {
	if db.postgresURL != "" {
		return postgres.Connect(ctx, db.postgresURL)
	}
	if err := os.MkdirAll(filepath.Dir(db.sqlitePath), 0o700); err != nil {
		return nil, fmt.Errorf("GATEHOUSE_DATA_DIR: %w", err)
	}
	return sqlite.Connect(ctx, db.sqlitePath)
}

// openStore opens the configured database and applies the migrations it
// lacks, as serve does at startup.
func openStore(ctx context.Context, db database) (gatehouse.Store, []migrate.Migration, error) {
	s, err := connect(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	applied, err := s.Migrate(ctx)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, applied, nil
}

// openFromSettings reads the database settings (and those named in more)
// of an operator command called name, and opens and migrates the store.
func openFromSettings(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer, more ...string) (gatehouse.Store, *config, error) {
	cfg, err := loadDatabaseConfig(name, args, getenv, stderr, func(*flag.FlagSet) {}, more...)
	if err != nil {
		return nil, nil, err
	}
	store, _, err := openStore(ctx, cfg.db)
	if err != nil {
		return nil, nil, err
	}
	return store, cfg, nil
}

// runMigrate is `gatehouse migrate [--dry-run]`: it applies the pending
// migrations, or with --dry-run lists them and changes nothing.
func runMigrate(ctx context.Context, cfg *config, dryRun bool, out io.Writer) error {
	s, err := connect(ctx, cfg.db)
	if err != nil {
		return err
	}
	defer s.Close()
	pending, err := s.PendingMigrations(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "database: %s\n", cfg.db)
	if len(pending) == 0 {
		fmt.Fprintln(out, "the schema is up to date")
		return nil
	}
	if dryRun {
		for _, m := range pending {
			fmt.Fprintf(out, "would apply %s\n", m.Name)
		}
		return nil
	}
	applied, err := s.Migrate(ctx)
	if err != nil {
		return err
	}
	for _, m := range applied {
		fmt.Fprintf(out, "applied %s\n", m.Name)
	}
	if len(applied) == 0 {
		// Another node got there between the two looks.
		fmt.Fprintln(out, "the schema is up to date")
	}
	return nil
}
