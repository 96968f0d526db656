package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlite"
)

// The servers that the bench compares the binary with run as processes of
// their own, this program started again with -serve, so that every server
// is a separate process and this one only generates load.

// serveMain is the bench program as a server: "bare" answers every request
// with a fixed user object, "require" serves Gatehouse's API with a route
// guarded by server.Require. It prints "listening ADDR" on stdout once it
// accepts connections, and serves until it is signalled.
func serveMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench -serve", flag.ContinueOnError)
	kind := fs.String("serve", "", "bare or require")
	db := fs.String("db", "", "require: the SQLite file or PostgreSQL URL the binary uses")
	publicURL := fs.String("public-url", "", "require: the binary's public URL, so that its tokens verify here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var h http.Handler
	switch *kind {
	case "bare":
		body := bareBody()
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		})
	case "require":
		store, err := openStore(ctx, *db)
		if err != nil {
			return err
		}
		defer store.Close()
		off := ratelimit.Unlimited
		api, err := server.New(ctx, server.Config{
			// The binary's issuer, audience (both default to the public
			// URL) and token lifetime: a verifier refuses tokens that
			// live longer than its own AccessTokenTTL.
			PublicURL:      *publicURL,
			AccessTokenTTL: binaryTokenTTL,
			Store:          store,
			Logger:         slog.New(slog.DiscardHandler),
			Limits: server.Limits{Login: off, Authorize: off, Refresh: off, Logout: off, AdminAuth: off,
				RefreshPerSession: off, PendingLoginsPerClient: -1},
		})
		if err != nil {
			return err
		}
		defer api.Close()
		mux := http.NewServeMux()
		mux.Handle("/", api)
		mux.Handle("GET /private", api.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, _ := gatehouse.UserFromContext(r.Context())
			b, _ := json.Marshal(u)
			w.Header().Set("Content-Type", "application/json")
			w.Write(append(b, '\n'))
		})))
		h = mux
	default:
		return fmt.Errorf("-serve %q: want bare or require", *kind)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// The binary's timeouts (cmd/gatehouse/httpserver.go), so that only
	// the handlers differ.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10}
	fmt.Printf("listening %s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return srv.Close()
	}
}

// openStore opens the store at db: a postgres:// URL or an SQLite file.
func openStore(ctx context.Context, db string) (gatehouse.Store, error) {
	if isPostgres(db) {
		return postgres.Open(ctx, db)
	}
	return sqlite.Open(ctx, db)
}

func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// bareBody is a user object as GET /me answers one for a user of the
// development login, and of the same size.
func bareBody() []byte {
	login, name, email := "bench0", "bench0", "bench0@bench.example"
	t := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	u := gatehouse.User{ID: gatehouse.NewID(t), CreatedAt: t, UpdatedAt: t,
		Profile: gatehouse.Profile{Login: &login, Name: &name, Email: &email, EmailVerified: true}}
	b, _ := json.Marshal(u)
	return append(b, '\n')
}

// firstLine is a writer that sends the first line written to it, without
// its newline, on line, and discards the rest.
type firstLine struct {
	buf  []byte
	sent bool
	line chan string
}

func (w *firstLine) Write(p []byte) (int, error) {
	if !w.sent {
		w.buf = append(w.buf, p...)
		if i := bytes.IndexByte(w.buf, '\n'); i >= 0 {
			w.line <- string(w.buf[:i])
			w.sent, w.buf = true, nil
		}
	}
	return len(p), nil
}

// child is a server process this program started.
type child struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
	err  error
	// cpu is the CPU time, in ticks, the process had used when it was
	// stopped.
	cpu int64
}

// pid returns the process's id, or 0 for no process.
func (c *child) pid() int {
	if c == nil || c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// startChild starts this program again as the server kind, with its
// output in logFile, and waits until it listens.
func startChild(ctx context.Context, kind string, logFile string, args ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	log, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(exe, append([]string{"-serve", kind}, args...)...)
	cmd.Stderr = log
	first := &firstLine{line: make(chan string, 1)}
	cmd.Stdout = first
	cmd.SysProcAttr = childAttr()
	c := &child{cmd: cmd, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	select {
	case line := <-first.line:
		if addr, ok := strings.CutPrefix(line, "listening "); ok {
			c.addr = addr
			return c, nil
		}
		c.stop()
		return nil, fmt.Errorf("-serve %s: unexpected output %q (see %s)", kind, line, logFile)
	case <-c.done:
		return nil, fmt.Errorf("-serve %s did not start (see %s): %v", kind, logFile, c.err)
	case <-time.After(30 * time.Second):
		c.stop()
		return nil, fmt.Errorf("-serve %s did not start within 30s (see %s)", kind, logFile)
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
}

// cpuUsed is the CPU time, in ticks, the process had used when it was
// stopped; 0 for none.
func (c *child) cpuUsed() int64 {
	if c == nil {
		return 0
	}
	return max(c.cpu, 0)
}

// stop ends the process: an interrupt, then SIGKILL after 10 seconds.
func (c *child) stop() {
	if c == nil {
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	c.cpu = processCPU(c.cmd.Process.Pid)
	c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}
