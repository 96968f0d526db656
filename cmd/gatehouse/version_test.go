package main

import (
	"runtime/debug"
	"testing"
)

func TestVersionLine(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "-trimpath", Value: "true"},
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "3d07a2a1c0ffee0123456789abcdef0123456789"},
		{Key: "vcs.time", Value: "2026-11-29T11:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	tests := []struct {
		name string
		set  string
		info *debug.BuildInfo
		want string
	}{
		{"go install @version, no VCS", "dev",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/gatehouse/gatehouse", Version: "v1.2.3"}},
			"gatehouse v1.2.3 (go1.26.8)"},
		{"go build in a modified checkout", "dev",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.4-0.20261129110000-3d07a2a1c0ff+dirty"}, Settings: vcs},
			"gatehouse v1.2.4-0.20261129110000-3d07a2a1c0ff+dirty (revision 3d07a2a1c0ffee0123456789abcdef0123456789, modified, go1.26.8)"},
		{"clean checkout", "dev",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}},
			"gatehouse (devel) (revision abc, go1.26.8)"},
		{"-ldflags wins over the module version", "v9.9.9",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}},
			"gatehouse v9.9.9 (go1.26.8)"},
		{"test binary: no module version", "dev",
			&debug.BuildInfo{GoVersion: "go1.26.8"},
			"gatehouse dev (go1.26.8)"},
		{"no build info", "dev", nil, "gatehouse dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionLine(tt.set, tt.info); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
