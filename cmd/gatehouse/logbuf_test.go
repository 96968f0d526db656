package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// writes records each Write call separately.
type writes struct {
	mu    sync.Mutex
	calls [][]byte
}

func (w *writes) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, bytes.Clone(p))
	return len(p), nil
}

func (w *writes) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(bytes.Join(w.calls, nil))
}

// TestLogBufferWholeLines: lines written from many goroutines reach the
// file in batches of whole lines, all of them once Close returns.
func TestLogBufferWholeLines(t *testing.T) {
	out := &writes{}
	b := newLogBuffer(out)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				fmt.Fprintf(b, "goroutine=%d line=%d %s\n", g, i, strings.Repeat("x", i%300))
			}
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, c := range out.calls {
		if len(c) == 0 || c[len(c)-1] != '\n' {
			t.Fatalf("a write ends inside a line: %q", c[max(0, len(c)-40):])
		}
		seen += bytes.Count(c, []byte("\n"))
	}
	if seen != 8*2000 {
		t.Fatalf("%d lines written, want %d", seen, 8*2000)
	}
	if len(out.calls) > 8*2000/10 {
		t.Errorf("%d writes for %d lines: not batched", len(out.calls), 8*2000)
	}
}

// TestLogBufferFlushes: a line waits at most about logFlushEvery.
func TestLogBufferFlushes(t *testing.T) {
	out := &writes{}
	b := newLogBuffer(out)
	defer b.Close()
	b.Write([]byte("one line\n"))
	deadline := time.Now().Add(10 * logFlushEvery)
	for out.text() != "one line\n" {
		if time.Now().After(deadline) {
			t.Fatalf("the line was not written within %s", 10*logFlushEvery)
		}
		time.Sleep(logFlushEvery / 10)
	}
}
