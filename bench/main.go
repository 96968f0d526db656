// Command bench measures the gatehouse binary under load, on this machine,
// side by side with what it is compared to, in one run:
//
//   - bare: a net/http handler that answers a fixed user object, the floor
//     any Go HTTP server stands on;
//   - GET /me on the real binary (built from this module), with one
//     session per connection;
//   - Require: server.Require guarding a trivial handler, in a process of
//     its own on the binary's database, as an application embeds it;
//   - login: the whole development login flow, start to session;
//   - refresh: POST /auth/refresh, each client rotating its own session.
//
// The GET scenarios run on raw keep-alive connections that send prebuilt
// requests (as wrk does), so that the load generator takes little of the
// cores it shares with the servers. Every server is a separate process;
// this one only generates load. It prints one table, the machine, and the
// binary's memory.
//
//	go run ./bench                                   # SQLite, 64 and 256 connections
//	go run ./bench -db 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
//	go run ./bench -seed 1000000 -only me,login,refresh
//	go run ./bench -soak 1m -only me
//	go run ./bench seed -db ./gatehouse.db -n 1000000
//
// With a PostgreSQL URL the bench works in a schema of its own, dropped at
// the end (-keep keeps it, and the SQLite temporary directory).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	var err error
	switch {
	case len(args) > 0 && args[0] == "-serve":
		err = serveMain(ctx, args)
	case len(args) > 0 && args[0] == "seed":
		err = seedMain(ctx, args[1:], os.Stdout)
	default:
		var rep *report
		if rep, err = run(ctx, args, os.Stdout, os.Stderr); err == nil && rep.failed() {
			os.Exit(1)
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Scenarios, as -only names them.
var scenarioNames = []string{"bare", "me", "require", "login", "refresh"}

type options struct {
	db       string
	conns    []int
	clients  int
	duration time.Duration
	warmup   time.Duration
	soak     time.Duration
	seed     int
	only     map[string]bool
	bin      string
	keep     bool
}

func parseOptions(args []string, usage io.Writer) (*options, error) {
	o := &options{only: map[string]bool{}}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&o.db, "db", "sqlite", "sqlite (a file in a temporary directory) or a postgres:// URL")
	conns := fs.String("conns", "64,256", "connections of the GET scenarios, comma-separated")
	fs.IntVar(&o.clients, "clients", 64, "concurrent clients of the login and refresh scenarios")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each scenario")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each scenario")
	fs.DurationVar(&o.soak, "soak", 0, "after the scenarios, GET /me at 256 connections for this long, then the binary's memory")
	fs.IntVar(&o.seed, "seed", 0, "users, each with an identity and a session, put in the database before the binary starts")
	only := fs.String("only", strings.Join(scenarioNames, ","), "scenarios to run: "+strings.Join(scenarioNames, ","))
	fs.StringVar(&o.bin, "bin", "", "a gatehouse binary to run (default: build ./cmd/gatehouse)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory and the PostgreSQL schema")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, c := range strings.Split(*conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-conns: %q is not a positive number", c)
		}
		o.conns = append(o.conns, n)
	}
	for _, s := range strings.Split(*only, ",") {
		if s = strings.TrimSpace(s); !slices.Contains(scenarioNames, s) {
			return nil, fmt.Errorf("-only: unknown scenario %q; the scenarios are %s", s, strings.Join(scenarioNames, ","))
		}
		o.only[s] = true
	}
	switch {
	case o.clients < 1:
		return nil, errors.New("-clients must be at least 1")
	case o.duration <= 0 || o.warmup < 0 || o.soak < 0:
		return nil, errors.New("-duration must be positive, -warmup and -soak not negative")
	case o.seed < 0:
		return nil, errors.New("-seed must not be negative")
	case o.db != "sqlite" && !isPostgres(o.db):
		return nil, fmt.Errorf("-db %q: want sqlite or a postgres:// URL", o.db)
	}
	return o, nil
}

