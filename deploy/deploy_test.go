package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	keyword string // upper case: FROM, RUN, USER…
	args    string
}

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if more, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(more + " ")
			continue
		}
		cur.WriteString(line)
		keyword, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(keyword), strings.TrimSpace(args)})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// finalStage is the instructions after the last FROM: the image that runs.
func finalStage(ins []instruction) []instruction {
	last := 0
	for i, in := range ins {
		if in.keyword == "FROM" {
			last = i
		}
	}
	return ins[last:]
}

// buildCommand is the Dockerfile's `RUN … go build …`: the environment
// assignments before `go`, and go's arguments (build, flags, package).
func buildCommand(t *testing.T, ins []instruction) (env, args []string) {
	t.Helper()
	var found []string
	for _, in := range ins {
		if in.keyword == "RUN" && strings.Contains(in.args, "go build") {
			found = append(found, in.args)
		}
	}
	if len(found) != 1 {
		t.Fatalf("the Dockerfile has %d RUN … go build lines, want 1: %q", len(found), found)
	}
	words, err := shellWords(found[0])
	if err != nil {
		t.Fatalf("RUN %s: %v", found[0], err)
	}
	i := 0
	for ; i < len(words) && words[i] != "go"; i++ {
		if !strings.Contains(words[i], "=") {
			t.Fatalf("RUN %s: %q before go is not an assignment; the test cannot run it", found[0], words[i])
		}
		env = append(env, words[i])
	}
	if i+1 >= len(words) || words[i+1] != "build" {
		t.Fatalf("RUN %s: not `go build …`", found[0])
	}
	return env, words[i+1:]
}

// shellWords splits a simple shell command line: words separated by
// blanks, single and double quotes, no expansion. A command needing more
// (a pipe, &&, $(…)) is refused rather than misread.
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '"' || c == '\'':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, errUnquoted
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case strings.IndexByte("|&;<>()`\\", c) >= 0:
			return nil, errShell
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

type parseError string

func (e parseError) Error() string { return string(e) }

const (
	errUnquoted = parseError("unterminated quote")
	errShell    = parseError("more shell than one command")
)

func TestDockerfile(t *testing.T) {
	ins := readDockerfile(t)
	final := finalStage(ins)
	if !strings.HasPrefix(final[0].args, "gcr.io/distroless/static") && final[0].args != "scratch" {
		t.Errorf("runtime image %q, want distroless/static or scratch", final[0].args)
	}
	var user, healthcheck, volume, env, expose []string
	for _, in := range final {
		switch in.keyword {
		case "USER":
			user = append(user, in.args)
		case "HEALTHCHECK":
			healthcheck = append(healthcheck, in.args)
		case "VOLUME":
			volume = append(volume, in.args)
		case "ENV":
			env = append(env, strings.Fields(in.args)...)
		case "EXPOSE":
			expose = append(expose, in.args)
		}
	}
	if len(user) == 0 {
		t.Error("no USER in the runtime stage")
	} else if u, _, _ := strings.Cut(user[len(user)-1], ":"); u == "root" || u == "0" || u == "" {
		t.Errorf("USER %s, want a non-root user", user[len(user)-1])
	}
	if len(healthcheck) != 1 || !strings.Contains(healthcheck[0], `"healthcheck"`) {
		t.Errorf("HEALTHCHECK %q, want one running gatehouse healthcheck", healthcheck)
	}
	if len(volume) != 1 || !strings.Contains(volume[0], "/var/lib/gatehouse") {
		t.Errorf("VOLUME %q, want /var/lib/gatehouse", volume)
	}
	if !slices.Contains(env, "GATEHOUSE_DATA_DIR=/var/lib/gatehouse") {
		t.Errorf("ENV %q does not set GATEHOUSE_DATA_DIR=/var/lib/gatehouse", env)
	}
	if len(expose) == 0 {
		t.Error("no EXPOSE")
	}

	buildEnv, args := buildCommand(t, ins)
	if !slices.Contains(buildEnv, "CGO_ENABLED=0") {
		t.Errorf("go build runs with %q, want CGO_ENABLED=0", buildEnv)
	}
	if !slices.Contains(args, "-trimpath") {
		t.Errorf("go %q, want -trimpath", args)
	}
	if args[len(args)-1] != "./cmd/gatehouse" {
		t.Errorf("go %q builds %q, want ./cmd/gatehouse", args, args[len(args)-1])
	}
}

