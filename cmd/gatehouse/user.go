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

const userUsage = `usage: gatehouse user list|show|disable|enable|delete [USER_ID] [flags]

list [--search Q] [--limit N] [--after ID]
             users in id (creation) order; --search keeps those whose
             email or login starts with Q, ignoring ASCII case
show ID      a user with their identities and active sessions
disable ID   end every session of the user at once (their access and
             refresh tokens stop working) and refuse their logins
enable ID    let a disabled user log in again
delete ID    delete the user with their identities and sessions

The database comes from GATEHOUSE_DATABASE_URL / GATEHOUSE_DATA_DIR, or the
--database-url and --data-dir flags, before or after the arguments.
`

const sessionUsage = `usage: gatehouse session list|end USER_ID [SESSION_ID] [flags]

list USER_ID             the user's active sessions, newest first
end USER_ID SESSION_ID   end one session of the user
end USER_ID --all        end every session of the user

The database comes from GATEHOUSE_DATABASE_URL / GATEHOUSE_DATA_DIR, or the
--database-url and --data-dir flags, before or after the arguments.
`

// runUser is `gatehouse user list|show|disable|enable|delete [USER_ID] [flags]`.
func runUser(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	action, rest, err := subcommand("user", userUsage, args, []string{"list", "show", "disable", "enable", "delete"}, stdout, stderr)
	if err != nil {
		return err
	}
	c := command{name: "user " + action, usage: userUsage, args: 1}
	var search, after string
	var limit int
	if action == "list" {
		c.args = 0
		c.flags = func(fs *flag.FlagSet) {
			fs.StringVar(&search, "search", "", "keep users whose email or login starts with this")
			fs.StringVar(&after, "after", "", "start after this user id (the last of the previous page)")
			fs.IntVar(&limit, "limit", gatehouse.DefaultUserListLimit, "users to list")
		}
	}
	store, pos, err := c.open(ctx, rest, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	now := time.Now()
	if action == "list" {
		if limit < 1 {
			return errors.New("user list: --limit must be at least 1")
		}
		users, err := store.ListUsers(ctx, gatehouse.UserQuery{After: after, Search: search, Limit: limit})
		if err != nil {
			return fmt.Errorf("user list: %w", err)
		}
		return printUsers(stdout, users, limit)
	}
	id := pos[0]
	notFound := func(err error) error {
		if errors.Is(err, gatehouse.ErrNotFound) {
			return fmt.Errorf("user %s: no user with id %q", action, id)
		}
		return fmt.Errorf("user %s: %w", action, err)
	}
	switch action {
	case "show":
		u, err := store.User(ctx, id)
		if err != nil {
			return notFound(err)
		}
		idents, err := store.Identities(ctx, id)
		if err != nil {
			return notFound(err)
		}
		sessions, err := store.Sessions(ctx, id)
		if err != nil {
			return notFound(err)
		}
		return printUser(stdout, u, idents, sessions, now)
	case "delete":
		ev := gatehouse.AuditEvent{Type: gatehouse.AuditUserDeleted, Time: now, Actor: "cli"}
		if err := store.DeleteUser(gatehouse.WithAudit(ctx, ev), id); err != nil {
			return notFound(err)
		}
		fmt.Fprintf(stdout, "deleted user %s with their identities and sessions\n", id)
		return nil
	}
	ev := gatehouse.AuditEvent{Type: gatehouse.AuditUserEnabled, Time: now, Actor: "cli"}
	if action == "disable" {
		ev.Type = gatehouse.AuditUserDisabled
	}
	if err := store.SetUserDisabled(gatehouse.WithAudit(ctx, ev), id, action == "disable", now); err != nil {
		return notFound(err)
	}
	if action == "disable" {
		fmt.Fprintf(stdout, "disabled user %s and ended their sessions\n", id)
	} else {
		fmt.Fprintf(stdout, "enabled user %s\n", id)
	}
	return nil
}

func deref(p *string) string {
	if p == nil || *p == "" {
		return "-"
	}
	return *p
}

func printUsers(w io.Writer, users []*gatehouse.User, limit int) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tLOGIN\tCREATED\tDISABLED")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.ID, deref(u.Email), deref(u.Login), formatTime(u.CreatedAt), formatTimePtr(u.DisabledAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(users) == limit {
		fmt.Fprintf(w, "more: --after %s\n", users[len(users)-1].ID)
	}
	return nil
}

