package main

import (
	"runtime/debug"
	"strings"
)

// versionLine is what `gatehouse version` prints: the version set at build
// time with -ldflags "-X main.version=…", or else the module version that
// `go install …@vX.Y.Z` recorded, then the VCS revision, whether the tree
// had uncommitted changes, and the Go version, from the build info when
// the build recorded them. info may be nil.
func versionLine(set string, info *debug.BuildInfo) string {
	v := set
	if (v == "" || v == "dev") && info != nil && info.Main.Version != "" {
		v = info.Main.Version
	}
	if v == "" {
		v = "dev"
	}
	var details []string
	if info != nil {
		var revision, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if revision != "" {
			details = append(details, "revision "+revision)
		}
		if modified == "true" {
			details = append(details, "modified")
		}
		if info.GoVersion != "" {
			details = append(details, info.GoVersion)
		}
	}
	line := "gatehouse " + v
	if len(details) > 0 {
		line += " (" + strings.Join(details, ", ") + ")"
	}
	return line
}

// buildVersion is the version alone, for the startup log.
func buildVersion() string {
	info, _ := debug.ReadBuildInfo()
	v, _, _ := strings.Cut(strings.TrimPrefix(versionLine(version, info), "gatehouse "), " ")
	return v
}
