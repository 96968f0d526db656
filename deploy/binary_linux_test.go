package deploy

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testaddr"
)

// nobody is the uid and gid the binary runs as when the test runs as root.
const nobody = 65534

// TestBinary builds gatehouse exactly as the Dockerfile does, checks that
// it is static, and runs it with the systemd unit's settings as a non-root
// user: /readyz answers 200 and `gatehouse healthcheck` exits 0, then 1
// once the server is stopped.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with")
	}

	// A directory the non-root user can enter, for the binary and its data.
	dir, err := os.MkdirTemp("", "gatehouse-deploy-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "gatehouse")

	const testVersion = "v0.0.0-deploytest"
	buildEnv, args := buildCommand(t, readDockerfile(t))
	for i, a := range args {
		args[i] = strings.NewReplacer("${VERSION}", testVersion, "$VERSION", testVersion).Replace(a)
		if a == "-o" && i+1 < len(args) {
			args[i+1] = bin
		}
	}
	build := exec.Command(goCmd, args...)
	build.Dir = ".."
	build.Env = append(os.Environ(), buildEnv...)
	t.Logf("%s go %s", strings.Join(buildEnv, " "), strings.Join(args, " "))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: it is dynamically linked", p.Type)
		}
	}
	if f.Section(".dynamic") != nil {
		t.Error("the binary has a .dynamic section: it is dynamically linked")
	}
	f.Close()

	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "gatehouse "+testVersion+" ") {
		t.Errorf("gatehouse version = %q, %v; want the -X version %s", out, err, testVersion)
	}

	// The unit's settings, with this test's port and data directory.
	settings := readUnit(t, "gatehouse.service").environment(t)
	for _, k := range []string{"GATEHOUSE_ADDR", "GATEHOUSE_DATA_DIR"} {
		if _, ok := settings[k]; !ok {
			t.Fatalf("the unit sets no %s", k)
		}
	}
	addr := testaddr.Free(t)
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	settings["GATEHOUSE_ADDR"] = addr
	settings["GATEHOUSE_DATA_DIR"] = data
	settings["GATEHOUSE_PUBLIC_URL"] = "http://" + addr
	var env []string
	for k, v := range settings {
		env = append(env, k+"="+v)
	}

	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: nobody, Gid: nobody}
		if err := os.Chown(data, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		t.Logf("running gatehouse as uid %d (nobody)", nobody)
	} else {
		// Already not root: the current user is the non-root user.
		t.Logf("running gatehouse as this test's uid %d", os.Geteuid())
	}
	var logs bytes.Buffer
	srv := exec.Command(bin, "serve")
	srv.Env = env
	srv.Dir = dir
	srv.Stdout, srv.Stderr = &logs, &logs
	srv.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	stopped := false
	stop := func() error {
		stopped = true
		srv.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			return err
		case <-time.After(20 * time.Second):
			srv.Process.Kill()
			<-exited
			t.Fatalf("gatehouse did not stop on SIGTERM\n%s", &logs)
			return nil
		}
	}
	defer func() {
		if !stopped {
			stop()
		}
	}()

	ready := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ready = true
				break
			}
		}
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("gatehouse exited: %v\n%s", err, &logs)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !ready {
		t.Fatalf("GET /readyz did not answer 200 within 30s\n%s", &logs)
	}

	healthcheck := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hc := exec.CommandContext(ctx, bin, "healthcheck")
		hc.Env = env
		hc.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		return hc.Run()
	}
	if err := healthcheck(); err != nil {
		t.Errorf("gatehouse healthcheck against the running server: %v, want exit 0", err)
	}

	if err := stop(); err != nil {
		t.Errorf("gatehouse serve exited with %v on SIGTERM, want 0\n%s", err, &logs)
	}
	var exitErr *exec.ExitError
	if err := healthcheck(); !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
		t.Errorf("gatehouse healthcheck with no server: %v, want exit 1", err)
	}
	if !strings.HasPrefix(logs.String(), "{") {
		t.Errorf("the log is not JSON (the unit sets GATEHOUSE_LOG_FORMAT=json):\n%s", &logs)
	}
	st, err := os.Stat(filepath.Join(data, "gatehouse.db"))
	if err != nil {
		t.Fatalf("no database in the data directory: %v\n%s", err, &logs)
	}
	if cred != nil {
		if uid := st.Sys().(*syscall.Stat_t).Uid; uid != nobody {
			t.Errorf("gatehouse.db is owned by uid %d, want %d", uid, nobody)
		}
	}
}
