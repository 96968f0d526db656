// Package reactspa holds the end-to-end test of the React example: the
// built app, a real Gatehouse and an API that checks its tokens, driven
// in a headless Chromium.
package reactspa

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/browsertest"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
	"github.com/gatehouse/gatehouse/internal/testaddr"
	"github.com/gatehouse/gatehouse/verify"
)

// The notes the API stand-in serves.
var apiNotes = []note{{ID: 1, Text: "Buy milk"}, {ID: 2, Text: "Read RFC 9700"}}

type note struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
}

// TestSignInCallAPISignOut builds the app against a real Gatehouse and an
// API that checks tokens with package verify, signs in through the
// development login in Chromium, checks that /notes shows what the API
// answered, that a reload keeps the session (the refresh cookie, across
// two ports of 127.0.0.1), and that after signing out /notes sends the
// browser home.
//
// Without the app's node_modules or Chromium the test skips, except with
// CI=true, where it fails.
func TestSignInCallAPISignOut(t *testing.T) {
	// The API is the Go stand-in (package verify), and then each of the
	// API examples, run as they are documented.
	for _, api := range []string{"verify", "express", "fastapi"} {
		t.Run(api, func(t *testing.T) { signInCallAPISignOut(t, api) })
	}
}

func signInCallAPISignOut(t *testing.T, kind string) {
	need := t.Skipf
	if os.Getenv("CI") == "true" {
		need = t.Fatalf
	}
	browsertest.Require(t)
	if _, err := os.Stat("node_modules"); err != nil {
		need("the app's dependencies are not installed (cd examples/react-spa && npm ci): %v", err)
	}
	if _, err := exec.LookPath("npm"); err != nil {
		need("npm is not installed: %v", err)
	}
	switch kind {
	case "express":
		if _, err := os.Stat("../express-api/node_modules"); err != nil {
			need("the Express example's dependencies are not installed (cd examples/express-api && npm ci): %v", err)
		}
	case "fastapi":
		if err := exec.Command("/usr/bin/python3", "-c", "import fastapi, jwt, uvicorn, httpx").Run(); err != nil {
			need("the FastAPI example's packages are not installed (apt-get install python3-fastapi python3-jwt python3-uvicorn python3-httpx): %v", err)
		}
	}

	// The three servers' addresses come first: each is built or configured
	// with the others'.
	spa := httptest.NewUnstartedServer(nil)
	api := httptest.NewUnstartedServer(nil)
	gatehouseAddr := testaddr.Free(t)
	gatehouseURL := "http://" + gatehouseAddr
	spaURL := "http://" + spa.Listener.Addr().String()
	apiURL := "http://" + api.Listener.Addr().String()

	dist := buildApp(t, gatehouseURL, apiURL)
	spa.Config.Handler = spaHandler(t, dist)
	spa.Start()
	defer spa.Close()

	logs := startGatehouse(t, gatehouseAddr, spaURL)

	// The access tokens' audience is the app URL, Gatehouse's default.
	v, err := verify.New(context.Background(), gatehouseURL, spaURL)
	if err != nil {
		t.Fatalf("verify.New: %v\n%s", err, logs)
	}
	seen := &subjects{}
	switch kind {
	case "verify":
		api.Config.Handler = notesAPI(v, spaURL, seen)
	case "express":
		addr := testaddr.Free(t)
		_, port, _ := net.SplitHostPort(addr)
		startAPI(t, "../express-api", "http://localhost:"+port, []string{"node", "server.js"},
			"PORT="+port, "GATEHOUSE_ISSUER="+gatehouseURL, "GATEHOUSE_AUDIENCE="+spaURL, "CORS_ORIGINS="+spaURL)
		api.Config.Handler = recordingProxy(t, "http://localhost:"+port, seen)
	case "fastapi":
		addr := testaddr.Free(t)
		host, port, _ := net.SplitHostPort(addr)
		startAPI(t, "../fastapi-api", "http://"+addr, []string{"/usr/bin/python3", "-m", "uvicorn", "--factory", "app:create_app_from_env", "--host", host, "--port", port},
			"GATEHOUSE_ISSUER="+gatehouseURL, "GATEHOUSE_AUDIENCE="+spaURL, "CORS_ORIGINS="+spaURL)
		api.Config.Handler = recordingProxy(t, "http://"+addr, seen)
	}
	api.Start()
	defer api.Close()

	// The whole browser part gets two minutes.
	tab := browsertest.Start(t, 2*time.Minute, logs.String).NewTab("react-spa-"+kind, nil)
	step, eval, failf, bctx := tab.Step, tab.Eval, tab.Failf, tab.Context()
	// click clicks the first element matching selector whose text is text
	// (any text if empty). It goes through Evaluate: a chromedp click that
	// navigates can hang.
	click := func(selector, text string) {
		t.Helper()
		got := eval("click "+selector, `(() => {
			const b = [...document.querySelectorAll(`+browsertest.JSString(selector)+`)]
				.find((b) => `+browsertest.JSString(text)+` === "" || b.textContent === `+browsertest.JSString(text)+`);
			if (!b) return "missing";
			b.click();
			return "clicked";
		})()`)
		if got != "clicked" {
			failf("clicking %s %q: %s", selector, text, got)
		}
	}
	notesShown := func() []string {
		t.Helper()
		c, cancel := context.WithTimeout(bctx, 15*time.Second)
		defer cancel()
		v, err := chromedp.Run(c, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#notes li")].map((li) => li.innerText)`))
		if err != nil {
			failf("reading #notes: %v", err)
		}
		return v
	}
	// The notes the API answers: the stand-in's, or the examples' one note
	// naming the subject.
	notesFor := func(sub string) []string {
		if kind != "verify" {
			return []string{"a note of " + sub}
		}
		var want []string
		for _, n := range apiNotes {
			want = append(want, n.Text)
		}
		return want
	}

	const (
		name     = "Grace Hopper"
		email    = "grace@example.com"
		provider = "Sign in with Development login"
	)

	// 1. Signed out, the home page lists the providers.
	step("open the home page",
		chromedp.Navigate(spaURL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#providers button")),
	)
	click("#providers button", provider)

	// 2. The development login, served by Gatehouse.
	step("the development login page",
		chromedp.WaitVisible(chromedp.CSS(`input[name="name"]`)),
		chromedp.SetValue(chromedp.CSS(`input[name="name"]`), name),
		chromedp.SetValue(chromedp.CSS(`input[name="email"]`), email),
	)
	if got := eval("location of the login page", `location.origin`); got != gatehouseURL {
		failf("the development login page is at %q, want Gatehouse's origin %q", got, gatehouseURL)
	}
	click(`form button[name="action"][value="allow"]`, "")

	// 3. Back through the app's /auth/dev route to /notes, with the API's
	// notes.
	step("signed in, on /notes", chromedp.WaitVisible(chromedp.CSS("#notes li")))
	if got := eval("location", `location.href`); got != spaURL+"/notes" {
		failf("after the login the address is %q, want %q", got, spaURL+"/notes")
	}
	if got := eval("user name", `document.getElementById("user-name").textContent`); got != name {
		failf("signed in as %q, want %q", got, name)
	}
	if n := seen.count(); n == 0 {
		failf("the API saw no request with a valid token")
	}
	sub := seen.last()
	wantNotes := notesFor(sub)
	if got := notesShown(); !slices.Equal(got, wantNotes) {
		failf("/notes shows %q, want %q", got, wantNotes)
	}

	// 4. A reload keeps the session: the app gets a new access token with
	// the refresh cookie and calls the API again as the same user.
	before := seen.count()
	step("reload while signed in", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#notes li")))
	if got := notesShown(); !slices.Equal(got, wantNotes) {
		failf("after a reload /notes shows %q, want %q", got, wantNotes)
	}
	if seen.count() == before {
		failf("after a reload the API saw no new request with a valid token")
	}
	if got := seen.last(); got != sub {
		failf("after a reload the API saw sub %q, want %q", got, sub)
	}

	// 5. Sign out: home with the providers, and /notes sends you back home,
	// also after a reload.
	click("#sign-out", "")
	step("signed out", chromedp.WaitVisible(chromedp.CSS("#providers button")))
	if got := eval("location after sign out", `location.pathname`); got != "/" {
		failf("after signing out the path is %q, want /", got)
	}
	step("open /notes signed out",
		chromedp.Navigate(spaURL+"/notes"),
		chromedp.WaitVisible(chromedp.CSS("#providers button")),
	)
	if got := eval("location of /notes signed out", `location.pathname`); got != "/" {
		failf("/notes signed out ends at %q, want / (redirected home)", got)
	}
	if got := eval("signed-in marker", `String(!!document.getElementById("user-name"))`); got != "false" {
		failf("after signing out and reloading #user-name is present, want absent")
	}
}

// buildApp builds the app with Vite into a temporary directory, pointed at
// Gatehouse and the API, and returns the directory.
func buildApp(t *testing.T, gatehouseURL, apiURL string) string {
	t.Helper()
	dist := t.TempDir()
	cmd := exec.Command("npm", "run", "build", "--", "--outDir", dist, "--emptyOutDir")
	cmd.Env = append(os.Environ(), "VITE_GATEHOUSE_URL="+gatehouseURL, "VITE_API_URL="+apiURL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm run build: %v\n%s", err, out)
	}
	return dist
}

// spaHandler serves the built app from dir, and index.html for every path
// that is not a file: /auth/dev and /notes are routes of the app.
func spaHandler(t *testing.T, dir string) http.Handler {
	t.Helper()
	fsys := os.DirFS(dir)
	index, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		t.Fatalf("the build has no index.html: %v", err)
	}
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if fi, err := fs.Stat(fsys, name); name != "" && err == nil && !fi.IsDir() {
			files.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(index)
	})
}

// startGatehouse builds the gatehouse command and runs `gatehouse serve`
// listening on addr with the app at appURL, until the test ends. It
// returns the process's output.
func startGatehouse(t *testing.T, addr, appURL string) *syncbuf.Buffer {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatehouse")
	build := exec.Command("go", "build", "-o", bin, "github.com/gatehouse/gatehouse/cmd/gatehouse")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	base := "http://" + addr
	cmd := exec.Command(bin, "serve")
	// Only these settings: a GATEHOUSE_ variable of the caller's (a
	// database URL, a provider) must not change what is tested.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"GATEHOUSE_ADDR="+addr,
		"GATEHOUSE_PUBLIC_URL="+base,
		"GATEHOUSE_APP_URL="+appURL,
		"GATEHOUSE_DATA_DIR="+t.TempDir(),
	)
	logs := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting gatehouse: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("gatehouse did not stop on an interrupt\n%s", logs)
		}
	})

	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return logs
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("gatehouse exited: %v\n%s", err, logs)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("gatehouse not ready: %v\n%s", err, logs)
		}
	}
}

