// Package browsertest drives Debian's Chromium, headless, for the tests
// that walk a page as a user would: one browser per test, tabs with a time
// limit on every step, the page's console kept for failure messages, an
// uncaught exception failing the test, and a screenshot saved on failure.
package browsertest

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

	"github.com/gatehouse/gatehouse/internal/syncbuf"
)

// ChromiumPath is where Debian's chromium package installs the browser.
const ChromiumPath = "/usr/bin/chromium"

// StepTimeout bounds each step, so that a stuck wait still leaves time to
// report what the page shows.
const StepTimeout = 20 * time.Second

// Require skips the test when Chromium is not installed, or fails it when
// CI=true.
func Require(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no browser at %s (apt-get install chromium): %v", ChromiumPath, err)
		}
		t.Skipf("no browser at %s (apt-get install chromium to run this test): %v", ChromiumPath, err)
	}
}

// Browser is a headless Chromium for one test, closed when it ends.
type Browser struct {
	t     testing.TB
	alloc context.Context
	out   *syncbuf.Buffer
	// logs returns the server's log, for failure messages.
	logs func() string
}

// Start starts Chromium for the test, which may take at most timeout in
// all. logs, if not nil, adds the server's log to failure messages.
func Start(t testing.TB, timeout time.Duration, logs func() string) *Browser {
	t.Helper()
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	out := &syncbuf.Buffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Every tab runs its timers and requests at full speed, in the
		// background too.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768),
		chromedp.CombinedOutput(out),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	if logs == nil {
		logs = func() string { return "" }
	}
	return &Browser{t: t, alloc: alloc, out: out, logs: logs}
}

// Tab is one tab of the browser.
type Tab struct {
	b    *Browser
	name string
	ctx  context.Context

	mu         sync.Mutex
	lines      []string
	exceptions []string
}

// NewTab opens a tab: the first one starts the browser. name is used in
// messages and screenshot files.
func (b *Browser) NewTab(name string, parent *Tab) *Tab {
	b.t.Helper()
	base := b.alloc
	if parent != nil {
		base = parent.ctx
	}
	ctx, cancel := chromedp.NewContext(base)
	tab := &Tab{b: b, name: name, ctx: ctx}
	// The first run opens the tab and binds it to ctx, which must not be a
	// step's.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		b.t.Fatalf("starting %s: %v\n%s", ChromiumPath, err, b.out)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			tab.mu.Lock()
			tab.lines = append(tab.lines, m.String())
			if m.IsException() {
				tab.exceptions = append(tab.exceptions, m.String())
			}
			tab.mu.Unlock()
		}
	}()
	b.t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			b.t.Errorf("%s: the console reader did not stop", name)
		}
		tab.mu.Lock()
		defer tab.mu.Unlock()
		if len(tab.exceptions) > 0 {
			b.t.Errorf("%s: the page threw uncaught exceptions, want none:\n%s", name, strings.Join(tab.exceptions, "\n"))
		}
	})
	return tab
}

// Context is the tab's context, for chromedp calls of the test's own.
func (tab *Tab) Context() context.Context { return tab.ctx }

// Console returns what the page wrote to its console so far, Chromium's
// own lines included ("Failed to load resource" for an answer of 400 or
// more).
func (tab *Tab) Console() string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return strings.Join(tab.lines, "\n")
}

// Step runs actions within StepTimeout, and fails the test if they fail.
func (tab *Tab) Step(name string, actions ...chromedp.Action[chromedp.Void]) {
	tab.b.t.Helper()
	c, cancel := context.WithTimeout(tab.ctx, StepTimeout)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		tab.Failf("%s: %v", name, err)
	}
}

// Eval evaluates the JavaScript expression expr, awaiting it if it is a
// promise, and returns its value as a string.
func (tab *Tab) Eval(name, expr string) string {
	tab.b.t.Helper()
	c, cancel := context.WithTimeout(tab.ctx, StepTimeout)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[string](`Promise.resolve(`+expr+`).then(String)`, chromedp.EvalAwaitPromise))
	if err != nil {
		tab.Failf("%s: %v", name, err)
	}
	return v
}

// Click clicks the element selector names, through JavaScript: a chromedp
// click that navigates can hang.
func (tab *Tab) Click(selector string) {
	tab.b.t.Helper()
	if got := tab.Eval("click "+selector, `(() => { const e = document.querySelector(`+JSString(selector)+`);
		if (!e) return "missing"; e.click(); return "clicked"; })()`); got != "clicked" {
		tab.Failf("clicking %s: %s", selector, got)
	}
}

// Failf fails the test with the message, the page's address, text and
// console, and the server's log, after saving a screenshot.
func (tab *Tab) Failf(format string, args ...any) {
	tab.b.t.Helper()
	tab.b.t.Errorf(format, args...)
	tab.Screenshot(tab.name + "-failure.png")
	tab.b.t.Fatalf("the page shows:\n%s\n\nthe console:\n%s\n\nserver log:\n%s", tab.state(), tab.Console(), tab.b.logs())
}

// state is the page's address and rendered text.
func (tab *Tab) state() string {
	c, cancel := context.WithTimeout(tab.ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(c, chromedp.Evaluate[string](
		`location.href + "\n" + (document.body ? document.body.innerText : "(no body)")`))
	if err != nil {
		return "(cannot read the page: " + err.Error() + ")"
	}
	return text
}

// Screenshot saves a PNG of the whole page as a test artifact, and in
// $GATEHOUSE_ARTIFACTS when that is set, and returns it.
func (tab *Tab) Screenshot(name string) []byte {
	t := tab.b.t
	c, cancel := context.WithTimeout(tab.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return nil
	}
	dirs := []string{t.ArtifactDir()}
	if d := os.Getenv("GATEHOUSE_ARTIFACTS"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Errorf("saving the screenshot: %v", err)
			continue
		}
		t.Logf("screenshot: %s", p)
	}
	return png
}

// JSString quotes s as a JavaScript string literal.
func JSString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
