package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian's chromium package installs the browser.
const chromiumPath = "/usr/bin/chromium"

// TestBrowserDemoSession signs in on the demo page in a real, headless
// Chromium through the development login, and checks that the session
// survives a reload through the HttpOnly refresh cookie, that the page lists
// it as the current session, and that signing out ends it for good.
//
// Without Chromium the test skips, except with CI=true, where it fails.
func TestBrowserDemoSession(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no browser at %s (apt-get install chromium): %v", chromiumPath, err)
		}
		t.Skipf("no browser at %s (apt-get install chromium to run this test): %v", chromiumPath, err)
	}

	base, logs, stop := startServe(t, "GATEHOUSE_DATA_DIR", t.TempDir())
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("serve returned %v", err)
		}
	}()
	browseDemo(t, base, logs)
}

// TestBrowserDemoBehindPathPrefix is the same walk through the demo page
// with Gatehouse behind a reverse proxy that serves it under /gatehouse
// (see TestServeBehindPathPrefix).
func TestBrowserDemoBehindPathPrefix(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no browser at %s (apt-get install chromium): %v", chromiumPath, err)
		}
		t.Skipf("no browser at %s (apt-get install chromium to run this test): %v", chromiumPath, err)
	}
	public, logs := serveBehindProxy(t, "/gatehouse")
	browseDemo(t, public, logs)
}

