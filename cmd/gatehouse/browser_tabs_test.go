package main

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserDemoTabs opens the demo in two tabs of one headless Chromium:
// the second tab is signed in by the first one's cookie, both refreshing
// at the same moment stay signed in (the server's grace window, no locks in
// the page), and signing out in one tab signs out the other at once
// (@gatehouse/client's BroadcastChannel), with no reload.
//
// Without Chromium the test skips, except with CI=true, where it fails.
func TestBrowserDemoTabs(t *testing.T) {
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

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
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
		// Both tabs must run their timers and requests at full speed.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768),
		chromedp.CombinedOutput(browserOut),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	tab1, cancel1 := chromedp.NewContext(actx)
	defer cancel1()
	if err := chromedp.Do(tab1); err != nil {
		t.Fatalf("starting %s: %v\n%s", chromiumPath, err, browserOut)
	}

	text := func(tab context.Context) string {
		c, cancel := context.WithTimeout(tab, 5*time.Second)
		defer cancel()
		v, err := chromedp.Run(c, chromedp.Evaluate[string](`document.body ? document.body.innerText : "(no body)"`))
		if err != nil {
			return "(cannot read the page: " + err.Error() + ")"
		}
		return v
	}
	failf := func(tab context.Context, format string, args ...any) {
		t.Helper()
		t.Errorf(format, args...)
		t.Fatalf("the tab shows:\n%s\n\nserver log:\n%s", text(tab), logs)
	}
	step := func(tab context.Context, name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(tab, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(c, actions...); err != nil {
			failf(tab, "%s: %v", name, err)
		}
	}
	eval := func(tab context.Context, name, expr string) string {
		t.Helper()
		c, cancel := context.WithTimeout(tab, 15*time.Second)
		defer cancel()
		v, err := chromedp.Run(c, chromedp.Evaluate[string](`Promise.resolve(`+expr+`)`, chromedp.EvalAwaitPromise))
		if err != nil {
			failf(tab, "%s: %v", name, err)
		}
		return v
	}
	click := func(tab context.Context, selector string) {
		t.Helper()
		// Through Evaluate: a chromedp click that navigates can hang.
		if got := eval(tab, "click "+selector, `(() => { const b = document.querySelector(`+jsString(selector)+`);
			if (!b) return "missing"; b.click(); return "clicked"; })()`); got != "clicked" {
			failf(tab, "clicking %s: %s", selector, got)
		}
	}

	// 1. Tab 1 signs in through the development login.
	step(tab1, "open the demo in tab 1", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#providers button")))
	click(tab1, "#providers button")
	step(tab1, "the development login page",
		chromedp.WaitVisible(chromedp.CSS(`input[name="name"]`)),
		chromedp.SetValue(chromedp.CSS(`input[name="name"]`), "Katherine Johnson"),
		chromedp.SetValue(chromedp.CSS(`input[name="email"]`), "katherine@example.com"),
	)
	click(tab1, `form button[name="action"][value="allow"]`)
	step(tab1, "tab 1 signed in", chromedp.WaitVisible(chromedp.ID("signed-in")))

	// 2. Tab 2, opened afterwards, is signed in by the shared cookie.
	tab2, cancel2 := chromedp.NewContext(tab1)
	defer cancel2()
	// As for tab 1: the first run opens the tab, and binds it to its
	// context, which must not be a step's.
	if err := chromedp.Do(tab2); err != nil {
		t.Fatalf("opening tab 2: %v", err)
	}
	step(tab2, "open the demo in tab 2", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("signed-in")))
	if got := eval(tab2, "display name", `document.getElementById("display-name").textContent`); got != "Katherine Johnson" {
		failf(tab2, "tab 2 signed in as %q, want Katherine Johnson", got)
	}

	// 3. Both tabs refresh at the same moment with the same cookie: the
	// second one within the grace window gets the same successor, and
	// neither is taken for a thief.
	at := time.Now().Add(500 * time.Millisecond).UnixMilli()
	refresh := `new Promise((r) => setTimeout(r, ` + strconv.FormatInt(at, 10) + ` - Date.now()))
		.then(() => gatehouseDemo.refresh())
		.then((r) => r.error ? "error " + r.error.code : r.data ? "token" : "signed out")`
	var wg sync.WaitGroup
	results := make([]string, 2)
	for i, tab := range []context.Context{tab1, tab2} {
		wg.Go(func() {
			c, cancel := context.WithTimeout(tab, 15*time.Second)
			defer cancel()
			v, err := chromedp.Run(c, chromedp.Evaluate[string](refresh, chromedp.EvalAwaitPromise))
			if err != nil {
				v = "evaluate: " + err.Error()
			}
			results[i] = v
		})
	}
	wg.Wait()
	for i, r := range results {
		if r != "token" {
			t.Errorf("tab %d's refresh at the same moment: %s, want a token", i+1, r)
		}
	}
	for i, tab := range []context.Context{tab1, tab2} {
		if got := eval(tab, "me after the refresh", `gatehouseDemo.fetch("/me").then((r) => String(r.status))`); got != "200" {
			failf(tab, "tab %d: GET /me after the concurrent refresh = %s, want 200", i+1, got)
		}
	}
	step(tab2, "reload tab 2 after the concurrent refresh", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("signed-in")))

	// 4. Sign out in tab 1: tab 2 shows the sign-in page without a reload.
	click(tab1, "#sign-out")
	step(tab1, "tab 1 signed out", chromedp.WaitVisible(chromedp.CSS("#providers button")))
	step(tab2, "tab 2 signed out by tab 1", chromedp.WaitVisible(chromedp.CSS("#providers button")))
	if got := eval(tab2, "tab 2's token", `gatehouseDemo.getAccessToken().then((r) => String(r.data))`); got != "null" {
		failf(tab2, "tab 2 still has an access token after signing out in tab 1: %s", got)
	}
}
