package verify_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies: a service that imports verify gets neither Gatehouse's
// server nor any store or database driver.
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/gatehouse/gatehouse/verify").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{
			"modernc.org/sqlite",
			"github.com/jackc/pgx",
			"github.com/gatehouse/gatehouse/server",
			"github.com/gatehouse/gatehouse/sqlite",
			"github.com/gatehouse/gatehouse/postgres",
			"github.com/gatehouse/gatehouse/session",
		} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("verify depends on %s", dep)
			}
		}
	}
}
