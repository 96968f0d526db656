package batch

import (
	"slices"
	"testing"
	"time"
)

func TestTakeWaitingItems(t *testing.T) {
	ch := make(chan int)
	stop := make(chan struct{})
	const senders = 5
	for i := range senders {
		go func() { ch <- i }()
	}
	// Let every sender block on ch.
	deadline := time.Now().Add(5 * time.Second)
	var got []int
	buf := make([]int, 0, 3)
	for len(got) < senders {
		if time.Now().After(deadline) {
			t.Fatalf("took %v, want %d items", got, senders)
		}
		b, ok := Take(ch, stop, buf)
		if !ok {
			t.Fatal("Take reported a stop")
		}
		if len(b) == 0 || len(b) > cap(buf) {
			t.Fatalf("batch of %d items, want 1 to %d", len(b), cap(buf))
		}
		got = append(got, b...)
	}
	slices.Sort(got)
	if !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
		t.Errorf("took %v, want each item once", got)
	}
}

func TestTakeFillsTheBuffer(t *testing.T) {
	ch := make(chan int, 10) // buffered here only to have items waiting for sure
	for i := range 10 {
		ch <- i
	}
	b, ok := Take(ch, nil, make([]int, 0, 4))
	if !ok || !slices.Equal(b, []int{0, 1, 2, 3}) {
		t.Fatalf("Take = %v, %v; want [0 1 2 3], true", b, ok)
	}
	b, _ = Take(ch, nil, b)
	if !slices.Equal(b, []int{4, 5, 6, 7}) {
		t.Fatalf("second Take = %v, want [4 5 6 7] in the reused buffer", b)
	}
}

func TestTakeStops(t *testing.T) {
	stop := make(chan struct{})
	close(stop)
	b, ok := Take(make(chan int), stop, make([]int, 0, 4))
	if ok || len(b) != 0 {
		t.Fatalf("Take after stop = %v, %v; want nothing, false", b, ok)
	}
}

// TestRun: every item reaches run once, in batches of at most max, and Run
// returns when stop closes.
func TestRun(t *testing.T) {
	ch := make(chan int, 10) // buffered here only to have items waiting for sure
	for i := range 10 {
		ch <- i
	}
	stop := make(chan struct{})
	var got []int
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ch, stop, 4, func(b []int) {
			if len(b) == 0 || len(b) > 4 {
				t.Errorf("batch of %d items, want 1 to 4", len(b))
			}
			got = append(got, b...)
			if len(got) == 10 {
				close(stop)
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after stop")
	}
	if !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("ran %v, want each item once, in order", got)
	}
}
