package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse"
)

const auditUsage = `usage: gatehouse audit [--user ID] [--type TYPE] [--since 7d] [--limit N] [flags]

prints the audit log, newest first: time, type, user, session, actor
(cli, admin:KEY, or empty for the user), client address and the event's
detail. --since takes a duration (15m, 36h, 7d); --limit the most events
to print (default 50). The database comes from GATEHOUSE_DATABASE_URL /
GATEHOUSE_DATA_DIR, or the --database-url and --data-dir flags.
`

// runAudit is `gatehouse audit [flags]`.
func runAudit(ctx context.Context, args []string, getenv func(string) string, now func() time.Time, stdout, stderr io.Writer) error {
	var f gatehouse.AuditFilter
	var since durationValue
	limit := 50
	cfg, err := loadDatabaseConfig("gatehouse audit", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.Usage = func() { fmt.Fprint(stderr, auditUsage); fs.PrintDefaults() }
		fs.StringVar(&f.UserID, "user", "", "only the events of this user id")
		fs.StringVar(&f.Type, "type", "", "only events of this type (login, login_failed, logout, …)")
		fs.Var(&since, "since", "only events this recent: 15m, 36h, 7d")
		fs.IntVar(&limit, "limit", limit, "the most events to print")
	})
	if err != nil {
		return err
	}
	if limit < 1 {
		return errors.New("gatehouse audit: --limit must be at least 1")
	}
	if since > 0 {
		f.From = now().Add(-time.Duration(since))
	}
	store, _, err := openStore(ctx, cfg.db)
	if err != nil {
		return err
	}
	defer store.Close()
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TIME\tTYPE\tUSER\tSESSION\tACTOR\tIP\tDETAIL")
	for printed := 0; printed < limit; {
		f.Limit = min(limit-printed, gatehouse.MaxAuditLimit)
		page, err := store.AuditEvents(ctx, f)
		if err != nil {
			return fmt.Errorf("gatehouse audit: %w", err)
		}
		for _, ev := range page.Events {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.Format(time.RFC3339), ev.Type,
				dash(ev.UserID), dash(ev.SessionID), dash(ev.Actor), dash(ev.IP), ev.DetailJSON())
		}
		printed += len(page.Events)
		if page.Next == "" {
			break
		}
		f.Cursor = page.Next
	}
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