// browseDemo signs in on the demo page at base, reloads, and signs out.
func browseDemo(t *testing.T, base string, logs *lockedBuffer) {

	// The whole test, browser included, gets one minute.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	browserOut := &lockedBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768),
		chromedp.CombinedOutput(browserOut),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// The first run starts the browser and binds it to bctx: it must not
	// carry the per-step timeout below.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v\n%s", chromiumPath, err, browserOut)
	}

	// The page's console, for failure messages; an uncaught exception
	// fails the test.
	var console struct {
		sync.Mutex
		lines      []string
		exceptions []string
	}
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for m, err := range chromedp.Console(bctx) {
			if err != nil {
				return
			}
			console.Lock()
			console.lines = append(console.lines, m.String())
			if m.IsException() {
				console.exceptions = append(console.exceptions, m.String())
			}
			console.Unlock()
		}
	}()
	defer func() {
		cancelBrowser()
		select {
		case <-consoleDone:
		case <-time.After(5 * time.Second):
			t.Errorf("the console reader did not stop")
		}
		console.Lock()
		defer console.Unlock()
		if len(console.exceptions) > 0 {
			t.Errorf("the page threw uncaught exceptions, want none:\n%s", strings.Join(console.exceptions, "\n"))
		}
	}()
	consoleText := func() string {
		console.Lock()
		defer console.Unlock()
		return strings.Join(console.lines, "\n")
	}

	// visibleText is the page's rendered text, for failure messages.
	visibleText := func() string {
		c, cancel := context.WithTimeout(bctx, 5*time.Second)
		defer cancel()
		text, err := chromedp.Run(c, chromedp.Evaluate[string](`document.body ? document.body.innerText : "(no body)"`))
		if err != nil {
			return "(cannot read the page: " + err.Error() + ")"
		}
		return text
	}
	failf := func(format string, args ...any) {
		t.Helper()
		t.Errorf(format, args...)
		t.Fatalf("the page shows:\n%s\n\nthe console:\n%s\n\nserver log:\n%s", visibleText(), consoleText(), logs)
	}
	// step runs actions with a time limit, so that a stuck wait still
	// leaves time to report what the page shows.
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(bctx, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(c, actions...); err != nil {
			failf("%s: %v", name, err)
		}
	}
	eval := func(name, expr string) string {
		t.Helper()
		c, cancel := context.WithTimeout(bctx, 15*time.Second)
		defer cancel()
		v, err := chromedp.Run(c, chromedp.Evaluate[string](expr))
		if err != nil {
			failf("%s: %v", name, err)
		}
		return v
	}
	// visible reports whether the element with this id is shown.
	visible := func(id string) bool {
		t.Helper()
		return eval("is #"+id+" visible", `(() => { const e = document.getElementById(`+jsString(id)+`);
			return String(!!e && !e.closest("[hidden]") && e.getClientRects().length > 0); })()`) == "true"
	}
	type sessionItem struct {
		Current bool   `json:"current"`
		Text    string `json:"text"`
	}
	sessions := func() []sessionItem {
		t.Helper()
		c, cancel := context.WithTimeout(bctx, 15*time.Second)
		defer cancel()
		v, err := chromedp.Run(c, chromedp.Evaluate[[]sessionItem](`[...document.querySelectorAll("#sessions > li")]
			.map((li) => ({ current: li.classList.contains("current"), text: li.innerText }))`))
		if err != nil {
			failf("reading #sessions: %v", err)
		}
		return v
	}

	const (
		name     = "Grace Hopper"
		email    = "grace@example.com"
		provider = "Sign in with Development login"
	)

	// 1. Signed out: the demo page offers the provider.
	step("open the demo page",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#providers button")),
	)
	if got := eval("provider button", `document.querySelector("#providers button").textContent`); got != provider {
		failf("provider button = %q, want %q", got, provider)
	}
	if visible("signed-in") {
		failf("#signed-in is visible before signing in, want hidden")
	}
	// The signed-out page learnt that it is signed out without a failed
	// request: Chromium logs every answer of 400 or more to the console
	// ("Failed to load resource").
	if c := consoleText(); strings.Contains(c, "Failed to load resource") || strings.Contains(c, "status of 4") {
		failf("the signed-out page logged a failed request on load:\n%s", c)
	}

	// Sign in through the development login. The clicks go through
	// Evaluate: a chromedp click that navigates can hang.
	if got := eval("click the provider button", `(() => {
		const b = [...document.querySelectorAll("#providers button")].find((b) => b.textContent === `+jsString(provider)+`);
		if (!b) return "missing";
		b.click();
		return "clicked";
	})()`); got != "clicked" {
		failf("clicking %q: %s", provider, got)
	}
	step("the development login page",
		chromedp.WaitVisible(chromedp.CSS(`input[name="name"]`)),
		chromedp.SetValue(chromedp.CSS(`input[name="name"]`), name),
		chromedp.SetValue(chromedp.CSS(`input[name="email"]`), email),
	)
	if got := eval("submit the login form", `(() => {
		const b = document.querySelector('form button[name="action"][value="allow"]');
		if (!b) return "missing";
		b.click();
		return "clicked";
	})()`); got != "clicked" {
		failf("clicking Sign in on the development login page: %s", got)
	}
	step("back on the demo page, signed in", chromedp.WaitVisible(chromedp.ID("signed-in")))
	if got := eval("display name", `document.getElementById("display-name").textContent`); got != name {
		failf("signed in as %q, want %q", got, name)
	}
	if got := eval("location", `location.href`); got != base+"/" {
		failf("after the login the address is %q, want %q (code and state removed)", got, base+"/")
	}
	if got := eval("document.cookie", `document.cookie`); strings.Contains(got, "refresh") {
		failf("document.cookie = %q: the refresh cookie is readable by scripts, want HttpOnly", got)
	}

	// 2. A screenshot of the signed-in page, kept as a test artifact.
	c, cancelShot := context.WithTimeout(bctx, 15*time.Second)
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	cancelShot()
	if err != nil {
		failf("screenshot: %v", err)
	}
	if !strings.HasPrefix(string(png), "\x89PNG\r\n\x1a\n") {
		failf("the screenshot is not a PNG: % x…", png[:min(len(png), 8)])
	}
	dirs := []string{t.ArtifactDir()}
	if d := os.Getenv("GATEHOUSE_ARTIFACTS"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		path := filepath.Join(d, "browser-signed-in.png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Errorf("saving the screenshot: %v", err)
			continue
		}
		t.Logf("screenshot of the signed-in page: %s", path)
	}

	// 3. A reload keeps the session: the page refreshes with the cookie.
	step("reload while signed in", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("signed-in")))
	if got := eval("display name after reload", `document.getElementById("display-name").textContent`); got != name {
		failf("after a reload signed in as %q, want %q", got, name)
	}
	list := sessions()
	if len(list) != 1 {
		failf("after a reload #sessions lists %d sessions %+v, want 1", len(list), list)
	}
	if !list[0].Current || !strings.Contains(list[0].Text, "this browser") {
		failf("the session %+v is not marked as this browser's, want current with \"this browser\"", list[0])
	}

	// 4. Sign out: the sign-in buttons come back, and stay after a reload.
	if got := eval("click Sign out", `(() => {
		const b = document.getElementById("sign-out");
		if (!b) return "missing";
		b.click();
		return "clicked";
	})()`); got != "clicked" {
		failf("clicking #sign-out: %s", got)
	}
	step("signed out", chromedp.WaitVisible(chromedp.CSS("#providers button")))
	if visible("signed-in") {
		failf("#signed-in is visible after signing out, want hidden")
	}
	step("reload while signed out", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#providers button")))
	if visible("signed-in") || visible("error") {
		failf("after signing out and reloading: #signed-in visible %v, #error visible %v, want both hidden",
			visible("signed-in"), visible("error"))
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
