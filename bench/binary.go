package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// buildBinary builds cmd/gatehouse into dir, from the module this program
// belongs to, as deploy/Dockerfile builds the released binary (trimmed
// paths, no symbol table or DWARF): its memory is what a user's is.
func buildBinary(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		return "", fmt.Errorf("finding the module (run the bench inside it): %v", err)
	}
	bin := filepath.Join(dir, "gatehouse")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/gatehouse")
	build.Dir = filepath.Dir(strings.TrimSpace(string(out)))
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/gatehouse: %v\n%s", err, out)
	}
	return bin, nil
}

// binaryTokenTTL is the access token lifetime of the binary, the longest
// allowed, so that the tokens of the first logins outlast a long soak.
const binaryTokenTTL = time.Hour

// binary is a running `gatehouse serve`.
type binary struct {
	*child
	base string // its public URL
	log  string
}

// startBinary runs `gatehouse serve` on a free loopback port with the
// development login and every limit off, on the database db (an SQLite
// data directory's file or a PostgreSQL URL), logging to a file in dir.
func startBinary(ctx context.Context, bin, dir, db string) (*binary, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	base := "http://" + addr
	env := []string{
		"GATEHOUSE_ADDR=" + addr,
		"GATEHOUSE_PUBLIC_URL=" + base,
		"GATEHOUSE_DATA_DIR=" + dir,
		"GATEHOUSE_DEV_LOGIN=true",
		// Every client here is on one machine, some on one address, and
		// each refreshes far more often than a browser: no limit may
		// stand in the way of the measurement.
		"GATEHOUSE_RATE_LIMIT_LOGIN=off",
		"GATEHOUSE_RATE_LIMIT_AUTHORIZE=off",
		"GATEHOUSE_RATE_LIMIT_REFRESH=off",
		"GATEHOUSE_RATE_LIMIT_LOGOUT=off",
		"GATEHOUSE_RATE_LIMIT_ADMIN_AUTH=off",
		"GATEHOUSE_RATE_LIMIT_REFRESH_SESSION=off",
		"GATEHOUSE_MAX_PENDING_LOGINS=off",
		"GATEHOUSE_ACCESS_TOKEN_TTL=" + binaryTokenTTL.String(),
		// An SQLite file path or a postgres:// URL.
		"GATEHOUSE_DATABASE_URL=" + db,
	}
	logFile := filepath.Join(dir, "gatehouse.log")
	log, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(bin, "serve")
	// Only these settings: none from the environment this runs in.
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = childAttr()
	b := &binary{child: &child{cmd: cmd, addr: addr, done: make(chan struct{})}, base: base, log: logFile}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		b.err = cmd.Wait()
		close(b.done)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return b, nil
			}
		}
		select {
		case <-b.done:
			return nil, fmt.Errorf("gatehouse serve exited: %v (see %s)", b.err, logFile)
		case <-ctx.Done():
			b.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.stop()
			return nil, fmt.Errorf("gatehouse serve not ready within 60s (see %s)", logFile)
		}
	}
}

// rss returns the resident set size of the process, from /proc.
func (c *child) rss() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for process %d", c.cmd.Process.Pid)
}

// logProblems returns the lines of the binary's log at level WARN or
// ERROR, but for the development login's warning at startup, which every
// run has.
func (b *binary) logProblems() ([]string, error) {
	f, err := os.Open(b.log)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		line := s.Text()
		if !strings.Contains(line, "level=WARN") && !strings.Contains(line, "level=ERROR") {
			continue
		}
		if strings.Contains(line, "development login provider is enabled") {
			continue
		}
		out = append(out, line)
	}
	return out, s.Err()
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
