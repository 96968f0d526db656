// Package expressapi runs the Express example's test suite, which checks
// its tokens against real `gatehouse serve` processes, as part of go test.
package expressapi

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestExample runs `npm test` in this directory. Without npm or without
// node_modules (`npm ci`) it skips, except with CI=true, where it fails.
func TestExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts gatehouse")
	}
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and "+format, args...)
		}
		t.Skipf(format, args...)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		missing("no npm (install Node.js 20 or later to run this test): %v", err)
	}
	for _, dep := range []string{"express", "jose", "cors"} {
		if _, err := os.Stat("node_modules/" + dep + "/package.json"); err != nil {
			missing("the example's packages are not installed (run `npm ci` in examples/express-api): %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, npm, "test").CombinedOutput()
	if err != nil {
		t.Fatalf("npm test: %v\n%s", err, out)
	}
	t.Logf("npm test:\n%s", out)
}