// startAPI runs one of the API examples in dir with the environment env
// until the test ends, and waits until base answers.
func startAPI(t *testing.T, dir, base string, argv []string, env ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %v: %v", argv, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; {
		// Any answer will do (the examples' /notes answers 401).
		if resp, err := client.Get(base + "/notes"); err == nil {
			resp.Body.Close()
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("%v exited: %v\n%s", argv, err, out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v not answering at %s\n%s", argv, base, out)
		}
	}
}

// recordingProxy passes requests to the API at target and records the
// subject of each token the API accepted (answered 200), read from the
// token without checking it: the API did that.
func recordingProxy(t *testing.T, target string, seen *subjects) http.Handler {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.Out.Host = pr.In.Host },
		ModifyResponse: func(resp *http.Response) error {
			tok, ok := strings.CutPrefix(resp.Request.Header.Get("Authorization"), "Bearer ")
			if resp.StatusCode != http.StatusOK || !ok {
				return nil
			}
			parts := strings.Split(tok, ".")
			if len(parts) != 3 {
				return nil
			}
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				return nil
			}
			var c struct {
				Sub string `json:"sub"`
			}
			if json.Unmarshal(payload, &c) == nil && c.Sub != "" {
				seen.add(c.Sub)
			}
			return nil
		},
	}
}

// notesAPI stands in for the API examples: GET /notes with a valid access
// token answers the notes and the token's subject, and the app's origin
// may call it from the browser.
func notesAPI(v *verify.Verifier, appOrigin string, seen *subjects) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /notes", v.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verify.ClaimsFromContext(r.Context())
		seen.add(claims.Subject)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"notes": apiNotes, "sub": claims.Subject})
	})))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") == appOrigin {
			w.Header().Set("Access-Control-Allow-Origin", appOrigin)
			w.Header().Add("Vary", "Origin")
			if r.Method == http.MethodOptions {
				w.Header().Set("Access-Control-Allow-Methods", "GET")
				w.Header().Set("Access-Control-Allow-Headers", "Authorization")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// subjects records the subjects of the tokens the API accepted.
type subjects struct {
	mu   sync.Mutex
	subs []string
}

func (s *subjects) add(sub string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, sub)
}

func (s *subjects) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

func (s *subjects) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.subs) == 0 {
		return ""
	}
	return s.subs[len(s.subs)-1]
}
