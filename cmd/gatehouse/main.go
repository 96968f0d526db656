// Command gatehouse runs the Gatehouse authentication server.
//
//	gatehouse serve [flags]
//	gatehouse migrate [--dry-run]
//	gatehouse user list|show|disable|enable|delete USER_ID
//	gatehouse session list|end USER_ID [SESSION_ID|--all]
//	gatehouse keys list|rotate|revoke KID
//	gatehouse admin key create|list|revoke NAME
//	gatehouse healthcheck [--url URL]
//	gatehouse version
//
// With no configuration at all it serves on http://localhost:8080 from an
// SQLite file in the working directory, with the development login provider
// and the demo page. See the README for every setting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/demo"
	"github.com/gatehouse/gatehouse/metrics"
	"github.com/gatehouse/gatehouse/server"
)

const usage = `usage: gatehouse <command> [flags]

commands:
  serve        run the server (gatehouse serve -h lists its settings)
  migrate      apply the database migrations; --dry-run lists them
  user         list, show, disable, enable or delete users (gatehouse user list)
  session      list or end a user's sessions (gatehouse session list USER_ID)
  keys         list, rotate or revoke the signing keys (gatehouse keys list)
  audit        print the audit log (gatehouse audit --user ID --since 7d)
  admin        create, list or revoke admin API keys (gatehouse admin key list)
  healthcheck  exit 0 when the local server's /healthz answers 200, else 1
  version      print the version, VCS revision and Go version
`

// version is set at build time with -ldflags "-X main.version=…"; left at
// "dev", `gatehouse version` reports the build info's module version.
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		cfg, err := loadConfig(args[1:], getenv, stderr)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return fmt.Errorf("GATEHOUSE_ADDR: %w", err)
		}
		tuneGC(getenv)
		return serve(ctx, cfg, ln, stderr)
	case "migrate":
		var dryRun bool
		cfg, err := loadDatabaseConfig("gatehouse migrate", args[1:], getenv, stderr, func(fs *flag.FlagSet) {
			fs.BoolVar(&dryRun, "dry-run", false, "list the migrations that would be applied, and change nothing")
		})
		if err != nil {
			return err
		}
		return runMigrate(ctx, cfg, dryRun, stdout)
	case "user":
		return runUser(ctx, args[1:], getenv, stdout, stderr)
	case "keys":
		return runKeys(ctx, args[1:], getenv, stdout, stderr)
	case "audit":
		return runAudit(ctx, args[1:], getenv, time.Now, stdout, stderr)
	case "session":
		return runSession(ctx, args[1:], getenv, stdout, stderr)
	case "admin":
		return runAdmin(ctx, args[1:], getenv, stdout, stderr)
	case "version":
		info, _ := debug.ReadBuildInfo()
		fmt.Fprintln(stdout, versionLine(version, info))
		return nil
	case "healthcheck":
		return runHealthcheck(ctx, args[1:], getenv, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// serve runs Gatehouse on ln until ctx is done.
func serve(ctx context.Context, cfg *config, ln net.Listener, logOut io.Writer) error {
	defer ln.Close()
	handler := logHandler(logOut, cfg.LogFormat)
	log := slog.New(handler)
	// The access log, one line per request, is written out in batches;
	// every other line at once.
	buffered := newLogBuffer(logOut)
	defer buffered.Close()

	store, applied, err := openStore(ctx, cfg.db)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, m := range applied {
		log.Info("applied a database migration", "migration", m.Name)
	}

	var m *metrics.Metrics
	var reg *prometheus.Registry
	if cfg.MetricsAddr != "" {
		if reg, m, err = newMetrics(); err != nil {
			return err
		}
		if c, ok := store.(gatehouse.Counter); ok {
			if err := m.WatchCounts(c, time.Now); err != nil {
				return err
			}
		}
	}
	mux := http.NewServeMux()
	providers, err := cfg.loginProviders(ctx, ln, mux, m, log)
	if err != nil {
		return err
	}

	scfg := cfg.serverConfig(store, providers, log)
	if m != nil {
		scfg.Store, scfg.Metrics = m.Store(store), m
	}
	api, err := server.New(ctx, scfg)
	if err != nil {
		return keysError(err)
	}
	defer api.Close()
	page := demo.Handler(cfg.public.Path)
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /auth/{provider}", page)
	// More specific than the page's redirect route above: the API's own
	// /auth/… paths (a GET on refresh or logout gets the API's 405).
	for _, p := range server.ReservedNames {
		mux.Handle("GET /auth/"+p, api)
	}
	mux.Handle("GET "+demo.AssetPrefix, page)
	mux.Handle("/", api)
	// A path that is not clean goes to the API, which answers it in JSON;
	// the mux would redirect it with an answer of its own.
	routes := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !server.IsCleanPath(r.URL.EscapedPath()) {
			api.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})

	var counted http.Handler = routes
	if m != nil {
		if err := m.WatchSigningKey(api.SigningKeySince, time.Now); err != nil {
			return err
		}
		counted = m.Handler(routes)
		stopMetrics, err := serveMetrics(cfg.MetricsAddr, reg, handler, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}

	var requests inFlight
	srv := newHTTPServer(requests.count(accessLog(buffered, cfg.LogFormat, counted)), handler)
	guarded, err := guard(ln, srv, cfg.maxConnections, log)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(guarded) }()
	log.Info("gatehouse is listening", "addr", ln.Addr().String(), "public_url", cfg.public.String(),
		"database", cfg.db.String(), "version", buildVersion(), "max_connections", cfg.maxConnections)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	return drain(srv, guarded, &requests, cfg.ShutdownTimeout, log)
}

// pendingLogoutsFile is where this node keeps the logouts the database
// could not record: beside the SQLite file, in the data directory.
func pendingLogoutsFile(cfg *config) string {
	return filepath.Join(cfg.DataDir, "gatehouse-pending-logouts")
}

// refreshGrace maps the setting, where 0 means no grace window, to
// server.Config, where 0 means the default.
func refreshGrace(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