// unit is a systemd unit file: each key's values, in order, sections
// flattened (the keys checked here are unique to their section).
type unit map[string][]string

func readUnit(t *testing.T, path string) unit {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not KEY=VALUE", path, line)
		}
		u[strings.TrimSpace(k)] = append(u[strings.TrimSpace(k)], strings.TrimSpace(v))
	}
	return u
}

// environment is the unit's Environment= settings. Each line here holds
// one unquoted assignment; a line with more is refused rather than misread.
func (u unit) environment(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, v := range u["Environment"] {
		k, val, ok := strings.Cut(v, "=")
		if !ok || strings.ContainsAny(v, " \t\"'") {
			t.Fatalf("Environment=%s: want one unquoted KEY=VALUE", v)
		}
		env[k] = val
	}
	return env
}

func TestUnit(t *testing.T) {
	u := readUnit(t, "gatehouse.service")
	want := map[string]string{
		"StateDirectory":          "gatehouse",
		"EnvironmentFile":         "/etc/gatehouse/env",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"CapabilityBoundingSet":   "",
		"MemoryDenyWriteExecute":  "yes",
		"Restart":                 "on-failure",
		"SystemCallArchitectures": "native",
	}
	for k, v := range want {
		if got, ok := u[k]; !ok || got[0] != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	if !slices.Contains(u["SystemCallFilter"], "@system-service") {
		t.Errorf("SystemCallFilter=%q, want @system-service", u["SystemCallFilter"])
	}
	if len(u["RestrictAddressFamilies"]) == 0 {
		t.Error("no RestrictAddressFamilies")
	}
	if user := u["User"]; !slices.Equal(u["DynamicUser"], []string{"yes"}) && (len(user) == 0 || user[0] == "root" || user[0] == "0") {
		t.Errorf("User=%q and no DynamicUser=yes: want a non-root user", user)
	}
	if exec := u["ExecStart"]; len(exec) != 1 || !strings.HasSuffix(exec[0], "gatehouse serve") {
		t.Errorf("ExecStart=%q, want gatehouse serve", exec)
	}
	if env := u.environment(t); env["GATEHOUSE_DATA_DIR"] != "/var/lib/"+u["StateDirectory"][0] {
		t.Errorf("GATEHOUSE_DATA_DIR=%q, want the StateDirectory /var/lib/gatehouse", env["GATEHOUSE_DATA_DIR"])
	}

	// systemd's own check, where there is one. It wants ExecStart's
	// binary to exist, so a copy of the unit points at one that does.
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("no systemd-analyze: the unit is not verified by systemd")
		return
	}
	b, err := os.ReadFile("gatehouse.service")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(t.TempDir(), "gatehouse.service")
	b = []byte(strings.ReplaceAll(string(b), "ExecStart=/usr/local/bin/gatehouse", "ExecStart="+self))
	if err := os.WriteFile(copied, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// An unknown key is only a warning, naming the file, with exit 0.
	out, err := exec.Command(analyze, "verify", copied).CombinedOutput()
	if err != nil || strings.Contains(string(out), copied) {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestEnvExample(t *testing.T) {
	b, err := os.ReadFile("env.example")
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "#")
		if k, _, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "GATEHOUSE_") {
			set[k] = true
		}
	}
	for _, k := range []string{"GATEHOUSE_PUBLIC_URL", "GATEHOUSE_APP_URL", "GATEHOUSE_DATABASE_URL",
		"GATEHOUSE_ENCRYPTION_KEY", "GATEHOUSE_TRUSTED_PROXIES"} {
		if !set[k] {
			t.Errorf("env.example does not show %s", k)
		}
	}
}
