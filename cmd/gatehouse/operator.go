package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// command is one operator command that works on the database: its name as
// typed ("user list"), its usage text, and how many arguments it takes.
type command struct {
	name  string
	usage string
	args  int
	// flags adds the command's own flags.
	flags func(fs *flag.FlagSet)
}

// wantsHelp reports whether args ask for help (-h, -help, --help, or
// help), before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help", "help":
			return true
		}
	}
	return false
}

// open parses args, flags before or after the arguments, and opens and
// migrates the store. It returns the arguments. --help prints the usage to
// stdout and returns flag.ErrHelp.
func (c command) open(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (gatehouse.Store, []string, error) {
	if wantsHelp(args) {
		fmt.Fprint(stdout, c.usage)
		return nil, nil, flag.ErrHelp
	}
	var pos []string
	var perr error
	cfg, err := loadDatabaseConfig("gatehouse "+c.name, nil, getenv, io.Discard, func(fs *flag.FlagSet) {
		if c.flags != nil {
			c.flags(fs)
		}
		fs.Usage = func() {}
		pos, perr = parseInterleaved(fs, args)
	})
	if err == nil {
		err = perr
	}
	if err == nil && len(pos) != c.args {
		err = fmt.Errorf("expected %d argument(s), got %d", c.args, len(pos))
	}
	if err != nil {
		fmt.Fprint(stderr, c.usage)
		return nil, nil, fmt.Errorf("%s: %w", c.name, err)
	}
	store, _, err := openStore(ctx, cfg.db)
	if err != nil {
		return nil, nil, err
	}
	return store, pos, nil
}

// parseInterleaved parses flags wherever they are among args, and returns
// the other arguments in order. Everything after "--" is an argument.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at the first argument, or after a "--" it consumes.
		if i := len(args) - len(rest); i > 0 && args[i-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// formatDuration writes d the way the README and the settings do: whole
// days, hours, minutes ("7d", "15m", "1d2h"), or seconds under a minute.
func formatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + formatDuration(-d)
	}
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d/time.Second))
	}
	var b strings.Builder
	for _, u := range []struct {
		d    time.Duration
		unit string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.unit)
			d -= n * u.d
		}
	}
	return b.String()
}

// subcommand picks args[0] among the names, or answers help.
func subcommand(group, usage string, args []string, names []string, stdout, stderr io.Writer) (string, []string, error) {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return "", nil, fmt.Errorf("%s: expected %s", group, strings.Join(names, ", "))
	}
	if slices.Contains([]string{"-h", "-help", "--help", "help"}, args[0]) {
		fmt.Fprint(stdout, usage)
		return "", nil, flag.ErrHelp
	}
	if !slices.Contains(names, args[0]) {
		fmt.Fprint(stderr, usage)
		return "", nil, fmt.Errorf("%s: unknown command %q", group, args[0])
	}
	return args[0], args[1:], nil
}
