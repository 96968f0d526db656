package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/browsertest"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
)

// TestBrowserDemoSession signs in on the demo page in a real, headless
// Chromium through the development login, and checks that the session
// survives a reload through the HttpOnly refresh cookie, that the page lists
// it as the current session, and that signing out ends it for good.
//
// Without Chromium the test skips, except with CI=true, where it fails.
func TestBrowserDemoSession(t *testing.T) {
	browsertest.Require(t)

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
	browsertest.Require(t)
	public, logs := serveBehindProxy(t, "/gatehouse")
	browseDemo(t, public, logs)
}

// browseDemo signs in on the demo page at base, reloads, and signs out.
func browseDemo(t *testing.T, base string, logs *syncbuf.Buffer) {

	// The whole test, browser included, gets one minute.
	tab := browsertest.Start(t, 60*time.Second, logs.String).NewTab("demo", nil)
	step, eval, failf, bctx := tab.Step, tab.Eval, tab.Failf, tab.Context()

	// visible reports whether the element with this id is shown.
	visible := func(id string) bool {
		t.Helper()
		return eval("is #"+id+" visible", `(() => { const e = document.getElementById(`+browsertest.JSString(id)+`);
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
	if c := tab.Console(); strings.Contains(c, "Failed to load resource") || strings.Contains(c, "status of 4") {
		failf("the signed-out page logged a failed request on load:\n%s", c)
	}

	// Sign in through the development login. The clicks go through
	// Evaluate: a chromedp click that navigates can hang.
	if got := eval("click the provider button", `(() => {
		const b = [...document.querySelectorAll("#providers button")].find((b) => b.textContent === `+browsertest.JSString(provider)+`);
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
	if png := tab.Screenshot("browser-signed-in.png"); !strings.HasPrefix(string(png), "\x89PNG\r\n\x1a\n") {
		failf("the screenshot is not a PNG: % x…", png[:min(len(png), 8)])
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
