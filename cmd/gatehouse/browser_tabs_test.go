package main

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/browsertest"
)

// TestBrowserDemoTabs opens the demo in two tabs of one headless Chromium:
// the second tab is signed in by the first one's cookie, both refreshing
// at the same moment stay signed in (the server's grace window, no locks in
// the page), and signing out in one tab signs out the other at once
// (@gatehouse/client's BroadcastChannel), with no reload.
//
// Without Chromium the test skips, except with CI=true, where it fails.
func TestBrowserDemoTabs(t *testing.T) {
	browsertest.Require(t)
	base, logs, stop := startServe(t, "GATEHOUSE_DATA_DIR", t.TempDir())
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("serve returned %v", err)
		}
	}()

	b := browsertest.Start(t, 90*time.Second, logs.String)
	tab1 := b.NewTab("tab1", nil)

	// 1. Tab 1 signs in through the development login.
	tab1.Step("open the demo in tab 1", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#providers button")))
	tab1.Click("#providers button")
	tab1.Step("the development login page",
		chromedp.WaitVisible(chromedp.CSS(`input[name="name"]`)),
		chromedp.SetValue(chromedp.CSS(`input[name="name"]`), "Katherine Johnson"),
		chromedp.SetValue(chromedp.CSS(`input[name="email"]`), "katherine@example.com"),
	)
	tab1.Click(`form button[name="action"][value="allow"]`)
	tab1.Step("tab 1 signed in", chromedp.WaitVisible(chromedp.ID("signed-in")))

	// 2. Tab 2, opened afterwards, is signed in by the shared cookie.
	tab2 := b.NewTab("tab2", tab1)
	tab2.Step("open the demo in tab 2", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("signed-in")))
	if got := tab2.Eval("display name", `document.getElementById("display-name").textContent`); got != "Katherine Johnson" {
		tab2.Failf("tab 2 signed in as %q, want Katherine Johnson", got)
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
	for i, tab := range []*browsertest.Tab{tab1, tab2} {
		wg.Go(func() {
			c, cancel := context.WithTimeout(tab.Context(), 15*time.Second)
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
	for i, tab := range []*browsertest.Tab{tab1, tab2} {
		if got := tab.Eval("me after the refresh", `gatehouseDemo.fetch("/me").then((r) => String(r.status))`); got != "200" {
			tab.Failf("tab %d: GET /me after the concurrent refresh = %s, want 200", i+1, got)
		}
	}
	tab2.Step("reload tab 2 after the concurrent refresh", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("signed-in")))

	// 4. Sign out in tab 1: tab 2 shows the sign-in page without a reload.
	tab1.Click("#sign-out")
	tab1.Step("tab 1 signed out", chromedp.WaitVisible(chromedp.CSS("#providers button")))
	tab2.Step("tab 2 signed out by tab 1", chromedp.WaitVisible(chromedp.CSS("#providers button")))
	if got := tab2.Eval("tab 2's token", `gatehouseDemo.getAccessToken().then((r) => String(r.data))`); got != "null" {
		tab2.Failf("tab 2 still has an access token after signing out in tab 1: %s", got)
	}
}
