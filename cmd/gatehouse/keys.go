package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/server"
)

const keysUsage = `usage: gatehouse keys list|rotate|revoke KID [flags]

list    the signing keys: id, algorithm, state (next, active, retired,
        revoked), when each was created, starts signing and stops signing
rotate  start a rotation now: a new key is published at once and signs
        after the publication lead (10m), so verifiers have it first
revoke  stop publishing and accepting the key KID at once (a compromised
        key): tokens it signed fail, and if it was signing, the next key
        (or a new one) signs from now on

Running servers pick a change up within 5s. The database comes from
GATEHOUSE_DATABASE_URL / GATEHOUSE_DATA_DIR; rotate and revoke also read
GATEHOUSE_JWT_ALG, GATEHOUSE_KEY_ROTATION and GATEHOUSE_ENCRYPTION_KEY,
which must match the servers'.
`

// runKeys is `gatehouse keys list|rotate|revoke KID [flags]`.
func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return errors.New("keys: expected list, rotate or revoke")
	}
	action, rest := args[0], args[1:]
	var kid string
	switch action {
	case "list", "rotate":
	case "revoke":
		if len(rest) == 0 || rest[0] == "" || rest[0][0] == '-' {
			fmt.Fprint(stderr, keysUsage)
			return errors.New("keys revoke: expected the id of the key to revoke")
		}
		kid, rest = rest[0], rest[1:]
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, keysUsage)
		return nil
	default:
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("keys: unknown command %q", action)
	}
	store, cfg, err := openFromSettings(ctx, "gatehouse keys "+action, rest, getenv, stderr,
		"GATEHOUSE_JWT_ALG", "GATEHOUSE_KEY_ROTATION", "GATEHOUSE_ENCRYPTION_KEY")
	if err != nil {
		return err
	}
	defer store.Close()
	kc := keys.Config{
		Store:         store,
		Algorithm:     cfg.JWTAlg,
		Rotation:      cfg.KeyRotation,
		Retain:        server.KeyRetention,
		EncryptionKey: cfg.encryptionKey,
		Actor:         "cli",
	}
	var stored []*gatehouse.SigningKey
	switch action {
	case "list":
		if stored, err = store.SigningKeys(ctx); err != nil {
			return err
		}
	case "rotate":
		if stored, err = keys.Rotate(ctx, kc); err != nil {
			return keysError(err)
		}
		for _, k := range stored {
			if keys.State(k, time.Now()) == "next" {
				fmt.Fprintf(stdout, "key %s (%s) is published and signs from %s\n", k.ID, k.Algorithm, formatTime(k.ActivatesAt))
			}
		}
	case "revoke":
		stored, err = keys.Revoke(ctx, kc, kid)
		if errors.Is(err, gatehouse.ErrNotFound) {
			return fmt.Errorf("keys revoke: no key %q that is not revoked already", kid)
		}
		if err != nil {
			return keysError(err)
		}
		fmt.Fprintf(stdout, "revoked key %s: servers stop accepting its tokens within %s\n", kid, keys.ReloadInterval)
	}
	return printKeys(stdout, stored, time.Now())
}

func printKeys(w io.Writer, stored []*gatehouse.SigningKey, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALGORITHM\tSTATE\tCREATED\tACTIVATES\tRETIRES")
	for _, k := range stored {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, keys.State(k, now),
			formatTime(k.CreatedAt), formatTime(k.ActivatesAt), formatTime(k.RetiresAt))
	}
	return tw.Flush()
}

// formatTime writes a time as the list shows it: UTC to the second, or "-"
// for none.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// keysError names the setting behind a key the command cannot open.
func keysError(err error) error {
	if errors.Is(err, keys.ErrSealed) {
		return fmt.Errorf("GATEHOUSE_ENCRYPTION_KEY: %w", err)
	}
	return err
}
