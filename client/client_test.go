package client

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestNPM runs the client's own tests (npm test: tsc, then node --test
// against a real gatehouse serve built here). It needs node and the
// node_modules of npm ci: without them it skips, except with CI=true, where
// it fails.
func TestNPM(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not running the client's npm tests")
	}
	npm, err := exec.LookPath("npm")
	if err == nil {
		_, err = os.Stat(filepath.Join("node_modules", "typescript"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and the client's tests cannot run (install Node 20 and run npm ci in client/): %v", err)
		}
		t.Skipf("not running the client's tests (install Node 20 and run npm ci in client/): %v", err)
	}
	// npm reads these in another process: reading them here makes them
	// part of go test's cache key.
	inputs, _ := filepath.Glob(filepath.Join("test", "*.js"))
	for _, name := range append(inputs, "package.json", "package-lock.json", "tsconfig.json", "gatehouse.d.ts") {
		if _, err := os.ReadFile(name); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(t.TempDir(), "gatehouse")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(npm, "test")
	cmd.Env = append(os.Environ(), "GATEHOUSE_BIN="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm test: %v\n%s", err, out)
	}
	t.Logf("npm test:\n%s", out)
}