// report is what a run measured.
type report struct {
	Results []result
	// RSS is the binary's resident memory at moments of the run.
	RSS []rssSample
	// Problems are the warnings and errors in the binary's log.
	Problems []string
	// CPU is how the machine's CPU time went while the binary ran.
	CPU      cpuShare
	postgres bool
}

// cpuShare is the CPU time of a run, each as a fraction of all the cores'
// time: the whole machine busy, and the part of it this bench's processes
// took (the load generator and the servers, not PostgreSQL).
type cpuShare struct {
	Busy, Bench float64
}

type rssSample struct {
	When  string
	Bytes int64
}

// failed reports whether any scenario had an error or measured nothing.
func (r *report) failed() bool {
	for _, x := range r.Results {
		if x.Errors > 0 || x.Count == 0 {
			return true
		}
	}
	return false
}

// soakConns is how many connections the soak keeps busy.
const soakConns = 256

// run runs the bench with args and writes its report to out, and what it
// is doing to progress.
func run(ctx context.Context, args []string, out, progress io.Writer) (*report, error) {
	o, err := parseOptions(args, progress)
	if err != nil {
		return nil, err
	}
	say := func(format string, a ...any) { fmt.Fprintf(progress, "bench: "+format+"\n", a...) }
	tmp, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		say("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	bin := o.bin
	if bin == "" {
		say("building ./cmd/gatehouse")
		if bin, err = buildBinary(ctx, tmp); err != nil {
			return nil, err
		}
	}
	dbName, db := "sqlite", filepath.Join(tmp, "gatehouse.db")
	if isPostgres(o.db) {
		dbName = "postgres"
		schema, dsn, drop, err := freshSchema(ctx, o.db)
		if err != nil {
			return nil, err
		}
		if o.keep {
			say("keeping the PostgreSQL schema %s", schema)
		} else {
			defer drop()
		}
		db = dsn
	}
	store, err := openStore(ctx, db) // applies the migrations
	if err != nil {
		return nil, err
	}
	store.Close()
	var seedTime time.Duration
	// With a seed, the refresh clients rotate seeded sessions, spread
	// through the tables as a server's live sessions are (see seedKept).
	var seeded []string
	if o.seed > 0 {
		say("seeding %d users, identities and sessions", o.seed)
		t0 := time.Now()
		keep := 0
		if o.only["refresh"] {
			keep = o.clients
		}
		if seeded, err = seed(ctx, db, o.seed, keep); err != nil {
			return nil, err
		}
		seedTime = time.Since(t0)
		say("seeded in %s", seedTime.Round(100*time.Millisecond))
	}

	fmt.Fprint(out, machine(o, dbName, seedTime))
	rep := &report{postgres: dbName == "postgres"}
	start, busy0, self0 := time.Now(), machineBusy(), processCPU(os.Getpid())
	b, err := startBinary(ctx, bin, tmp, db)
	if err != nil {
		return nil, err
	}
	defer b.stop()
	memory := func(when string) {
		if n, err := b.rss(); err == nil {
			rep.RSS = append(rep.RSS, rssSample{when, n})
		}
	}
	// Idle memory is read after a moment of rest: startup's garbage is
	// collected, its goroutines settled.
	settle := min(time.Second, o.duration)
	sleep(ctx, settle)
	memory("idle, just started")

	get := o.only["me"] || o.only["require"]
	var sessions []*session
	n := 0
	if get {
		n = slices.Max(o.conns)
	}
	if o.only["refresh"] {
		n = max(n, o.clients)
	}
	if o.soak > 0 {
		n = max(n, soakConns)
	}
	if n > 0 {
		say("signing in %d users through the development login", n)
		if sessions, err = loginMany(ctx, b.base, "user", n, 16); err != nil {
			return nil, fmt.Errorf("signing in: %w", err)
		}
		sleep(ctx, settle)
		memory(fmt.Sprintf("idle, after %d logins", n))
	}

	var bare, require *child
	defer func() { bare.stop(); require.stop() }()
	if o.only["bare"] {
		if bare, err = startChild(ctx, "bare", filepath.Join(tmp, "bare.log")); err != nil {
			return nil, err
		}
	}
	if o.only["require"] {
		if require, err = startChild(ctx, "require", filepath.Join(tmp, "require.log"), "-db", db, "-public-url", b.base); err != nil {
			return nil, err
		}
	}
	scenario := func(r result) {
		rep.Results = append(rep.Results, r)
		say("%-20s %4d  %s/s  p50 %s  p99 %s  errors %d", r.Scenario, r.Conns, thousands(r.Rate()),
			duration(r.P50), duration(r.P99), r.Errors)
	}
	for _, c := range o.conns {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if bare != nil {
			scenario(getLoad(ctx, "bare", bare, "/", nil, c, o.warmup, o.duration))
		}
		if o.only["me"] {
			scenario(getLoad(ctx, "GET /me ("+dbName+")", b.child, "/me", sessions, c, o.warmup, o.duration))
		}
		if require != nil {
			scenario(getLoad(ctx, "Require ("+dbName+")", require, "/private", sessions, c, o.warmup, o.duration))
		}
	}
	if o.only["me"] {
		memory("after the GET /me load")
	}
	// Idle from here on: they would only take memory.
	bare.stop()
	require.stop()
	if o.only["login"] && ctx.Err() == nil {
		scenario(loginLoad(ctx, "login ("+dbName+")", b.pid(), b.base, o.clients, o.warmup, o.duration))
	}
	if o.only["refresh"] && ctx.Err() == nil {
		clients := sessions[:o.clients]
		if len(seeded) == o.clients {
			say("refresh: %d seeded sessions, spread through the tables", len(seeded))
			clients = make([]*session, len(seeded))
			for i, raw := range seeded {
				clients[i] = &session{refresh: raw}
			}
		}
		scenario(refreshLoad(ctx, "refresh ("+dbName+")", b.pid(), b.addr, clients, o.warmup, o.duration))
	}
	if o.soak > 0 && ctx.Err() == nil {
		say("soak: GET /me at %d connections for %s", soakConns, o.soak)
		scenario(getLoad(ctx, "GET /me soak ("+dbName+")", b.child, "/me", sessions, soakConns, 0, o.soak))
		memory(fmt.Sprintf("after a %s soak at %d connections", o.soak, soakConns))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if rep.Problems, err = b.logProblems(); err != nil {
		return nil, err
	}
	b.stop()
	if busy0 >= 0 && self0 >= 0 {
		all := time.Since(start).Seconds() * clockTicks * float64(runtime.NumCPU())
		ours := processCPU(os.Getpid()) - self0 + b.cpu + bare.cpuUsed() + require.cpuUsed()
		rep.CPU = cpuShare{Busy: float64(machineBusy()-busy0) / all, Bench: float64(ours) / all}
	}
	rep.write(out)
	return rep, nil
}

// getLoad is GET path on n raw connections to addr, connection i with the
// access token of sessions[i], if any.
func getLoad(ctx context.Context, name string, server *child, path string, sessions []*session, n int, warmup, d time.Duration) result {
	addr := server.addr
	conns := make([]rawConn, n)
	reqs := make([][]byte, n)
	deadline := time.Now().Add(warmup + d + time.Minute)
	for i := range n {
		conns[i] = rawConn{addr: addr, deadline: deadline}
		auth := ""
		if sessions != nil {
			auth = "Authorization: Bearer " + sessions[i%len(sessions)].access + "\r\n"
		}
		reqs[i] = []byte("GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\n" + auth + "\r\n")
	}
	defer func() {
		for i := range conns {
			conns[i].close()
		}
	}()
	return drive(ctx, name, n, warmup, d, server.pid(), func(w int) error { return conns[w].roundTrip(reqs[w]) })
}

// refreshLoad is POST /auth/refresh as BenchmarkRefresh (package server)
// sends it, one client per session, each rotating its refresh cookie on
// every answer as a browser does.
func refreshLoad(ctx context.Context, name string, pid int, addr string, sessions []*session, warmup, d time.Duration) result {
	n := len(sessions)
	conns := make([]rawConn, n)
	deadline := time.Now().Add(warmup + d + time.Minute)
	for i, s := range sessions {
		conns[i] = rawConn{addr: addr, deadline: deadline, cookie: []byte("gatehouse_refresh"), setCookie: s.refresh}
	}
	defer func() {
		for i := range conns {
			conns[i].close()
		}
	}()
	prefix := "POST /auth/refresh HTTP/1.1\r\nHost: " + addr + "\r\nX-Requested-With: gatehouse\r\nContent-Length: 0\r\nCookie: gatehouse_refresh="
	return drive(ctx, name, n, warmup, d, pid, func(w int) error {
		c := &conns[w]
		return c.roundTrip([]byte(prefix + c.setCookie + "\r\n\r\n"))
	})
}

// loginLoad is whole logins through the development login by n clients,
// each from its own loopback address and as its own user (a returning
// login after its first).
func loginLoad(ctx context.Context, name string, pid int, base string, n int, warmup, d time.Duration) result {
	clients := make([]*devClient, n)
	for i := range clients {
		clients[i] = newDevClient(base, i)
	}
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	return drive(ctx, name, n, warmup, d, pid, func(w int) error {
		_, err := clients[w].login(ctx, fmt.Sprintf("login%d@bench.example", w))
		return err
	})
}

// connect opens one connection to dsn, without the URL parameters that
// only pgxpool knows (pool_max_conns and the like), which gatehouse
// accepts and a lone connection refuses.
func connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	if u, err := url.Parse(dsn); err == nil {
		q := u.Query()
		for k := range q {
			if strings.HasPrefix(k, "pool_") {
				q.Del(k)
			}
		}
		u.RawQuery = q.Encode()
		dsn = u.String()
	}
	return pgx.Connect(ctx, dsn)
}

// freshSchema creates a schema of its own in the database at dsn and
// returns its name, a URL whose connections use it, and a function that
// drops it, as the project's tests isolate themselves (internal/pgtest).
func freshSchema(ctx context.Context, dsn string) (string, string, func(), error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", "", nil, errors.New("-db: not a valid postgres:// URL")
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "gatehouse_bench_" + hex.EncodeToString(b)
	exec := func(sql string) error {
		conn, err := connect(ctx, dsn)
		if err != nil {
			return fmt.Errorf("connecting to PostgreSQL: %w", err)
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE SCHEMA " + name); err != nil {
		return "", "", nil, err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	drop := func() {
		ctx := context.WithoutCancel(ctx)
		conn, err := connect(ctx, dsn)
		if err == nil {
			conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE")
			conn.Close(ctx)
		}
	}
	return name, u.String(), drop, nil
}

// machine describes the run and where it ran.
func machine(o *options, dbName string, seedTime time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "machine:  %s %s/%s, GOMAXPROCS %d, NumCPU %d", runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.GOMAXPROCS(0), runtime.NumCPU())
	if cpu := cpuModel(); cpu != "" {
		fmt.Fprintf(&b, ", %s", cpu)
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(&b, ", load average %s", strings.Join(strings.Fields(string(la))[:3], " "))
	}
	fmt.Fprintf(&b, "\ncommit:   %s\n", commit())
	db := dbName
	if dbName == "postgres" {
		db += " (a schema of its own)"
	} else {
		db += " (a temporary directory)"
	}
	fmt.Fprintf(&b, "database: %s, seeded with %d users, identities and sessions", db, o.seed)
	if o.seed > 0 {
		fmt.Fprintf(&b, " (in %s)", seedTime.Round(100*time.Millisecond))
	}
	b.WriteString("\n")
	conns := make([]string, len(o.conns))
	for i, c := range o.conns {
		conns[i] = strconv.Itoa(c)
	}
	fmt.Fprintf(&b, "run:      %s measured after %s of warm-up per scenario; GET scenarios on %s raw keep-alive connections, login and refresh with %d clients; load generator, servers and database share this machine\n\n",
		o.duration, o.warmup, strings.Join(conns, ","), o.clients)
	return b.String()
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += " (with uncommitted changes)"
	}
	return c
}

// write prints the report: the table, the binary's memory, and what went
// wrong.
func (r *report) write(w io.Writer) {
	bare := map[int]float64{}
	for _, x := range r.Results {
		if x.Scenario == "bare" {
			bare[x.Conns] = x.Rate()
		}
	}
	fmt.Fprintf(w, "%-24s %5s %10s %9s %9s %6s %9s %7s\n", "scenario", "conns", "req/s", "p50", "p99", "ratio", "cpu/req", "errors")
	for _, x := range r.Results {
		ratio := "-"
		if b := bare[x.Conns]; b > 0 {
			ratio = fmt.Sprintf("%.2f", x.Rate()/b)
		}
		cpu := "-"
		if c := x.CPUPerOp(); c > 0 {
			cpu = duration(c)
		}
		fmt.Fprintf(w, "%-24s %5d %10s %9s %9s %6s %9s %7d\n", x.Scenario, x.Conns, thousands(x.Rate()),
			duration(x.P50), duration(x.P99), ratio, cpu, x.Errors)
	}
	fmt.Fprintln(w, "\nratio: req/s over bare's at the same connections; login counts whole logins (4 requests)")
	fmt.Fprintln(w, "cpu/req: the server process's CPU time per request (per login), in the measured window")
	if r.CPU.Busy > 0 {
		fmt.Fprintf(w, "\nCPU while the binary ran, of all cores' time: the machine busy %.0f%%, this bench's processes %.0f%%, other processes %.0f%%",
			100*r.CPU.Busy, 100*r.CPU.Bench, 100*max(r.CPU.Busy-r.CPU.Bench, 0))
		if r.postgres {
			fmt.Fprint(w, " (PostgreSQL's included)")
		}
		fmt.Fprintln(w)
	}
	if len(r.RSS) > 0 {
		fmt.Fprintln(w, "\ngatehouse RSS (VmRSS):")
		for _, s := range r.RSS {
			fmt.Fprintf(w, "  %-45s %6.1f MiB\n", s.When, float64(s.Bytes)/(1<<20))
		}
	}
	for _, x := range r.Results {
		switch {
		case x.Errors > 0:
			fmt.Fprintf(w, "\nFAILED: %s at %d: %d errors; the first: %s\n", x.Scenario, x.Conns, x.Errors, x.FirstError)
		case x.Count == 0:
			fmt.Fprintf(w, "\nFAILED: %s at %d measured nothing\n", x.Scenario, x.Conns)
		}
	}
	if len(r.Problems) > 0 {
		fmt.Fprintf(w, "\nthe binary logged %d warnings or errors; the first:\n", len(r.Problems))
		for _, p := range r.Problems[:min(len(r.Problems), 10)] {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
}

// thousands formats a rate as a whole number with thousands separators.
func thousands(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// duration formats a latency to about three significant digits.
func duration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	case d < 10*time.Second:
		return fmt.Sprintf("%.0fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
}

// seedMain is `bench seed`: it migrates the database and seeds it, for a
// database kept for later runs.
func seedMain(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench seed", flag.ContinueOnError)
	db := fs.String("db", "", "an SQLite file (created if need be) or a postgres:// URL")
	n := fs.Int("n", 1_000_000, "users, each with an identity and a session")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" || fs.NArg() > 0 {
		return errors.New("usage: bench seed -db FILE|postgres://… [-n N]")
	}
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	store.Close()
	t0 := time.Now()
	if _, err := seed(ctx, *db, *n, 0); err != nil {
		return err
	}
	fmt.Fprintf(out, "seeded %d users, identities and sessions in %s\n", *n, time.Since(t0).Round(100*time.Millisecond))
	return nil
}
