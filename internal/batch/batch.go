// Package batch takes work from a channel a batch at a time: a worker
// waits for one item, then takes every item already waiting, so that it
// pays once for what many items share (a commit, a round trip) while an
// item that arrives alone waits for no one.
package batch

// Take waits for an item from ch, then takes the items waiting on ch
// without waiting for more, until buf is full (up to cap(buf)). It returns
// the items in buf, reused from its start, and false if stop closed first.
//
// ch should be unbuffered: a sender whose item is taken then knows a
// worker has it, and a worker that stops leaves no item stranded in a
// buffer.
func Take[T any](ch <-chan T, stop <-chan struct{}, buf []T) ([]T, bool) {
	buf = buf[:0]
	select {
	case v := <-ch:
		buf = append(buf, v)
	case <-stop:
		return buf, false
	}
	for len(buf) < cap(buf) {
		select {
		case v := <-ch:
			buf = append(buf, v)
		default:
			return buf, true
		}
	}
	return buf, true
}

// Run takes batches of up to max items from ch, as Take does, and calls run
// with each, until stop closes. run's slice is reused for the next batch,
// its items cleared.
func Run[T any](ch <-chan T, stop <-chan struct{}, max int, run func([]T)) {
	buf := make([]T, 0, max)
	for {
		var ok bool
		if buf, ok = Take(ch, stop, buf); !ok {
			return
		}
		run(buf)
		clear(buf)
	}
}