func printUser(w io.Writer, u *gatehouse.User, idents []*gatehouse.Identity, sessions []*gatehouse.Session, now time.Time) error {
	fmt.Fprintf(w, "id:        %s\nemail:     %s\nlogin:     %s\nname:      %s\ncreated:   %s\ndisabled:  %s\n\n",
		u.ID, deref(u.Email), deref(u.Login), deref(u.Name), formatTime(u.CreatedAt), formatTimePtr(u.DisabledAt))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tSUBJECT\tLOGIN\tEMAIL\tLAST USED")
	for _, i := range idents {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", i.Provider, i.Subject, deref(i.Login), deref(i.Email), formatTime(i.UpdatedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return printSessions(w, sessions, now)
}

// printSessions lists the active sessions, with how long ago each was used
// and how long until it ends, in the README's units (7d, 15m).
func printSessions(w io.Writer, sessions []*gatehouse.Session, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tCREATED\tLAST USED\tENDS IN\tIP\tUSER AGENT")
	for _, s := range sessions {
		if !s.Active(now) {
			continue
		}
		ends := min(s.IdleExpiresAt.Sub(now), s.ExpiresAt.Sub(now))
		fmt.Fprintf(tw, "%s\t%s\t%s ago\t%s\t%s\t%s\n", s.ID, formatTime(s.CreatedAt), formatDuration(now.Sub(s.LastUsedAt)),
			formatDuration(ends), s.IP, s.UserAgent)
	}
	return tw.Flush()
}

// runSession is `gatehouse session list|end USER_ID [SESSION_ID|--all] [flags]`.
func runSession(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	action, rest, err := subcommand("session", sessionUsage, args, []string{"list", "end"}, stdout, stderr)
	if err != nil {
		return err
	}
	var all bool
	c := command{name: "session " + action, usage: sessionUsage, args: 1}
	if action == "end" {
		c.flags = func(fs *flag.FlagSet) { fs.BoolVar(&all, "all", false, "end every session of the user") }
		c.args = 2
		if wantsAll(rest) {
			c.args = 1
		}
	}
	store, pos, err := c.open(ctx, rest, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	id, now := pos[0], time.Now()
	if _, err := store.User(ctx, id); errors.Is(err, gatehouse.ErrNotFound) {
		return fmt.Errorf("session %s: no user with id %q", action, id)
	} else if err != nil {
		return fmt.Errorf("session %s: %w", action, err)
	}
	switch {
	case action == "list":
		sessions, err := store.Sessions(ctx, id)
		if err != nil {
			return fmt.Errorf("session list: %w", err)
		}
		return printSessions(stdout, sessions, now)
	case all:
		n, err := store.RevokeSessions(ctx, id, now, "ended by an operator")
		if err != nil {
			return fmt.Errorf("session end: %w", err)
		}
		fmt.Fprintf(stdout, "ended %d session(s) of user %s\n", n, id)
		return nil
	}
	err = store.RevokeSession(ctx, id, pos[1], now, "ended by an operator")
	if errors.Is(err, gatehouse.ErrNotFound) {
		return fmt.Errorf("session end: user %s has no session %q", id, pos[1])
	}
	if err != nil {
		return fmt.Errorf("session end: %w", err)
	}
	fmt.Fprintf(stdout, "ended session %s of user %s\n", pos[1], id)
	return nil
}

// wantsAll reports whether args hold --all (or -all) before any "--".
func wantsAll(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--all", "-all", "--all=true", "-all=true":
			return true
		}
	}
	return false
}
