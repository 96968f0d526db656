// Package migrate reads a store's embedded schema migrations and works out
// which of them a database still needs. Each store applies the plan inside
// its own transaction and lock; this package only knows files and numbers.
//
// Migrations are files named NNNN_description.sql, numbered from 1 with no
// gaps. A shipped file is never edited: a change to the schema is a new file.
package migrate

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
)

// Migration is one schema change.
type Migration struct {
	Version int    // 1, 2, …
	Name    string // the file name, e.g. "0001_init.sql"
	SQL     string
}

// ErrNewerSchema means the database holds migrations that this binary does
// not know: it was upgraded by a newer Gatehouse, and this one must not
// touch it.
var ErrNewerSchema = errors.New("the database schema is newer than this gatehouse binary; upgrade gatehouse")

var fileName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// Load reads every migration in dir of fsys, in order. It fails if a file
// is misnamed or the numbers are not 1, 2, 3, … without gaps.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var all []Migration
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			return nil, fmt.Errorf("migrate: %s: not a migration file name (want NNNN_name.sql)", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		all = append(all, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Version < all[j].Version })
	for i, m := range all {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrate: %s: expected version %d", m.Name, i+1)
		}
	}
	return all, nil
}

// MustLoad is Load for migrations embedded in the binary, where an error is
// a bug caught by any test.
func MustLoad(fsys fs.FS, dir string) []Migration {
	all, err := Load(fsys, dir)
	if err != nil {
		panic(err)
	}
	return all
}

// Pending returns the migrations a database at version current still needs.
// If current is beyond the last known migration it returns an error
// wrapping ErrNewerSchema.
func Pending(all []Migration, current int) ([]Migration, error) {
	if current > len(all) {
		return nil, fmt.Errorf("%w (database at version %d, this binary knows up to %d)", ErrNewerSchema, current, len(all))
	}
	if current < 0 {
		current = 0
	}
	return all[current:], nil
}
