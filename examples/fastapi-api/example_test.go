// Package fastapiapi runs the FastAPI example's test suite, which checks
// its tokens against real `gatehouse serve` processes, as part of go test.
package fastapiapi

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// python is Debian's interpreter, the one apt's python3-* packages serve;
// the python3 on PATH may be another without them.
const python = "/usr/bin/python3"

// TestExample runs pytest in this directory. Without the Python packages it
// skips, except with CI=true, where it fails.
func TestExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts gatehouse")
	}
	probe := exec.Command(python, "-c", "import fastapi, jwt, uvicorn, httpx, pytest, cryptography")
	if out, err := probe.CombinedOutput(); err != nil {
		const install = "apt-get install -y python3-fastapi python3-jwt python3-uvicorn python3-httpx python3-pytest"
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %s lacks the example's packages (%s): %v\n%s", python, install, err, out)
		}
		t.Skipf("%s lacks the example's packages (%s to run this test): %v\n%s", python, install, err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-m", "pytest", "-q")
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pytest: %v\n%s", err, out)
	}
	t.Logf("pytest:\n%s", out)
}
