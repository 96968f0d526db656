package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gatehouse/gatehouse"
)

const userUsage = `usage: gatehouse user disable|enable USER_ID

disable ends every session of the user at once (their access and refresh
tokens stop working) and refuses their logins; enable lets them log in again.
The database comes from GATEHOUSE_DATABASE_URL / GATEHOUSE_DATA_DIR, or the
--database-url and --data-dir flags.
`

// runUser is `gatehouse user disable|enable USER_ID [flags]`.
func runUser(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 || (args[0] != "disable" && args[0] != "enable") {
		fmt.Fprint(stderr, userUsage)
		return errors.New("gatehouse user: expected disable or enable and a user id")
	}
	action, id := args[0], args[1]
	store, _, err := openFromSettings(ctx, "gatehouse user "+action, args[2:], getenv, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	now := time.Now()
	ev := gatehouse.AuditEvent{Type: gatehouse.AuditUserEnabled, Time: now, Actor: "cli"}
	if action == "disable" {
		ev.Type = gatehouse.AuditUserDisabled
	}
	err = store.SetUserDisabled(gatehouse.WithAudit(ctx, ev), id, action == "disable", now)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return fmt.Errorf("gatehouse user: no user with id %q", id)
	}
	if err != nil {
		return err
	}
	if action == "disable" {
		fmt.Fprintf(stdout, "disabled user %s and ended their sessions\n", id)
	} else {
		fmt.Fprintf(stdout, "enabled user %s\n", id)
	}
	return nil
}
