package migrate

import (
	"errors"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_more.sql": {Data: []byte("two")},
		"m/0001_init.sql": {Data: []byte("one")},
	}
	all, err := Load(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Name != "0001_init.sql" || all[0].SQL != "one" || all[1].Version != 2 {
		t.Fatalf("Load = %+v", all)
	}
}

func TestLoadRejects(t *testing.T) {
	tests := map[string]fstest.MapFS{
		"gap":       {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"duplicate": {"m/0001_a.sql": {}, "m/0001_b.sql": {}},
		"not one":   {"m/0002_a.sql": {}},
		"misnamed":  {"m/1_a.sql": {}},
		"other":     {"m/0001_a.sql": {}, "m/README": {}},
	}
	for name, fsys := range tests {
		t.Run(name, func(t *testing.T) {
			if all, err := Load(fsys, "m"); err == nil {
				t.Fatalf("Load = %+v, want an error", all)
			}
		})
	}
}

func TestPending(t *testing.T) {
	all := []Migration{{Version: 1}, {Version: 2}, {Version: 3}}
	for current, want := range []int{3, 2, 1, 0} {
		got, err := Pending(all, current)
		if err != nil || len(got) != want {
			t.Errorf("Pending(at %d) = %d migrations, %v; want %d", current, len(got), err, want)
		}
		if want > 0 && got[0].Version != current+1 {
			t.Errorf("Pending(at %d) starts at %d", current, got[0].Version)
		}
	}
	if _, err := Pending(all, 4); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Pending(at 4) error = %v, want ErrNewerSchema", err)
	}
}
